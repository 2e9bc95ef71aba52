// Tests of the shadow/gshadow parsers and the password classification. The hash classification
// is checked against real hashes made by the system's libxcrypt (crypt_gensalt + crypt_r), so
// the oracle is the library that login and PAM use, not a hand-written table.
#include "agent/parsers/shadow.h"

#include <gtest/gtest.h>

#include "tests/support/real_hash.h"

namespace tidemark::agent {
namespace {

using testing::RealHash;

TEST(ShadowClassifyTest, RealHashesOfEveryMethodGetTheirScheme) {
  struct Case {
    const char* prefix;
    const char* scheme;
  };
  const Case cases[] = {
      {"$y$", "yescrypt"}, {"$gy$", "gost-yescrypt"}, {"$7$", "scrypt"}, {"$2b$", "bcrypt"},
      {"$2a$", "bcrypt"},  {"$2y$", "bcrypt"},        {"$6$", "sha512"}, {"$5$", "sha256"},
      {"$sha1", "sha1"},   {"$md5", "sunmd5"},        {"$1$", "md5"},    {"_", "bsdi"},
      {"", "des"},
  };
  int made = 0;
  for (const auto& c : cases) {
    std::string hash = RealHash(c.prefix, "correct horse");
    if (hash.empty()) continue;  // method not built into this libxcrypt
    ++made;
    SCOPED_TRACE(std::string(c.scheme) + " " + hash);
    PasswordClass cls = ClassifyPassword(hash);
    EXPECT_EQ(cls.status, PasswordStatus::kHashed);
    ASSERT_TRUE(HashSchemeName(cls.scheme).has_value());
    EXPECT_EQ(*HashSchemeName(cls.scheme), c.scheme);
    // usermod -L / passwd -l put "!" in front and keep the hash: locked, scheme kept.
    PasswordClass locked = ClassifyPassword("!" + hash);
    EXPECT_EQ(locked.status, PasswordStatus::kLocked);
    EXPECT_EQ(locked.scheme, cls.scheme);
    EXPECT_EQ(ClassifyPassword("!!" + hash).scheme, cls.scheme);
  }
  // Debian's libxcrypt makes at least yescrypt, sha512, sha256, md5, bcrypt and des.
  EXPECT_GE(made, 6);
}

TEST(ShadowClassifyTest, StatusRulesOfShadow5) {
  EXPECT_EQ(ClassifyPassword(""), (PasswordClass{PasswordStatus::kEmpty, HashScheme::kNone}));
  for (const char* f : {"*", "*LK*", "*NP*", "**", "*$6$abc$def"}) {
    EXPECT_EQ(ClassifyPassword(f), (PasswordClass{PasswordStatus::kNoLogin, HashScheme::kNone}))
        << f;
  }
  EXPECT_EQ(ClassifyPassword("!"), (PasswordClass{PasswordStatus::kLocked, HashScheme::kNone}));
  EXPECT_EQ(ClassifyPassword("!!"), (PasswordClass{PasswordStatus::kLocked, HashScheme::kNone}));
  EXPECT_EQ(ClassifyPassword("!*"), (PasswordClass{PasswordStatus::kLocked, HashScheme::kNone}));
  EXPECT_EQ(ClassifyPassword("!$y$j9T$abc$def").scheme, HashScheme::kYescrypt);
  // Not a hash of any method: still a "hashed" field (nothing can match it), scheme unknown.
  EXPECT_EQ(ClassifyPassword("x"), (PasswordClass{PasswordStatus::kHashed, HashScheme::kUnknown}));
  EXPECT_EQ(ClassifyPassword("$9$zzz").scheme, HashScheme::kUnknown);
  // DES needs exactly 13 characters of the crypt alphabet.
  EXPECT_EQ(ClassifyHash("abcdefghijklm"), HashScheme::kDes);
  EXPECT_EQ(ClassifyHash("abcdefghijkl"), HashScheme::kUnknown);
  EXPECT_EQ(ClassifyHash("abcdefghijk-m"), HashScheme::kUnknown);
  EXPECT_EQ(ClassifyHash("_abc"), HashScheme::kUnknown);
  EXPECT_EQ(ClassifyHash("$2x$05$abcdefghijklmnopqrstuu"), HashScheme::kBcrypt);
  EXPECT_EQ(ClassifyHash("$md5,rounds=5000$abc$"), HashScheme::kSunMd5);
  EXPECT_FALSE(HashSchemeName(HashScheme::kNone).has_value());
  EXPECT_EQ(PasswordStatusName(PasswordStatus::kNoLogin), "no_login");
}

TEST(ShadowClassifyTest, GroupPasswordClasses) {
  EXPECT_EQ(ClassifyGroupPassword(""), GroupPasswordClass::kNone);
  EXPECT_EQ(ClassifyGroupPassword("!"), GroupPasswordClass::kLocked);
  EXPECT_EQ(ClassifyGroupPassword("*"), GroupPasswordClass::kLocked);
  EXPECT_EQ(ClassifyGroupPassword("!$6$x$y"), GroupPasswordClass::kLocked);
  EXPECT_EQ(ClassifyGroupPassword("$6$salt$hash"), GroupPasswordClass::kSet);
  EXPECT_EQ(GroupPasswordClassName(GroupPasswordClass::kSet), "set");
}

const KnownName kKnown = [](std::string_view n) { return n == "alice" || n == "bob"; };

TEST(ShadowParseTest, FieldsAndEmptyNumbers) {
  auto f = ParseShadow(
      "# comment line\n"
      "\n"
      "  alice:$y$j9T$salt$hash:19000:0:99999:7:::\n"
      "bob:!:19001:1:90:14:30:20000:\n"
      "old:*:18000:0:99999\n",  // the old 5-field form
      "/etc/shadow", kKnown);
  EXPECT_TRUE(f.errors.empty());
  ASSERT_EQ(f.entries.size(), 3u);
  const auto& a = f.entries[0];
  EXPECT_EQ(a.name, "alice");
  EXPECT_EQ(a.line, 3);
  EXPECT_EQ(a.password, (PasswordClass{PasswordStatus::kHashed, HashScheme::kYescrypt}));
  EXPECT_EQ(a.last_change, 19000);
  EXPECT_EQ(a.min_days, 0);
  EXPECT_EQ(a.max_days, 99999);
  EXPECT_EQ(a.warn_days, 7);
  EXPECT_FALSE(a.inactive_days.has_value());
  EXPECT_FALSE(a.expire.has_value());
  const auto& b = f.entries[1];
  EXPECT_EQ(b.password.status, PasswordStatus::kLocked);
  EXPECT_EQ(b.inactive_days, 30);
  EXPECT_EQ(b.expire, 20000);
  const auto& o = f.entries[2];
  EXPECT_EQ(o.password.status, PasswordStatus::kNoLogin);
  EXPECT_EQ(o.max_days, 99999);
  EXPECT_FALSE(o.warn_days.has_value());
}

TEST(ShadowParseTest, MalformedLinesAreReportedByLineWithoutContent) {
  const std::string secret = "$6$Sa1tSa1t$H4shH4shH4shH4shH4sh";
  std::string text = "alice:" + secret + ":19000\n" +             // 3 fields
                     "bob:" + secret + ":1:2:3:4:5:6:7:8:9\n" +   // 11 fields
                     "carol:" + secret + ":abc:0:99999:7:::\n" +  // bad number
                     std::string("dave:") + secret + std::string("\0:1:2:3:4:5:6:", 14) + "\n" +
                     secret + "\n" +                           // no name at all
                     ":" + secret + ":1:2:3:4:5:6:\n" +        // empty name
                     "eve:" + secret + ":-1:0:99999:7:::\n" +  // negative
                     "alice:" + std::string(kMaxAccountLineBytes, 'A') + ":1:2:3:4:5:6:\n";
  auto f = ParseShadow(text, "/etc/shadow", kKnown);
  EXPECT_TRUE(f.entries.empty());
  ASSERT_EQ(f.errors.size(), 8u);
  ASSERT_EQ(f.skipped.size(), 8u);
  for (size_t i = 0; i < f.errors.size(); ++i) {
    EXPECT_EQ(f.errors[i].path, "/etc/shadow");
    EXPECT_EQ(f.errors[i].line, static_cast<int64_t>(i + 1));
    EXPECT_EQ(f.errors[i].message.find("Sa1t"), std::string::npos) << f.errors[i].message;
    EXPECT_EQ(f.errors[i].message.find("H4sh"), std::string::npos) << f.errors[i].message;
  }
  EXPECT_NE(f.errors[1].message.find("found 11"), std::string::npos);
  EXPECT_NE(f.errors[3].message.find("NUL"), std::string::npos);
  EXPECT_NE(f.errors[7].message.find("longer than"), std::string::npos);
  // Only names the caller knows are kept from skipped lines.
  EXPECT_EQ(f.skipped[0].known_name, "alice");
  EXPECT_EQ(f.skipped[1].known_name, "bob");
  EXPECT_EQ(f.skipped[2].known_name, "");  // carol: not a known user
  EXPECT_EQ(f.skipped[3].known_name, "");  // dave: not known
  EXPECT_EQ(f.skipped[4].known_name, "");  // the hash itself is never kept
}

TEST(ShadowParseTest, CompatLines) {
  auto f = ParseShadow("+::::::::\n-bob::::::::\n+@ng::::::::\n", "/etc/shadow", kKnown);
  EXPECT_TRUE(f.entries.empty());
  EXPECT_TRUE(f.errors.empty());
  ASSERT_EQ(f.compat_lines.size(), 3u);
  EXPECT_EQ(f.compat_lines[0].message, "include_all");
  EXPECT_EQ(f.compat_lines[1].message, "exclude_name");
  EXPECT_EQ(f.compat_lines[2].message, "include_netgroup");
}

TEST(GshadowParseTest, EntriesAndMalformedLines) {
  auto f = ParseGshadow(
      "sudo:!::alice,bob\n"
      "staff:$6$gsalt$ghash:alice:carol\n"
      "open:::\n"
      "broken:$6$gsalt$ghash:alice\n",
      "/etc/gshadow", [](std::string_view n) { return n == "broken"; });
  ASSERT_EQ(f.entries.size(), 3u);
  EXPECT_EQ(f.entries[0].password, GroupPasswordClass::kLocked);
  EXPECT_TRUE(f.entries[0].administrators.empty());
  EXPECT_EQ(f.entries[0].members, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(f.entries[1].password, GroupPasswordClass::kSet);
  EXPECT_EQ(f.entries[1].administrators, (std::vector<std::string>{"alice"}));
  EXPECT_EQ(f.entries[2].password, GroupPasswordClass::kNone);
  ASSERT_EQ(f.errors.size(), 1u);
  EXPECT_EQ(f.errors[0].line, 4);
  EXPECT_EQ(f.errors[0].message.find("gsalt"), std::string::npos);
  EXPECT_EQ(f.skipped[0].known_name, "broken");
}

TEST(ShadowNamesTest, LooksLikeAccountName) {
  EXPECT_TRUE(LooksLikeAccountName("alice"));
  EXPECT_TRUE(LooksLikeAccountName("systemd-journal"));
  EXPECT_TRUE(LooksLikeAccountName("host1$"));
  EXPECT_FALSE(LooksLikeAccountName("$6$salt$hash"));
  EXPECT_FALSE(LooksLikeAccountName("ab$cd"));
  EXPECT_FALSE(LooksLikeAccountName("!locked"));
  EXPECT_FALSE(LooksLikeAccountName("*"));
  EXPECT_FALSE(LooksLikeAccountName("a b"));
  EXPECT_FALSE(LooksLikeAccountName(""));
  EXPECT_FALSE(LooksLikeAccountName(std::string(257, 'a')));
}

}  // namespace
}  // namespace tidemark::agent
