// A hostile offline root must never make the agent read the auditing machine's own files.
#include <gtest/gtest.h>

#include "agent/collect.h"
#include "agent/parsers/account_db.h"
#include "common/fs.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

TEST(RootEscapeTest, LinksOutOfTheRootReadOnlyTheRoot) {
  testing::TempRoot root;
  root.Write("/etc/hostname", "fixture-host\n");
  // Absolute link: re-rooted onto itself, so a loop, never the host's /etc/passwd.
  root.Symlink("/etc/passwd", "/etc/passwd");
  // Relative link climbing far above the root: lands on the fixture's own /etc/group.
  root.Write("/etc/group", "fixturegroup:x:4242:\n");
  root.Symlink("/etc/group-link", "../../../../../../etc/group");
  auto fs = tidemark::OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  auto passwd = (*fs)->ReadFile("/etc/passwd");
  ASSERT_FALSE(passwd.ok());
  EXPECT_EQ(passwd.status().code(), StatusCode::kLoop);
  auto group = (*fs)->ReadFile("/etc/group-link");
  ASSERT_TRUE(group.ok());
  EXPECT_EQ(group->data, "fixturegroup:x:4242:\n");

  CollectRequest request;
  request.root = root.path();
  auto snapshot = CollectSnapshot(request);
  ASSERT_TRUE(snapshot.ok());
  std::string json = EncodeSnapshot(*snapshot).dump();
  // The host has a root account; the fixture root has none, its passwd is a loop.
  EXPECT_EQ(json.find("\"name\":\"root\""), std::string::npos);
  const Section& accounts = snapshot->sections.at("accounts");
  EXPECT_EQ(accounts.status, SectionStatus::kError);
  ASSERT_FALSE(accounts.errors.empty());
  EXPECT_EQ(accounts.errors[0].path, "/etc/passwd");
}

}  // namespace
}  // namespace tidemark::agent

namespace tidemark::agent {
namespace {

// The hostile root: shadow linked to the host's absolute path, a sudoers include
// climbing out with "..", a user's authorized_keys linked to the shadow file. Every section
// must read the fixture's own files (or fail on them), never the machine's.
TEST(RootEscapeTest, WholeCollectionNeverReadsTheHost) {
  testing::TempRoot root;
  root.Write("/etc/hostname", "fixture-host\n");
  root.Write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\n"
             "fixtureuser:x:1000:1000::/home/fixtureuser:/bin/bash\n");
  root.Write("/etc/group", "root:x:0:\nfixtureuser:x:1000:\n");
  root.Symlink("/etc/shadow", "/etc/shadow");
  root.Write("/etc/sudoers", "fixtureuser ALL=(ALL) /usr/bin/true\n@includedir /etc/sudoers.d\n",
             0440);
  root.Symlink("/etc/sudoers.d/x", "../../../../etc/sudoers");
  root.Mkdir("/home/fixtureuser/.ssh", 0700);
  root.Symlink("/home/fixtureuser/.ssh/authorized_keys", "/etc/shadow");

  CollectRequest request;
  request.root = root.path();
  auto snapshot = CollectSnapshot(request);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  std::string text = EncodeSnapshot(*snapshot).dump();

  // Nothing of the machine's own files: its shadow hashes and its sudoers grants.
  std::string host_shadow = testing::ReadHostFile("/etc/shadow");
  for (const auto& line : SplitFields(host_shadow, '\n')) {
    auto fields = SplitFields(line, ':');
    if (fields.size() > 1 && fields[1].size() > 13) {
      EXPECT_EQ(text.find(std::string(fields[1])), std::string::npos) << "host hash leaked";
    }
  }
  EXPECT_EQ(text.find("group:sudo"), std::string::npos) << "the host's %sudo grant was read";

  // accounts: the shadow link loops inside the root; password state unknown, not "no password".
  const Section& accounts = snapshot->sections.at("accounts");
  bool shadow_error = false;
  for (const auto& e : accounts.errors) shadow_error = shadow_error || e.path == "/etc/shadow";
  EXPECT_TRUE(shadow_error);
  EXPECT_EQ(accounts.data["users"][0]["password"]["status"], "unknown");

  // sudo: the fixture's own grant; the escaping include resolves to the fixture's sudoers.
  const Section& sudo = snapshot->sections.at("sudo");
  ASSERT_FALSE(sudo.data["grants"].empty());
  EXPECT_EQ(sudo.data["grants"][0]["principal"], "user:fixtureuser");
  EXPECT_EQ(sudo.data["grants"][0]["command"], "/usr/bin/true");
  bool include_error = false;
  for (const auto& e : sudo.errors) {
    include_error = include_error || e.message.find("/etc/sudoers.d/x") != std::string::npos;
  }
  EXPECT_TRUE(include_error) << "the include of the fixture's own sudoers is a loop";

  // ssh_keys: the link to /etc/shadow is never read as keys.
  const Section& keys = snapshot->sections.at("ssh_keys");
  EXPECT_TRUE(keys.data["keys"].empty());
  std::string files = keys.data["users"].dump();
  EXPECT_NE(files.find("/home/fixtureuser/.ssh/authorized_keys"), std::string::npos);
  EXPECT_EQ(files.find("\"state\":\"present\""), std::string::npos) << files;
}

}  // namespace
}  // namespace tidemark::agent
