// The PKI (common/transport/pki.h) checked by the real `openssl` command line: chains verify
// for the right purpose only, SANs and CN are as asked, a CRL revokes, key files are private.
#include "common/transport/pki.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <ctime>
#include <memory>
#include <vector>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"
#include "tests/support/test_pki.h"

namespace tidemark {
namespace {

using testing::HaveProgram;
using testing::RunCommand;
using testing::ShellQuote;

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(HaveProgram("openssl"), "openssl (package openssl) is not installed");
  }
  // `openssl verify` exit status for `cert` against the test CA with a purpose.
  int Verify(const std::string& cert, const std::string& purpose, const std::string& extra = "",
             std::string* out = nullptr) {
    std::string o, e;
    int rc = RunCommand("openssl verify -CAfile " + ShellQuote(pki_.ca_file()) + " -purpose " +
                            purpose + " " + extra + " " + ShellQuote(cert),
                        &o, &e);
    if (out) *out = o + e;
    return rc;
  }
  testing::TestPki pki_;
};

TEST_F(PkiTest, AgentCertificateVerifiesAsClientOnly) {
  auto agent = pki_.Agent("web-01");
  EXPECT_EQ(Verify(agent.cert, "sslclient"), 0);
  EXPECT_NE(Verify(agent.cert, "sslserver"), 0);
  EXPECT_EQ(Verify(pki_.server().cert, "sslserver"), 0);
  EXPECT_NE(Verify(pki_.server().cert, "sslclient"), 0);
  auto cn = pki::CommonName(agent.pair.cert_pem);
  ASSERT_TRUE(cn.ok());
  EXPECT_EQ(*cn, "web-01");
}

TEST_F(PkiTest, ServerCertificateCarriesTheSansAndOpensslAgreesOnTheFingerprint) {
  std::string text;
  ASSERT_EQ(RunCommand("openssl x509 -noout -text -in " + ShellQuote(pki_.server().cert), &text),
            0);
  EXPECT_NE(text.find("DNS:localhost"), std::string::npos) << text;
  EXPECT_NE(text.find("IP Address:127.0.0.1"), std::string::npos);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos);
  std::string fp;
  ASSERT_EQ(
      RunCommand("openssl x509 -noout -fingerprint -sha256 -in " + ShellQuote(pki_.server().cert),
                 &fp),
      0);
  // "sha256 Fingerprint=AB:CD:..." -> "sha256:abcd..."
  std::string hex;
  for (char c : fp.substr(fp.find('=') + 1)) {
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  auto ours = pki::Fingerprint(pki_.server().pair.cert_pem);
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, "sha256:" + hex);
}

TEST_F(PkiTest, ExpiredForeignAndRevokedCertificatesFailVerification) {
  pki::CertRequest expired;
  expired.common_name = "old";
  expired.not_before = static_cast<int64_t>(std::time(nullptr)) - 10 * 86400;
  expired.not_after = static_cast<int64_t>(std::time(nullptr)) - 86400;
  std::string out;
  EXPECT_NE(Verify(pki_.Issue("old", expired).cert, "sslclient", "", &out), 0);
  EXPECT_NE(out.find("expired"), std::string::npos) << out;

  EXPECT_NE(Verify(pki_.ForeignAgent("web-01").cert, "sslclient"), 0);

  auto revoked = pki_.Agent("web-02");
  auto kept = pki_.Agent("web-03");
  std::string crl = pki_.WriteCrl({&revoked});
  EXPECT_NE(Verify(revoked.cert, "sslclient", "-crl_check -CRLfile " + ShellQuote(crl), &out), 0);
  EXPECT_NE(out.find("revoked"), std::string::npos) << out;
  EXPECT_EQ(Verify(kept.cert, "sslclient", "-crl_check -CRLfile " + ShellQuote(crl)), 0);
}

TEST_F(PkiTest, CertificateWithoutEkuHasNoExtendedKeyUsage) {
  pki::CertRequest req;
  req.common_name = "no-eku";
  req.omit_eku = true;
  std::string text;
  ASSERT_EQ(RunCommand("openssl x509 -noout -ext extendedKeyUsage -in " +
                           ShellQuote(pki_.Issue("no-eku", req).cert),
                       &text),
            0);
  EXPECT_EQ(text.find("TLS Web"), std::string::npos) << text;
}

TEST_F(PkiTest, KeyFilesAreWrittenPrivateAndReadableOnesRefused) {
  auto agent = pki_.Agent("web-01");
  struct stat st {};
  ASSERT_EQ(stat(agent.key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(pki::CheckPrivateKeyFile(agent.key).ok());
  ASSERT_EQ(chmod(agent.key.c_str(), 0640), 0);
  Status s = pki::CheckPrivateKeyFile(agent.key);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(s.message().find("0640"), std::string::npos) << s.message();
  std::string link = pki_.dir() + "/link.key";
  ASSERT_EQ(symlink(agent.key.c_str(), link.c_str()), 0);
  EXPECT_EQ(pki::CheckPrivateKeyFile(link).code(), StatusCode::kWrongType);
  EXPECT_EQ(pki::CheckPrivateKeyFile(pki_.dir() + "/missing.key").code(), StatusCode::kNotFound);
}

TEST(PkiCommonNameTest, RejectsNonCertificates) {
  auto cn = pki::CommonName("not a certificate");
  EXPECT_FALSE(cn.ok());
  EXPECT_EQ(cn.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cn.status().message().find("not a PEM certificate"), std::string::npos)
      << cn.status().message();
  auto fingerprint = pki::Fingerprint("");
  EXPECT_FALSE(fingerprint.ok());
  EXPECT_EQ(fingerprint.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(fingerprint.status().message().find("not a PEM certificate"), std::string::npos)
      << fingerprint.status().message();
}

// The one commonName, which the collector takes as an agent's identity: none, two, or one with a
// NUL byte (which C code would read as a shorter name) is refused, each saying which.
TEST(PkiCommonNameTest, NoneSeveralOrANulByteAreRefused) {
  auto cert_with = [](std::vector<std::string> names) {
    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    X509_NAME* subject = X509_get_subject_name(cert.get());
    for (const std::string& n : names) {
      EXPECT_EQ(X509_NAME_add_entry_by_NID(subject, NID_commonName, MBSTRING_UTF8,
                                           reinterpret_cast<const unsigned char*>(n.data()),
                                           static_cast<int>(n.size()), -1, 0),
                1);
    }
    return cert;
  };
  auto one = cert_with({"web-01"});
  ASSERT_TRUE(pki::CommonNameOf(one.get()).ok());
  EXPECT_EQ(*pki::CommonNameOf(one.get()), "web-01");
  // Without a key and a serial the certificate has no DER encoding to digest: "", not a guess.
  EXPECT_EQ(pki::FingerprintOf(one.get()), "");
  struct Case {
    std::vector<std::string> names;
    const char* reason;
  };
  for (const Case& c : {Case{{}, "no commonName"}, Case{{"web-01", "db-01"}, "more than one"},
                        Case{{std::string("web-01\0db-01", 12)}, "NUL byte"}}) {
    auto cert = cert_with(c.names);
    StatusOr<std::string> cn = pki::CommonNameOf(cert.get());
    ASSERT_FALSE(cn.ok()) << c.reason;
    EXPECT_EQ(cn.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(cn.status().message().find(c.reason), std::string::npos) << cn.status().message();
  }
}

TEST(PkiNamesTest, DnsNamesFollowRfc1123AndIssueRefusesOthers) {
  for (const char* good : {"localhost", "collector.example.com", "a-b.c0", "x", "1.example"}) {
    EXPECT_TRUE(pki::IsValidDnsName(good)) << good;
  }
  for (const char* bad :
       {"", "bad name!", "a..b", ".a", "a.", "-a", "a-", "a_b", "*.example", "a,DNS:b", "a\nb"}) {
    EXPECT_FALSE(pki::IsValidDnsName(bad)) << bad;
  }
  EXPECT_FALSE(pki::IsValidDnsName(std::string(64, 'a')));
  EXPECT_TRUE(pki::IsValidDnsName(std::string(63, 'a')));
  EXPECT_TRUE(pki::IsIpAddress("192.0.2.7"));
  EXPECT_TRUE(pki::IsIpAddress("::1"));
  EXPECT_FALSE(pki::IsIpAddress("192.0.2"));
  EXPECT_FALSE(pki::IsIpAddress("example"));

  auto ca = pki::MakeCa("test CA", 1);
  ASSERT_TRUE(ca.ok());
  pki::CertRequest req;
  req.common_name = "c";
  req.role = pki::Role::kServer;
  req.dns_names = {"bad name!"};
  auto bad = pki::Issue(*ca, req);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("not a valid DNS name"), std::string::npos);
  req.dns_names = {"ok.example"};
  req.ip_addresses = {"10.0.0.1,DNS:evil"};
  auto bad_ip = pki::Issue(*ca, req);
  EXPECT_FALSE(bad_ip.ok());
  EXPECT_EQ(bad_ip.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_ip.status().message().find("'10.0.0.1,DNS:evil' is not an IPv4 or IPv6 address"),
            std::string::npos)
      << bad_ip.status().message();
}

TEST(PkiInspectTest, NamesUsagesAndKeyPairs) {
  testing::TestPki pki;
  auto server = pki::Inspect(pki.server().pair.cert_pem);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(server->dns_names, (std::vector<std::string>{"localhost"}));
  EXPECT_EQ(server->ip_addresses, (std::vector<std::string>{"127.0.0.1", "::1"}));
  EXPECT_TRUE(server->server_auth);
  EXPECT_FALSE(server->client_auth);
  auto agent = pki.Agent("web-01");
  auto info = pki::Inspect(agent.pair.cert_pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "web-01");
  EXPECT_TRUE(info->client_auth);
  EXPECT_TRUE(info->dns_names.empty());
  auto not_cert = pki::Inspect("not a certificate");
  EXPECT_FALSE(not_cert.ok());
  EXPECT_EQ(not_cert.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(not_cert.status().message().find("not a PEM certificate"), std::string::npos)
      << not_cert.status().message();

  auto match = pki::KeyMatchesCertificate(agent.pair.key_pem, agent.pair.cert_pem);
  ASSERT_TRUE(match.ok());
  EXPECT_TRUE(*match);
  auto other = pki::KeyMatchesCertificate(pki.server().pair.key_pem, agent.pair.cert_pem);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(*other);
  auto garbage = pki::KeyMatchesCertificate("garbage", agent.pair.cert_pem);
  EXPECT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(garbage.status().message().find("not a PEM private key"), std::string::npos)
      << garbage.status().message();
}

}  // namespace
}  // namespace tidemark
