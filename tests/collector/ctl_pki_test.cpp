// `tidemarkctl pki`: the file-based CA, checked with the real `openssl verify`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "collector/ctl/ctl.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::HaveProgram;
using testing::ReadHostFile;
using testing::RunCommand;
using testing::ShellQuote;

int Ctl(const std::vector<std::string>& args, std::string* out = nullptr,
        std::string* err = nullptr) {
  std::ostringstream o, e;
  int rc = ctl::RunCtl(args, o, e);
  if (out) *out = o.str();
  if (err) *err = e.str();
  return rc;
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

TEST(CtlPkiTest, InitIssueRevokeAgreeWithOpensslAndCanBeRunAgain) {
  TIDEMARK_REQUIRE(HaveProgram("openssl"), "openssl (package openssl) is not installed");
  testing::TempRoot tmp;
  std::string dir = tmp.path() + "/pki";
  std::string out;
  ASSERT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", "collector.test,192.0.2.7"}, &out),
            0);
  std::string ca_before = ReadHostFile(dir + "/ca.crt");
  ASSERT_EQ(Ctl({"pki", "init", "--dir", dir}, &out), 0);
  EXPECT_NE(out.find("kept CA"), std::string::npos) << out;
  EXPECT_EQ(ReadHostFile(dir + "/ca.crt"), ca_before);
  EXPECT_EQ(ModeOf(dir), 0700u);
  EXPECT_EQ(ModeOf(dir + "/ca.key"), 0600u);
  EXPECT_EQ(ModeOf(dir + "/collector.key"), 0600u);

  auto verify = [&](const std::string& cert, const std::string& purpose, bool crl) {
    std::string o, e;
    return RunCommand("openssl verify -CAfile " + ShellQuote(dir + "/ca.crt") + " -purpose " +
                          purpose +
                          (crl ? " -crl_check -CRLfile " + ShellQuote(dir + "/crl.pem") : "") +
                          " " + ShellQuote(cert),
                      &o, &e);
  };
  EXPECT_EQ(verify(dir + "/collector.crt", "sslserver", true), 0);
  std::string san;
  ASSERT_EQ(RunCommand(
                "openssl x509 -noout -ext subjectAltName -in " + ShellQuote(dir + "/collector.crt"),
                &san),
            0);
  EXPECT_NE(san.find("DNS:collector.test"), std::string::npos) << san;
  EXPECT_NE(san.find("IP Address:192.0.2.7"), std::string::npos) << san;

  ASSERT_EQ(Ctl({"pki", "issue", "web-01", "--dir", dir}), 0);
  std::string agent = dir + "/agents/web-01.crt";
  std::string first = ReadHostFile(agent);
  EXPECT_EQ(verify(agent, "sslclient", true), 0);
  EXPECT_NE(verify(agent, "sslserver", false), 0);
  ASSERT_EQ(Ctl({"pki", "issue", "web-01", "--dir", dir}), 0);
  EXPECT_EQ(ReadHostFile(agent), first);  // kept
  ASSERT_EQ(Ctl({"pki", "issue", "web-01", "--dir", dir, "--renew"}), 0);
  EXPECT_NE(ReadHostFile(agent), first);

  std::string copy = tmp.path() + "/web-01.crt";
  ASSERT_EQ(RunCommand("cp " + ShellQuote(agent) + " " + ShellQuote(copy), &out), 0);
  ASSERT_EQ(Ctl({"pki", "revoke", "web-01", "--dir", dir}, &out), 0);
  EXPECT_NE(verify(copy, "sslclient", true), 0);  // revoked by the new CRL
  EXPECT_EQ(verify(copy, "sslclient", false), 0);
}

TEST(CtlPkiTest, UsageErrorsAndUnreadableCa) {
  testing::TempRoot tmp;
  std::string err;
  EXPECT_EQ(Ctl({"pki", "init"}, nullptr, &err), 2);
  EXPECT_NE(err.find("--dir"), std::string::npos);
  EXPECT_EQ(Ctl({"pki", "issue", "../etc", "--dir", tmp.path()}, nullptr, &err), 2);
  EXPECT_NE(err.find("not a valid host id"), std::string::npos);
  EXPECT_EQ(Ctl({"pki", "issue", "web-01", "--dir", tmp.path() + "/none"}, nullptr, &err), 1);
  ASSERT_EQ(Ctl({"pki", "init", "--dir", tmp.path() + "/p"}), 0);
  ASSERT_EQ(chmod((tmp.path() + "/p/ca.key").c_str(), 0644), 0);
  EXPECT_EQ(Ctl({"pki", "issue", "web-01", "--dir", tmp.path() + "/p"}, nullptr, &err), 1);
  EXPECT_NE(err.find("group or others"), std::string::npos) << err;
}

// issue 9, defect 13: names are checked, a kept certificate without a requested name is an
// error, usage errors exit 2.
TEST(CtlPkiTest, ServerNamesAreValidatedAndAKeptCertificateMustCarryThem) {
  testing::TempRoot tmp;
  std::string dir = tmp.path() + "/pki";
  std::string out, err;
  const std::vector<std::string> bad_names = {
      "bad name!",         "a..b", "-x.example", "x_y.example", "*.example.com", "DNS:evil.example",
      std::string(64, 'a')};
  for (const std::string& bad : bad_names) {
    EXPECT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", bad}, &out, &err), 2) << bad;
    EXPECT_NE(err.find("--server-name"), std::string::npos) << err;
  }
  EXPECT_NE(ModeOf(dir), 0700u);  // nothing was made
  ASSERT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", "collector.test"}, &out, &err), 0)
      << err;
  std::string cert = ReadHostFile(dir + "/collector.crt");
  // Asking again for the same names, or a subset, keeps it.
  EXPECT_EQ(
      Ctl({"pki", "init", "--dir", dir, "--server-name", "COLLECTOR.test,127.0.0.1"}, &out, &err),
      0)
      << err;
  EXPECT_NE(out.find("kept collector certificate"), std::string::npos) << out;
  // Another name: refused loudly, the certificate unchanged.
  EXPECT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", "other.test,10.0.0.9"}, &out, &err),
            1);
  EXPECT_NE(err.find("does not carry the requested name(s) other.test, 10.0.0.9"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("--renew"), std::string::npos) << err;
  EXPECT_EQ(ReadHostFile(dir + "/collector.crt"), cert);
  // --renew issues one that carries them.
  ASSERT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", "other.test,10.0.0.9", "--renew"},
                &out, &err),
            0)
      << err;
  EXPECT_NE(ReadHostFile(dir + "/collector.crt"), cert);
  EXPECT_EQ(Ctl({"pki", "init", "--dir", dir, "--server-name", "other.test,10.0.0.9"}, &out, &err),
            0)
      << err;
}

TEST(CtlPkiTest, BadDaysIsAUsageError) {
  testing::TempRoot tmp;
  std::string dir = tmp.path() + "/pki";
  ASSERT_EQ(Ctl({"pki", "init", "--dir", dir}), 0);
  std::string err;
  for (const char* days : {"0", "abc", "-1", "3651", "1.5"}) {
    EXPECT_EQ(Ctl({"pki", "issue", "web-01", "--dir", dir, "--days", days}, nullptr, &err), 2)
        << days;
    EXPECT_NE(err.find("days"), std::string::npos) << err;
    EXPECT_EQ(Ctl({"pki", "init", "--dir", dir, "--days", days}, nullptr, &err), 2) << days;
  }
  EXPECT_EQ(Ctl({"pki", "issue", "web-01", "--dir", dir, "--days", "30"}), 0);
}

}  // namespace
}  // namespace tidemark
