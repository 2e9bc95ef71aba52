#include "common/sha256.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

// FIPS 180-4's examples (NIST CSRC, "SHA256.pdf" and the one-million-'a' message).
TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  Sha256Stream million;
  const std::string a(1000, 'a');
  for (int i = 0; i < 1000; ++i) million.Update(a);
  EXPECT_EQ(million.HexDigest(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

std::string EvpSha256Hex(const std::string& data) {
  Sha256Digest md{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(len, md.size());
  return HexOf(md);
}

// Both compression functions, over pieces of every length around the 64-byte block (one byte
// at a time included), give the digest that OpenSSL's EVP interface gives for the whole.
TEST(Sha256Test, PiecesOfAnyLengthEqualEvpOverTheWhole) {
  std::vector<Sha256Engine> engines = {Sha256Engine::kAuto, Sha256Engine::kPortable};
  if (Sha256ExtensionsAvailable()) {
    engines.push_back(Sha256Engine::kShaExtensions);
  } else {
    std::cout << "[ NOTE     ] this CPU has no SHA extensions: the portable function only\n";
  }
  std::mt19937 rng(20261205);
  for (size_t size = 0; size <= 300; size += (size < 140 ? 1 : 37)) {
    std::string data(size, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    const std::string expected = EvpSha256Hex(data);
    EXPECT_EQ(Sha256Hex(data), expected) << size;
    EXPECT_EQ(HexOf(Sha256(data)), expected) << size;
    for (Sha256Engine engine : engines) {
      for (size_t piece : {1u, 7u, 63u, 64u, 65u, 4096u}) {
        Sha256Stream stream(engine);
        for (size_t at = 0; at < data.size(); at += piece) stream.Update(data.substr(at, piece));
        EXPECT_EQ(stream.HexDigest(), expected)
            << size << " bytes in pieces of " << piece << ", engine " << static_cast<int>(engine);
      }
    }
  }
  std::string large(1 << 20, '\0');
  for (char& c : large) c = static_cast<char>(rng());
  for (Sha256Engine engine : engines) {
    Sha256Stream stream(engine);
    stream.Update(large);
    EXPECT_EQ(stream.HexDigest(), EvpSha256Hex(large)) << static_cast<int>(engine);
  }
}

// The digest of a file as coreutils' sha256sum prints it.
TEST(Sha256Test, EqualsSha256sum) {
  testing::TempRoot root;
  std::mt19937 rng(7);
  std::string data(300000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  root.Write("/data", data);
  std::string out;
  ASSERT_EQ(testing::RunCommand("sha256sum " + testing::ShellQuote(root.Host("/data")), &out), 0);
  EXPECT_EQ(out.substr(0, 64), Sha256Hex(data));
}

}  // namespace
}  // namespace tidemark
