// `tidemarkctl pull`: agentless collection over SSH (libssh), against a second Debian 12 host
// with the real OpenSSH server (tests/support/ssh_host.h): the snapshot is the target's, stored
// and marked; nothing is left on the target, also after a failed or interrupted collection; a
// changed or unknown host key is refused; an unreachable host is reported.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/collector/ctl_run.h"
#include "tests/support/require.h"
#include "tests/support/ssh_host.h"
#include "tests/support/temp_root.h"

namespace tidemark::ctl {
namespace {

using testing::ReadHostFile;
using testing::SshTestHost;

// A second host, or a skip (a failure in CI) saying why there is none.
#define START_HOST(var, tmp, name)                                         \
  std::string why_##var;                                                   \
  auto var = SshTestHost::Start((tmp).path() + "/host", name, &why_##var); \
  TIDEMARK_REQUIRE(var != nullptr, why_##var)

std::string Target(const SshTestHost& h, const std::string& user) {
  return user + "@127.0.0.1:" + std::to_string(h.port());
}

std::vector<std::string> PullArgs(const SshTestHost& h, const std::string& user,
                                  const std::string& db) {
  return {"pull",          Target(h, user), "--identity", h.client_key(), "--known-hosts",
          h.known_hosts(), "--db",          db,           "--as",         "target1"};
}

std::vector<std::string> With(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The stored snapshot of target1 as JSON, and the `show` text header.
nlohmann::json StoredSnapshot(const std::string& db, std::string* header = nullptr) {
  CtlRun show = Ctl({"show", "target1", "--db", db, "--format", "text"});
  if (header) *header = show.out.substr(0, show.out.find("\n{"));
  CtlRun body = Ctl({"show", "target1", "--db", db, "--format", "snapshot"});
  return nlohmann::json::parse(body.out, nullptr, false);
}

std::string WriteScript(const testing::TempRoot& tmp, const std::string& name,
                        const std::string& body) {
  std::string path = tmp.path() + "/" + name;
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

TEST(CtlPullTest, StoresTheTargetsSnapshotMarkedAndLeavesNothingBehind) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-target");
  ASSERT_TRUE(host->AddUser("vendoradm", false));
  const auto files_before = host->Files();
  const std::string db = tmp.path() + "/store.db";
  CtlRun run = Ctl(With(PullArgs(*host, "root", db),
                        {"--agent", TIDEMARK_AGENT_BIN, "--only", "accounts,sshd"}));
  ASSERT_EQ(run.code, 0) << run.err << "\nsshd: " << host->Log();
  EXPECT_NE(run.out.find("target1"), std::string::npos) << run.out;
  EXPECT_NE(run.err.find("removed "), std::string::npos) << run.err;
  EXPECT_EQ(host->Files(), files_before) << "pull left files on the target";

  std::string header;
  nlohmann::json snap = StoredSnapshot(db, &header);
  ASSERT_TRUE(snap.is_object()) << header;
  // Collected on the target (its hostname, its users), not on this machine.
  EXPECT_EQ(snap["host"]["hostname"], "tidemark-pull-target") << snap["host"].dump();
  EXPECT_NE(snap["accounts"].dump().find("vendoradm"), std::string::npos);
  // Marked: pulled, from where, which host key (as ssh-keygen -lf prints it), by whom.
  std::string fingerprint;
  ASSERT_EQ(testing::RunCommand(
                "ssh-keygen -lf " +
                    testing::ShellQuote(host->root() + "/etc/ssh/tidemark_test_host_key.pub") +
                    " | cut -d' ' -f2",
                &fingerprint),
            0);
  fingerprint.erase(fingerprint.find_last_not_of('\n') + 1);
  ASSERT_EQ(fingerprint.rfind("SHA256:", 0), 0u) << fingerprint;
  EXPECT_NE(header.find("# imported_by pulled over SSH from " + Target(*host, "root") +
                        " (host key ssh-ed25519 " + fingerprint + ") by root"),
            std::string::npos)
      << header;
}

TEST(CtlPullTest, SudoCollectsAsRootWithoutItTheUnreadableIsAnErrorNotEmpty) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-sudo");
  ASSERT_TRUE(host->AddUser("deployer", true));
  ASSERT_TRUE(host->AddUser("plain", false));
  const std::string db = tmp.path() + "/store.db";
  const std::vector<std::string> only = {"--agent", TIDEMARK_AGENT_BIN, "--only", "accounts"};

  auto shadow_errors = [&db] {
    std::string found;
    const nlohmann::json snap = StoredSnapshot(db);
    if (!snap.contains("accounts") || !snap["accounts"].contains("errors")) {
      ADD_FAILURE() << "no accounts section with errors in the stored snapshot";
      return std::string("(no accounts section)");
    }
    for (const auto& e : snap["accounts"]["errors"]) {
      if (e.value("path", "") == "/etc/shadow") found += e.value("message", "") + "\n";
    }
    return found;
  };
  CtlRun as_user = Ctl(With(PullArgs(*host, "deployer", db), only));
  ASSERT_EQ(as_user.code, 0) << as_user.err;
  EXPECT_NE(shadow_errors().find("Permission denied"), std::string::npos)
      << "what the login user may not read is an error in the snapshot: "
      << StoredSnapshot(db)["accounts"]["errors"].dump() << as_user.err;

  CtlRun as_root = Ctl(With(With(PullArgs(*host, "deployer", db), only), {"--sudo"}));
  ASSERT_EQ(as_root.code, 0) << as_root.err;
  EXPECT_EQ(shadow_errors(), "") << "through sudo -n the collection ran as root";

  // sudo -n never asks: a user without the right fails with sudo's own reason, cleaned up.
  const auto files_before = host->Files();
  CtlRun refused = Ctl(With(With(PullArgs(*host, "plain", db), only), {"--sudo"}));
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("sudo"), std::string::npos) << refused.err;
  EXPECT_EQ(host->Files(), files_before);
}

TEST(CtlPullTest, AChangedHostKeyIsRefusedAndNothingIsUploaded) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-changed");
  const std::string known = tmp.path() + "/known_changed";
  std::ofstream(known) << host->OtherKeyLine() << "\n";
  const auto files_before = host->Files();
  const std::string db = tmp.path() + "/store.db";
  CtlRun run =
      Ctl({"pull", Target(*host, "root"), "--identity", host->client_key(), "--known-hosts", known,
           "--accept-new", "--db", db, "--agent", TIDEMARK_AGENT_BIN});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("CHANGED"), std::string::npos) << run.err;
  EXPECT_EQ(host->Files(), files_before);
  EXPECT_EQ(ReadHostFile(known), host->OtherKeyLine() + "\n") << "--accept-new never replaces";
  EXPECT_NE(access(db.c_str(), F_OK), 0) << "nothing stored";
}

TEST(CtlPullTest, AnUnknownHostKeyIsRefusedUnlessAcceptNewWhichRecordsIt) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-new");
  const std::string known = tmp.path() + "/known_empty";
  std::ofstream(known) << "";
  const std::string db = tmp.path() + "/store.db";
  std::vector<std::string> args = {"pull",          Target(*host, "root"),
                                   "--identity",    host->client_key(),
                                   "--known-hosts", known,
                                   "--db",          db,
                                   "--agent",       TIDEMARK_AGENT_BIN,
                                   "--only",        "sshd",
                                   "--as",          "target1"};
  CtlRun refused = Ctl(args);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("unknown host key ssh-ed25519 SHA256:"), std::string::npos)
      << refused.err;
  CtlRun accepted = Ctl(With(args, {"--accept-new"}));
  ASSERT_EQ(accepted.code, 0) << accepted.err;
  EXPECT_NE(accepted.err.find("accepted the new host key"), std::string::npos) << accepted.err;
  // Recorded as ssh itself would: the same key line the host's own public key file gives.
  EXPECT_NE(ReadHostFile(known).find(ReadHostFile(host->known_hosts())
                                         .substr(ReadHostFile(host->known_hosts()).find(' ') + 1)),
            std::string::npos)
      << ReadHostFile(known);
  CtlRun again = Ctl(args);  // now known: no --accept-new needed
  EXPECT_EQ(again.code, 0) << again.err;
}

TEST(CtlPullTest, AnUnreachableHostIsReported) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-down");
  int port = host->port();
  host.reset();  // sshd stopped: nothing listens on the port any more
  CtlRun run =
      Ctl({"pull", "root@127.0.0.1:" + std::to_string(port), "--known-hosts", tmp.path() + "/none",
           "--db", tmp.path() + "/store.db", "--agent", TIDEMARK_AGENT_BIN});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("cannot connect"), std::string::npos) << run.err;
}

TEST(CtlPullTest, AFailedCollectionIsReportedAndCleanedUp) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-fails");
  const auto files_before = host->Files();
  std::string agent =
      WriteScript(tmp, "failing-agent", "echo 'cannot collect: broken' >&2\nexit 3");
  const std::string db = tmp.path() + "/store.db";
  CtlRun run = Ctl(With(PullArgs(*host, "root", db), {"--agent", agent}));
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("the collection exited 3: cannot collect: broken"), std::string::npos)
      << run.err;
  EXPECT_EQ(host->Files(), files_before);
  // Something that is not a snapshot is refused, and nothing is stored.
  std::string liar = WriteScript(tmp, "lying-agent", "echo '{\"not\": \"a snapshot\"}'");
  CtlRun lied = Ctl(With(PullArgs(*host, "root", db), {"--agent", liar}));
  EXPECT_EQ(lied.code, 1);
  EXPECT_NE(lied.err.find("the snapshot is not valid"), std::string::npos) << lied.err;
  EXPECT_EQ(host->Files(), files_before);
  // A FIFO as the agent: refused at its upload, not waited on; nothing is left on the host.
  std::string fifo = tmp.path() + "/fifo-agent";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0700), 0);
  CtlRun stalled = Ctl(With(PullArgs(*host, "root", db), {"--agent", fifo}));
  EXPECT_EQ(stalled.code, 1);
  EXPECT_NE(stalled.err.find("fifo-agent: not a regular file"), std::string::npos) << stalled.err;
  EXPECT_EQ(host->Files(), files_before);
  // So are a FIFO as the identity and as the known hosts, which libssh opens by name.
  std::vector<std::string> args = PullArgs(*host, "root", db);
  for (const std::string flag : {"--identity", "--known-hosts"}) {
    std::vector<std::string> with = args;
    std::string path = tmp.path() + "/fifo" + flag;
    ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
    *(std::find(with.begin(), with.end(), flag) + 1) = path;
    CtlRun refused = Ctl(With(with, {"--agent", TIDEMARK_AGENT_BIN}));
    EXPECT_EQ(refused.code, 1) << flag;
    EXPECT_NE(refused.err.find(flag + " " + path + ": not a regular file"), std::string::npos)
        << refused.err;
  }
  EXPECT_NE(access(db.c_str(), F_OK), 0) << "nothing stored";
}

// What the host prints is host text: shown escaped once (a terminal never receives its control
// characters) and cut to its end, where the reason is.
TEST(CtlPullTest, HostTextInAnErrorIsEscapedOnceAndCutToItsEnd) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-hostile");
  std::string agent = WriteScript(
      tmp, "hostile-agent",
      "head -c 3000 /dev/zero | tr '\\0' x >&2\nprintf '\\n\\033[2J the reason \\\\ end\\n' >&2\n"
      "exit 4");
  CtlRun run = Ctl(With(PullArgs(*host, "root", tmp.path() + "/store.db"), {"--agent", agent}));
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("exited 4: ..."), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("\\x1b[2J the reason \\\\ end"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\x1b'), std::string::npos) << "a raw escape reached the terminal";
  EXPECT_EQ(run.err.find("\\\\x1b"), std::string::npos) << "escaped twice: " << run.err;
}

TEST(CtlPullTest, ATargetThatIsNoHostIdNeedsAsBeforeAnythingIsDone) {
  CtlRun run = Ctl({"pull", "root@[::1]:22", "--db", "/nonexistent/store.db"});
  EXPECT_EQ(run.code, 2);
  EXPECT_NE(run.err.find("'::1' is not a host id to store the snapshot for: name one with --as"),
            std::string::npos)
      << run.err;
  CtlRun bad = Ctl({"pull", "root@web1:0"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("the port is not 1 to 65535"), std::string::npos) << bad.err;
}

TEST(CtlPullTest, OutputWritesTheSnapshotOnlyPrivately) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-output");
  const std::string out = tmp.path() + "/pulled.json";
  const std::string db = tmp.path() + "/store.db";
  CtlRun run = Ctl(With(PullArgs(*host, "root", db),
                        {"--agent", TIDEMARK_AGENT_BIN, "--only", "sshd", "--output", out}));
  ASSERT_EQ(run.code, 0) << run.err;
  struct stat st {};
  ASSERT_EQ(stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto snap = nlohmann::json::parse(ReadHostFile(out), nullptr, false);
  EXPECT_EQ(snap["host"]["hostname"], "tidemark-pull-output");
  EXPECT_NE(access(db.c_str(), F_OK), 0) << "--output stores nothing";
}

// Ctrl-C while the collection runs: tidemarkctl stops it, removes what it uploaded and exits
// 130; no process of it is left on the target.
TEST(CtlPullTest, AnInterruptedPullCleansUpOnTheTarget) {
  testing::TempRoot tmp;
  START_HOST(host, tmp, "tidemark-pull-sigint");
  const auto files_before = host->Files();
  std::string agent = WriteScript(tmp, "slow-agent", "exec sleep 61");
  const std::string log = tmp.path() + "/pull.log";
  std::vector<std::string> args =
      With(PullArgs(*host, "root", tmp.path() + "/store.db"), {"--agent", agent});
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    dup2(fd, 1);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(TIDEMARK_CTL_BIN));
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(TIDEMARK_CTL_BIN, argv.data());
    _exit(127);
  }
  auto running = [&] {
    for (const auto& p : host->Processes()) {
      if (p.find("sleep 61") != std::string::npos) return true;
    }
    return false;
  };
  bool started = false;
  for (int i = 0; i < 200 && !started; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    started = running();
  }
  ASSERT_TRUE(started) << ReadHostFile(log);
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << ReadHostFile(log);
  EXPECT_EQ(WEXITSTATUS(status), 130) << ReadHostFile(log);
  EXPECT_NE(ReadHostFile(log).find("interrupted"), std::string::npos) << ReadHostFile(log);
  EXPECT_EQ(host->Files(), files_before) << ReadHostFile(log);
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = !running();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(gone) << "the collection still runs on the target; sshd: " << host->Log();
}

}  // namespace
}  // namespace tidemark::ctl
