// Host test (label "host"): the accounts section of this machine, collected by the built agent
// binary over the live root, must list exactly the users and groups that glibc's files source
// returns (`getent -s files passwd|group`, in file order), field by field.
#include <gtest/gtest.h>

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
