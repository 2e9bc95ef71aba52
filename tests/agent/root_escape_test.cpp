// A hostile offline root must never make the agent read the auditing machine's own files.
#include <gtest/gtest.h>

#include "agent/collect.h"
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
