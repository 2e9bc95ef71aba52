// `tidemarkctl deploy` without packages (tests/packaging/deploy_test.cpp installs real ones): the
// inventory's errors, Ctrl-C during an upload (cleaned up, the host named with its stage, exit
// 130), and the progress display in place on a terminal (`script` gives it a pty).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/collector/ctl_run.h"
#include "tests/support/require.h"
#include "tests/support/ssh_host.h"
#include "tests/support/temp_root.h"

namespace tidemark::ctl {
namespace {

using testing::ReadHostFile;
using testing::ShellQuote;
using testing::SshTestHost;

std::vector<std::string> DeployArgs(const std::string& t, const std::string& package) {
  return {"--db",  t + "/store.db", "deploy",   "--inventory", t + "/inventory", "--package",
          package, "--pki",         t + "/pki", "--collector", "127.0.0.1:7411"};
}

TEST(CtlDeployTest, ABadInventoryStopsBeforeAnythingIsDone) {
  testing::TempRoot tmp;
  const std::string t = tmp.path();
  ASSERT_EQ(Ctl({"pki", "init", "--dir", t + "/pki"}).code, 0);
  std::ofstream(t + "/agent.deb") << "x";
  auto run_with = [&](const std::string& inventory) {
    std::ofstream(t + "/inventory") << inventory;
    return Ctl(DeployArgs(t, t + "/agent.deb"));
  };
  CtlRun twice = run_with("web1\n# again\nroot@web1:2222\n");
  EXPECT_EQ(twice.code, 2);
  EXPECT_NE(twice.err.find("inventory:3: 'web1' is listed twice (line 1)"), std::string::npos)
      << twice.err;
  CtlRun address = run_with("[::1]:22\n");
  EXPECT_EQ(address.code, 2);
  EXPECT_NE(address.err.find("is not a host id"), std::string::npos) << address.err;
  CtlRun key = run_with("web1 sudo=maybe\n");
  EXPECT_EQ(key.code, 2);
  EXPECT_NE(key.err.find("inventory:1: 'sudo=maybe'"), std::string::npos) << key.err;
  CtlRun empty = run_with("# nothing\n\n");
  EXPECT_EQ(empty.code, 2);
  EXPECT_NE(empty.err.find("no hosts"), std::string::npos) << empty.err;
  // Nothing was issued for a run that stopped.
  EXPECT_NE(access((t + "/pki/agents/web1.crt").c_str(), F_OK), 0);
}

TEST(CtlDeployTest, BadArgumentsAreRefusedBeforeAnythingIsDone) {
  testing::TempRoot tmp;
  const std::string t = tmp.path();
  ASSERT_EQ(Ctl({"pki", "init", "--dir", t + "/pki"}).code, 0);
  std::ofstream(t + "/agent.deb") << "x";
  std::ofstream(t + "/agent.tar") << "x";
  std::ofstream(t + "/inventory") << "web1\n";
  // The collector as the agents parse it (protocol::ParseEndpoint): a port is required.
  std::vector<std::string> args = DeployArgs(t, t + "/agent.deb");
  for (const auto& [collector, reason] : std::vector<std::pair<std::string, std::string>>{
           {"collector.example.org", "expected HOST:PORT"},
           {"collector.example.org:http", "the port must be 1..65535"},
           {"::1:7411", "write an IPv6 address as [ADDR]:PORT"}}) {
    args.back() = collector;
    CtlRun run = Ctl(args);
    EXPECT_EQ(run.code, 2) << collector;
    EXPECT_NE(run.err.find(reason), std::string::npos) << run.err;
  }
  CtlRun tar = Ctl(DeployArgs(t, t + "/agent.tar"));
  EXPECT_EQ(tar.code, 2);
  EXPECT_NE(tar.err.find("agent.tar: not a .deb file"), std::string::npos) << tar.err;
  // A FIFO named .deb: refused before any host, not waited on at the first upload.
  ASSERT_EQ(mkfifo((t + "/fifo.deb").c_str(), 0600), 0);
  CtlRun fifo = Ctl(DeployArgs(t, t + "/fifo.deb"));
  EXPECT_EQ(fifo.code, 2);
  EXPECT_NE(fifo.err.find("fifo.deb: not a regular file"), std::string::npos) << fifo.err;
  EXPECT_NE(access((t + "/pki/agents/web1.crt").c_str(), F_OK), 0) << "nothing issued";
}

// A package large enough that its upload is under way when Ctrl-C comes (a sparse file: no
// disk here; on the host the upper layer, a tmpfs of 1 GiB, holds what arrived until it is
// removed, so an upload that went on would fail, not fill the machine's memory).
TEST(CtlDeployTest, CtrlCDuringTheUploadCleansUpAndNamesTheHostAndItsStage) {
  testing::TempRoot tmp;
  const std::string t = tmp.path();
  std::string why;
  auto host = SshTestHost::Start(t + "/host", "tidemark-deploy-sigint", &why);
  TIDEMARK_REQUIRE(host != nullptr, why);
  ASSERT_EQ(Ctl({"pki", "init", "--dir", t + "/pki"}).code, 0);
  {
    int fd = open((t + "/big.deb").c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4LL << 30), 0);
    close(fd);
  }
  std::ofstream(t + "/inventory") << "root@127.0.0.1:" << host->port() << " name=web-1\n";
  const auto files_before = host->Files();
  std::vector<std::string> args = DeployArgs(t, t + "/big.deb");
  args.insert(args.end(), {"--identity", host->client_key(), "--known-hosts", host->known_hosts()});
  const std::string log = t + "/deploy.log";
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(TIDEMARK_CTL_BIN)};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(TIDEMARK_CTL_BIN, argv.data());
    _exit(127);
  }
  bool uploading = false;
  for (int i = 0; i < 300 && !uploading; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uploading = ReadHostFile(log).find("web-1: uploading") != std::string::npos;
  }
  ASSERT_TRUE(uploading) << ReadHostFile(log);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // bytes under way
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const std::string out = ReadHostFile(log);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 130) << out;
  EXPECT_NE(out.find("interrupted; not finished: web-1 (uploading)"), std::string::npos) << out;
  EXPECT_NE(out.find("web-1\tyes\t-\t-\t-\terror: "), std::string::npos) << out;
  EXPECT_EQ(host->Files(), files_before) << out;
}

TEST(CtlDeployTest, OnATerminalEachHostsLineIsRedrawnInPlace) {
  TIDEMARK_REQUIRE(testing::HaveProgram("script"), "script (package bsdutils) is not installed");
  testing::TempRoot tmp;
  const std::string t = tmp.path();
  ASSERT_EQ(Ctl({"pki", "init", "--dir", t + "/pki"}).code, 0);
  std::ofstream(t + "/agent.deb") << "x";
  // Two hosts where nothing listens (port 9 of loopback: discard, not served here).
  std::ofstream(t + "/inventory") << "root@127.0.0.1:9 name=a-1\nroot@127.0.0.1:9 name=b-1\n";
  std::string command = ShellQuote(TIDEMARK_CTL_BIN);
  for (const std::string& a : DeployArgs(t, t + "/agent.deb")) command += " " + ShellQuote(a);
  std::string out, err;
  int rc = testing::RunCommand(
      "script -qec " + ShellQuote(command + " --known-hosts /dev/null") + " /dev/null", &out, &err);
  EXPECT_EQ(rc, 1) << out << err;
  // Drawn once (two lines), then each change moves up two lines and clears each line again.
  EXPECT_NE(out.find("\x1b[2Ka-1: waiting"), std::string::npos) << out;
  EXPECT_NE(out.find("\x1b[2F\x1b[2Ka-1: "), std::string::npos) << out;
  EXPECT_NE(out.find("b-1: failed: root@127.0.0.1:9: cannot connect"), std::string::npos) << out;
  EXPECT_EQ(out.find("tidemarkctl: deploy: a-1:"), std::string::npos) << "no plain lines: " << out;
  EXPECT_NE(out.find("a-1\tno\t-\t-\t-\terror: "), std::string::npos) << out;
}

}  // namespace
}  // namespace tidemark::ctl
