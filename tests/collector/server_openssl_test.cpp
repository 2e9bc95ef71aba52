// The collector against the openssl CLI as an independent TLS client: `s_client -tls1_2` is
// refused when the collector is TLS 1.3 only (the default) and accepted with --tls12; a
// TLS 1.3 s_client with an agent certificate completes the handshake; only the key exchange
// groups of pki::kTlsGroups are accepted.
#include <signal.h>

#include "tests/collector/collector_fixture.h"
#include "tests/support/require.h"

namespace tidemark::testing {
namespace {

class CollectorOpensslTest : public CollectorFixture {
 protected:
  void SetUp() override { TIDEMARK_REQUIRE(HaveProgram("openssl"), "openssl not installed"); }
  // Runs s_client with the agent certificate; returns its exit code and output.
  int SClient(const CertFiles& agent, const std::string& version, std::string* out) {
    return RunCommand(
        "timeout 30 openssl s_client -connect 127.0.0.1:" + std::to_string(proc_.port()) + " " +
            version + " -CAfile " + ShellQuote(pki_.ca_file()) + " -cert " +
            ShellQuote(agent.cert) + " -key " + ShellQuote(agent.key) +
            " -verify_return_error -brief" + " </dev/null 2>&1",
        out);
  }
};

TEST_F(CollectorOpensslTest, Tls12RefusedByDefault) {
  StartCollector();
  auto agent = pki_.Agent("s-client");
  std::string out;
  EXPECT_NE(SClient(agent, "-tls1_2", &out), 0) << out;
  EXPECT_TRUE(
      proc_.WaitLog({"warning handshake_refused", "peer=127.0.0.1:", "unsupported protocol"}))
      << proc_.Log();
  EXPECT_EQ(SClient(agent, "-tls1_3", &out), 0) << out;
  EXPECT_NE(out.find("TLSv1.3"), std::string::npos) << out;
}

TEST_F(CollectorOpensslTest, Tls12AcceptedWhenEnabledWithEcdheAead) {
  StartCollector({"--tls12"});
  auto agent = pki_.Agent("s-client12");
  std::string out;
  EXPECT_EQ(SClient(agent, "-tls1_2", &out), 0) << out;
  EXPECT_NE(out.find("TLSv1.2"), std::string::npos) << out;
  EXPECT_NE(out.find("ECDHE"), std::string::npos) << out;
  // A non-AEAD suite is refused even with TLS 1.2 enabled.
  EXPECT_NE(
      RunCommand("timeout 30 openssl s_client -connect 127.0.0.1:" + std::to_string(proc_.port()) +
                     " -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256 -CAfile " +
                     ShellQuote(pki_.ca_file()) + " -cert " + ShellQuote(agent.cert) + " -key " +
                     ShellQuote(agent.key) + " -brief </dev/null 2>&1",
                 &out),
      0)
      << out;
}

TEST_F(CollectorOpensslTest, OnlyEllipticCurveKeyExchangesAreAccepted) {
  // OpenSSL's default list let a client choose ffdhe8192: ~144 ms of the collector's CPU per
  // handshake, before any certificate, against well under a millisecond for X25519.
  StartCollector();
  auto agent = pki_.Agent("groups");
  for (const char* group : {"X25519", "P-256", "P-384"}) {
    std::string out;
    EXPECT_EQ(SClient(agent, std::string("-tls1_3 -groups ") + group, &out), 0) << group << out;
  }
  for (const char* group : {"ffdhe2048", "ffdhe8192", "X448", "P-521"}) {
    std::string out;
    EXPECT_NE(SClient(agent, std::string("-tls1_3 -groups ") + group, &out), 0) << group << out;
    EXPECT_NE(out.find("handshake failure"), std::string::npos) << group << out;
  }
  EXPECT_TRUE(proc_.WaitLog({"warning handshake_refused", "peer=127.0.0.1:"})) << proc_.Log();
}

}  // namespace
}  // namespace tidemark::testing
