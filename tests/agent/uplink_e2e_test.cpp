// End to end: the real agent (`send`, `run`) against the real tidemark-collector on 127.0.0.1,
// read back with tidemarkctl: agent -> collector -> `tidemarkctl show`; and the collector stopped
// while the daemon runs -> snapshots spool -> collector restarted -> every snapshot stored once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/uplink/daemon.h"
#include "tests/collector/collector_fixture.h"
#include "tests/support/child_process.h"
#include "tests/support/test_responder.h"

namespace tidemark::testing {
namespace {

namespace fs = std::filesystem;

bool WaitFor(const std::function<bool()>& cond, int seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

class UplinkE2eTest : public CollectorFixture {
 protected:
  void SetUp() override {
    agent_ = pki_.Agent("web1");
    SetUsers(1);
  }
  void SetUsers(int n) {
    std::string passwd = "root:x:0:0:root:/root:/bin/bash\n";
    for (int i = 0; i < n; ++i) {
      passwd +=
          "user" + std::to_string(i) + ":x:" + std::to_string(1000 + i) + ":100::/h:/bin/sh\n";
    }
    root_.Write("/etc/passwd", passwd);
    root_.Write("/etc/group", "root:x:0:\nusers:x:100:\n");
  }
  std::string spool() const { return dir_.Host("/spool"); }
  std::vector<std::string> SpooledIds() const {
    std::vector<std::string> ids;
    if (!fs::exists(spool())) return ids;
    for (const auto& e : fs::directory_iterator(spool())) {
      std::string n = e.path().filename();
      if (n.size() > 26 && n.substr(n.size() - 5) == ".snap") {
        ids.push_back(n.substr(21, n.size() - 26));
      }
    }
    return ids;
  }
  // id -> number of entries in `tidemarkctl history web1`.
  std::map<std::string, int> History() {
    std::string out;
    std::map<std::string, int> ids;
    if (Ctl("history web1 --format json", &out) != 0) return ids;
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded()) return ids;
    for (const auto& e : j["history"]) ++ids[e["id"].get<std::string>()];
    return ids;
  }
  std::string AgentFlags(uint16_t port) const {
    return " --collector 127.0.0.1:" + std::to_string(port) + " --ca " +
           ShellQuote(pki_.ca_file()) + " --cert " + ShellQuote(agent_.cert) + " --key " +
           ShellQuote(agent_.key) + " --spool " + ShellQuote(spool()) + " --only accounts --root " +
           ShellQuote(root_.path());
  }

  // Starts `tidemark-agent run` (a round a second) against 127.0.0.1:port, stderr to `log`.
  pid_t RunDaemon(uint16_t port, const std::string& log) const {
    std::string cmd = "exec " + std::string(TIDEMARK_AGENT_BIN) + " run" + AgentFlags(port) +
                      " --interval 1 --jitter 0 --backoff-min 1 --backoff-max 2 --io-timeout 20"
                      " 2>" +
                      ShellQuote(log);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid;
  }
  // Kills the daemon (if still running) at the end of a test.
  struct Daemon {
    pid_t pid;
    ~Daemon() {
      if (pid > 0) WaitChild(pid, 0);  // killed and reaped
    }
  };

  CertFiles agent_;
  TempRoot root_;
};

TEST_F(UplinkE2eTest, SendThenShow) {
  StartCollector();
  std::string out, err;
  int code = RunCommand(
      "timeout 60 " + std::string(TIDEMARK_AGENT_BIN) + " send" + AgentFlags(proc_.port()), &out,
      &err);
  ASSERT_EQ(code, agent::uplink::kExitSent) << err << proc_.Log();
  EXPECT_TRUE(SpooledIds().empty());
  std::string shown;
  ASSERT_EQ(Ctl("show web1", &shown), 0) << shown;
  auto doc = DecodeSnapshot(shown.substr(shown.find('{')));
  ASSERT_TRUE(doc.ok()) << doc.status().ToString() << "\n" << shown.substr(0, 400);
  EXPECT_EQ(doc->host.id, "web1");
  EXPECT_EQ(doc->sections.count("accounts"), 1u);
  // The same state again: offered, recorded as seen, no second body.
  code = RunCommand(
      "timeout 60 " + std::string(TIDEMARK_AGENT_BIN) + " send" + AgentFlags(proc_.port()), &out,
      &err);
  ASSERT_EQ(code, agent::uplink::kExitSent) << err;
  EXPECT_NE(err.find("acknowledged (seen"), std::string::npos) << err;
  std::string history;
  ASSERT_EQ(Ctl("history web1", &history), 0);
  EXPECT_NE(history.find("\nsnapshot\t"), std::string::npos) << history;
  EXPECT_NE(history.find("\nseen\t"), std::string::npos) << history;
}

// The real collector's refusals of the agent's certificate are refusals (exit 1), not
// "try again later" (75), and nothing is stored.
TEST_F(UplinkE2eTest, CertificatesTheCollectorRefusesExitOne) {
  StartCollector();
  pki::CertRequest expired;
  expired.common_name = "web1";
  expired.role = pki::Role::kClient;
  expired.not_before = 1'600'000'000;
  expired.not_after = 1'600'086'400;
  for (const CertFiles& cert : {pki_.ForeignAgent("web1"), pki_.Issue("expired", expired)}) {
    agent_ = cert;
    std::string out, err;
    int code = RunCommand(
        "timeout 60 " + std::string(TIDEMARK_AGENT_BIN) + " send" + AgentFlags(proc_.port()), &out,
        &err);
    EXPECT_EQ(code, agent::uplink::kExitRefused) << err << proc_.Log();
    EXPECT_NE(err.find("refused the TLS session"), std::string::npos) << err;
  }
  EXPECT_TRUE(History().empty());
}

// A collector that closes the connection at accept (this address over its connection rate)
// leaves the snapshot in the spool (75, try again later), and the agent says why it might have.
TEST_F(UplinkE2eTest, ARefusalAtAcceptLeavesTheSnapshotInTheSpoolAndSaysWhy) {
  StartCollector({"--source-connection-rate", "1", "--source-connection-burst", "1"});
  const std::string send = "timeout 60 " + std::string(TIDEMARK_AGENT_BIN) + " send";
  std::string out, err;
  ASSERT_EQ(RunCommand(send + AgentFlags(proc_.port()), &out, &err), agent::uplink::kExitSent)
      << err << proc_.Log();
  int code = RunCommand(send + AgentFlags(proc_.port()), &out, &err);
  EXPECT_EQ(code, agent::uplink::kExitQueued) << err << proc_.Log();
  EXPECT_NE(err.find("closed the connection during the TLS handshake without an alert"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("connection_refused"), std::string::npos) << err;
  EXPECT_EQ(SpooledIds().size(), 1u);
  EXPECT_TRUE(proc_.WaitLog({"connection_refused", "reason=source_connection_rate"}))
      << proc_.Log();
}

// The daemon keeps its TLS session between rounds and resumes it, which spares the collector
// most of a reconnect's cost; a collector that no longer knows the session (here: reloaded,
// a new TLS context) gets a full handshake and the round goes through.
TEST_F(UplinkE2eTest, TheDaemonResumesItsTlsSessionAndFallsBackToAFullHandshake) {
  StartCollector();
  std::string agent_log = dir_.Host("/agent.log");
  Daemon daemon{RunDaemon(proc_.port(), agent_log)};
  ASSERT_GT(daemon.pid, 0);
  ASSERT_TRUE(proc_.WaitLog({"info connection_accepted", "host=web1", "resumed=no"}, 30))
      << proc_.Log() << ReadHostFile(agent_log);
  ASSERT_TRUE(proc_.WaitLog({"info connection_accepted", "host=web1", "resumed=yes"}, 30))
      << proc_.Log() << ReadHostFile(agent_log);
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info reloaded"})) << proc_.Log();
  size_t reloaded_at = proc_.Log().find("info reloaded");
  auto after_reload = [&](const std::string& resumed) {
    std::string log = proc_.Log();
    size_t at = log.find("info connection_accepted", reloaded_at);
    std::vector<std::string> lines;
    while (at != std::string::npos) {
      lines.push_back(log.substr(at, log.find('\n', at) - at));
      at = log.find("info connection_accepted", at + 1);
    }
    return lines.size() >= 2 ? lines[0].find("resumed=no") != std::string::npos &&
                                   lines[1].find("resumed=" + resumed) != std::string::npos
                             : false;
  };
  // The first connection after the reload cannot resume; the one after it resumes again.
  EXPECT_TRUE(WaitFor([&] { return after_reload("yes"); }, 30))
      << proc_.Log() << ReadHostFile(agent_log);
  EXPECT_TRUE(History().size() >= 1u);
}

TEST_F(UplinkE2eTest, CollectorRestartWhileTheDaemonRunsLosesNothingStoresOnce) {
  ClosedPort reserved;
  uint16_t port = static_cast<uint16_t>(reserved.port());
  reserved.Release();
  StartCollector({"--listen", "127.0.0.1:" + std::to_string(port)});
  std::string agent_log = dir_.Host("/agent.log");
  Daemon guard{RunDaemon(port, agent_log)};
  pid_t pid = guard.pid;
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return !History().empty(); })) << ReadHostFile(agent_log);

  proc_.Signal(SIGTERM);
  ASSERT_EQ(proc_.Wait(30), 0) << proc_.Log();
  // Down: new states pile up in the spool.
  SetUsers(2);
  ASSERT_TRUE(WaitFor([&] { return SpooledIds().size() >= 2; })) << ReadHostFile(agent_log);
  SetUsers(3);
  ASSERT_TRUE(WaitFor([&] { return SpooledIds().size() >= 3; })) << ReadHostFile(agent_log);
  auto spooled_while_down = SpooledIds();

  CollectorProcess again(dir_.Host("/collector2.log"));
  auto args = BaseArgs();
  args.insert(args.end(), {"--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(again.Start(args)) << again.Log();
  ASSERT_TRUE(WaitFor([&] {
    auto h = History();
    for (const auto& id : spooled_while_down) {
      if (h.count(id) == 0) return false;
    }
    return true;
  })) << ReadHostFile(agent_log);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(WaitChild(pid, 60), 0) << "-1: did not exit within 60 s of SIGTERM\n"
                                   << ReadHostFile(agent_log);
  guard.pid = -1;
  again.Signal(SIGTERM);
  EXPECT_EQ(again.Wait(30), 0) << again.Log();

  // Every snapshot the agent collected is in the store once, or still spooled, or both: the stop
  // signal interrupts a send whose snapshot the collector stored before the agent read the ack
  // (seen once under load), and the spool keeps it; sent again later, it is a `seen` record,
  // never a second snapshot.
  std::vector<std::string> collected;
  for (const auto& line : Lines(ReadHostFile(agent_log))) {
    const std::string marker = "collected snapshot ";
    if (auto at = line.find(marker); at != std::string::npos) {
      std::string rest = line.substr(at + marker.size());
      collected.push_back(rest.substr(0, rest.find(' ')));
    }
  }
  auto history = History();
  auto still = SpooledIds();
  ASSERT_GE(collected.size(), 4u);
  for (const auto& id : collected) {
    bool spooled = std::find(still.begin(), still.end(), id) != still.end();
    int stored = history.count(id) != 0 ? history.at(id) : 0;
    EXPECT_LE(stored, 1) << id;
    EXPECT_TRUE(stored == 1 || spooled) << id << " is lost";
  }
  for (const auto& [id, n] : history) {
    EXPECT_NE(std::find(collected.begin(), collected.end(), id), collected.end()) << id;
  }
}

}  // namespace
}  // namespace tidemark::testing
