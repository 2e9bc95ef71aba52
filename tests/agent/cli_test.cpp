#include "agent/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sstream>

#include "agent/summary.h"
#include "common/snapshot.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

struct Run {
  int code;
  std::string out;
  std::string err;
};

Run Agent(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunAgentCli(args, out, err);
  return {code, out.str(), err.str()};
}

void MinimalRoot(testing::TempRoot& root) {
  root.Write("/etc/hostname", "fixture-host\n");
  root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  root.Write("/etc/group", "root:x:0:\n");
}

TEST(AgentCliTest, HelpAndVersion) {
  auto help = Agent({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("collect"), std::string::npos);
  EXPECT_NE(help.out.find("--root DIR"), std::string::npos);
  EXPECT_EQ(Agent({"collect", "--help"}).code, 0);
  EXPECT_EQ(Agent({"--version"}).code, 0);
}

TEST(AgentCliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Agent({}).code, kExitUsage);
  EXPECT_EQ(Agent({"frobnicate"}).code, kExitUsage);
  auto bad = Agent({"collect", "--only", "accounts,nosuch"});
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_NE(bad.err.find("unknown section 'nosuch'"), std::string::npos);
  EXPECT_EQ(Agent({"collect", "--bogus"}).code, kExitUsage);
  EXPECT_EQ(Agent({"collect", "--root"}).code, kExitUsage);
}

TEST(AgentCliTest, MissingRootExitsOne) {
  auto r = Agent({"collect", "--root", "/nonexistent/tidemark"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_NE(r.err.find("/nonexistent/tidemark"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
}

TEST(AgentCliTest, CollectsOfflineRootToStdout) {
  testing::TempRoot root;
  MinimalRoot(root);
  auto r = Agent({"collect", "--root", root.path(), "--only", "accounts"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto snapshot = DecodeSnapshot(r.out);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(snapshot->host.id, "fixture-host");
  EXPECT_EQ(snapshot->host.root, root.path());
  ASSERT_EQ(snapshot->sections.count("accounts"), 1u);
  EXPECT_EQ(snapshot->sections["accounts"].data["users"][0]["name"], "root");
}

TEST(AgentCliTest, HostIdFlagWins) {
  testing::TempRoot root;
  MinimalRoot(root);
  auto r = Agent({"collect", "--root=" + root.path(), "--host-id=db-7", "--only=accounts"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(DecodeSnapshot(r.out)->host.id, "db-7");
}

TEST(AgentCliTest, OutputFileIsMode0600) {
  testing::TempRoot root;
  MinimalRoot(root);
  testing::TempRoot out_dir;
  std::string out = out_dir.Host("snap.json");
  auto r = Agent({"collect", "--root", root.path(), "--output", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  struct stat st {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_TRUE(DecodeSnapshot(testing::ReadHostFile(out)).ok());
}

TEST(AgentCliTest, UnwritableOutputExitsOne) {
  testing::TempRoot root;
  MinimalRoot(root);
  auto r = Agent({"collect", "--root", root.path(), "--output", "/nonexistent/dir/x.json"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_NE(r.err.find("/nonexistent/dir/x.json"), std::string::npos);
}

TEST(AgentCliTest, AuditPrintsSummaryAndPath) {
  testing::TempRoot root;
  MinimalRoot(root);
  testing::TempRoot out_dir;
  std::string out = out_dir.Host("audit.json");
  auto r = Agent({"audit", "--root", root.path(), "--output", out});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("tidemark audit of fixture-host"), std::string::npos);
  EXPECT_NE(r.out.find("Full snapshot: " + out), std::string::npos);
  auto summary = Agent({"summary", out});
  EXPECT_EQ(summary.code, 0);
  EXPECT_NE(summary.out.find("accounts: ok"), std::string::npos) << summary.out;
}

TEST(AgentCliTest, SummaryOfBrokenFileFails) {
  testing::TempRoot dir;
  dir.Write("bad.json", "{\"schema\": \"tidemark.snapshot/7\"}");
  auto r = Agent({"summary", dir.Host("bad.json")});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_NE(r.err.find("unsupported snapshot schema"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::agent

namespace tidemark::agent {
namespace {

TEST(SummaryTest, ShowsRelaxedSshdSettingsAndListeners) {
  Snapshot s;
  s.host.id = "h";
  s.host.root = "/";
  s.sections["sshd"].data = {
      {"present", true},
      {"would_start", true},
      {"effective", {{"permitrootlogin", "yes"}, {"passwordauthentication", "yes"}}}};
  s.sections["network"].data["listeners"] = nlohmann::json::array(
      {{{"proto", "tcp"},
        {"endpoint", "0.0.0.0:22"},
        {"processes", nlohmann::json::array({{{"name", "sshd"}, {"pid", 42}}})}}});
  std::ostringstream out;
  PrintSummary(s, out);
  EXPECT_NE(out.str().find("permitrootlogin=yes passwordauthentication=yes"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("tcp 0.0.0.0:22  sshd[42]"), std::string::npos) << out.str();

  s.sections["sshd"].data["would_start"] = false;
  std::ostringstream refused;
  PrintSummary(s, refused);
  EXPECT_NE(refused.str().find("sshd would NOT start"), std::string::npos);
}

}  // namespace
}  // namespace tidemark::agent
