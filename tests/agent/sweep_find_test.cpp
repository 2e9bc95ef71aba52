// The sweep against the real tools: find(1) on a fixture tree (SUID/SGID, world-writable files
// and directories, -nouser/-nogroup) and on this machine's "/" (the SUID/SGID set), and
// `dpkg -S` for the owning package of every SUID/SGID file found on this machine.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using testing::RunCommand;

std::string Quote(const std::string& s) { return testing::ShellQuote(s); }

// Runs find and returns the in-root paths it prints (-print0), `root` stripped.
std::set<std::string> Find(const std::string& root, const std::string& expr) {
  std::string out, err;
  std::string cmd = "find " + Quote(root) + " -mindepth 1 -xdev " + expr + " -print0";
  RunCommand(cmd, &out, &err);  // exit 1 when some directory was unreadable: compare anyway
  std::set<std::string> paths;
  std::string prefix = root == "/" ? "" : root;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t end = out.find('\0', pos);
    if (end == std::string::npos) end = out.size();
    std::string p = out.substr(pos, end - pos);
    if (!prefix.empty() && p.rfind(prefix, 0) == 0) p = p.substr(prefix.size());
    paths.insert(p);
    pos = end + 1;
  }
  return paths;
}

json Sweep(const std::string& args) {
  std::string out, err;
  int rc =
      RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect --only sweep " + args, &out, &err);
  EXPECT_EQ(rc, 0) << err;
  json doc = json::parse(out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded());
  return doc.is_discarded() ? json::object() : doc["sweep"];
}

std::set<std::string> Paths(const json& items) {
  std::set<std::string> out;
  for (const auto& i : items) out.insert(i["path"].get<std::string>());
  return out;
}

TEST(SweepFindTest, FixtureTreeMatchesFind) {
  TIDEMARK_REQUIRE(testing::HaveProgram("find"), "find is not installed");
  testing::TempRoot root;
  // The root's passwd/group are this machine's, so find's -nouser (NSS) sees the same users.
  root.Write("/etc/passwd", testing::ReadHostFile("/etc/passwd"));
  root.Write("/etc/group", testing::ReadHostFile("/etc/group"));
  root.Write("/usr/bin/suid", "a", 04755);
  root.Write("/usr/bin/sgid", "b", 02755);
  root.Write("/usr/bin/both", "c", 06711);
  root.Write("/usr/bin/suid-ww", "d", 04777);
  root.Write("/usr/bin/plain", "e", 0755);
  root.Write("/data/ww", "f", 0666);
  root.Write("/data/ww-exec", "g", 0757);
  root.Write("/data/name with spaces", "h", 0646);
  root.Write("/data/deep/er/still/ww", "i", 0662);
  root.Mkdir("/data/open", 0777);
  root.Mkdir("/data/open-sticky", 01777);
  root.Mkdir("/data/open-sgid", 02777);
  root.Mkdir("/data/sgid-dir", 02755);
  root.Fifo("/data/pipe");
  root.Chmod("/data/pipe", 0666);
  root.Symlink("/data/link-to-ww", "ww");
  root.Symlink("/data/link-to-dir", "/data/open");
  root.Symlink("/data/loop", "loop");
  if (::geteuid() == 0) {
    root.Write("/data/nouser", "j");
    root.Write("/data/nogroup", "k");
    root.Mkdir("/data/nobody-dir", 0755);
    root.Symlink("/data/nouser-link", "nouser");
    root.Chown("/data/nouser", 54321, 0);
    root.Chown("/data/nogroup", 0, 54321);
    root.Chown("/data/nobody-dir", 54322, 54322);
    root.Chown("/data/nouser-link", 54323, 0);
    root.Write("/data/suid-nouser", "l");
    root.Chown("/data/suid-nouser", 54324, 0);
    root.Chmod("/data/suid-nouser", 04755);
  }
  const std::string& r = root.path();
  json sweep = Sweep("--root " + Quote(r) + " --host-id fixture");
  EXPECT_EQ(sweep["status"], "ok") << sweep["errors"].dump();
  EXPECT_EQ(Paths(sweep["setid_files"]), Find(r, "\\( -perm -4000 -o -perm -2000 \\) -type f"));
  EXPECT_EQ(Paths(sweep["world_writable_files"]), Find(r, "-perm -0002 ! -type d ! -type l"));
  EXPECT_EQ(Paths(sweep["world_writable_dirs"]), Find(r, "-type d -perm -0002 ! -perm -1000"));
  EXPECT_EQ(Paths(sweep["unowned_files"]), Find(r, "\\( -nouser -o -nogroup \\)"));
  std::set<std::string> nouser, nogroup;
  for (const auto& i : sweep["unowned_files"]) {
    if (i["no_user"] == true) nouser.insert(i["path"].get<std::string>());
    if (i["no_group"] == true) nogroup.insert(i["path"].get<std::string>());
  }
  EXPECT_EQ(nouser, Find(r, "-nouser"));
  EXPECT_EQ(nogroup, Find(r, "-nogroup"));
  // find counts what it visits the same way: every entry below the root.
  std::set<std::string> all = Find(r, "");
  uint64_t dirs = Find(r, "-type d").size() + 1;  // + the root
  EXPECT_EQ(sweep["counts"]["files"].get<uint64_t>() + dirs - 1, all.size());
  EXPECT_EQ(sweep["counts"]["directories"], dirs);
}

// This machine's "/": the SUID/SGID set against find. /tmp and /var/tmp are left out on both
// sides: other tests create and remove SUID fixtures there while this one runs.
TEST(SweepFindTest, ThisMachineSetIdFilesMatchFind) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "walking all of / needs root to see every directory");
  json sweep = Sweep("--sweep-exclude /tmp,/var/tmp");
  std::set<std::string> ours = Paths(sweep["setid_files"]);
  std::set<std::string> theirs =
      Find("/",
           "\\( -path /tmp -o -path /var/tmp -o -path /proc -o -path /sys -o -path /dev -o -path "
           "/run \\) -prune -o \\( -perm -4000 -o -perm -2000 \\) -type f");
  EXPECT_EQ(ours, theirs);
  EXPECT_FALSE(ours.empty()) << "a Debian system has SUID files (su, passwd)";
  for (const auto& i : sweep["setid_files"]) {
    EXPECT_TRUE(i["sha256"].is_string()) << i["path"];
  }
}

// The owning package of every SUID/SGID file on this machine against `dpkg -S`, which knows the
// merged-/usr name only under the name dpkg recorded (/bin/su for /usr/bin/su).
TEST(SweepDpkgTest, PackagesMatchDpkgS) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "walking all of / needs root");
  TIDEMARK_REQUIRE(testing::HaveProgram("dpkg"), "dpkg is not installed");
  json sweep = Sweep("--sweep-exclude /tmp,/var/tmp");
  ASSERT_EQ(sweep["dpkg"]["state"], "present");
  size_t compared = 0;
  for (const auto& i : sweep["setid_files"]) {
    std::string path = i["path"];
    ASSERT_TRUE(i["packages"].is_array()) << path;
    std::set<std::string> ours;
    for (const auto& p : i["packages"]) ours.insert(p.get<std::string>());
    std::set<std::string> theirs;
    bool diverted = false;
    std::vector<std::string> names = {path};
    if (i["dpkg_path"] != path) names.push_back(i["dpkg_path"]);
    for (const auto& name : names) {
      std::string out, err;
      RunCommand("dpkg -S " + Quote(name), &out, &err);
      std::istringstream lines(out);
      std::string line;
      while (std::getline(lines, line)) {
        if (line.rfind("diversion by ", 0) == 0) {
          diverted = true;
          continue;
        }
        std::string suffix = ": " + name;
        if (line.size() <= suffix.size() ||
            line.compare(line.size() - suffix.size(), suffix.size(), suffix) != 0) {
          continue;
        }
        std::string pkgs = line.substr(0, line.size() - suffix.size());
        size_t pos = 0;
        while (pos <= pkgs.size()) {
          size_t comma = std::min(pkgs.find(", ", pos), pkgs.size());
          theirs.insert(pkgs.substr(pos, comma - pos));
          pos = comma + 2;
        }
      }
      if (!theirs.empty()) break;
    }
    EXPECT_EQ(diverted, !i["diversion"].is_null()) << path;
    if (diverted) continue;  // dpkg -S names no owner for a diverted-to path; see the docs
    EXPECT_EQ(ours, theirs) << path;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

}  // namespace
}  // namespace tidemark::agent
