// `tidemarkctl deploy` (docs/rollout.md): the Debian packages CPack makes of this build,
// rolled out over SSH into a second Debian 12 host with the real OpenSSH server
// (tests/support/ssh_host.h), through sudo -n; the host's first snapshot arrives at a test
// collector over mutual TLS. Beside it, a host where nothing listens and a host whose key has
// changed fail on their own; a second run leaves the reporting host as it is, --upgrade
// installs again.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/packaging/packaging_build.h"
#include "tests/support/collector_process.h"
#include "tests/support/require.h"
#include "tests/support/ssh_host.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::ReadHostFile;
using testing::RunCommand;
using testing::ShellQuote;

const std::string kCtl = TIDEMARK_CTL_BIN;

int Ctl(const std::string& args, std::string* out, std::string* err) {
  return RunCommand(ShellQuote(kCtl) + " " + args, out, err);
}

// Long on purpose: one rollout over SSH told in order (hosts up, deploy, what each host holds).
TEST(DeployTest, InstallsOverSshReportsAndFailsOnlyTheHostsThatFail) {
  if (testing::kSanitized) {
    GTEST_SKIP() << "packages are made from the plain build, not a sanitizer build";
  }
  TIDEMARK_REQUIRE(geteuid() == 0, "needs root (a mount namespace, sshd, dpkg in the host)");
  const std::string why_not = testing::WhyNoPackages();
  TIDEMARK_REQUIRE(why_not.empty(), why_not);
  testing::TempRoot tmp;
  const std::string t = tmp.path();
  std::string out, err;
  ASSERT_EQ(testing::MakePackages(t + "/pkgs", "1", &out), 0) << out;
  std::string packages;
  for (const char* p : {"tidemark-common_", "tidemark-agent_"}) {
    ASSERT_EQ(RunCommand("ls " + ShellQuote(t + "/pkgs") + "/" + p + "*.deb", &out), 0);
    packages += " --package " + ShellQuote(out.substr(0, out.find('\n')));
  }

  // The collector, on 127.0.0.1, with the PKI deploy issues the agents' certificates from.
  ASSERT_EQ(
      Ctl("pki init --dir " + ShellQuote(t + "/pki") + " --server-name 127.0.0.1", &out, &err), 0)
      << err;
  testing::CollectorProcess collector(t + "/collector.log");
  ASSERT_TRUE(collector.Start({"--listen", "127.0.0.1:0", "--ca", t + "/pki/ca.crt", "--cert",
                               t + "/pki/collector.crt", "--key", t + "/pki/collector.key", "--db",
                               t + "/store.db"}))
      << collector.Log();

  std::string why;
  auto web = testing::SshTestHost::Start(t + "/web", "tidemark-deploy-web", &why);
  TIDEMARK_REQUIRE(web != nullptr, why);
  auto changed = testing::SshTestHost::Start(t + "/changed", "tidemark-deploy-changed", &why);
  ASSERT_NE(changed, nullptr) << why;
  ASSERT_TRUE(web->AddUser("deployer", true));
  std::ofstream(t + "/known_hosts")
      << ReadHostFile(web->known_hosts()) << changed->OtherKeyLine() << "\n";
  const auto web_files_before = web->Files();
  // A port where nothing listens: that of a socket bound and closed again.
  auto gone = testing::SshTestHost::Start(t + "/gone", "tidemark-deploy-gone", &why);
  ASSERT_NE(gone, nullptr) << why;
  const int closed_port = gone->port();
  gone.reset();
  std::ofstream(t + "/inventory") << "# name: the certificate's CN and the store's host\n"
                                  << "deployer@127.0.0.1:" << web->port()
                                  << " name=web-1 sudo=yes\n"
                                  << "127.0.0.1:" << closed_port << " root name=down-1\n"
                                  << "root@127.0.0.1:" << changed->port()
                                  << " name=changed-1   # its key changed\n";
  const std::string deploy = "--db " + ShellQuote(t + "/store.db") + " deploy --inventory " +
                             ShellQuote(t + "/inventory") + packages + " --pki " +
                             ShellQuote(t + "/pki") +
                             " --collector 127.0.0.1:" + std::to_string(collector.port()) +
                             " --identity " + ShellQuote(web->client_key()) + " --known-hosts " +
                             ShellQuote(t + "/known_hosts") + " --wait 60";
  int rc = Ctl(deploy, &out, &err);
  EXPECT_EQ(rc, 1) << out << err;
  // The table: one row per host.
  std::vector<std::string> rows = testing::Lines(out);
  ASSERT_EQ(rows.size(), 4u) << out << err;
  EXPECT_EQ(rows[0], "HOST\tCONNECTED\tINSTALLED\tFIRST_SNAPSHOT\tSERVICE\tRESULT");
  EXPECT_EQ(rows[1].rfind("web-1\tyes\t0.1.0-1\t20", 0), 0u) << out << err << collector.Log();
  EXPECT_NE(rows[1].find("\tok"), std::string::npos) << out << err;
  EXPECT_NE(rows[1].find("enabled, not started (systemd is not running there)"), std::string::npos)
      << rows[1];
  EXPECT_EQ(rows[2].rfind("down-1\tno\t-\t-\t-\terror: ", 0), 0u) << rows[2];
  EXPECT_NE(rows[2].find("cannot connect"), std::string::npos) << rows[2];
  EXPECT_EQ(rows[3].rfind("changed-1\tno\t", 0), 0u) << rows[3];
  EXPECT_NE(rows[3].find("CHANGED"), std::string::npos) << rows[3];
  EXPECT_EQ(out.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(err.find("PRIVATE KEY"), std::string::npos);

  // The collector stored web-1's snapshot, sent under the certificate deploy issued for it.
  ASSERT_EQ(
      Ctl("--db " + ShellQuote(t + "/store.db") + " show web-1 --format snapshot", &out, &err), 0)
      << err;
  EXPECT_NE(out.find("\"hostname\":\"tidemark-deploy-web\""), std::string::npos)
      << out.substr(0, 300);
  // On the host: the package, the configuration, the key only root may read, nothing left
  // of the upload.
  const std::string& r = web->root();
  ASSERT_EQ(RunCommand("chroot " + ShellQuote(r) +
                           " dpkg-query -W -f '${db:Status-Status}' tidemark-agent",
                       &out),
            0);
  EXPECT_EQ(out, "installed");
  EXPECT_NE(ReadHostFile(r + "/etc/tidemark/agent.conf")
                .find("collector = 127.0.0.1:" + std::to_string(collector.port()) + "\n"),
            std::string::npos);
  struct stat st {};
  ASSERT_EQ(stat((r + "/etc/tidemark/agent.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(ReadHostFile(r + "/etc/tidemark/agent.key"), ReadHostFile(t + "/pki/agents/web-1.key"));
  for (const std::string& f : web->Files()) {
    EXPECT_EQ(f.find(".tidemark-deploy-"), std::string::npos) << "left behind: " << f;
  }
  EXPECT_NE(web_files_before, web->Files());  // it did install something

  // Again: web-1 is installed and reporting, so it is left as it is; with --upgrade it is
  // installed again and reports again.
  std::ofstream(t + "/inventory") << "deployer@127.0.0.1:" << web->port()
                                  << " name=web-1 sudo=yes\n";
  rc = Ctl(deploy, &out, &err);
  EXPECT_EQ(rc, 0) << out << err;
  EXPECT_NE(out.find("left as it was"), std::string::npos) << out;
  EXPECT_NE(err.find("left as it is"), std::string::npos) << err;
  // Where systemd runs (/run/systemd/system), the unit is enabled and restarted. systemd is not
  // booted in this host, so systemctl is one that records what it was asked (the unit itself
  // is checked by units_test: systemd-analyze, and the agent under its capabilities).
  std::filesystem::create_directories(r + "/run/systemd/system");
  ASSERT_EQ(rename((r + "/usr/bin/systemctl").c_str(), (r + "/usr/bin/systemctl.real").c_str()), 0);
  std::ofstream(r + "/usr/bin/systemctl") << "#!/bin/sh\necho \"$*\" >>/var/tmp/systemctl.args\n";
  chmod((r + "/usr/bin/systemctl").c_str(), 0755);
  rc = Ctl(deploy + " --upgrade", &out, &err);
  EXPECT_EQ(rc, 0) << out << err;
  EXPECT_NE(err.find("upgrading from 0.1.0-1"), std::string::npos) << err;
  EXPECT_NE(err.find("reporting ("), std::string::npos) << err;
  EXPECT_NE(out.find("\tstarted\tok"), std::string::npos) << out;
  const std::string asked = ReadHostFile(r + "/var/tmp/systemctl.args");
  EXPECT_NE(asked.find("enable --quiet tidemark-agent.service\nrestart tidemark-agent.service\n"),
            std::string::npos)
      << asked;
}

}  // namespace
}  // namespace tidemark
