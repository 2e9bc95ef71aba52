#include "agent/cli.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <sstream>

#include "agent/collect.h"
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
  auto doc = DecodeSnapshot(r.out);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->host.id, "db-7");
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

// Only a regular file is read: a FIFO would wait for a writer, /dev/zero fill the memory.
TEST(AgentCliTest, SummaryReadsOnlyARegularFile) {
  testing::TempRoot dir;
  std::string fifo = dir.Host("fifo.json");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo, std::string("/dev/zero")}) {
    auto r = Agent({"summary", path});
    EXPECT_EQ(r.code, kExitFailure) << path;
    EXPECT_NE(r.err.find(path + ": not a regular file"), std::string::npos) << r.err;
  }
  auto missing = Agent({"summary", dir.Host("none.json")});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_NE(missing.err.find("none.json: no such file"), std::string::npos) << missing.err;
}

// A snapshot whose host.hostname is a number (issue 9, defect 1): a clear error, never an abort.
TEST(AgentCliTest, SummaryOfASnapshotWithANumericHostnameFailsCleanly) {
  Snapshot s;
  s.host.id = "h1";
  s.host.hostname = "h1";
  s.host.root = "/";
  s.collected_at = "2026-11-28T00:00:00Z";
  s.sections["accounts"].data["users"] = nlohmann::json::array();
  nlohmann::json j = EncodeSnapshot(s);
  j["host"]["hostname"] = 5;
  testing::TempRoot dir;
  dir.Write("host5.json", j.dump());
  auto r = Agent({"summary", dir.Host("host5.json")});
  EXPECT_EQ(r.code, kExitFailure) << r.out;
  EXPECT_NE(r.err.find(dir.Host("host5.json")), std::string::npos) << r.err;
}

TEST(AgentCliTest, HostIdIsCheckedWithTheRulesOfCertificates) {
  testing::TempRoot root;
  MinimalRoot(root);
  for (const char* bad : {"bad host", "-x", "a..b", "tab\there", "x/y"}) {
    auto r = Agent({"collect", "--root", root.path(), "--only", "accounts", "--host-id", bad});
    EXPECT_EQ(r.code, kExitUsage) << bad;
    EXPECT_NE(r.err.find("not a valid host id"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  EXPECT_EQ(
      Agent({"collect", "--root", root.path(), "--only", "accounts", "--host-id", "db_7.x"}).code,
      kExitOk);
}

// An offline root without /etc/hostname is never labelled with the auditing machine's name.
TEST(AgentCliTest, OfflineRootWithoutHostnameNeedsHostId) {
  testing::TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
  root.Write("/etc/group", "root:x:0:\n");
  auto r = Agent({"collect", "--root", root.path(), "--only", "accounts"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--host-id"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
  root.Write("/etc/hostname", "bad name!\n");  // not a host id: not used either
  EXPECT_EQ(Agent({"collect", "--root", root.path(), "--only", "accounts"}).code, kExitUsage);
  auto ok = Agent({"collect", "--root", root.path(), "--only", "accounts", "--host-id", "img-1"});
  ASSERT_EQ(ok.code, kExitOk) << ok.err;
  auto doc = DecodeSnapshot(ok.out);
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->host.id, "img-1");
}

// issue 9, defect 9: an empty root is "could not be read", never "(none)"; audit exits 3.
TEST(AgentCliTest, AuditOfAnEmptyRootSaysWhatCouldNotBeRead) {
  testing::TempRoot root;
  root.Mkdir("/etc");
  auto r = Agent({"audit", "--root", root.path(), "--host-id", "empty", "--only",
                  "accounts,sudo,ssh_keys", "--output", "-"});
  EXPECT_EQ(r.code, kExitIncomplete) << r.err;
  EXPECT_NE(r.out.find("Users with a login shell:\n  (COULD NOT BE READ: "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("/etc/passwd"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Users with a login shell:\n  (none)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Sudo grants:\n  (none)"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("could not be read"), std::string::npos) << r.err;
}

TEST(AgentCliTest, AuditWithUnreadableSudoersSaysSo) {
  testing::TempRoot root;
  MinimalRoot(root);
  root.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n", 0000);
  EXPECT_TRUE(testing::RunUnprivileged([&] {
    auto r = Agent({"audit", "--root", root.path(), "--only", "accounts,sudo", "--output", "-"});
    bool ok = r.code == kExitIncomplete &&
              r.out.find("Sudo grants:\n  (COULD NOT BE READ: /etc/sudoers") != std::string::npos &&
              r.out.find("Sudo grants:\n  (none)") == std::string::npos;
    if (!ok) std::fprintf(stderr, "exit %d\n%s\n%s\n", r.code, r.out.c_str(), r.err.c_str());
    return ok;
  }));
  root.Chmod("/etc/sudoers", 0440);
}

TEST(AgentCliTest, SendWithoutTheUplinkHasItsOwnExitCode) {
  // A copy of the agent in a directory without tidemark-uplink beside it.
  testing::TempRoot dir;
  std::string agent = dir.Host("/tidemark-agent");
  std::string out, err;
  ASSERT_EQ(testing::RunCommand(
                "cp " + testing::ShellQuote(TIDEMARK_AGENT_BIN) + " " + testing::ShellQuote(agent),
                &out, &err),
            0)
      << err;
  int code =
      testing::RunCommand(testing::ShellQuote(agent) + " send --collector 127.0.0.1:1", &out, &err);
  EXPECT_EQ(code, kExitNoUplink) << err;
  EXPECT_NE(err.find("tidemark-uplink"), std::string::npos) << err;
  EXPECT_NE(err.find("not installed"), std::string::npos) << err;
}

// The agent's own commands never read OpenSSL's configuration file (agent/main.cpp): a
// configuration that is a FIFO would hold a reader until a writer comes (`timeout` ends it).
constexpr char kEcdsaKey[] =
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLJFtmhS3PJE4ejimQpJ/"
    "vwExH4qi/fUp6AAgiO0LY1G8GNYaEIPGWrXxOUrUkMVdbUvzgZ6a/E01ufELbzTSGg= ecdsa@fixture\n";

// collect runs without libcrypto (common/sha256.h): the dynamic linker loads it only for the
// first ECDSA key (parsers/authorized_keys.cpp), which is then checked as before.
TEST(AgentCliTest, CollectLoadsLibcryptoOnlyForAnEcdsaKey) {
  testing::TempRoot root;
  MinimalRoot(root);
  root.Write(
      "/root/.ssh/authorized_keys",
      "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJe8OwdA+aMOZdwoZhzFi1nqLO1lj3hEhAu/7JlYN4Iu a\n");
  const std::string collect = "LD_DEBUG=libs " + testing::ShellQuote(TIDEMARK_AGENT_BIN) +
                              " collect --only accounts,ssh_keys --root " +
                              testing::ShellQuote(root.path());
  std::string out, err;
  ASSERT_EQ(testing::RunCommand(collect, &out, &err), 0) << err;
  EXPECT_NE(err.find("calling init:"), std::string::npos) << "LD_DEBUG=libs printed nothing";
  EXPECT_EQ(err.find("libcrypto"), std::string::npos) << err;
  EXPECT_TRUE(DecodeSnapshot(out).ok());

  root.Write("/root/.ssh/authorized_keys", kEcdsaKey);
  ASSERT_EQ(testing::RunCommand(collect, &out, &err), 0) << err;
  EXPECT_NE(err.find("libcrypto.so.3"), std::string::npos) << err;
  EXPECT_NE(out.find("SHA256:"), std::string::npos) << out;
  EXPECT_EQ(out.find("cannot check the EC public key"), std::string::npos) << out;
}

// No file of the agent includes <iostream>: std::cout and std::cerr would build libstdc++'s
// classic locale at every start (agent/output.h; half a millisecond of a short collection).
// The real binary still prints errors (its standard error stream is made when needed).
TEST(AgentCliTest, TheAgentBinaryMakesNoStandardIostreams) {
  std::string symbols, err;
  ASSERT_EQ(testing::RunCommand("nm -C --defined-only " + testing::ShellQuote(TIDEMARK_AGENT_BIN),
                                &symbols, &err),
            0)
      << err;
  EXPECT_NE(symbols.find("RunAgentCli"), std::string::npos) << "nm listed no symbols: stripped?";
  EXPECT_EQ(symbols.find("std::ios_base::Init::Init"), std::string::npos)
      << "a file of the agent includes <iostream>";
  std::string out;
  EXPECT_EQ(testing::RunCommand(testing::ShellQuote(TIDEMARK_AGENT_BIN) + " collect --only nope",
                                &out, &err),
            2);
  EXPECT_NE(err.find("unknown section 'nope'"), std::string::npos) << err;
  EXPECT_EQ(testing::RunCommand(testing::ShellQuote(TIDEMARK_AGENT_BIN) + " --version", &out, &err),
            0);
  EXPECT_EQ(out, "tidemark-agent " + std::string(kAgentVersion) + "\n");
}

// Nor does it read OpenSSL's configuration when it loads libcrypto for an ECDSA key: a FIFO as
// OPENSSL_CONF would stall it.
TEST(AgentCliTest, LocalCommandsDoNotReadOpensslsConfiguration) {
  testing::TempRoot root;
  MinimalRoot(root);
  root.Write("/root/.ssh/authorized_keys", kEcdsaKey);
  root.Fifo("/openssl.cnf");
  std::string out, err;
  int code = testing::RunCommand("OPENSSL_CONF=" + testing::ShellQuote(root.Host("/openssl.cnf")) +
                                     " timeout 20 " + testing::ShellQuote(TIDEMARK_AGENT_BIN) +
                                     " collect --only accounts,ssh_keys --root " +
                                     testing::ShellQuote(root.path()),
                                 &out, &err);
  ASSERT_EQ(code, 0) << err;
  EXPECT_TRUE(DecodeSnapshot(out).ok());
  EXPECT_NE(out.find("ecdsa@fixture"), std::string::npos) << out;
}

TEST(AgentCliTest, AuditPrintsTheVerdictsOfTidemarkJudge) {
  testing::TempRoot root;
  root.Write("/etc/hostname", "h1\n");
  root.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/bash\n");
  root.Write("/etc/group", "root:x:0:\n");
  root.Write("/policy.yaml",
             "rules:\n  - id: uid0\n    title: Only root has UID 0\n    severity: high\n"
             "    query: SELECT id, name AS detail FROM users WHERE uid = 0 AND name <> 'root'\n");
  std::string out, err;
  std::string base = testing::ShellQuote(TIDEMARK_AGENT_BIN) + " audit --only accounts --root " +
                     testing::ShellQuote(root.path()) + " --output " +
                     testing::ShellQuote(root.Host("/snap.json"));
  // tidemark-judge beside the agent evaluates the snapshot just written; the audit's exit code
  // stays the audit's.
  int code = testing::RunCommand(
      base + " --policies " + testing::ShellQuote(root.Host("/policy.yaml")), &out, &err);
  EXPECT_EQ(code, kExitOk) << err;
  EXPECT_NE(out.find("Verdicts ("), std::string::npos) << out;
  EXPECT_NE(out.find(": 1 fail, 0 unknown, 0 error, 0 pass"), std::string::npos) << out;
  EXPECT_NE(out.find("FAIL\thigh\tuid0\tOnly root has UID 0\n\tuser:toor\t/etc/passwd:2\ttoor"),
            std::string::npos)
      << out;
  // Policies that cannot be read: said, and the audit still succeeds.
  code = testing::RunCommand(base + " --policies /nonexistent", &out, &err);
  EXPECT_EQ(code, kExitOk) << err;
  EXPECT_NE(err.find("tidemark-judge exited 1; no verdicts"), std::string::npos) << err;
  // --policies is audit's.
  EXPECT_EQ(
      testing::RunCommand(testing::ShellQuote(TIDEMARK_AGENT_BIN) +
                              " collect --policies x --root " + testing::ShellQuote(root.path()),
                          &out, &err),
      kExitUsage);
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

// issue 9, defect 8: host text cannot drive the auditor's terminal or forge lines.
TEST(SummaryTest, EscapesHostTextAndBoundsLongFields) {
  Snapshot s;
  s.host.id = "h";
  s.host.root = "/";
  s.collected_at = "2026-11-28T00:00:00Z\nforged line";
  s.sections["ssh_keys"].data["keys"] = nlohmann::json::array(
      {{{"user", "alice"},
        {"type", "ssh-ed25519"},
        {"fingerprint", "SHA256:x"},
        {"comment", "\r\033[2Kroot has no keys"},
        {"source", {{"file", "/home/alice/.ssh/authorized_keys\n  mallory"}, {"line", 1}}}},
       {{"user", "bob"}, {"comment", std::string(100000, 'c')}}});
  s.sections["sudo"].data["grants"] = nlohmann::json::array(
      {{{"principal", "\033]0;title\007eve"}, {"host", "ALL"}, {"command", "ALL\u009b2J"}}});
  s.sections["sudo"].AddError("/etc/sudoers.d/\033[31mx", 3, "syntax error\rforged");
  s.sections["sudo"].Finish();
  std::ostringstream out;
  PrintSummary(s, out);
  std::string text = out.str();
  EXPECT_EQ(text.find('\033'), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << text;
  EXPECT_EQ(text.find("\n  mallory"), std::string::npos) << text;
  EXPECT_EQ(text.find("\nforged line"), std::string::npos) << text;
  EXPECT_NE(text.find("\\x0d\\x1b[2Kroot has no keys"), std::string::npos) << text;
  EXPECT_NE(text.find("authorized_keys\\x0a  mallory"), std::string::npos) << text;
  EXPECT_LT(text.size(), 10000u);  // the 100 KB comment is cut
  EXPECT_NE(text.find("(100000 bytes)"), std::string::npos);
}

// A block whose section is partial or not applicable says so, never a bare "(none)".
TEST(SummaryTest, PartialAndNotApplicableBlocksSaySo) {
  Snapshot s;
  s.host.id = "h";
  s.host.root = "/";
  s.sections["ssh_keys"].data["keys"] = nlohmann::json::array();
  s.sections["ssh_keys"].AddError("/home/bob/.ssh/authorized_keys", std::nullopt,
                                  "permission denied");
  s.sections["ssh_keys"].Finish();
  s.sections["sudo"].status = SectionStatus::kNotApplicable;
  std::ostringstream out;
  PrintSummary(s, out);
  EXPECT_NE(out.str().find("SSH authorized keys:\n  (none found, but INCOMPLETE: "
                           "/home/bob/.ssh/authorized_keys: permission denied)"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("Sudo grants:\n  (not applicable on this host)"), std::string::npos)
      << out.str();
  EXPECT_EQ(SectionsInError(s), 0u);
}

}  // namespace
}  // namespace tidemark::agent
