// The Debian packages (issue 13, packaging/CMakeLists.txt): CPack over this build gives three
// packages with exactly the files they should hold, their conffiles and maintainer scripts, the
// dependencies dpkg-shlibdeps found plus ours, and lintian finds no error and no warning but
// the ones packaging/README.md lists with their reason.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <sstream>

#include "common/read_file.h"
#include "tests/packaging/packaging_build.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::RunCommand;
using testing::ShellQuote;

using testing::kBuild;
using testing::kSource;

std::vector<std::string> Files(const std::string& deb) {
  std::string out, err;
  EXPECT_EQ(
      RunCommand("dpkg-deb -c " + ShellQuote(deb) + " | awk '{print $1 \" \" $6}'", &out, &err), 0)
      << err;
  std::vector<std::string> files;
  for (const std::string& line : testing::Lines(out)) {
    if (line[0] != 'd') files.push_back(line);  // mode and path of every non-directory
  }
  return files;
}

std::string Field(const std::string& deb, const std::string& field) {
  std::string out;
  RunCommand("dpkg-deb -f " + ShellQuote(deb) + " " + field, &out);
  return out.substr(0, out.find('\n'));
}

TEST(PackagesTest, ThreePackagesWithTheirFilesScriptsAndNoLintianError) {
  if (testing::kSanitized) {
    // Not a missing tool: what is packaged is the plain build (CI's test stage runs this); a
    // sanitizer build's binaries are ten times larger and depend on libasan.
    GTEST_SKIP() << "packages are made and checked from the plain build, not a sanitizer build";
  }
  const std::string why = testing::WhyNoPackages();
  TIDEMARK_REQUIRE(why.empty(), why);
  testing::TempRoot dir;
  const std::string out_dir = dir.path() + "/packages";
  std::string out, err;
  ASSERT_EQ(testing::MakePackages(out_dir, "1", &out), 0) << out;
  const std::string common = out_dir + "/tidemark-common_0.1.0-1_all.deb";
  const std::string agent = out_dir + "/tidemark-agent_0.1.0-1_amd64.deb";
  const std::string collector = out_dir + "/tidemark-collector_0.1.0-1_amd64.deb";

  using V = std::vector<std::string>;
  EXPECT_EQ(Files(common), (V{"-rw-r--r-- ./usr/share/doc/tidemark-common/changelog.Debian.gz",
                              "-rw-r--r-- ./usr/share/doc/tidemark-common/copyright",
                              "-rw-r--r-- ./usr/share/man/man7/tidemark.7.gz",
                              "-rw-r--r-- ./usr/share/tidemark/policies/debian-12-server.yaml"}));
  EXPECT_EQ(Files(agent), (V{"-rw-r--r-- ./etc/tidemark/agent.conf",
                             "-rw-r--r-- ./lib/systemd/system/tidemark-agent.service",
                             "-rwxr-xr-x ./usr/libexec/tidemark/tidemark-judge",
                             "-rwxr-xr-x ./usr/libexec/tidemark/tidemark-uplink",
                             "-rwxr-xr-x ./usr/sbin/tidemark-agent",
                             "-rw-r--r-- ./usr/share/doc/tidemark-agent/changelog.Debian.gz",
                             "-rw-r--r-- ./usr/share/doc/tidemark-agent/copyright"}));
  EXPECT_EQ(Files(collector),
            (V{"-rw-r--r-- ./etc/tidemark/collector.conf",
               "-rw-r--r-- ./lib/systemd/system/tidemark-collector.service",
               "-rw-r--r-- ./lib/systemd/system/tidemark-report.service",
               "-rw-r--r-- ./lib/systemd/system/tidemark-report.timer",
               "-rwxr-xr-x ./usr/bin/tidemarkctl", "-rwxr-xr-x ./usr/lib/tidemark/nightly-report",
               "-rwxr-xr-x ./usr/sbin/tidemark-collector",
               "-rw-r--r-- ./usr/share/doc/tidemark-collector/changelog.Debian.gz",
               "-rw-r--r-- ./usr/share/doc/tidemark-collector/copyright"}));

  EXPECT_EQ(Field(common, "Architecture"), "all");
  EXPECT_EQ(Field(agent, "Depends").rfind("tidemark-common (>= 0.1.0), libc6", 0), 0u)
      << Field(agent, "Depends");
  EXPECT_EQ(Field(collector, "Depends").rfind("tidemark-common (>= 0.1.0), adduser, libc6", 0), 0u)
      << Field(collector, "Depends");
  // Conffiles (dpkg keeps a changed one on upgrade) and the maintainer scripts.
  for (const auto& [deb, name] : {std::pair{agent, "agent"}, std::pair{collector, "collector"}}) {
    std::string control = dir.path() + "/control-" + name;
    ASSERT_EQ(RunCommand("dpkg-deb -e " + ShellQuote(deb) + " " + ShellQuote(control), &out, &err),
              0)
        << err;
    StatusOr<std::string> conffiles = ReadRegularFile(control + "/conffiles", 4096);
    ASSERT_TRUE(conffiles.ok());
    EXPECT_EQ(*conffiles, "/etc/tidemark/" + std::string(name) + ".conf\n");
    struct stat st {};
    ASSERT_EQ(stat((control + "/postinst").c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0755u);
  }
  StatusOr<std::string> postinst =
      ReadRegularFile(dir.path() + "/control-collector/postinst", 4096);
  ASSERT_TRUE(postinst.ok());
  EXPECT_NE(postinst->find("adduser --system --group"), std::string::npos);

  // lintian, as an unprivileged user (it refuses to be trusted as root).
  TIDEMARK_REQUIRE(testing::HaveProgram("lintian"), "lintian not installed");
  ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
  RunCommand("HOME=" + ShellQuote(dir.path()) +
                 " setpriv --reuid=nobody --regid=nogroup --clear-groups -- lintian "
                 "--tag-display-limit 0 " +
                 ShellQuote(common) + " " + ShellQuote(agent) + " " + ShellQuote(collector),
             &out, &err);
  EXPECT_NE(out.find("W: tidemark-agent: "), std::string::npos) << out << err;  // lintian ran
  // The warnings packaging/README.md lists, with their reasons; nothing else.
  const std::set<std::string> allowed = {"initial-upload-closes-no-bugs", "no-manual-page",
                                         "uses-dpkg-database-directly"};
  for (const std::string& line : testing::Lines(out)) {
    ASSERT_NE(line.rfind("E: ", 0), 0u) << out;
    if (line.rfind("W: ", 0) != 0) continue;
    std::istringstream words(line);
    std::string w, package, tag;
    words >> w >> package >> tag;
    EXPECT_TRUE(allowed.count(tag)) << "lintian: " << line;
  }
}

// Install, send, upgrade to rebuilt packages, send again — in a throwaway overlay of this machine
// (tests/packaging/install_upgrade.sh): an administrator's change to a conffile, the spool and
// the store are kept, and the upgraded collector receives what the agent spooled meanwhile.
TEST(PackagesTest, AnUpgradeKeepsConfigurationSpoolAndStore) {
  if (testing::kSanitized) {
    GTEST_SKIP() << "packages are made and checked from the plain build, not a sanitizer build";
  }
  TIDEMARK_REQUIRE(geteuid() == 0, "needs root (a mount namespace, dpkg in a chroot)");
  TIDEMARK_REQUIRE(testing::HaveProgram("unshare"), "unshare not installed");
  const std::string why = testing::WhyNoPackages();
  TIDEMARK_REQUIRE(why.empty(), why);
  testing::TempRoot dir;
  std::string out, err;
  for (const char* release : {"1", "2"}) {
    ASSERT_EQ(testing::MakePackages(dir.path() + "/r" + release, release, &out), 0) << out;
  }
  int rc =
      RunCommand("timeout 300 " + ShellQuote(kSource + "/tests/packaging/install_upgrade.sh") +
                     " " + ShellQuote(dir.path() + "/r1") + " " + ShellQuote(dir.path() + "/r2"),
                 &out, &err);
  EXPECT_EQ(rc, 0) << out << err;
  EXPECT_NE(out.find("\n== ok\n"), std::string::npos) << out << err;
  EXPECT_NE(out.find("\"id\": \"pkgtest\""), std::string::npos) << out;
}

}  // namespace
}  // namespace tidemark
