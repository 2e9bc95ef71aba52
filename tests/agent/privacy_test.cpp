// Privacy: no password hash (nor any 8-byte piece of its salt or hash part) and no private key
// material may leave the agent, in any section, on stdout, on stderr or in the written snapshot.
// The fixture holds real hashes made by libxcrypt with random salts, malformed and NUL-bearing
// shadow lines, a gshadow group password and OpenSSH private keys; the built agent binary is run
// over it with every section it has (other sections are added independently).
#include <crypt.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/real_hash.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using nlohmann::json;
using testing::TempRoot;

using testing::RealHash;

// The secret part of a hash: everything after the method prefix ("$6$", "$2b$", "_", none).
std::string SecretPart(const std::string& hash) {
  if (hash.empty()) return hash;
  if (hash[0] == '_') return hash.substr(1);
  if (hash[0] != '$') return hash;  // DES: all 13 characters
  size_t second = hash.find('$', 1);
  return second == std::string::npos ? hash : hash.substr(second + 1);
}

// Every 8-byte window of `s`.
std::vector<std::string> Windows(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 8 <= s.size(); ++i) out.push_back(s.substr(i, 8));
  return out;
}

constexpr const char* kKeyMarker = "TiDeMaRkPrIvAtEkEyMaRkEr";

std::string PrivateKey(const std::string& body) {
  return "-----BEGIN OPENSSH PRIVATE KEY-----\n"
         "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n" +
         body + "\n-----END OPENSSH PRIVATE KEY-----\n";
}

class PrivacyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Real hashes, fresh random salts each run.
    struct Want {
      const char* prefix;
      const char* user;
    };
    const Want wants[] = {
        {"$y$", "alice"}, {"$6$", "bob"}, {"$1$", "carol"}, {"", "dave"}, {"$2b$", "eve"}};
    std::string shadow = "root:*:19000:0:99999:7:::\n";
    std::string passwd = "root:x:0:0:root:/root:/bin/bash\n";
    std::string group = "root:x:0:\nsudo:x:27:alice\nstaff:x:50:bob\n";
    uint32_t uid = 1000;
    for (const auto& w : wants) {
      std::string h = RealHash(w.prefix, w.user);
      ASSERT_FALSE(h.empty()) << "libxcrypt cannot make '" << w.prefix << "' hashes";
      hashes_.push_back(h);
      shadow += std::string(w.user) + ":" + h + ":19500:0:99999:7:::\n";
      passwd += std::string(w.user) + ":x:" + std::to_string(uid) + ":" + std::to_string(uid) +
                "::/home/" + w.user + ":/bin/bash\n";
      group += std::string(w.user) + ":x:" + std::to_string(uid) + ":\n";
      ++uid;
    }
    std::string locked = RealHash("$6$", "frank");
    std::string malformed_few = RealHash("$6$", "gina");
    std::string malformed_many = RealHash("$y$", "hank");
    std::string nul_line = RealHash("$5$", "ivan");
    std::string name_position = RealHash("$6$", "jack");
    std::string group_pw = RealHash("$6$", "staffpw");
    std::string legacy = RealHash("$6$", "legacy");
    hashes_.insert(hashes_.end(), {locked, malformed_few, malformed_many, nul_line, name_position,
                                   group_pw, legacy});
    for (const auto& h : hashes_) ASSERT_FALSE(h.empty());
    for (const char* u : {"frank", "gina", "hank", "ivan"}) {
      passwd += std::string(u) + ":x:" + std::to_string(uid) + ":" + std::to_string(uid) +
                "::/home/" + u + ":/bin/sh\n";
      ++uid;
    }
    passwd += "legacy:" + legacy + ":" + std::to_string(uid) + ":0::/home/legacy:/bin/sh\n";
    shadow += "frank:!" + locked + ":19500:0:99999:7:::\n";
    shadow += "gina:" + malformed_few + ":19500\n";                  // too few fields
    shadow += "hank:" + malformed_many + ":1:2:3:4:5:6:7:8:9:10\n";  // too many
    shadow += "ivan:" + nul_line.substr(0, 10) + std::string(1, '\0') + nul_line.substr(10) +
              ":19500:0:99999:7:::\n";              // NUL bytes
    shadow += malformed_few + "\n";                 // hash alone
    shadow += name_position + ":x:1:2:3:4:5:6:\n";  // hash as a name
    root_.Write("/etc/hostname", "privacy-fixture\n");
    root_.Write("/etc/passwd", passwd);
    root_.Write("/etc/group", group);
    root_.Write("/etc/shadow", shadow, 0640);
    root_.Write("/etc/gshadow", "root:*::\nsudo:!::alice\nstaff:" + group_pw + ":bob:bob\n", 0640);
    root_.Write("/etc/shells", "/bin/sh\n/bin/bash\n");
    root_.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n", 0440);

    key_bodies_ = {
        std::string("QyNTUxOQAAACB") + kKeyMarker + "Zq9XwV3kLm2NpR7sT4uY6aB8cD0eF1gH2iJ3kL4mN5",
        std::string("AAAAB3NzaC1yc2EAAAADAQABAAABAQ") + kKeyMarker + "Hk3Jd9Ls0Qw2Er4Ty6Ui8Op",
    };
    root_.Write("/root/.ssh/id_ed25519", PrivateKey(key_bodies_[0]), 0600);
    root_.Write("/home/alice/.ssh/id_rsa", PrivateKey(key_bodies_[1]), 0600);
  }

  // Fails the test for every secret piece found in `text` (named `what`).
  void ExpectNoSecrets(const std::string& text, const std::string& what) {
    for (const auto& h : hashes_) {
      EXPECT_EQ(text.find(h), std::string::npos) << what << " contains a whole hash";
      for (const auto& w : Windows(SecretPart(h))) {
        ASSERT_EQ(text.find(w), std::string::npos)
            << what << " contains 8 bytes of a hash's salt/hash part: " << w;
      }
    }
    EXPECT_EQ(text.find(kKeyMarker), std::string::npos) << what << " contains private key data";
    for (const auto& body : key_bodies_) {
      // The body without its standard prefix (which every OpenSSH key shares).
      for (const auto& w : Windows(body.substr(body.find(kKeyMarker)))) {
        ASSERT_EQ(text.find(w), std::string::npos) << what << " contains private key bytes: " << w;
      }
    }
  }

  TempRoot root_;
  std::vector<std::string> hashes_;
  std::vector<std::string> key_bodies_;
};

TEST_F(PrivacyTest, CollectAllSectionsLeaksNothing) {
  std::string out, err;
  int code = testing::RunCommand(
      std::string(TIDEMARK_AGENT_BIN) + " collect --root '" + root_.path() + "'", &out, &err);
  ASSERT_EQ(code, 0) << err;
  ExpectNoSecrets(out, "collect stdout");
  ExpectNoSecrets(err, "collect stderr");

  json snap = json::parse(out);
  const json& acc = snap["accounts"];
  // The hashes were seen and classified...
  std::map<std::string, std::string> scheme;
  for (const auto& u : acc["users"]) {
    scheme[u["name"]] = u["password"].value("scheme", std::string());  // null: omitted
  }
  EXPECT_EQ(scheme["alice"], "yescrypt");
  EXPECT_EQ(scheme["bob"], "sha512");
  EXPECT_EQ(scheme["carol"], "md5");
  EXPECT_EQ(scheme["dave"], "des");
  EXPECT_EQ(scheme["eve"], "bcrypt");
  EXPECT_EQ(scheme["frank"], "sha512");
  // ...and the malformed lines are errors naming /etc/shadow and the line, nothing else.
  std::set<int64_t> lines;
  for (const auto& e : acc["errors"]) {
    if (e["path"] == "/etc/shadow" && e["line"].is_number()) lines.insert(e["line"].get<int64_t>());
  }
  // Lines: 1 root, 2-6 users, 7 frank, 8 gina, 9 hank, 10 ivan, 11 hash alone, 12 hash as name.
  for (int64_t l : {8, 9, 10, 11, 12}) EXPECT_EQ(lines.count(l), 1u) << "line " << l;
  EXPECT_EQ(acc["shadow"]["malformed_lines"], (json{8, 9, 10, 11}));
}

TEST_F(PrivacyTest, AuditOutputFileLeaksNothing) {
  TempRoot out_dir;
  std::string file = out_dir.Host("snapshot.json");
  std::string out, err;
  int code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " audit --root '" +
                                     root_.path() + "' --output '" + file + "'",
                                 &out, &err);
  ASSERT_EQ(code, 0) << err;
  std::string written = testing::ReadHostFile(file);
  ASSERT_FALSE(written.empty());
  ExpectNoSecrets(out, "audit stdout");
  ExpectNoSecrets(err, "audit stderr");
  ExpectNoSecrets(written, "audit snapshot file");
}

}  // namespace
}  // namespace tidemark
