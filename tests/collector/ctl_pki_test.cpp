// `tidemarkctl pki`: the file-based CA, checked with the real `openssl verify`.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "collector/ctl.h"
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

}  // namespace
}  // namespace tidemark
