#include "common/sha256.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define TIDEMARK_SHA_NI 1
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "common/text.h"

namespace tidemark {
namespace {

// FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
// 64 primes; 5.3.3: of the square roots of the first 8.
constexpr uint32_t kK[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
constexpr uint32_t kInitial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t LoadBigEndian(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// FIPS 180-4, 6.2.2, over `blocks` 64-byte blocks.
void BlocksPortable(uint32_t state[8], const unsigned char* data, size_t blocks) {
  for (; blocks > 0; --blocks, data += 64) {
    uint32_t w[64];
    for (size_t t = 0; t < 16; ++t) w[t] = LoadBigEndian(data + 4 * t);
    for (size_t t = 16; t < 64; ++t) {
      uint32_t s0 = Rotr(w[t - 15], 7) ^ Rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
      uint32_t s1 = Rotr(w[t - 2], 17) ^ Rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; ++t) {
      uint32_t t1 =
          h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[t] + w[t];
      uint32_t t2 = (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#ifdef TIDEMARK_SHA_NI
// The same with the x86 SHA extensions (Intel, "New Instructions Supporting the Secure Hash
// Algorithm on Intel Architecture Processors", 2013): SHA256RNDS2 does two rounds on the state
// held as ABEF and CDGH, SHA256MSG1/MSG2 the message schedule, four words at a time.
__attribute__((target("sha,sse4.1"))) void BlocksShaNi(uint32_t state[8], const unsigned char* data,
                                                       size_t blocks) {
  const __m128i kByteSwap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i tmp = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0xB1);
  __m128i state1 =
      _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4)), 0x1B);
  __m128i state0 = _mm_alignr_epi8(tmp, state1, 8);  // ABEF
  state1 = _mm_blend_epi16(state1, tmp, 0xF0);       // CDGH
  for (; blocks > 0; --blocks, data += 64) {
    const __m128i abef = state0;
    const __m128i cdgh = state1;
    __m128i m[4];
    for (size_t g = 0; g < 16; ++g) {  // rounds 4g .. 4g+3
      if (g < 4) {
        m[g] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * g)),
                                kByteSwap);
      }
      __m128i msg =
          _mm_add_epi32(m[g % 4], _mm_loadu_si128(reinterpret_cast<const __m128i*>(kK + 4 * g)));
      state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
      if (g >= 3 && g <= 14) {  // the words of rounds 4(g+1) ..
        __m128i& next = m[(g + 1) % 4];
        next = _mm_add_epi32(next, _mm_alignr_epi8(m[g % 4], m[(g + 3) % 4], 4));
        next = _mm_sha256msg2_epu32(next, m[g % 4]);
      }
      state0 = _mm_sha256rnds2_epu32(state0, state1, _mm_shuffle_epi32(msg, 0x0E));
      if (g >= 1 && g <= 12) m[(g + 3) % 4] = _mm_sha256msg1_epu32(m[(g + 3) % 4], m[g % 4]);
    }
    state0 = _mm_add_epi32(state0, abef);
    state1 = _mm_add_epi32(state1, cdgh);
  }
  tmp = _mm_shuffle_epi32(state0, 0x1B);        // FEBA
  state1 = _mm_shuffle_epi32(state1, 0xB1);     // DCHG
  state0 = _mm_blend_epi16(tmp, state1, 0xF0);  // DCBA
  state1 = _mm_alignr_epi8(state1, tmp, 8);     // HGFE
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), state0);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), state1);
}

bool CpuHasShaNi() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & bit_SSE4_1) == 0 || (c & bit_SSSE3) == 0) {
    return false;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d) == 0) return false;
  return (b & bit_SHA) != 0;
}
#else
bool CpuHasShaNi() { return false; }
#endif

}  // namespace

bool Sha256ExtensionsAvailable() {
  static const bool available = CpuHasShaNi();
  return available;
}

Sha256Stream::Sha256Stream(Sha256Engine engine) {
  std::memcpy(state_, kInitial, sizeof state_);
  bool sha_ni = engine == Sha256Engine::kShaExtensions ||
                (engine == Sha256Engine::kAuto && Sha256ExtensionsAvailable());
#ifdef TIDEMARK_SHA_NI
  blocks_ = sha_ni ? BlocksShaNi : BlocksPortable;
#else
  (void)sha_ni;
  blocks_ = BlocksPortable;
#endif
}

void Sha256Stream::Update(std::string_view data) {
  auto p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  length_ += n;
  if (buffered_ > 0) {
    size_t take = std::min(n, sizeof buffer_ - buffered_);
    std::memcpy(buffer_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < sizeof buffer_) return;
    blocks_(state_, buffer_, 1);
    buffered_ = 0;
  }
  if (n >= 64) {
    blocks_(state_, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
  }
  std::memcpy(buffer_, p, n);
  buffered_ = n;
}

Sha256Digest Sha256Stream::Digest() {
  // 5.1.1: a 1 bit, zeros up to 56 bytes into the last block, the length in bits (big-endian).
  const uint64_t bits = length_ * 8;
  unsigned char pad[72] = {0x80};
  size_t pad_len = (buffered_ < 56 ? 56 : 120) - buffered_;
  for (int i = 0; i < 8; ++i) pad[pad_len + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  Update(std::string_view(reinterpret_cast<const char*>(pad), pad_len + 8));
  Sha256Digest md{};
  for (size_t i = 0; i < 8; ++i) {
    md[4 * i] = static_cast<unsigned char>(state_[i] >> 24);
    md[4 * i + 1] = static_cast<unsigned char>(state_[i] >> 16);
    md[4 * i + 2] = static_cast<unsigned char>(state_[i] >> 8);
    md[4 * i + 3] = static_cast<unsigned char>(state_[i]);
  }
  return md;
}

std::string Sha256Stream::HexDigest() { return HexOf(Digest()); }

Sha256Digest Sha256(std::string_view data) {
  Sha256Stream stream;
  stream.Update(data);
  return stream.Digest();
}

std::string Sha256Hex(std::string_view data) { return HexOf(Sha256(data)); }

std::string HexOf(const Sha256Digest& digest) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

}  // namespace tidemark
