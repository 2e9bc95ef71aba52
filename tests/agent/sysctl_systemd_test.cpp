// Tool test (label "tool"): systemd-sysctl itself is the oracle for file precedence and the
// winning values. A fixture root's sysctl.d directories are bind-mounted over the real ones in a
// private mount namespace (unshare -m; /proc/sys bind-mounted read-only there, and every key is
// under a /proc/sys/tidemark/ that does not exist, so nothing is ever written), and
// `systemd-sysctl --cat-config` and `SYSTEMD_LOG_LEVEL=debug systemd-sysctl` ("Parsing F",
// "Setting 'P' to 'V'") are compared with the section. Needs root and unshare; skips otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "agent/parsers/sysctl_conf.h"
#include "agent/sections/sysctl.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

using testing::Lines;

// Runs `command` with the fixture's directories mounted over the real ones.
int RunInNamespace(const testing::TempRoot& root, const std::string& command, std::string* out) {
  std::string r = root.path();
  std::string script =
      "set -e; mount --bind /proc/sys /proc/sys; mount -o remount,bind,ro /proc/sys; "
      "mount -t tmpfs none /run; mkdir -p /run/sysctl.d; "
      "mount -t tmpfs none /usr/local; mkdir -p /usr/local/lib/sysctl.d; "
      "for d in etc/sysctl.d run/sysctl.d usr/local/lib/sysctl.d usr/lib/sysctl.d; do "
      "  mount --bind '" +
      r +
      "'/$d /$d; done; "
      "set +e; " +
      command;
  std::string file = r + "/.ns.sh";
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    if (f == nullptr) return -1;
    std::fputs(script.c_str(), f);
    std::fclose(f);
  }
  int rc = testing::RunCommand("unshare -m sh '" + file + "' 2>&1", out);
  ::unlink(file.c_str());
  return rc;
}

TEST(SysctlSystemd, PrecedenceAndWinnersEqualSystemdSysctl) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "needs root for a private mount namespace");
  std::string tool = testing::SystemdSysctlPath();
  TIDEMARK_REQUIRE(!tool.empty(), "systemd-sysctl is not installed");
  TIDEMARK_REQUIRE(testing::HaveProgram("unshare"), "unshare (util-linux) is not installed");
  std::string probe;
  if (testing::RunCommand("unshare -m true 2>&1", &probe) != 0)
    TIDEMARK_REQUIRE(false, "cannot create a mount namespace here: " << probe);

  testing::TempRoot root;
  root.Mkdir("/etc/sysctl.d");
  root.Mkdir("/run/sysctl.d");
  root.Mkdir("/usr/local/lib/sysctl.d");
  root.Write("/usr/lib/sysctl.d/10-vendor.conf",
             "# vendor\n; also\ntidemark.a = 1\ntidemark.b = 1\n-tidemark.c = 1\n"
             "tidemark/d.e/f = 1\nnot an assignment\ntidemark.g = x  y\n");
  root.Write("/etc/sysctl.d/10-vendor.conf", "tidemark.a = 10\n");  // replaces the vendor file
  root.Write("/usr/lib/sysctl.d/15-syntax.conf",
             "# c\n; c\n  tidemark.p = 1  \n-tidemark.q = 2\ntidemark/r.s/t = 3\n"
             "not an assignment\ntidemark.u = x  y\ntidemark.v=\n -tidemark.w = 4\n"
             "tidemark.x = 5\ntidemark.x = 5\ntidemark.y = 1 = 2\n");
  root.Write("/usr/lib/sysctl.d/20-run.conf", "tidemark.h = 1\n");
  root.Write("/run/sysctl.d/20-run.conf", "tidemark.h = 2\ntidemark.b = 2\n");
  root.Write("/usr/local/lib/sysctl.d/30-local.conf", "tidemark.b = 3\ntidemark.i = 3\n");
  root.Write("/usr/lib/sysctl.d/40-masked.conf", "tidemark.j = 4\n");
  root.Symlink("/etc/sysctl.d/40-masked.conf", "/dev/null");
  root.Write("/usr/lib/sysctl.d/50-empty.conf", "tidemark.k = 5\n");
  root.Write("/etc/sysctl.d/50-empty.conf", "");
  root.Write("/usr/lib/sysctl.d/60-dir.conf", "tidemark.l = 6\n");
  root.Mkdir("/etc/sysctl.d/60-dir.conf");
  root.Write("/usr/lib/sysctl.d/70-dangling.conf", "tidemark.m = 7\n");
  root.Symlink("/etc/sysctl.d/70-dangling.conf", "/nonexistent/file");
  root.Write("/etc/sysctl.d/80-same.conf", "tidemark.i = 3\ntidemark.a = 11\n");
  root.Write("/etc/sysctl.d/.hidden.conf", "tidemark.n = 1\n");
  root.Write("/etc/sysctl.d/90-last.conf", "tidemark/a = 12\n");

  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  CollectContext ctx(**fs, "test");
  Section section;
  SysctlReader().Collect(ctx, section);
  section.Finish();
  section.Materialize();
  const json& j = section.data;

  std::string cat;
  ASSERT_EQ(RunInNamespace(root, tool + " --cat-config --no-pager", &cat), 1) << cat;
  std::vector<std::string> want_files;
  for (const std::string& line : Lines(cat)) {
    if (line.rfind("# /", 0) == 0 && line.find(' ', 2) == std::string::npos)
      want_files.push_back(line.substr(2));
  }
  std::vector<std::string> got_files;
  for (const auto& f : j["files"]) {
    if (f.contains("order")) got_files.push_back(f["path"]);
  }
  // --cat-config stops at the directory it cannot read (exit 1): compare up to there.
  ASSERT_FALSE(want_files.empty());
  EXPECT_EQ(want_files.back(), "/etc/sysctl.d/60-dir.conf");
  ASSERT_GE(got_files.size(), want_files.size());
  EXPECT_EQ(std::vector<std::string>(got_files.begin(), got_files.begin() + want_files.size()),
            want_files)
      << cat;

  std::string log;
  RunInNamespace(root, "SYSTEMD_LOG_LEVEL=debug " + tool, &log);
  std::vector<std::string> want_parsed;
  std::map<std::string, std::string> want_set;
  for (const std::string& line : Lines(log)) {
    if (line.rfind("Parsing ", 0) == 0) want_parsed.push_back(line.substr(8));
    if (line.rfind("Setting '/proc/sys/", 0) == 0) {
      size_t q1 = line.find('\'', 9);
      size_t v0 = line.find(" to '", q1);
      want_set[line.substr(19, q1 - 19)] = line.substr(v0 + 5, line.size() - v0 - 6);
    }
  }
  std::vector<std::string> got_parsed;
  for (const auto& f : j["files"]) {
    // systemd-sysctl opens every claiming entry but a dangling link (ENOENT: silently).
    if (f.contains("order") && f["state"] != "dangling") got_parsed.push_back(f["path"]);
  }
  EXPECT_EQ(got_parsed, want_parsed) << log;
  std::map<std::string, std::string> got_set;
  for (const auto& s : j["settings"]) {
    if (!s.contains("value")) continue;  // an exclusion
    got_set[sysctl::NormalizeKey(s["id"].get<std::string>().substr(7))] = s["value"];
  }
  EXPECT_EQ(got_set, want_set) << log;
  EXPECT_GE(want_set.size(), 8u);
}

}  // namespace
}  // namespace tidemark::agent
