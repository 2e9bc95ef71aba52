// authorized_keys parsing: options, base64, key blobs, lines. The key fixtures and the expected
// bits/fingerprints/comments in tests/fixtures/ssh_keys/ were produced by ssh-keygen 9.2p1
// (`ssh-keygen -lf authorized_keys > authorized_keys.ssh-keygen-lf`); the tool test
// (ssh_keygen_test.cpp) compares against the live tool on freshly generated keys.
#include "agent/parsers/authorized_keys.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/ssh_wire.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent::authorized_keys {
namespace {

using nlohmann::json;
using testing::Base64;
using testing::ShortType;
using testing::WireString;
using testing::WireStrings;

std::string Fixture(const std::string& name) {
  return testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/ssh_keys/" + name);
}

// The first "ssh-ed25519 AAAA..." line of the fixture (type and base64 only).
std::string FixtureLine(std::string_view type) {
  std::istringstream in(Fixture("authorized_keys"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(std::string(type) + " ", 0) == 0) {
      size_t sp = line.find(' ', type.size() + 1);
      return line.substr(0, sp);
    }
  }
  ADD_FAILURE() << "no " << type << " key in the fixture";
  return "";
}

std::string BlobOf(const std::string& line) {
  auto blob = DecodeBase64(line.substr(line.find(' ') + 1));
  EXPECT_TRUE(blob.has_value());
  return blob.value_or("");
}

TEST(AuthorizedKeysTest, EveryKeyTypeMatchesRecordedSshKeygenOutput) {
  ParsedFile parsed = ParseFile(Fixture("authorized_keys"));
  EXPECT_TRUE(parsed.errors.empty()) << parsed.errors[0].line << ": " << parsed.errors[0].message;
  std::istringstream expected(Fixture("authorized_keys.ssh-keygen-lf"));
  std::string line;
  size_t i = 0;
  std::set<std::string> types;
  while (std::getline(expected, line)) {
    ASSERT_LT(i, parsed.keys.size());
    const ParsedKey& k = parsed.keys[i++];
    // "BITS SHA256:... COMMENT (TYPE)"
    size_t sp1 = line.find(' '), sp2 = line.find(' ', sp1 + 1), paren = line.rfind(" (");
    EXPECT_EQ(std::to_string(k.key.bits), line.substr(0, sp1)) << line;
    EXPECT_EQ(k.key.fingerprint, line.substr(sp1 + 1, sp2 - sp1 - 1)) << line;
    EXPECT_EQ(k.comment, line.substr(sp2 + 1, paren - sp2 - 1)) << line;
    EXPECT_EQ(ShortType(k.key.type), line.substr(paren + 2, line.size() - paren - 3)) << line;
    types.insert(k.key.type);
  }
  EXPECT_EQ(i, parsed.keys.size());
  for (const char* t :
       {"ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "ssh-ed25519", "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
        "ecdsa-sha2-nistp256-cert-v01@openssh.com"}) {
    EXPECT_TRUE(types.count(t)) << t;
  }
  // The certificate's details, and the cert-authority line's options.
  const ParsedKey* cert = nullptr;
  for (const auto& k : parsed.keys) {
    if (k.key.certificate) cert = &k;
  }
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->key.certificate->cert_type, "user");
  EXPECT_EQ(cert->key.certificate->serial, 42u);
  EXPECT_EQ(cert->key.certificate->key_id, "fixture cert");
  EXPECT_EQ(cert->key.certificate->principals, std::vector<std::string>{"alice"});
  EXPECT_EQ(cert->key.certificate->ca_fingerprint, parsed.keys.back().key.fingerprint);
  EXPECT_EQ(parsed.keys.back().options, json({{"cert-authority", true}, {"principals", "alice"}}));
}

TEST(AuthorizedKeysTest, OptionsAllNamesCaseAndQuoting) {
  auto o = ParseKeyOptions(
      "RESTRICT,Cert-Authority,no-port-forwarding,NO-AGENT-FORWARDING,no-x11-forwarding,no-pty,"
      "no-user-rc,no-touch-required,verify-required,pty,user-rc,X11-forwarding,agent-forwarding,"
      "port-forwarding,"
      "command=\"echo \\\"hi there\\\" \\\\n\",from=\"10.0.0.0/8,!10.1.*\",principals=\"a,b\","
      "environment=\"A=1\",Environment=\"B_2=x y\",expiry-time=\"20991231\","
      "expiry-time=\"209912312359Z\",permitopen=\"host:22\",permitopen=\"[::1]:*\","
      "permitlisten=\"8080\",permitlisten=\"localhost:9000\",tunnel=\"any\",tunnel=\"5\"");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  json expected = {
      {"restrict", true},
      {"cert-authority", true},
      {"no-port-forwarding", true},
      {"no-agent-forwarding", true},
      {"no-X11-forwarding", true},
      {"no-pty", true},
      {"no-user-rc", true},
      {"no-touch-required", true},
      {"verify-required", true},
      {"pty", true},
      {"user-rc", true},
      {"X11-forwarding", true},
      {"agent-forwarding", true},
      {"port-forwarding", true},
      {"command", "echo \"hi there\" \\\\n"},
      {"from", "10.0.0.0/8,!10.1.*"},
      {"principals", "a,b"},
      {"environment", {"A=1", "B_2=x y"}},
      {"expiry-time", {"20991231", "209912312359Z"}},
      {"permitopen", {"host:22", "[::1]:*"}},
      {"permitlisten", {"8080", "localhost:9000"}},
      {"tunnel", "5"},
  };
  EXPECT_EQ(*o, expected) << o->dump();
  // Options end at the first unquoted blank; a leading or doubled comma is an empty option.
  auto stop = ParseKeyOptions(",no-pty,,command=\"a b\" ssh-ed25519 AAAA");
  ASSERT_TRUE(stop.ok()) << stop.status().ToString();
  EXPECT_EQ(*stop, json({{"no-pty", true}, {"command", "a b"}}));
}

TEST(AuthorizedKeysTest, OptionErrorsUseSshdReasons) {
  const std::pair<const char*, const char*> kCases[] = {
      {"no-pty,bogus", "unknown key option"},
      {"restrictx", "unknown key option"},  // prefix match, then junk (as opt_flag does)
      {"no-restrict", "unknown key option"},
      {"no-pty,", "unexpected end-of-options"},
      {"command=\"a", "missing end quote"},
      {"command=a", "missing start quote"},
      {"command=\"a\",command=\"b\"", "multiple \"command\" clauses"},
      {"from=\"a\",FROM=\"b\"", "multiple \"from\" clauses"},
      {"principals=\"a\",principals=\"b\"", "multiple \"principals\" clauses"},
      {"environment=\"NOEQUALS\"", "invalid environment string"},
      {"environment=\"BAD-NAME=1\"", "invalid environment string"},
      {"expiry-time=\"2099\"", "invalid expires time"},
      {"expiry-time=\"20991340\"", "invalid expires time"},
      {"permitopen=\"hostonly\"", "invalid permission port"},
      {"permitopen=\"host:0\"", "invalid permission port"},
      {"permitopen=\"host/22\"", "invalid permission hostname"},
      {"permitlisten=\"70000\"", "invalid permission port"},
      {"tunnel=\"x\"", "invalid tun device"},
  };
  for (const auto& [opts, reason] : kCases) {
    auto o = ParseKeyOptions(opts);
    ASSERT_FALSE(o.ok()) << opts;
    EXPECT_EQ(o.status().message(), reason) << opts;
  }
}

TEST(AuthorizedKeysTest, Base64IsStrictLikeB64Pton) {
  EXPECT_EQ(DecodeBase64("aGk="), "hi");
  EXPECT_EQ(DecodeBase64("aGlo"), "hih");
  EXPECT_EQ(DecodeBase64("aA=="), "h");
  EXPECT_EQ(DecodeBase64("aA= =\r"), "h");
  EXPECT_EQ(DecodeBase64("aG\rlo"), "hih");
  EXPECT_FALSE(DecodeBase64("aGk"));    // missing padding
  EXPECT_FALSE(DecodeBase64("aA="));    // one pad where two are needed
  EXPECT_FALSE(DecodeBase64("aGk=x"));  // data after padding
  EXPECT_FALSE(DecodeBase64("a==="));   // pad in the second position
  EXPECT_FALSE(DecodeBase64("aGl!"));   // not base64
  EXPECT_FALSE(DecodeBase64("aB=="));   // non-zero bits after the last byte
}

TEST(AuthorizedKeysTest, BlobsTruncatedAtEveryLengthAreErrors) {
  for (const char* type :
       {"ssh-rsa", "ssh-dss", "ecdsa-sha2-nistp384", "ssh-ed25519", "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com"}) {
    std::string blob = BlobOf(FixtureLine(type));
    ASSERT_TRUE(ParseKeyBlob(blob).ok()) << type;
    for (size_t n = 0; n < blob.size(); ++n) {
      auto cut = ParseKeyBlob(blob.substr(0, n));
      EXPECT_FALSE(cut.ok()) << type << " cut at " << n;
      EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument) << type << " cut at " << n;
      EXPECT_NE(cut.status().message().find("truncated"), std::string::npos)
          << type << " cut at " << n << ": " << cut.status().message();
    }
    auto trailing = ParseKeyBlob(blob + std::string(1, '\0'));
    ASSERT_FALSE(trailing.ok());
    EXPECT_EQ(trailing.status().message(), "key blob has trailing data");
  }
}

// ParseKeyBlob(blob) fails with kInvalidArgument and exactly `message`.
void ExpectBlobRefused(const std::string& blob, const std::string& message) {
  auto key = ParseKeyBlob(blob);
  EXPECT_FALSE(key.ok()) << message;
  EXPECT_EQ(key.status().code(), StatusCode::kInvalidArgument) << message;
  EXPECT_EQ(key.status().message(), message);
}

TEST(AuthorizedKeysTest, BlobContentChecks) {
  std::vector<std::string> rsa = WireStrings(BlobOf(FixtureLine("ssh-rsa")));
  ASSERT_EQ(rsa.size(), 3u);
  auto canonical = ParseKeyBlob(WireString(rsa[0]) + WireString(rsa[1]) + WireString(rsa[2]));
  ASSERT_TRUE(canonical.ok());
  // Superfluous leading zeros are accepted; the fingerprint is of the canonical encoding.
  auto padded = ParseKeyBlob(WireString(rsa[0]) + WireString(std::string(2, '\0') + rsa[1]) +
                             WireString(rsa[2]));
  ASSERT_TRUE(padded.ok()) << padded.status().ToString();
  EXPECT_EQ(padded->fingerprint, canonical->fingerprint);
  // Negative and short moduli are refused, as sshkey_from_blob does.
  std::string negative = rsa[2];
  negative.erase(0, 1);  // drop the 0x00 that keeps the high bit from meaning "negative"
  ExpectBlobRefused(WireString(rsa[0]) + WireString(rsa[1]) + WireString(negative),
                    "key blob: RSA modulus is negative");
  auto short_rsa =
      ParseKeyBlob(WireString(rsa[0]) + WireString(rsa[1]) + WireString(rsa[2].substr(0, 65)));
  ASSERT_FALSE(short_rsa.ok());
  EXPECT_NE(short_rsa.status().message().find("minimum of 1024"), std::string::npos);

  std::vector<std::string> ec = WireStrings(BlobOf(FixtureLine("ecdsa-sha2-nistp384")));
  ASSERT_EQ(ec.size(), 3u);
  // Curve name inside the blob must match the type; the point must be on the curve.
  ExpectBlobRefused(WireString(ec[0]) + WireString("nistp256") + WireString(ec[2]),
                    "key blob: ECDSA curve does not match key type");
  std::string off_curve = ec[2];
  off_curve.back() ^= 1;
  auto bad_point = ParseKeyBlob(WireString(ec[0]) + WireString(ec[1]) + WireString(off_curve));
  ASSERT_FALSE(bad_point.ok());
  EXPECT_NE(bad_point.status().message().find("not a point on its curve"), std::string::npos);
  std::string compressed = ec[2].substr(0, 49);
  compressed[0] = 0x02;
  ExpectBlobRefused(WireString(ec[0]) + WireString(ec[1]) + WireString(compressed),
                    "key blob: EC point is not in uncompressed form");

  std::vector<std::string> ed = WireStrings(BlobOf(FixtureLine("ssh-ed25519")));
  ExpectBlobRefused(WireString(ed[0]) + WireString(ed[1] + "x"),
                    "key blob: Ed25519 key is not 32 bytes");
  ExpectBlobRefused(WireString("ssh-foo") + WireString(ed[1]), "key blob has an unknown key type");
}

TEST(AuthorizedKeysTest, LineTypeMustMatchBlobType) {
  std::string ed = FixtureLine("ssh-ed25519");
  std::string ed_b64 = ed.substr(ed.find(' ') + 1);
  auto mismatch = ParseLine("ssh-rsa " + ed_b64 + " c");
  ASSERT_TRUE(mismatch && !mismatch->ok());
  EXPECT_NE(mismatch->status().message().find("type mismatch"), std::string::npos);
  std::string ec = FixtureLine("ecdsa-sha2-nistp384");
  auto curve = ParseLine("ecdsa-sha2-nistp256 " + ec.substr(ec.find(' ') + 1));
  ASSERT_TRUE(curve && !curve->ok());
  EXPECT_EQ(curve->status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      curve->status().message(),
      "key type mismatch: the line says ecdsa-sha2-nistp256, the key blob is ecdsa-sha2-nistp384");
  // A certificate under its plain key's type name is a mismatch too.
  std::string cert = FixtureLine("ecdsa-sha2-nistp256-cert-v01@openssh.com");
  auto cert_as_plain = ParseLine("ecdsa-sha2-nistp256 " + cert.substr(cert.find(' ') + 1));
  ASSERT_TRUE(cert_as_plain && !cert_as_plain->ok());
  EXPECT_EQ(cert_as_plain->status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cert_as_plain->status().message(),
            "key type mismatch: the line says ecdsa-sha2-nistp256, the key blob is "
            "ecdsa-sha2-nistp256-cert-v01@openssh.com");
  // Signature-algorithm names denote their key type (sshkey_type_from_name), names are exact.
  std::string rsa = FixtureLine("ssh-rsa");
  auto alias = ParseLine("rsa-sha2-512 " + rsa.substr(rsa.find(' ') + 1) + " alias");
  ASSERT_TRUE(alias && alias->ok());
  EXPECT_EQ((*alias)->key.type, "ssh-rsa");
  auto upper = ParseLine("SSH-RSA " + rsa.substr(rsa.find(' ') + 1));
  ASSERT_TRUE(upper && !upper->ok());
  EXPECT_EQ(upper->status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(upper->status().message(), "not a key line");
}

TEST(AuthorizedKeysTest, LinesCommentsBlanksAndComments) {
  std::string ed = FixtureLine("ssh-ed25519");
  EXPECT_FALSE(ParseLine(""));
  EXPECT_FALSE(ParseLine("   \t "));
  EXPECT_FALSE(ParseLine("# " + ed));
  EXPECT_FALSE(ParseLine("   # comment"));
  auto k = ParseLine(" \t" + ed + "\t  my key  comment \r");
  ASSERT_TRUE(k && k->ok());
  EXPECT_EQ((*k)->comment, "my key  comment");
  EXPECT_EQ((*k)->options, json::object());
  auto with_opts = ParseLine("from=\"a b\",no-pty  " + ed + " c");
  ASSERT_TRUE(with_opts.has_value());
  ASSERT_TRUE(with_opts->ok()) << with_opts->status().ToString();
  EXPECT_EQ((*with_opts)->options, json({{"from", "a b"}, {"no-pty", true}}));
  EXPECT_EQ((*with_opts)->comment, "c");
  // Bad options: sshd ignores the key, so it is an error, not a key.
  auto bad = ParseLine("no-pty,bogus " + ed);
  ASSERT_TRUE(bad && !bad->ok());
  EXPECT_EQ(bad->status().message(), "bad key options: unknown key option; sshd ignores this key");
  auto unterminated = ParseLine("command=\"oops " + ed);
  ASSERT_TRUE(unterminated && !unterminated->ok());
  EXPECT_EQ(unterminated->status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(unterminated->status().message(), "invalid key option string: missing end quote");
}

TEST(AuthorizedKeysTest, MalformedLinesNeverQuoteContent) {
  std::string ed = FixtureLine("ssh-ed25519");
  std::string b64 = ed.substr(ed.find(' ') + 1);
  const std::string kSecretish = "SuperSecretToken123";
  std::string text = "ssh-ed25519 " + b64.substr(0, b64.size() - 4) + kSecretish + " x\n" +
                     "ssh-ed25519 %%%" + kSecretish + "\n" + kSecretish + " " + kSecretish + "\n" +
                     "ssh-ed25519\n" + "no-pty " + kSecretish + "\n";
  ParsedFile parsed = ParseFile(text);
  EXPECT_TRUE(parsed.keys.empty());
  ASSERT_EQ(parsed.errors.size(), 5u);
  for (const auto& e : parsed.errors) {
    EXPECT_EQ(e.message.find(kSecretish), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find(b64.substr(0, 20)), std::string::npos) << e.message;
  }
  EXPECT_EQ(parsed.errors[0].line, 1);
  EXPECT_EQ(parsed.errors[4].line, 5);
}

TEST(AuthorizedKeysTest, PastedPrivateKeyIsOneErrorAndNeverEchoed) {
  std::string ed = FixtureLine("ssh-ed25519");
  const std::string kBody1 =
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
  const std::string kBody2 =
      "QyNTUxOQAAACDxPRIVATEPRIVATEPRIVATEPRIVATEkeyMaterialOnlyForThisTest==";
  std::string text = ed + " before\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + kBody1 + "\n" +
                     kBody2 + "\n-----END OPENSSH PRIVATE KEY-----\n" + ed + " after\n" + kBody1 +
                     "\n";
  ParsedFile parsed = ParseFile(text);
  EXPECT_TRUE(parsed.private_key_material);
  ASSERT_EQ(parsed.keys.size(), 2u);
  EXPECT_EQ(parsed.keys[1].line, 6);
  ASSERT_EQ(parsed.errors.size(), 2u);  // the block, and the stray body line after it
  EXPECT_EQ(parsed.errors[0].line, 2);
  EXPECT_NE(parsed.errors[0].message.find("private key material"), std::string::npos);
  EXPECT_EQ(parsed.errors[1].line, 7);
  for (const auto& e : parsed.errors) {
    for (const std::string& secret :
         {kBody1, kBody2, kBody1.substr(10, 16), kBody2.substr(20, 16)}) {
      EXPECT_EQ(e.message.find(secret), std::string::npos) << e.message;
    }
  }
  // An unterminated block swallows the rest of the file, still as one error.
  ParsedFile open = ParseFile("-----BEGIN RSA PRIVATE KEY-----\n" + kBody1 + "\n" + ed + "\n");
  EXPECT_TRUE(open.keys.empty());
  ASSERT_EQ(open.errors.size(), 1u);
  EXPECT_EQ(open.errors[0].line, 1);
}

TEST(AuthorizedKeysTest, NulBytesAndOverlongLines) {
  std::string ed = FixtureLine("ssh-ed25519");
  // sshd's C strings end at the NUL: the key before it is still read, and the NUL reported.
  std::string text = ed + " ok" + std::string(1, '\0') + "hidden\n" + std::string(3, '\0') + "\n";
  ParsedFile parsed = ParseFile(text);
  ASSERT_EQ(parsed.keys.size(), 1u);
  EXPECT_EQ(parsed.keys[0].comment, "ok");
  ASSERT_EQ(parsed.errors.size(), 2u);
  EXPECT_EQ(parsed.errors[1].line, 2);
  std::string big = "command=\"" + std::string(kMaxLineBytes, 'x') + "\" " + ed + " big\n";
  ParsedFile overlong = ParseFile(big + ed + " next\n");
  ASSERT_EQ(overlong.keys.size(), 1u);
  EXPECT_EQ(overlong.keys[0].line, 2);
  ASSERT_EQ(overlong.errors.size(), 1u);
  EXPECT_TRUE(overlong.errors[0].not_parsed);
  EXPECT_LT(overlong.errors[0].message.size(), 200u);
}

TEST(AuthorizedKeysTest, SkKeyBlobsFromParts) {
  std::vector<std::string> ed = WireStrings(BlobOf(FixtureLine("ssh-ed25519")));
  std::string sk =
      WireString("sk-ssh-ed25519@openssh.com") + WireString(ed[1]) + WireString("ssh:");
  auto k = ParseLine("sk-ssh-ed25519@openssh.com " + Base64(sk) + " sk");
  ASSERT_TRUE(k.has_value());
  ASSERT_TRUE(k->ok()) << k->status().ToString();
  EXPECT_EQ((*k)->key.bits, 256);
  EXPECT_EQ((*k)->key.fingerprint, FingerprintSha256(sk));
  // Without the application string the blob is truncated.
  std::string no_app = WireString("sk-ssh-ed25519@openssh.com") + WireString(ed[1]);
  ExpectBlobRefused(no_app, "key blob truncated in security key application");
}

}  // namespace
}  // namespace tidemark::agent::authorized_keys
