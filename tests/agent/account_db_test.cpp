#include "agent/parsers/account_db.h"

#include <gtest/gtest.h>

#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

TEST(AccountDbTest, ParsesPasswdAndReportsBadLinesWithoutQuotingThem) {
  std::vector<SectionError> errors;
  std::vector<SectionError> compat;
  auto users = ParsePasswd(
      "root:x:0:0:root:/root:/bin/bash\n"
      "legacy:$6$secrethash:1001:1001::/home/legacy\n"  // 6 fields, holds a hash
      "bad:x:notanumber:0::/:/bin/sh\n"
      "+@netgroup::::::\n"
      "\n"
      "alice:x:1000:1000:Alice,,,:/home/alice:/bin/zsh",
      "/etc/passwd", errors, &compat);
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "root");
  EXPECT_EQ(users[1].name, "alice");
  EXPECT_EQ(users[1].uid, 1000u);
  EXPECT_EQ(users[1].gecos, "Alice,,,");
  EXPECT_EQ(users[1].shell, "/bin/zsh");
  EXPECT_EQ(users[1].line, 6);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].path, "/etc/passwd");
  EXPECT_EQ(errors[0].message.find("secrethash"), std::string::npos);
  EXPECT_EQ(errors[1].line, 3);
  ASSERT_EQ(compat.size(), 1u);
  EXPECT_EQ(compat[0].line, 4);
}

TEST(AccountDbTest, ParsesGroupsAndEffectiveGroups) {
  std::vector<SectionError> errors;
  AccountDb db;
  db.users = ParsePasswd("alice:x:1000:1000::/home/alice:/bin/bash\n", "/etc/passwd", errors);
  db.groups = ParseGroup(
      "root:x:0:\nsudo:x:27:bob,alice\nalice:x:1000:\ndocker:x:999:alice\nalice2:x:1000:alice\n",
      "/etc/group", errors);
  ASSERT_TRUE(errors.empty());
  ASSERT_EQ(db.groups.size(), 5u);
  EXPECT_EQ(db.groups[1].members, (std::vector<std::string>{"bob", "alice"}));
  EXPECT_EQ(db.GroupIdsOf(db.users[0]), (std::vector<uint32_t>{1000, 27, 999}));
  const auto* group = db.FindGroupById(1000);
  ASSERT_NE(group, nullptr) << "no group 1000";
  EXPECT_EQ(group->name, "alice");
  EXPECT_EQ(db.FindUser("bob"), nullptr);
}

TEST(AccountDbTest, ParseIdBounds) {
  EXPECT_EQ(ParseId("0"), 0u);
  EXPECT_EQ(ParseId("4294967294"), 4294967294u);
  // As glibc's strtoul reads them (checked against getent in accounts_host_test.cpp).
  EXPECT_EQ(ParseId("4294967295"), 4294967295u);
  EXPECT_EQ(ParseId("+0"), 0u);
  EXPECT_EQ(ParseId(" 0"), 0u);
  EXPECT_EQ(ParseId("-0"), 0u);
  EXPECT_EQ(ParseId("000000000000"), 0u);
  EXPECT_EQ(ParseId("-18446744073709551615"), 1u);
  EXPECT_FALSE(ParseId("4294967296"));
  EXPECT_FALSE(ParseId("18446744073709551616"));
  EXPECT_FALSE(ParseId("-1"));
  EXPECT_FALSE(ParseId(""));
  EXPECT_FALSE(ParseId("+"));
  EXPECT_FALSE(ParseId("7 "));
  EXPECT_FALSE(ParseId("0x0"));
  EXPECT_FALSE(ParseId("12a"));
}

TEST(AccountDbTest, UnreadablePasswdIsAnErrorNotEmpty) {
  testing::TempRoot root;
  root.Mkdir("/etc/passwd");
  root.Write("/etc/group", "root:x:0:\n");
  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  AccountDb db = LoadAccountDb(**fs);
  EXPECT_EQ(db.passwd_status.code(), StatusCode::kWrongType);
  ASSERT_FALSE(db.errors.empty());
  EXPECT_EQ(db.errors[0].path, "/etc/passwd");
  EXPECT_TRUE(db.group_status.ok());
}

}  // namespace
}  // namespace tidemark::agent
