// Host test (label "host"): the accounts section of this machine, collected by the built agent
// binary over the live root, must list exactly the users and groups that glibc's files source
// returns (`getent -s files passwd|group`, in file order), field by field; and over a root of
// hostile id fields, exactly what getent returns for the same files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using nlohmann::json;

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

using testing::Lines;

class AccountsHostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(testing::HaveProgram("getent"), "getent (libc-bin) is not installed");
    std::string out, err;
    int code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect --only accounts",
                                   &out, &err);
    ASSERT_EQ(code, 0) << err;
    accounts_ = json::parse(out)["accounts"];
  }
  json accounts_;
};

TEST_F(AccountsHostTest, UsersEqualGetentFilesPasswd) {
  std::string out;
  ASSERT_EQ(testing::RunCommand("getent -s files passwd", &out), 0);
  std::vector<std::string> lines = Lines(out);
  const json& users = accounts_["users"];
  ASSERT_EQ(users.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto f = Split(lines[i], ':');
    ASSERT_EQ(f.size(), 7u) << lines[i];
    const json& u = users[i];
    SCOPED_TRACE(f[0]);
    EXPECT_EQ(u["name"], f[0]);
    EXPECT_EQ(u["password_shadowed"], f[1] == "x");
    EXPECT_EQ(u["uid"].get<uint64_t>(), std::stoull(f[2]));
    EXPECT_EQ(u["gid"].get<uint64_t>(), std::stoull(f[3]));
    EXPECT_EQ(u["gecos"], f[4]);
    EXPECT_EQ(u["home"], f[5]);
    EXPECT_EQ(u["shell"], f[6]);
  }
  EXPECT_EQ(accounts_["errors"], json::array());
}

TEST_F(AccountsHostTest, GroupsEqualGetentFilesGroup) {
  std::string out;
  ASSERT_EQ(testing::RunCommand("getent -s files group", &out), 0);
  std::vector<std::string> lines = Lines(out);
  const json& groups = accounts_["groups"];
  ASSERT_EQ(groups.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    auto f = Split(lines[i], ':');
    ASSERT_EQ(f.size(), 4u) << lines[i];
    const json& g = groups[i];
    SCOPED_TRACE(f[0]);
    EXPECT_EQ(g["name"], f[0]);
    EXPECT_EQ(g["gid"].get<uint64_t>(), std::stoull(f[2]));
    std::vector<std::string> members;
    if (!f[3].empty()) members = Split(f[3], ',');
    EXPECT_EQ(g.value("members", json::array()), json(members));  // compact: [] omitted
  }
}

// glibc is the oracle for files of odd content: the fixture root's files, bind-mounted over the
// real ones in a mount namespace of the test's own (unshare -m: the host's /etc is never
// touched), are read by getent, and the built agent collects the same root.
class AccountsGlibcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(::geteuid() == 0, "needs root for a private mount namespace");
    TIDEMARK_REQUIRE(testing::HaveProgram("getent"), "getent (libc-bin) is not installed");
    TIDEMARK_REQUIRE(testing::HaveProgram("unshare"), "unshare (util-linux) is not installed");
  }
  // Runs `command` with each of `files` (in-root paths of /etc) bind-mounted over itself.
  std::string Getent(const std::vector<std::string>& files, const std::string& command) const {
    std::string script;
    for (const std::string& f : files) {
      script += "mount --bind " + testing::ShellQuote(root_.Host(f)) + " " + f + " && ";
    }
    std::string out, err;
    int code = testing::RunCommand("unshare -m sh -c " + testing::ShellQuote(script + command),
                                   &out, &err);
    EXPECT_EQ(code, 0) << err;
    return out;
  }
  // The accounts section the built agent collects over the root.
  json Collect() const {
    std::string out, err;
    int code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) +
                                       " collect --only accounts --host-id glibc --root " +
                                       testing::ShellQuote(root_.path()),
                                   &out, &err);
    EXPECT_EQ(code, 0) << err;
    return code == 0 ? json::parse(out)["accounts"] : json::object();
  }
  testing::TempRoot root_;
};

// The id fields as glibc's files source reads them (strtoul: `+0`, ` 0` and `-0` are root's
// uid to glibc, a hidden root), and the group member lists: the agent over a root with these files
// lists exactly the entries, with the same ids, that `getent -s files` prints with the same files
// bind-mounted over /etc/passwd and /etc/group in a mount namespace of the test's own.
TEST_F(AccountsGlibcTest, IdFieldsAreReadAsGetentReadsThem) {
  const std::vector<std::string> ids = {"+0",
                                        " 0",
                                        "\t7",
                                        "-0",
                                        "000000000000",
                                        "007",
                                        "0x0",
                                        "-5",
                                        "7 ",
                                        "+-7",
                                        "",
                                        "12a",
                                        "4294967294",
                                        "4294967295",
                                        "4294967296",
                                        "-4294967295",
                                        "18446744073709551616",
                                        "-18446744073709551615"};
  std::string passwd = "root:x:0:0::/root:/bin/sh\n";
  std::string group = "root:x:0:\n";
  // Member lists as glibc's parse_list reads them: blanks before a name skipped, after it kept.
  const std::vector<std::string> members = {"a,b", "a, b", "\ta,\t b", "a ,b", " , ,a",
                                            "  ",  ",a",   "a,",       "a,,b", "a b"};
  for (size_t i = 0; i < members.size(); ++i) {
    group += "m" + std::to_string(i) + ":x:" + std::to_string(2000 + i) + ":" + members[i] + "\n";
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    passwd += "u" + std::to_string(i) + ":x:" + ids[i] + ":0::/h:/bin/sh\n";
    passwd += "v" + std::to_string(i) + ":x:0:" + ids[i] + "::/h:/bin/sh\n";
    group += "g" + std::to_string(i) + ":x:" + ids[i] + ":\n";
  }
  root_.Write("/etc/passwd", passwd);
  root_.Write("/etc/group", group);
  std::string out = Getent({"/etc/passwd", "/etc/group"},
                           "getent -s files passwd; echo --; getent -s files group");
  std::vector<std::string> want_users, want_groups;
  bool in_groups = false;
  for (const std::string& line : Lines(out)) {
    if (line == "--") {
      in_groups = true;
      continue;
    }
    auto f = Split(line, ':');
    ASSERT_GE(f.size(), 4u) << line;
    (in_groups ? want_groups : want_users).push_back(f[0] + ":" + f[2] + ":" + f[3]);
  }
  json accounts = Collect();
  std::vector<std::string> got_users, got_groups;
  for (const json& u : accounts["users"]) {
    got_users.push_back(u["name"].get<std::string>() + ":" +
                        std::to_string(u["uid"].get<uint64_t>()) + ":" +
                        std::to_string(u["gid"].get<uint64_t>()));
  }
  for (const json& g : accounts["groups"]) {
    std::string list;
    for (const json& m : g.value("members", json::array())) {
      list += (list.empty() ? "" : ",") + m.get<std::string>();
    }
    got_groups.push_back(g["name"].get<std::string>() + ":" +
                         std::to_string(g["gid"].get<uint64_t>()) + ":" + list);
  }
  EXPECT_EQ(got_users, want_users);
  EXPECT_EQ(got_groups, want_groups);
  EXPECT_GT(want_users.size(), 10u);  // the comparison covers the accepted forms
}

// The day counts of /etc/shadow as glibc's sgetspent reads them (strtoul, then (int): `+5` is
// 5, 4294967295 is -1, "not set", printed empty): the same comparison with getent -s files
// shadow. A line glibc skips is a user whose password status the agent cannot tell.
TEST_F(AccountsGlibcTest, ShadowDaysAreReadAsGetentReadsThem) {
  const std::vector<std::string> days = {
      "+5",          " 5",         "007",        "-0",         "-1", "5x",
      "99999999999", "4294967295", "4294967294", "2147483648", "",   "+"};
  std::string passwd = "root:x:0:0::/root:/bin/sh\n";
  std::string shadow = "root:!:19000:0:99999:7:::\n";
  for (size_t i = 0; i < days.size(); ++i) {
    std::string name = "s" + std::to_string(i);
    passwd += name + ":x:" + std::to_string(1000 + i) + ":0::/h:/bin/sh\n";
    // The value as the last change (field 3) and as the maximum age (field 5).
    shadow += name + ":!:" + days[i] + ":0:" + days[i] + ":7:::\n";
  }
  root_.Write("/etc/passwd", passwd);
  root_.Write("/etc/group", "root:x:0:\n");
  root_.Write("/etc/shadow", shadow, 0640);
  std::string out = Getent({"/etc/shadow"}, "getent -s files shadow");
  std::vector<std::string> want;
  for (const std::string& line : Lines(out)) {
    auto f = Split(line, ':');
    ASSERT_GE(f.size(), 5u) << line;
    want.push_back(f[0] + ":" + f[2] + ":" + f[4]);
  }
  std::vector<std::string> got;
  auto field = [](const json& p, const char* key) {
    return p.contains(key) && !p[key].is_null() ? std::to_string(p[key].get<int64_t>()) : "";
  };
  const json accounts = Collect();
  for (const json& u : accounts["users"]) {
    const json& p = u["password"];
    if (p.value("status", "") == "unknown") continue;  // a line glibc skips too
    got.push_back(u["name"].get<std::string>() + ":" + field(p, "last_change") + ":" +
                  field(p, "max"));
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(want.size(), 5u);
}

TEST_F(AccountsHostTest, EffectiveGroupsEqualId) {
  // `id -G NAME` asks initgroups(3) over all configured sources; compare for users that exist
  // only in the files source and for which `getent -s files initgroups` is not needed.
  TIDEMARK_REQUIRE(testing::HaveProgram("id"), "id (coreutils) is not installed");
  size_t compared = 0;
  for (const auto& u : accounts_["users"]) {
    std::string name = u["name"];
    if (u["id"] != "user:" + name) continue;  // a repeated name: id sees only the first
    std::string out;
    if (testing::RunCommand("id -G '" + name + "'", &out) != 0) continue;
    std::vector<uint64_t> expected;
    for (const auto& g : Split(Lines(out).at(0), ' ')) expected.push_back(std::stoull(g));
    std::vector<uint64_t> got;
    for (const auto& g : u["groups"]) got.push_back(g["gid"].get<uint64_t>());
    std::sort(expected.begin(), expected.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected) << name;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

}  // namespace
}  // namespace tidemark
