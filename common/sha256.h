// SHA-256 (FIPS 180-4) for content hashes, file hashes and key fingerprints, without libcrypto.
//
// The agent's `collect` loads no libcrypto at all: loading Debian's libcrypto.so.3 (18,000
// relocations) was more than the rest of its start-up (README, "Agent start-up"), and a content
// hash needs nothing else of it. Like coreutils' sha256sum and OpenSSH's own sha2.c, tidemark
// carries the function itself: the portable form of the standard, and the x86 SHA extensions
// where the CPU has them (as fast as OpenSSL there). Both are compared with OpenSSL's EVP on
// every length around the block size and with sha256sum (tests/common/sha256_test.cpp). Some
// inputs are secret (the files section hashes /etc/shadow): SHA-256's rounds have no branch or
// table lookup that depends on the data, so both functions take the same time for any content
// of a given length.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tidemark {

using Sha256Digest = std::array<unsigned char, 32>;

// Returns the SHA-256 of `data`.
Sha256Digest Sha256(std::string_view data);

// Returns the lowercase hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Returns the lowercase hex form of a digest.
std::string HexOf(const Sha256Digest& digest);

// The compression function a stream uses: kAuto takes the SHA extensions when the CPU has them
// (tests run both).
enum class Sha256Engine { kAuto, kPortable, kShaExtensions };

// Returns true when the CPU has the x86 SHA extensions (and SSSE3 and SSE4.1 beside them).
bool Sha256ExtensionsAvailable();

// SHA-256 over data given in pieces (the content hash of a document as it streams by, a file
// read in blocks). Used by one thread at a time.
class Sha256Stream {
 public:
  // kShaExtensions on a CPU without them is undefined behaviour (an invalid instruction).
  explicit Sha256Stream(Sha256Engine engine = Sha256Engine::kAuto);
  void Update(std::string_view data);
  // The digest of everything given to Update; the stream is then spent.
  Sha256Digest Digest();
  // Returns the lowercase hex digest; the stream is then spent.
  std::string HexDigest();

 private:
  uint32_t state_[8];
  unsigned char buffer_[64];
  size_t buffered_ = 0;
  uint64_t length_ = 0;
  void (*blocks_)(uint32_t state[8], const unsigned char* data, size_t blocks);
};

}  // namespace tidemark
