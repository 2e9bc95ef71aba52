// Host tests (label "host"): the sysctl and packages sections of this machine, collected by the
// built agent over the live root, against the real tools: `sysctl -n KEY` for every runtime
// value, `systemd-sysctl --cat-config` for the order of the configuration files, and
// `dpkg-query -W` for every package, version and state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "agent/parsers/sysctl_conf.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using nlohmann::json;

using testing::Lines;

json CollectLive(const std::string& section) {
  std::string out, err;
  int code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect --only " + section,
                                 &out, &err);
  EXPECT_EQ(code, 0) << err;
  return json::parse(out)[section];
}

TEST(SysctlHost, RuntimeValuesEqualSysctlN) {
  TIDEMARK_REQUIRE(testing::HaveProgram("sysctl"), "sysctl (procps) is not installed");
  json s = CollectLive("sysctl");
  EXPECT_EQ(s["runtime_status"], "collected");
  ASSERT_FALSE(s["runtime"].empty());
  size_t present = 0;
  for (const auto& r : s["runtime"]) {
    std::string key = r["id"].get<std::string>().substr(15);  // "sysctl_runtime:KEY"
    SCOPED_TRACE(key);
    std::string out, err;
    int code = testing::RunCommand("sysctl -n " + key + " 2>/dev/null", &out, &err);
    std::string state = r.value("state", "present");  // compact: "present" is left out
    if (state == "present") {
      ++present;
      ASSERT_EQ(code, 0);
      if (!out.empty() && out.back() == '\n') out.pop_back();
      EXPECT_EQ(r["value"], out);
    } else if (state == "absent") {
      EXPECT_NE(code, 0) << "sysctl knows a key the agent found absent";
    } else {
      EXPECT_NE(code, 0) << "sysctl read a key the agent could not read";
    }
  }
  EXPECT_GT(present, 10u);
}

TEST(SysctlHost, FileOrderEqualsSystemdSysctlCatConfig) {
  std::string tool = testing::SystemdSysctlPath();
  TIDEMARK_REQUIRE(!tool.empty(), "systemd-sysctl is not installed");
  std::string out;
  ASSERT_EQ(testing::RunCommand("SYSTEMD_COLORS=0 " + tool + " --cat-config --no-pager", &out), 0);
  // Header lines are "# PATH"; content lines that look alike carry more words.
  std::vector<std::string> want;
  for (const std::string& line : Lines(out)) {
    if (line.rfind("# /", 0) != 0 || line.find(' ', 2) != std::string::npos) continue;
    want.push_back(line.substr(2));
  }
  json s = CollectLive("sysctl");
  std::vector<std::string> got;
  for (const auto& f : s["files"]) {
    if (!f.contains("order")) continue;  // not read (null: left out)
    // systemd-sysctl does not read /etc/sysctl.conf on its own (procps does, last).
    if (f["path"] == "/etc/sysctl.conf") continue;
    got.push_back(f["path"]);
  }
  EXPECT_EQ(got, want);
}

// systemd-sysctl run on this machine's own configuration in a private mount namespace where
// /proc/sys is read-only (its writes fail there, nothing changes): every "Setting 'P' to 'V'" it
// logs is a winner of the section, and every non-glob winner is set.
TEST(SysctlHost, WinnersEqualSystemdSysctlOnThisMachine) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "needs root for a private mount namespace");
  std::string tool = testing::SystemdSysctlPath();
  TIDEMARK_REQUIRE(!tool.empty(), "systemd-sysctl is not installed");
  std::string probe;
  if (testing::RunCommand("unshare -m true 2>&1", &probe) != 0)
    TIDEMARK_REQUIRE(false, "cannot create a mount namespace here: " << probe);
  std::string log;
  testing::RunCommand(
      "unshare -m sh -c 'set -e; mount --bind /proc/sys /proc/sys; "
      "mount -o remount,bind,ro /proc/sys; SYSTEMD_LOG_LEVEL=debug " +
          tool + "' 2>&1",
      &log);
  ASSERT_NE(log.find("Parsing "), std::string::npos) << log;
  std::map<std::string, std::string> want;
  for (const std::string& line : Lines(log)) {
    if (line.rfind("Setting '/proc/sys/", 0) != 0) continue;
    size_t q1 = line.find('\'', 9);
    size_t v0 = line.find(" to '", q1);
    want[line.substr(9, q1 - 9)] = line.substr(v0 + 5, line.size() - v0 - 6);
  }
  json s = CollectLive("sysctl");
  ASSERT_NE(s["sysctl_conf"], "appended") << "systemd-sysctl would not read /etc/sysctl.conf";
  std::map<std::string, std::string> got;
  for (const auto& st : s["settings"]) {
    if (!st.contains("value") || st.value("glob", false)) continue;
    // The path follows from the key in the id ("sysctl:KEY").
    got["/proc/sys/" + agent::sysctl::NormalizeKey(st["id"].get<std::string>().substr(7))] =
        st["value"];
  }
  EXPECT_EQ(got, want) << log;
}

// useradd -D prints its defaults after reading /etc/default/useradd: every key the section
// found there that useradd prints must have the value useradd prints.
TEST(LoginHost, UseraddDefaultsEqualUseraddD) {
  TIDEMARK_REQUIRE(testing::HaveProgram("useradd"), "useradd (passwd) is not installed");
  std::string out;
  ASSERT_EQ(testing::RunCommand("useradd -D", &out), 0);
  std::map<std::string, std::string> want;
  for (const std::string& line : Lines(out)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) want[line.substr(0, eq)] = line.substr(eq + 1);
  }
  json l = CollectLive("login");
  // Correct on every machine: without the file there is nothing to compare (not a missing tool).
  if (l["useradd"]["state"] != "present") GTEST_SKIP() << "no /etc/default/useradd here";
  size_t compared = 0;
  for (const auto& st : l["useradd"]["settings"]) {
    auto it = want.find(st["key"]);
    if (it == want.end()) continue;
    EXPECT_EQ(st["value"], it->second) << st["key"];
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

TEST(PackagesHost, EqualsDpkgQuery) {
  TIDEMARK_REQUIRE(testing::HaveProgram("dpkg-query"), "dpkg-query is not installed");
  std::string out;
  ASSERT_EQ(testing::RunCommand(
                "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n'", &out),
            0);
  std::vector<std::string> want = Lines(out);
  json p = CollectLive("packages");
  EXPECT_EQ(p["status"], "ok") << p["errors"].dump();
  std::vector<std::string> got;
  for (const char* list : {"installed", "other_states"}) {
    for (const auto& pkg : p[list]) {
      // Compact items: the name is the id's second field; "ii " is the default status.
      std::string id = pkg["id"];
      std::string name = id.substr(8, id.find(':', 8) - 8);
      got.push_back(name + "\t" + pkg["version"].get<std::string>() + "\t" +
                    pkg.value("status_abbrev", std::string("ii ")));
    }
  }
  std::sort(want.begin(), want.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(p["count"].get<size_t>(), p["installed"].size());
  size_t ii = std::count_if(want.begin(), want.end(), [](const std::string& l) {
    return l.size() >= 3 && l.compare(l.size() - 3, 3, "ii ") == 0;
  });
  size_t hi = std::count_if(want.begin(), want.end(), [](const std::string& l) {
    return l.size() >= 3 && l.compare(l.size() - 3, 3, "hi ") == 0;
  });
  EXPECT_EQ(p["count"].get<size_t>(), ii + hi);
}

}  // namespace
}  // namespace tidemark
