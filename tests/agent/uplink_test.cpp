// `tidemark-agent send` and `run` end to end on 127.0.0.1 against TestResponder, a minimal
// collector speaking docs/protocol.md with test_pki certificates: spooling when the collector is
// down, oldest-first delivery, offers of unchanged state, rejected/, refusals of a wrong server
// name, a foreign CA, a readable key, and the daemon's backoff and SIGTERM.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "agent/uplink/daemon.h"
#include "agent/uplink/spool.h"
#include "common/snapshot.h"
#include "tests/support/child_process.h"
#include "tests/support/temp_root.h"
#include "tests/support/test_pki.h"
#include "tests/support/test_responder.h"

namespace tidemark::agent::uplink {
namespace {

using testing::CertFiles;
using testing::ClosedPort;
using testing::ResponderScript;
using testing::TempRoot;
using testing::TestPki;
using testing::TestResponder;
using testing::WaitChild;
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

// Kills a child process that a failed assertion left running.
struct ChildGuard {
  pid_t pid;
  ~ChildGuard() {
    if (pid > 0) WaitChild(pid, 0);  // killed and reaped
  }
};

// Polls `cond` every 100 ms for at most 45 s (a bound, not a timing assertion).
bool WaitFor(const std::function<bool()>& cond) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

class UplinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = pki_.Agent("web1");
    SetUsers(1);
  }

  // The audited root: a few users, so that successive snapshots can differ.
  void SetUsers(int n) {
    std::string passwd = "root:x:0:0:root:/root:/bin/bash\n";
    for (int i = 0; i < n; ++i) {
      passwd +=
          "user" + std::to_string(i) + ":x:" + std::to_string(1000 + i) + ":100::/home:/bin/sh\n";
    }
    root_.Write("/etc/passwd", passwd);
    root_.Write("/etc/group", "root:x:0:\nusers:x:100:\n");
    root_.Write("/etc/hostname", "not-the-identity\n");
  }

  std::string spool() const { return work_.Host("/spool"); }

  std::string Flags(const std::string& collector, const CertFiles& cert,
                    int io_timeout_s = 10) const {
    return " --collector " + collector + " --ca " + testing::ShellQuote(pki_.ca_file()) +
           " --cert " + testing::ShellQuote(cert.cert) + " --key " + testing::ShellQuote(cert.key) +
           " --spool " + testing::ShellQuote(spool()) + " --only accounts --root " +
           testing::ShellQuote(root_.path()) + " --connect-timeout 5 --io-timeout " +
           std::to_string(io_timeout_s);
  }

  Result Send(const std::string& collector, const std::string& extra = "",
              const CertFiles* cert = nullptr, int io_timeout_s = 10) {
    Result r;
    r.code =
        testing::RunCommand("timeout 60 " + std::string(TIDEMARK_AGENT_BIN) + " send" +
                                Flags(collector, cert ? *cert : agent_, io_timeout_s) + " " + extra,
                            &r.out, &r.err);
    return r;
  }

  // Spooled file names, oldest first.
  std::vector<std::string> Spooled() const {
    std::vector<std::string> names;
    if (!fs::exists(spool())) return names;
    for (const auto& e : fs::directory_iterator(spool())) {
      std::string n = e.path().filename();
      if (n.size() > 5 && n.substr(n.size() - 5) == ".snap") names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  std::vector<std::string> Rejected() const {
    std::vector<std::string> names;
    if (!fs::exists(spool() + "/rejected")) return names;
    for (const auto& e : fs::directory_iterator(spool() + "/rejected")) {
      names.push_back(e.path().filename());
    }
    return names;
  }
  // The snapshot id inside a spool file name "<20 digits>-<id>.snap".
  static std::string IdOf(const std::string& name) { return name.substr(21, name.size() - 21 - 5); }

  TestPki pki_;
  CertFiles agent_;
  TempRoot root_;
  TempRoot work_;
};

TEST_F(UplinkTest, CollectorDownExits75AndSpools) {
  ClosedPort closed;
  auto r = Send("127.0.0.1:" + std::to_string(closed.port()));
  EXPECT_EQ(r.code, kExitQueued) << r.err;
  EXPECT_NE(r.err.find("cannot connect"), std::string::npos) << r.err;
  auto names = Spooled();
  ASSERT_EQ(names.size(), 1u);
  // The snapshot carries the certificate's identity, not the root's /etc/hostname.
  EXPECT_EQ(IdOf(names[0]).rfind("web1-", 0), 0u) << names[0];
  struct stat st {};
  ASSERT_EQ(::stat((spool() + "/" + names[0]).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(UplinkTest, SendsTheSpoolOldestFirstThenItIsEmpty) {
  ClosedPort closed;
  std::string down = "127.0.0.1:" + std::to_string(closed.port());
  ASSERT_EQ(Send(down).code, kExitQueued);
  SetUsers(2);
  ASSERT_EQ(Send(down).code, kExitQueued);
  auto queued = Spooled();
  ASSERT_EQ(queued.size(), 2u);
  SetUsers(3);
  TestResponder responder(pki_, {});
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitSent) << r.err;
  EXPECT_TRUE(Spooled().empty());
  auto stored = responder.stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].snapshot_id, IdOf(queued[0]));
  EXPECT_EQ(stored[1].snapshot_id, IdOf(queued[1]));
  for (const auto& s : stored) {
    EXPECT_EQ(s.host_id, "web1");
    EXPECT_EQ(s.peer_cn, "web1");
  }
  EXPECT_EQ(responder.connections(), 1);
}

TEST_F(UplinkTest, UnchangedStateIsOfferedNotSent) {
  TestResponder responder(pki_, {});
  ASSERT_EQ(Send(responder.address()).code, kExitSent);
  auto r = Send(responder.address());  // same root: same content hash
  EXPECT_EQ(r.code, kExitSent) << r.err;
  EXPECT_EQ(responder.snapshot_frames().size(), 1u);
  EXPECT_EQ(responder.offers().size(), 1u);
  EXPECT_NE(r.err.find("acknowledged (seen"), std::string::npos) << r.err;
  SetUsers(4);  // a new state is sent directly
  ASSERT_EQ(Send(responder.address()).code, kExitSent);
  EXPECT_EQ(responder.offers().size(), 1u);
  EXPECT_EQ(responder.stored().size(), 2u);
}

TEST_F(UplinkTest, OfferFlagOffersFirstAndSendsTheBodyWhenAsked) {
  TestResponder responder(pki_, {});
  auto r = Send(responder.address(), "--offer");
  EXPECT_EQ(r.code, kExitSent) << r.err;
  EXPECT_EQ(responder.offers().size(), 1u);
  EXPECT_EQ(responder.stored().size(), 1u);
}

TEST_F(UplinkTest, PermanentErrorMovesToRejectedAndIsReportedOnce) {
  {
    ResponderScript script;
    script.refuse_all = true;
    TestResponder responder(pki_, script);
    auto r = Send(responder.address());
    EXPECT_EQ(r.code, kExitRefused) << r.err;
    EXPECT_NE(r.err.find("refused for good"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(Spooled().empty());
  EXPECT_EQ(Rejected().size(), 1u);
  TestResponder responder(pki_, {});
  ASSERT_EQ(Send(responder.address()).code, kExitSent);
  SetUsers(5);
  ASSERT_EQ(Send(responder.address()).code, kExitSent);
  auto hellos = responder.hellos();
  ASSERT_EQ(hellos.size(), 2u);
  EXPECT_EQ(hellos[0].spool_rejected, 1);  // reported on the next hello ...
  EXPECT_EQ(hellos[1].spool_rejected, 0);  // ... and reset after the welcome
}

// A snapshot the collector cannot decode (host.hostname a number: issue 9, defect 1) is refused
// permanently: the agent moves it to rejected/, counts it and goes on with the next one, instead
// of sending it again on every run.
TEST_F(UplinkTest, UndecodableSnapshotIsRejectedAndTheNextOneIsSent) {
  Snapshot s;
  s.host.id = "web1";
  s.host.hostname = "web1";
  s.host.root = "/";
  s.collected_at = "2026-11-28T19:00:00Z";
  s.agent_version = "0.1.0";
  s.sections["accounts"].data["users"] = nlohmann::json::array();
  std::string doc = SerializeSnapshot(s);
  std::string good = "\"hostname\":\"web1\"";
  ASSERT_NE(doc.find(good), std::string::npos) << doc;
  doc.replace(doc.find(good), good.size(), "\"hostname\":5");
  {
    auto hostile = Spool::Open(spool(), {}, [](const std::string&) {});
    ASSERT_TRUE(hostile.ok()) << hostile.status().ToString();
    SpoolMeta meta{"web1-20261128T190000Z-hostile", ContentHash(s), s.collected_at};
    ASSERT_TRUE((*hostile)->AddDocument(meta, doc).ok());
  }
  ASSERT_EQ(Spooled().size(), 1u);
  TestResponder responder(pki_, {});
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;  // a snapshot was refused for good: see rejected/
  EXPECT_NE(r.err.find("refused for good"), std::string::npos) << r.err;
  EXPECT_EQ(Rejected().size(), 1u);
  EXPECT_TRUE(Spooled().empty());
  ASSERT_EQ(responder.stored().size(), 1u);  // this run's snapshot, after the refused one
  EXPECT_EQ(responder.snapshot_frames().size(), 2u);
  // The next run does not send the refused snapshot again, and reports it once.
  SetUsers(2);
  auto again = Send(responder.address());
  EXPECT_EQ(again.code, kExitSent) << again.err;
  EXPECT_EQ(responder.snapshot_frames().size(), 3u);
  EXPECT_EQ(responder.hellos().back().spool_rejected, 1);
}

// The collector's error text is shown escaped: it cannot erase or forge the agent's lines.
TEST_F(UplinkTest, CollectorErrorTextIsEscaped) {
  ResponderScript script;
  script.refuse_all = true;
  script.refuse_message = "\r\033[2Kall snapshots acknowledged\nsend: forged line";
  TestResponder responder(pki_, script);
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_EQ(r.err.find('\033'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\nsend: forged line"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\\x0d\\x1b[2Kall snapshots acknowledged\\x0asend: forged line"),
            std::string::npos)
      << r.err;
}

// The I/O timeout bounds each frame as a whole: a collector trickling its welcome one byte at a
// time (each read succeeding well within the timeout) cannot hold the agent longer.
TEST_F(UplinkTest, TricklingCollectorIsCutOffAtTheIoTimeout) {
  ResponderScript script;
  script.trickle_ms = 200;  // a welcome of ~100 bytes would take ~20 s
  TestResponder responder(pki_, script);
  auto start = std::chrono::steady_clock::now();
  auto r = Send(responder.address(), "", nullptr, /*io_timeout_s=*/1);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.code, kExitQueued) << r.err;
  EXPECT_NE(r.err.find("timed out"), std::string::npos) << r.err;
  // Collection, connect and handshake take well under a second here; 1 s of I/O timeout plus
  // that must end far below the ~20 s of the whole trickle.
  EXPECT_LT(took, std::chrono::seconds(8)) << r.err;
  EXPECT_EQ(Spooled().size(), 1u);
}

// TLS 1.3 KeyUpdates from the collector: a few are served (TLS allows them), a flood ends the
// exchange with the snapshot kept. OpenSSL handled every KeyUpdate the socket held within one
// read, so a collector sending them faster than they were handled held the agent past its
// deadline; now each is its own step of the read, counted, with the deadline checked between:
// the flood arrives in one TCP segment, and the agent stops at the 65th (with
// SSL_MODE_AUTO_RETRY it would handle all 200 in one read).
TEST_F(UplinkTest, ACollectorsKeyUpdatesAreBounded) {
  ResponderScript few;
  few.key_updates_before_welcome = 10;
  TestResponder fine(pki_, few);
  auto r = Send(fine.address());
  EXPECT_EQ(r.code, kExitSent) << r.err;
  EXPECT_EQ(fine.stored().size(), 1u);
  EXPECT_TRUE(Spooled().empty());

  ResponderScript flood;
  flood.key_updates_before_welcome = 200;
  TestResponder flooding(pki_, flood);
  r = Send(flooding.address());
  EXPECT_EQ(r.code, kExitQueued) << r.err;
  EXPECT_NE(r.err.find("sent 65 TLS KeyUpdate messages on one connection, more than the 64"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(flooding.stored().empty());
  EXPECT_EQ(Spooled().size(), 1u);
}

// RFC 6125: the collector's name must be in its subjectAltName; a CN alone is not accepted.
TEST_F(UplinkTest, CollectorCertificateWithTheNameOnlyInItsCnIsRefused) {
  pki::CertRequest req;
  req.common_name = "localhost";
  req.role = pki::Role::kServer;  // serverAuth, no subjectAltName at all
  CertFiles cn_only = pki_.Issue("cn-only-server", req);
  TestResponder responder(pki_, {}, &cn_only);
  auto r = Send(responder.address(), "--server-name localhost");
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_NE(r.err.find("certificate is not accepted"), std::string::npos) << r.err;
  EXPECT_EQ(responder.frames(), 0);
}

// An agent certificate the collector would refuse is refused before collecting anything, so no
// snapshot is spooled that would then block later sends.
TEST_F(UplinkTest, AgentCertificateWithoutClientAuthIsRefusedBeforeCollecting) {
  TestResponder responder(pki_, {});
  pki::CertRequest req;
  req.common_name = "web1";
  req.role = pki::Role::kServer;  // serverAuth only
  CertFiles server_only = pki_.Issue("web1-server-only", req);
  auto r = Send(responder.address(), "", &server_only);
  EXPECT_EQ(r.code, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("clientAuth"), std::string::npos) << r.err;
  req.role = pki::Role::kClient;
  req.omit_eku = true;
  CertFiles no_eku = pki_.Issue("web1-no-eku", req);
  r = Send(responder.address(), "", &no_eku);
  EXPECT_EQ(r.code, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("clientAuth"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(spool()));  // nothing collected
  EXPECT_EQ(responder.connections(), 0);
}

TEST_F(UplinkTest, KeyOfAnotherCertificateSaysSo) {
  CertFiles other = pki_.Agent("web2");
  CertFiles mixed{agent_.cert, other.key, {}};
  auto r = Send("127.0.0.1:1", "", &mixed);
  EXPECT_EQ(r.code, kExitUsage) << r.err;
  EXPECT_NE(r.err.find("does not belong to the certificate"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(spool()));
}

TEST_F(UplinkTest, DroppedSnapshotsAreReportedInTheHello) {
  ClosedPort closed;
  std::string down = "127.0.0.1:" + std::to_string(closed.port());
  for (int i = 0; i < 3; ++i) {
    SetUsers(i + 1);
    ASSERT_EQ(Send(down, "--spool-max-files 2").code, kExitQueued);
  }
  EXPECT_EQ(Spooled().size(), 2u);
  TestResponder responder(pki_, {});
  ASSERT_EQ(Send(responder.address(), "--spool-max-files 2").code, kExitSent);
  ASSERT_EQ(responder.hellos().size(), 1u);
  EXPECT_EQ(responder.hellos()[0].spool_dropped, 2);  // the 3rd and 4th collection dropped one each
  // Left: users=3 twice (the 3rd collection and this one): the body, then an offer.
  EXPECT_EQ(responder.stored().size(), 1u);
  EXPECT_EQ(responder.offers().size(), 1u);
  EXPECT_TRUE(Spooled().empty());
}

TEST_F(UplinkTest, RefusalThatClosesTheConnectionDoesNotBlockTheRest) {
  ClosedPort closed;
  std::string down = "127.0.0.1:" + std::to_string(closed.port());
  ASSERT_EQ(Send(down).code, kExitQueued);
  auto first = Spooled();
  ASSERT_EQ(first.size(), 1u);
  SetUsers(2);
  ResponderScript script;
  script.refuse_ids = {IdOf(first[0])};
  script.refuse_code = "frame_too_large";
  script.close_after_refusal = true;
  TestResponder responder(pki_, script);
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_EQ(Rejected(), first);
  EXPECT_TRUE(Spooled().empty());
  ASSERT_EQ(responder.stored().size(), 1u);  // the second, over a new connection
  EXPECT_EQ(responder.connections(), 2);
  EXPECT_EQ(responder.hellos().back().spool_rejected, 1);
}

TEST_F(UplinkTest, OverTheCollectorsFrameLimitIsRejectedWithoutSending) {
  ResponderScript script;
  script.max_frame_bytes = 1000;  // smaller than any snapshot
  TestResponder responder(pki_, script);
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_NE(r.err.find("over the collector's max_frame_bytes 1000"), std::string::npos) << r.err;
  EXPECT_TRUE(responder.snapshot_frames().empty());
  EXPECT_EQ(Rejected().size(), 1u);
}

// SIGTERM interrupts a send waiting for an ack: exit 75 at once, the snapshot stays spooled.
TEST_F(UplinkTest, SigtermDuringASendKeepsTheSnapshot) {
  ResponderScript script;
  script.stall_at_snapshot = 1;
  TestResponder responder(pki_, script);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = "exec " + std::string(TIDEMARK_AGENT_BIN) + " send" +
                      Flags(responder.address(), agent_) + " 2>/dev/null";
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ChildGuard guard{pid};
  ASSERT_TRUE(WaitFor([&] { return responder.snapshot_frames().size() == 1; }));
  ::kill(pid, SIGTERM);
  EXPECT_EQ(WaitChild(pid, 60), kExitQueued) << "-1: did not exit within 60 s of SIGTERM";
  guard.pid = -1;
  EXPECT_EQ(Spooled().size(), 1u);
}

TEST_F(UplinkTest, TransientErrorsKeepTheSnapshotSpooled) {
  {
    ResponderScript script;
    script.store_failed = true;
    TestResponder responder(pki_, script);
    auto r = Send(responder.address());
    EXPECT_EQ(r.code, kExitQueued) << r.err;
    EXPECT_NE(r.err.find("store_failed"), std::string::npos) << r.err;
  }
  {
    ResponderScript script;
    script.hello_error = "busy";
    TestResponder responder(pki_, script);
    EXPECT_EQ(Send(responder.address()).code, kExitQueued);
  }
  EXPECT_EQ(Spooled().size(), 2u);
  EXPECT_TRUE(Rejected().empty());
}

TEST_F(UplinkTest, HangUpBeforeTheAckThenResendStoresOnce) {
  {
    ResponderScript script;
    script.hang_up_at_snapshot = 1;
    TestResponder responder(pki_, script);
    auto r = Send(responder.address());
    EXPECT_EQ(r.code, kExitQueued) << r.err;
    EXPECT_EQ(responder.snapshot_frames().size(), 1u);
  }
  ASSERT_EQ(Spooled().size(), 1u);
  TestResponder responder(pki_, {});
  ASSERT_EQ(Send(responder.address()).code, kExitSent);
  EXPECT_TRUE(Spooled().empty());
}

TEST_F(UplinkTest, WrongServerNameIsRefusedAndNothingSent) {
  TestResponder responder(pki_, {});
  auto r = Send(responder.address(), "--server-name collector.example");
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_NE(r.err.find("certificate is not accepted"), std::string::npos) << r.err;
  EXPECT_EQ(responder.frames(), 0);
  EXPECT_EQ(Spooled().size(), 1u);
  // By IP SAN and by DNS SAN it is accepted.
  EXPECT_EQ(Send(responder.address(), "--server-name localhost").code, kExitSent);
}

TEST_F(UplinkTest, ServerCertificateFromAnotherCaIsRefused) {
  TestPki other;
  TestResponder responder(pki_, {}, &other.server());
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_EQ(responder.frames(), 0);
}

TEST_F(UplinkTest, ServerCertificateWithoutServerAuthIsRefused) {
  pki::CertRequest req;
  req.common_name = "127.0.0.1";
  req.role = pki::Role::kClient;  // EKU clientAuth only: OpenSSL's purpose check refuses it
  req.ip_addresses = {"127.0.0.1"};
  CertFiles client_only = pki_.Issue("client-as-server", req);
  {
    TestResponder responder(pki_, {}, &client_only);
    EXPECT_EQ(Send(responder.address()).code, kExitRefused);
    EXPECT_EQ(responder.frames(), 0);
  }
  req.role = pki::Role::kServer;
  req.omit_eku = true;  // no EKU at all passes that check; the agent requires serverAuth
  CertFiles no_eku = pki_.Issue("no-eku-server", req);
  TestResponder responder(pki_, {}, &no_eku);
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_NE(r.err.find("serverAuth"), std::string::npos) << r.err;
  EXPECT_EQ(responder.frames(), 0);
}

TEST_F(UplinkTest, CollectorRefusingOurCertificateExitsOne) {
  CertFiles foreign = pki_.ForeignAgent("web1");
  TestResponder responder(pki_, {});
  auto r = Send(responder.address(), "", &foreign);
  EXPECT_EQ(r.code, kExitRefused) << r.err;
  EXPECT_NE(r.err.find("refused the TLS session"), std::string::npos) << r.err;
  EXPECT_EQ(responder.frames(), 0);
}

TEST_F(UplinkTest, ReadableKeyOrBadIdentityIsAConfigurationError) {
  TestResponder responder(pki_, {});
  ASSERT_EQ(::chmod(agent_.key.c_str(), 0644), 0);
  auto r = Send(responder.address());
  EXPECT_EQ(r.code, kExitUsage) << r.err;
  EXPECT_NE(r.err.find(agent_.key), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(spool()));  // nothing collected
  CertFiles bad = pki_.Agent("bad host", "bad");
  EXPECT_EQ(Send(responder.address(), "", &bad).code, kExitUsage);
  // A FIFO in the certificate's place: refused at once, not waited on.
  ASSERT_EQ(::chmod(agent_.key.c_str(), 0600), 0);
  CertFiles fifo = agent_;
  fifo.cert = work_.Host("/agent.crt.fifo");
  ASSERT_EQ(::mkfifo(fifo.cert.c_str(), 0600), 0);
  auto r2 = Send(responder.address(), "", &fifo);
  EXPECT_EQ(r2.code, kExitUsage) << r2.err;
  EXPECT_NE(r2.err.find(fifo.cert + ": not a regular file"), std::string::npos) << r2.err;
  // And in the CA's place.
  std::string ca_fifo = work_.Host("/ca.crt.fifo");
  ASSERT_EQ(::mkfifo(ca_fifo.c_str(), 0600), 0);
  auto r3 = Send(responder.address(), "--ca " + ca_fifo);
  EXPECT_EQ(r3.code, kExitUsage) << r3.err;
  EXPECT_NE(r3.err.find(ca_fifo + ": not a regular file"), std::string::npos) << r3.err;
  EXPECT_EQ(responder.connections(), 0);
}

TEST_F(UplinkTest, UsageErrors) {
  Result r;
  r.code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " send --ca x", &r.out, &r.err);
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_NE(r.err.find("--collector is required"), std::string::npos) << r.err;
  EXPECT_EQ(Send("127.0.0.1", "").code, kExitUsage);  // no port
  EXPECT_EQ(Send("127.0.0.1:1", "--bogus").code, kExitUsage);
  r.code = testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " send --help", &r.out, &r.err);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--server-name"), std::string::npos);
}

TEST_F(UplinkTest, FullDiskIsAnErrorNotSilence) {
  TestResponder responder(pki_, {});
  // A file size limit stands in for a full disk (writes fail with EFBIG instead of ENOSPC).
  Result r;
  r.code = testing::RunCommand("trap '' XFSZ; ulimit -f 1; timeout 60 " +
                                   std::string(TIDEMARK_AGENT_BIN) + " send" +
                                   Flags(responder.address(), agent_),
                               &r.out, &r.err);
  EXPECT_EQ(r.code, kExitLocal) << r.err;
  EXPECT_NE(r.err.find("LOST"), std::string::npos) << r.err;
  EXPECT_TRUE(Spooled().empty());
}

// The daemon: collector down at first -> snapshots spool; collector up -> all delivered, once,
// oldest first; SIGTERM -> clean exit 0.
TEST_F(UplinkTest, RunSpoolsWhileDownAndDeliversWhenBack) {
  ClosedPort closed;
  int port = closed.port();
  std::string log = work_.Host("/run.log");
  std::string config = work_.Host("/agent.conf");
  std::string text = "collector = 127.0.0.1:" + std::to_string(port) + "\nca = " + pki_.ca_file() +
                     "\ncert = " + agent_.cert + "\nkey = " + agent_.key + "\nspool = " + spool() +
                     "\nonly = accounts\nroot = " + root_.path() +
                     "\ninterval = 1\njitter = 0\nbackoff_min = 1\nbackoff_max = 2\n";
  work_.Write("/agent.conf", text, 0600);
  // Declared before the agent's guard: on an early return the agent is killed first, so that
  // the responder's thread is not left waiting on the agent's open connection.
  std::optional<TestResponder> responder;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) ::dup2(fd, 2);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a test binary that dies takes the agent with it
    // The agent itself, not under timeout(1): timeout forwards SIGTERM and then sends SIGCONT
    // to its process group, and a SIGCONT that lands while LeakSanitizer stops the exiting
    // agent to scan it cancels that stop: both wait on each other for ever (seen under ASan
    // with load). The bounded wait below and the guard are the bound.
    ::execl(TIDEMARK_AGENT_BIN, "tidemark-agent", "run", "--config", config.c_str(), "--io-timeout",
            "10", static_cast<char*>(nullptr));
    _exit(127);
  }
  ChildGuard killer{pid};
  ASSERT_TRUE(WaitFor([&] { return Spooled().size() >= 2; }));
  const std::vector<std::string> while_down = Spooled();
  closed.Release();
  SetUsers(7);  // a later state, so that it is sent as a body again
  responder.emplace(pki_, ResponderScript{}, nullptr, port);
  // Every snapshot spooled while the collector was down is delivered. (Not "the spool is
  // empty": the agent goes on collecting every second, and on a loaded machine a collection may
  // always be in the spool when it is looked at.)
  auto delivered = [&] {
    std::vector<std::string> now = Spooled();
    return std::none_of(while_down.begin(), while_down.end(), [&](const std::string& n) {
      return std::binary_search(now.begin(), now.end(), n);
    });
  };
  ASSERT_TRUE(WaitFor([&] { return responder->stored().size() >= 2 && delivered(); }))
      << testing::ReadHostFile(log);
  ::kill(pid, SIGTERM);
  int code = WaitChild(pid, 60);
  killer.pid = -1;
  EXPECT_EQ(code, 0) << "-1: did not exit within 60 s of SIGTERM\n" << testing::ReadHostFile(log);
  // Every snapshot frame is a distinct snapshot: nothing stored twice, none lost.
  auto frames = responder->snapshot_frames();
  std::set<std::string> unique(frames.begin(), frames.end());
  EXPECT_EQ(unique.size(), frames.size());
  EXPECT_GE(responder->stored().size(), 2u);
  std::string logged = testing::ReadHostFile(log);
  EXPECT_NE(logged.find("next attempt in"), std::string::npos) << logged;
  EXPECT_NE(logged.find("stopping on a signal"), std::string::npos) << logged;
}

// A certificate renewed on disk is used from the next round on, without a restart.
TEST_F(UplinkTest, RunPicksUpARenewedCertificate) {
  TestResponder responder(pki_, {});
  std::string log = work_.Host("/run.log");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd =
        "exec " + std::string(TIDEMARK_AGENT_BIN) + " run" + Flags(responder.address(), agent_) +
        " --interval 1 --jitter 0 --backoff-min 1 --backoff-max 1 2>" + testing::ShellQuote(log);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ChildGuard guard{pid};
  ASSERT_TRUE(WaitFor([&] { return !responder.stored().empty(); })) << testing::ReadHostFile(log);
  CertFiles renewed = pki_.Agent("web2");
  ASSERT_TRUE(pki::WritePem(agent_.key, renewed.pair.key_pem, 0600).ok());
  ASSERT_TRUE(pki::WritePem(agent_.cert, renewed.pair.cert_pem, 0644).ok());
  SetUsers(3);
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& s : responder.stored()) {
      if (s.host_id == "web2" && s.peer_cn == "web2") return true;
    }
    return false;
  })) << testing::ReadHostFile(log);
  ::kill(pid, SIGTERM);
  EXPECT_EQ(WaitChild(pid, 60), 0) << "-1: did not exit within 60 s of SIGTERM\n"
                                   << testing::ReadHostFile(log);
  guard.pid = -1;
  EXPECT_NE(testing::ReadHostFile(log).find("reloaded the certificate files; host id web2"),
            std::string::npos);
}

}  // namespace
}  // namespace tidemark::agent::uplink
