// tidemark-collector as a process on 127.0.0.1: the protocol conversation, refused
// certificates, identity mismatch, malformed input beside a served agent, limits, key file
// permissions, SIGTERM and SIGHUP (docs/protocol.md, docs/collector.md).
#include "collector/server.h"

#include <openssl/ssl.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "collector/signals.h"
#include "collector/tls_stream.h"
#include "common/transport/openssl_ptr.h"
#include "tests/collector/collector_fixture.h"
#include "tests/collector/store_damage.h"

namespace tidemark::testing {
namespace {

using collector::TlsStream;
using protocol::FrameType;

void ExpectAck(const std::optional<ReceivedFrame>& f, const std::string& id,
               const std::string& result) {
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->type, FrameType::kAck) << f->payload;
  EXPECT_EQ(f->json.value("snapshot_id", ""), id);
  EXPECT_EQ(f->json.value("result", ""), result);
  EXPECT_FALSE(f->json.value("received_at", "").empty());
}

void ExpectError(const std::optional<ReceivedFrame>& f, const std::string& code) {
  ASSERT_TRUE(f.has_value());
  ASSERT_EQ(f->type, FrameType::kError) << f->payload;
  EXPECT_EQ(f->json.value("code", ""), code) << f->payload;
}

// The collector closed `c` after a transient `busy` (its first frame): the agent keeps its
// snapshot and tries again later.
void ExpectClosedBusy(TlsTestClient& c, const std::string& log) {
  EXPECT_TRUE(c.WaitClosed());
  ASSERT_FALSE(c.last_frames.empty()) << log;
  EXPECT_EQ(c.last_frames[0].json.value("code", ""), "busy");
  EXPECT_FALSE(c.last_frames[0].json.value("permanent", true));
}

// Sends `s` on `c` and expects it stored.
void ExpectStored(TlsTestClient& c, const TestSnapshot& s) {
  ASSERT_TRUE(c.SendRaw(SnapshotFrame(s)));
  ExpectAck(c.ReadFrame(), s.id, "stored");
}

using CollectorServerTest = CollectorFixture;

TEST_F(CollectorServerTest, StoresDuplicateSeenOfferAndShow) {
  // Keys from a config file, the rest as flags.
  dir_.Write("/collector.conf", "# test\nca = " + pki_.ca_file() +
                                    "\ncert = " + pki_.server().cert +
                                    "\nkey = " + pki_.server().key + "\nmax_connections = 50\n");
  ASSERT_TRUE(proc_.Start(
      {"--config", dir_.Host("/collector.conf"), "--listen", "127.0.0.1:0", "--db", db_}))
      << proc_.Log();
  auto agent = pki_.Agent("web1");
  auto c = Connect(&agent);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Version(), "TLSv1.3");
  auto w = c->Hello();
  ASSERT_TRUE(w.has_value()) << proc_.Log();
  ASSERT_EQ(w->type, FrameType::kWelcome) << w->payload;
  EXPECT_EQ(w->json.value("host", ""), "web1");
  EXPECT_EQ(w->json.value("protocol", 0), 1);
  EXPECT_EQ(w->json.value("max_frame_bytes", 0u), protocol::kDefaultMaxFrameBytes);

  auto a = MakeTestSnapshot("web1", "A", "web1-20261128T190000Z-0000000000000001");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(a)));
  ExpectAck(c->ReadFrame(), a.id, "stored");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(a)));  // a re-send after a lost ack
  ExpectAck(c->ReadFrame(), a.id, "duplicate");
  auto a2 = a;
  a2.id = "web1-20261128T190100Z-0000000000000002";
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(a2)));  // same state, new id
  ExpectAck(c->ReadFrame(), a2.id, "seen");

  // The unchanged path: offer the hash only.
  protocol::Offer offer{"web1-20261128T190200Z-0000000000000003", a.hash, "2026-11-28T19:02:00Z"};
  ASSERT_TRUE(c->SendJson(FrameType::kOffer, protocol::ToJson(offer)));
  ExpectAck(c->ReadFrame(), offer.snapshot_id, "seen");
  auto b = MakeTestSnapshot("web1", "B", "web1-20261128T190300Z-0000000000000004");
  protocol::Offer offer_b{b.id, b.hash, "2026-11-28T19:03:00Z"};
  ASSERT_TRUE(c->SendJson(FrameType::kOffer, protocol::ToJson(offer_b)));
  auto sb = c->ReadFrame();
  ASSERT_TRUE(sb.has_value());
  ASSERT_EQ(sb->type, FrameType::kSendBody) << sb->payload;
  EXPECT_EQ(sb->json.value("snapshot_id", ""), b.id);
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(b)));
  ExpectAck(c->ReadFrame(), b.id, "stored");
  c.reset();

  std::string out;
  ASSERT_EQ(Ctl("show web1 --format json", &out), 0) << out;
  auto shown = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(shown.is_discarded()) << out;
  EXPECT_EQ(shown["snapshot"]["sysctl"].value("value", ""), "B") << out;
  EXPECT_NE(out.find(b.hash), std::string::npos) << out;
  ASSERT_EQ(Ctl("history web1", &out), 0) << out;
  for (const auto* id : {a.id.c_str(), a2.id.c_str(), offer.snapshot_id.c_str(), b.id.c_str()}) {
    EXPECT_NE(out.find(id), std::string::npos) << id << "\n" << out;
  }
  ASSERT_EQ(Ctl("hosts --format json", &out), 0) << out;
  EXPECT_NE(out.find("web1"), std::string::npos) << out;
  EXPECT_TRUE(proc_.HasLogLine({"info hello", "host=web1", "agent_version=0.1.0-test"}))
      << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"info ack", "host=web1", "result=stored"})) << proc_.Log();
}

TEST_F(CollectorServerTest, ConcurrentAgentsAreAllStoredOnce) {
  // Several connections at once: their snapshots share commits on the store thread (group
  // commit); each gets its own ack, and every snapshot is stored exactly once.
  StartCollector();
  constexpr int kAgents = 6;
  constexpr int kEach = 5;
  std::vector<CertFiles> certs;
  for (int i = 0; i < kAgents; ++i) certs.push_back(pki_.Agent("par" + std::to_string(i)));
  std::vector<int> acked(kAgents, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kAgents; ++i) {
    threads.emplace_back([&, i] {
      std::string error;
      auto c = TlsTestClient::Connect(proc_.port(), Options(&certs[i]), &error);
      if (c == nullptr) return;
      auto w = c->Hello();
      if (!w || w->type != FrameType::kWelcome) return;
      std::string host = "par" + std::to_string(i);
      for (int k = 0; k < kEach; ++k) {
        auto s = MakeTestSnapshot(host, std::to_string(k), host + "-" + std::to_string(k));
        if (!c->SendRaw(SnapshotFrame(s))) return;
        auto f = c->ReadFrame();
        if (f && f->type == FrameType::kAck && f->json.value("result", "") == "stored") {
          ++acked[i];
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kAgents; ++i) EXPECT_EQ(acked[i], kEach) << i << "\n" << proc_.Log();
  std::string out;
  ASSERT_EQ(Ctl("hosts --format json", &out), 0) << out;
  auto hosts = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(hosts.contains("hosts") && hosts["hosts"].is_array()) << out;
  EXPECT_EQ(hosts["hosts"].size(), static_cast<size_t>(kAgents)) << out;
  int total = 0;
  for (const auto& h : hosts["hosts"]) total += h.value("snapshots", 0);
  EXPECT_EQ(total, kAgents * kEach) << out;
}

TEST_F(CollectorServerTest, RefusesBadCertificatesWithALogLineEach) {
  auto good = pki_.Agent("good1");
  auto revoked = pki_.Agent("revoked1");
  std::string crl = pki_.WriteCrl({&revoked});
  // A long shutdown timeout: a refused connection that lingered (a leak) would hold the exit.
  StartCollector({"--crl", crl, "--shutdown-timeout", "120"});

  pki::CertRequest expired_req;
  expired_req.common_name = "old1";
  expired_req.not_before = std::time(nullptr) - 10 * 86400;
  expired_req.not_after = std::time(nullptr) - 86400;
  auto expired = pki_.Issue("expired", expired_req);
  pki::CertRequest future_req;
  future_req.common_name = "future1";
  future_req.not_before = std::time(nullptr) + 86400;
  future_req.not_after = std::time(nullptr) + 10 * 86400;
  auto future = pki_.Issue("future", future_req);
  pki::CertRequest no_eku_req;
  no_eku_req.common_name = "noeku1";
  no_eku_req.omit_eku = true;
  auto no_eku = pki_.Issue("noeku", no_eku_req);
  pki::CertRequest server_req;
  server_req.common_name = "srv1";
  server_req.role = pki::Role::kServer;
  server_req.dns_names = {"srv1"};
  auto server_cert = pki_.Issue("server-as-client", server_req);
  auto bad_cn = pki_.Agent("web1/../x", "badcn");
  auto foreign = pki_.ForeignAgent("web1");

  struct Case {
    const char* name;
    const CertFiles* cert;
    const char* reason;
  };
  const Case cases[] = {
      {"no client certificate", nullptr, "reason=\"no client certificate\""},
      {"foreign CA", &foreign, "unable to get local issuer certificate"},
      {"expired", &expired, "certificate has expired"},
      {"not yet valid", &future, "certificate is not yet valid"},
      {"revoked", &revoked, "certificate revoked"},
      {"no EKU", &no_eku, "no extended key usage"},
      {"server certificate", &server_cert, "unsuitable certificate purpose"},
      {"bad CN", &bad_cn, "commonName is not a valid host id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(Refused(c.cert));
    EXPECT_TRUE(proc_.WaitLog({"warning handshake_refused", "peer=127.0.0.1:", c.reason}))
        << proc_.Log();
  }
  // The good agent is still served, and nothing was stored for the refused ones.
  auto ok = ConnectAgent(good);
  ASSERT_NE(ok, nullptr);
  std::string out;
  EXPECT_EQ(Ctl("hosts", &out), 0) << out;
  EXPECT_NE(out.find("good1"), std::string::npos) << out;
  for (const auto* h : {"revoked1", "old1", "future1", "noeku1", "srv1"}) {
    EXPECT_EQ(out.find(h), std::string::npos) << h << "\n" << out;
  }
  ok.reset();
  proc_.Signal(SIGTERM);
  EXPECT_EQ(proc_.Wait(60), 0) << proc_.Log();
  EXPECT_FALSE(proc_.HasLogLine({"shutdown_timeout"})) << proc_.Log();
}

TEST_F(CollectorServerTest, APeerCannotFloodTheLog) {
  // Any peer could write a warning line per connection (a handshake without a certificate) as
  // fast as it could connect, past journald's rate limit, which then drops the collector's other
  // lines too. Now one source gets 50 lines of one event, then one a second, and the rest is
  // counted in log_suppressed lines.
  StartCollector();
  constexpr int kFlood = 120;
  for (int i = 0; i < kFlood; ++i) ASSERT_TRUE(Refused(nullptr));
  ASSERT_TRUE(proc_.WaitLog({"warning log_suppressed", "event=handshake_refused"})) << proc_.Log();
  // Other sources are still heard.
  auto cert = pki_.Agent("heard");
  ASSERT_NE(ConnectAgent(cert), nullptr);
  EXPECT_TRUE(proc_.WaitLog({"info connection_accepted", "host=heard"})) << proc_.Log();
  proc_.Signal(SIGTERM);  // says what is still counted
  ASSERT_EQ(proc_.Wait(60), 0) << proc_.Log();
  int written = 0;
  int suppressed = 0;
  std::istringstream log(proc_.Log());
  for (std::string line; std::getline(log, line);) {
    if (line.find("warning handshake_refused") != std::string::npos) ++written;
    const std::string counted = "warning log_suppressed event=handshake_refused lines=";
    if (size_t at = line.find(counted); at != std::string::npos) {
      suppressed += std::stoi(line.substr(at + counted.size()));
    }
  }
  EXPECT_GE(written, 50) << proc_.Log();
  EXPECT_LT(written, kFlood) << proc_.Log();
  EXPECT_EQ(written + suppressed, kFlood) << proc_.Log();
}

TEST_F(CollectorServerTest, CertificateAWithSnapshotOfBIsRefusedAndNothingStored) {
  StartCollector();
  auto agent = pki_.Agent("hosta");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto forged = MakeTestSnapshot("hostb", "A", "hostb-20261128T190000Z-00000000000000aa");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(forged)));
  auto e = c->ReadFrame();
  ExpectError(e, "identity_mismatch");
  ASSERT_TRUE(e.has_value()) << proc_.Log();
  EXPECT_TRUE(e->json.value("permanent", false));
  EXPECT_EQ(e->json.value("snapshot_id", ""), forged.id);
  EXPECT_TRUE(proc_.WaitLog(
      {"warning snapshot_refused", "host=hosta", "code=identity_mismatch", forged.id}))
      << proc_.Log();
  // The connection stays usable: its own snapshot is stored.
  auto own = MakeTestSnapshot("hosta", "A", "hosta-20261128T190000Z-00000000000000ab");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(own)));
  ExpectAck(c->ReadFrame(), own.id, "stored");
  c.reset();
  std::string out;
  EXPECT_NE(Ctl("show hostb", &out), 0) << out;
  ASSERT_EQ(Ctl("history hosta", &out), 0) << out;
  EXPECT_EQ(out.find(forged.id), std::string::npos) << out;
  EXPECT_NE(out.find(own.id), std::string::npos) << out;
}

TEST_F(CollectorServerTest, BadSnapshotsAreRefusedPermanentlyConnectionStays) {
  StartCollector();
  auto agent = pki_.Agent("web2");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto s = MakeTestSnapshot("web2", "A", "web2-1");
  // A hash in the frame that is not the document's.
  auto wrong = s;
  wrong.hash = "sha256:" + std::string(64, '0');
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(wrong)));
  ExpectError(c->ReadFrame(), "bad_snapshot");
  // A document that does not decode.
  ASSERT_TRUE(c->SendRaw(protocol::EncodeSnapshotFrame("web2-2", s.hash, "{\"not\":1}")));
  ExpectError(c->ReadFrame(), "bad_snapshot");
  // A bad snapshot id.
  ASSERT_TRUE(c->SendRaw(protocol::EncodeSnapshotFrame("bad id/..", s.hash, s.text)));
  ExpectError(c->ReadFrame(), "bad_snapshot");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(s)));
  ExpectAck(c->ReadFrame(), s.id, "stored");
}

TEST_F(CollectorServerTest, ProtocolErrorsCloseTheConnection) {
  StartCollector();
  auto agent = pki_.Agent("web3");
  {  // a snapshot before hello
    auto c = Connect(&agent);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SendRaw(SnapshotFrame(MakeTestSnapshot("web3", "A", "web3-1"))));
    ExpectError(c->ReadFrame(), "protocol");
    EXPECT_TRUE(c->WaitClosed());
  }
  {  // hello that is not JSON
    auto c = Connect(&agent);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SendFrame(FrameType::kHello, "{not json"));
    ExpectError(c->ReadFrame(), "malformed_frame");
    EXPECT_TRUE(c->WaitClosed());
  }
  {  // an ack from an agent
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->SendFrame(FrameType::kAck, "{}"));
    ExpectError(c->ReadFrame(), "protocol");
    EXPECT_TRUE(c->WaitClosed());
  }
  EXPECT_TRUE(proc_.HasLogLine({"frame_rejected", "code=protocol", "snapshot before hello"}))
      << proc_.Log();
}

TEST_F(CollectorServerTest, MalformedPeersAreClosedWhileAnotherAgentIsServed) {
  StartCollector({"--max-frame-bytes", "65536", "--handshake-timeout", "1"});
  auto agent = pki_.Agent("steady");
  auto good = ConnectAgent(agent);
  ASSERT_NE(good, nullptr);

  auto bad_agent = pki_.Agent("noisy");
  // A peer that never starts TLS: closed at the handshake timeout.
  auto silent = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(silent, nullptr);
  // A peer that speaks something else than TLS.
  auto http = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(http, nullptr);
  ASSERT_TRUE(http->Send("GET / HTTP/1.0\r\n\r\n"));
  // Garbage inside TLS.
  auto garbage = ConnectAgent(bad_agent);
  ASSERT_NE(garbage, nullptr);
  ASSERT_TRUE(garbage->SendRaw("GET / HTTP/1.0\r\n\r\n"));
  // A frame over the limit.
  auto big = ConnectAgent(bad_agent);
  ASSERT_NE(big, nullptr);
  auto header = protocol::EncodeHeader(FrameType::kSnapshot, 1u << 20);
  ASSERT_TRUE(big->SendRaw(std::string(header.begin(), header.end())));
  // A truncated frame, then the peer closes.
  {
    auto truncated = ConnectAgent(bad_agent);
    ASSERT_NE(truncated, nullptr);
    auto h = protocol::EncodeHeader(FrameType::kSnapshot, 1000);
    ASSERT_TRUE(truncated->SendRaw(std::string(h.begin(), h.end()) + "0123456789"));
  }

  // Meanwhile the steady agent is served.
  auto s = MakeTestSnapshot("steady", "A", "steady-1");
  ASSERT_TRUE(good->SendRaw(SnapshotFrame(s)));
  ExpectAck(good->ReadFrame(), s.id, "stored");

  EXPECT_TRUE(garbage->WaitClosed());
  ASSERT_FALSE(garbage->last_frames.empty());
  EXPECT_EQ(garbage->last_frames[0].json.value("code", ""), "malformed_frame");
  EXPECT_TRUE(big->WaitClosed());
  ASSERT_FALSE(big->last_frames.empty());
  EXPECT_EQ(big->last_frames[0].json.value("code", ""), "frame_too_large");
  EXPECT_TRUE(big->last_frames[0].json.value("permanent", false));
  EXPECT_TRUE(silent->WaitClosed(20));
  EXPECT_TRUE(http->WaitClosed(20));

  EXPECT_TRUE(proc_.WaitLog({"warning frame_rejected", "host=noisy", "code=malformed_frame"}))
      << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning frame_rejected", "host=noisy", "code=frame_too_large"}))
      << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning frame_truncated", "host=noisy", "expected=1000"}))
      << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning handshake_timeout", "peer=127.0.0.1:"})) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning handshake_refused", "peer=127.0.0.1:"})) << proc_.Log();

  // Still served afterwards.
  auto s2 = MakeTestSnapshot("steady", "B", "steady-2");
  ASSERT_TRUE(good->SendRaw(SnapshotFrame(s2)));
  ExpectAck(good->ReadFrame(), s2.id, "stored");
}

TEST_F(CollectorServerTest, FullDiskIsAStoreFailureNothingAckedAndTheCollectorStays) {
  // The store's files may not grow past 256 KiB (RLIMIT_FSIZE): a large snapshot meets
  // "disk full" on commit. It must get a transient store_failed (the agent keeps it spooled),
  // never an ack; the collector keeps serving.
  proc_.set_max_file_bytes(256 * 1024);
  StartCollector();
  auto agent = pki_.Agent("web1");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto small = MakeTestSnapshot("web1", "small", "web1-20261128T190000Z-00000000000000a1");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(small)));
  ExpectAck(c->ReadFrame(), small.id, "stored");

  // 1 MiB of random hex: about 512 KiB after zstd, twice what the file may hold.
  std::string noise;
  unsigned char buf[4096];
  std::FILE* urandom = std::fopen("/dev/urandom", "rb");
  ASSERT_NE(urandom, nullptr);
  static const char kHex[] = "0123456789abcdef";
  while (noise.size() < (1u << 20)) {
    ASSERT_EQ(std::fread(buf, 1, sizeof buf, urandom), sizeof buf);
    for (unsigned char b : buf) noise += kHex[b & 15];
  }
  std::fclose(urandom);
  auto big = MakeTestSnapshot("web1", noise, "web1-20261128T190100Z-00000000000000a2");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(big)));
  auto reply = c->ReadFrame();
  ASSERT_TRUE(reply.has_value()) << proc_.Log();
  ASSERT_EQ(reply->type, FrameType::kError) << reply->payload;
  EXPECT_EQ(reply->json.value("code", ""), "store_failed") << reply->payload;
  EXPECT_FALSE(reply->json.value("permanent", true));
  EXPECT_TRUE(proc_.WaitLog({"store_commit_failed"})) << proc_.Log();

  // Still serving, on the same connection and on a new one; the big one was not stored.
  auto small2 = MakeTestSnapshot("web1", "small2", "web1-20261128T190200Z-00000000000000a3");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(small2)));
  ExpectAck(c->ReadFrame(), small2.id, "stored");
  auto c2 = ConnectAgent(agent);
  ASSERT_NE(c2, nullptr);
  std::string out;
  ASSERT_EQ(Ctl("history web1", &out), 0) << out;
  EXPECT_NE(out.find(small.id), std::string::npos) << out;
  EXPECT_NE(out.find(small2.id), std::string::npos) << out;
  EXPECT_EQ(out.find(big.id), std::string::npos) << out;
}

TEST_F(CollectorServerTest, IdleConnectionIsClosed) {
  StartCollector({"--idle-timeout", "1"});
  auto agent = pki_.Agent("idle1");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->WaitClosed(20));
  EXPECT_TRUE(proc_.WaitLog({"warning idle_timeout", "host=idle1"})) << proc_.Log();
}

TEST_F(CollectorServerTest, OverMaxConnectionsGetsBusy) {
  StartCollector({"--max-connections", "1"});
  auto agent = pki_.Agent("first");
  auto first = ConnectAgent(agent);
  ASSERT_NE(first, nullptr);
  auto second_cert = pki_.Agent("second");
  auto second = Connect(&second_cert);
  ASSERT_NE(second, nullptr);
  ExpectClosedBusy(*second, proc_.Log());
  EXPECT_TRUE(proc_.WaitLog({"connection_refused", "reason=max_connections"})) << proc_.Log();
  // The first connection is unaffected; once it is gone, a new one is accepted.
  auto s = MakeTestSnapshot("first", "A", "first-1");
  ASSERT_TRUE(first->SendRaw(SnapshotFrame(s)));
  ExpectAck(first->ReadFrame(), s.id, "stored");
  first.reset();
  ASSERT_TRUE(proc_.WaitLog({"connection_closed", "host=first"})) << proc_.Log();
  EXPECT_NE(ConnectAgent(second_cert), nullptr);
}

// Waits (up to 20 s) until `n` lines of `proc`'s log contain `needle`.
bool WaitLogCount(const CollectorProcess& proc, const std::string& needle, int n) {
  for (int i = 0; i < 200; ++i) {
    std::istringstream log(proc.Log());
    int found = 0;
    for (std::string line; std::getline(log, line);) found += line.find(needle) != line.npos;
    if (found >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The number written as `key=N` (or "(N)" after `key`) on the first line of `proc`'s log that
// contains `needle`; -1 when there is none.
int64_t LogNumber(const CollectorProcess& proc, const std::string& needle, const std::string& key) {
  std::istringstream log(proc.Log());
  for (std::string line; std::getline(log, line);) {
    if (line.find(needle) == line.npos) continue;
    size_t at = line.find(key);
    if (at == line.npos) return -1;
    at = line.find_first_of("0123456789", at + key.size());
    return at == line.npos ? -1 : std::stoll(line.substr(at));
  }
  return -1;
}

TEST_F(CollectorServerTest, OneSourceCannotHoldEveryConnectionSlotWithHandshakes) {
  // Anyone who reaches the port could open max_connections connections, never finish their
  // handshakes and open them again at each handshake_timeout: no agent got a connection. Now one
  // source (an IPv4 address, an IPv6 /64) has at most max_source_handshakes in progress.
  StartCollector({"--max-source-handshakes", "3", "--handshake-timeout", "60"});
  std::vector<std::unique_ptr<RawTcpClient>> silent;
  for (int i = 0; i < 3; ++i) {
    silent.push_back(RawTcpClient::Connect(proc_.port()));
    ASSERT_NE(silent.back(), nullptr);
  }
  auto fourth = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(fourth, nullptr);
  EXPECT_TRUE(fourth->WaitClosed(20)) << proc_.Log();  // at once, not after 60 s
  EXPECT_TRUE(proc_.WaitLog({"warning connection_refused",
                             "peer=127.0.0.1:", "reason=max_source_handshakes", "handshakes=3"}))
      << proc_.Log();
  // An agent at the same source waits for a place; one at another source is served.
  auto agent = pki_.Agent("elsewhere");
  EXPECT_TRUE(Refused(&agent)) << proc_.Log();
  TlsClientOptions from_other = Options(&agent);
  from_other.source = "127.0.0.2";
  std::string error;
  auto other = TlsTestClient::Connect(proc_.port(), from_other, &error);
  ASSERT_NE(other, nullptr) << error << proc_.Log();
  auto welcome = other->Hello();
  ASSERT_TRUE(welcome.has_value()) << proc_.Log();
  EXPECT_EQ(welcome->type, FrameType::kWelcome) << welcome->payload;
  ExpectStored(*other, MakeTestSnapshot("elsewhere", "A", "elsewhere-1"));
  // A handshake that fails gives its place back: the silent peers leave (three refusals).
  silent.clear();
  ASSERT_TRUE(WaitLogCount(proc_, "peer closed the connection during the handshake", 3))
      << proc_.Log();
  // And so does one that succeeds: more connections than the limit, each past its handshake.
  std::vector<std::unique_ptr<TlsTestClient>> agents;
  for (int i = 0; i < 5; ++i) {
    agents.push_back(ConnectAgent(agent));
    ASSERT_NE(agents.back(), nullptr) << i << proc_.Log();
  }
}

TEST_F(CollectorServerTest, OneSourceCannotKeepTheCollectorHandshaking) {
  // A peer that started handshakes and dropped them as fast as it could kept the collector's
  // cores busy with key exchanges and signatures. Now a source's new connections pass a token
  // bucket (source_connection_burst at once, then source_connection_rate a second).
  StartCollector({"--source-connection-rate", "1", "--source-connection-burst", "3"});
  auto agent = pki_.Agent("steady");
  std::vector<std::unique_ptr<TlsTestClient>> served;
  for (int i = 0; i < 3; ++i) {
    served.push_back(ConnectAgent(agent));
    ASSERT_NE(served.back(), nullptr) << i << proc_.Log();
  }
  auto fourth = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(fourth, nullptr);
  EXPECT_TRUE(fourth->WaitClosed(20)) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog(
      {"warning connection_refused", "peer=127.0.0.1:", "reason=source_connection_rate"}))
      << proc_.Log();
  // Another source has its own bucket; this one's refills at one a second.
  TlsClientOptions from_other = Options(&agent);
  from_other.source = "127.0.0.2";
  std::string error;
  auto other = TlsTestClient::Connect(proc_.port(), from_other, &error);
  EXPECT_NE(other, nullptr) << error << proc_.Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_NE(ConnectAgent(agent), nullptr) << proc_.Log();
  // The connections it has are not touched.
  ExpectStored(*served[0], MakeTestSnapshot("steady", "A", "steady-1"));
}

TEST_F(CollectorServerTest, KeyUpdateFloodsAreCut) {
  // OpenSSL processes any number of TLS 1.3 KeyUpdate messages, no application data needed: one
  // agent connection that sent them in a loop kept half a core busy, outside every frame limit.
  StartCollector();
  auto agent = pki_.Agent("rekey");
  // A few are fine (TLS allows them; an agent sends none): the connection goes on.
  auto modest = ConnectAgent(agent);
  ASSERT_NE(modest, nullptr);
  ASSERT_EQ(modest->SendKeyUpdates(10), 10);
  ExpectStored(*modest, MakeTestSnapshot("rekey", "A", "rekey-1"));
  // A flood is cut: the collector closes the connection and says why.
  auto flood = ConnectAgent(agent);
  ASSERT_NE(flood, nullptr);
  // (They fit in the sockets' buffers, so the client's writes may all succeed.)
  flood->SendKeyUpdates(100000);
  EXPECT_TRUE(flood->WaitClosed()) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning tls_flood", "host=rekey", "kind=key_updates"}))
      << proc_.Log();
  // Cut at the bound, not after what the socket held: OpenSSL handled a whole burst (here all
  // 100,000) in one read while the connection's thread served no one else.
  EXPECT_LE(LogNumber(proc_, "kind=key_updates", "key_updates="),
            TlsStream::kMaxKeyUpdates + TlsStream::kRecordsPerTurn)
      << proc_.Log();
  ExpectStored(*modest, MakeTestSnapshot("rekey", "B", "rekey-2"));
}

TEST_F(CollectorServerTest, FramesInTinyTlsRecordsAreCut) {
  // Every TLS record costs a decryption and OpenSSL's record processing whatever it holds: a
  // snapshot sent in one-byte records cost the collector about 2.8 us of CPU per byte, outside
  // the frame and byte limits. Records must average kMinRecordBytes (after an allowance).
  StartCollector();
  auto agent = pki_.Agent("tiny");
  auto snapshot = MakeTestSnapshot("tiny", "A", "tiny-1");
  const std::string frame = SnapshotFrame(snapshot);
  // Records of 512 bytes are served.
  auto fine = ConnectAgent(agent);
  ASSERT_NE(fine, nullptr);
  ASSERT_TRUE(fine->SendInRecords(frame, 512));
  ExpectAck(fine->ReadFrame(), snapshot.id, "stored");
  // One-byte records are cut long before the frame ends.
  auto tiny = ConnectAgent(agent);
  ASSERT_NE(tiny, nullptr);
  auto other = MakeTestSnapshot("tiny", "B", "tiny-2");
  tiny->SendInRecords(SnapshotFrame(other), 1);
  EXPECT_TRUE(tiny->WaitClosed()) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning tls_flood", "host=tiny", "kind=small_records"}))
      << proc_.Log();
  std::string out;
  ASSERT_EQ(Ctl("history tiny", &out), 0) << out;
  EXPECT_EQ(out.find(other.id), std::string::npos) << out;
}

// An OpenSSL client's first flight (its ClientHello record), made in memory.
std::string ClientHello() {
  openssl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  openssl::SslPtr ssl(SSL_new(ctx.get()));
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both
  SSL_connect(ssl.get());           // wants to read the server's answer
  char* data = nullptr;
  long n = BIO_get_mem_data(out, &data);
  return std::string(data, static_cast<size_t>(n));
}

TEST_F(CollectorServerTest, AClientHelloInTinyRecordsIsCutBeforeAnyCertificate) {
  // TLS lets a handshake message span records, and OpenSSL reassembles a ClientHello of up to
  // 128 KiB from records of one byte each: a peer without a certificate had the collector
  // process a record per byte. The record bound holds from the first byte.
  StartCollector({"--handshake-timeout", "60"});
  std::string hello = ClientHello();
  ASSERT_GT(hello.size(), 5u + 100u);
  ASSERT_EQ(hello[0], 0x16);  // one handshake record
  std::string body = hello.substr(5);
  std::string fragmented;
  for (char c : body) fragmented += std::string("\x16\x03\x01\x00\x01", 5) + c;
  auto peer = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(peer, nullptr);
  peer->Send(fragmented);
  EXPECT_TRUE(peer->WaitClosed(20)) << proc_.Log();  // not at the 60 s handshake timeout
  EXPECT_TRUE(proc_.WaitLog({"warning handshake_refused", "too many TLS records"})) << proc_.Log();
  // Cut at the bound, not after the whole ClientHello: one handshake step handled every record
  // the socket held.
  EXPECT_LE(LogNumber(proc_, "too many TLS records", "records"),
            TlsStream::kBaseRecords + TlsStream::kRecordsPerTurn)
      << proc_.Log();
}

TEST_F(CollectorServerTest, AHandshakeThatTimesOutGivesItsPlaceBack) {
  StartCollector({"--max-source-handshakes", "2", "--handshake-timeout", "1"});
  auto a = RawTcpClient::Connect(proc_.port());
  auto b = RawTcpClient::Connect(proc_.port());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitLogCount(proc_, "warning handshake_timeout", 2)) << proc_.Log();
  auto agent = pki_.Agent("patient");
  EXPECT_NE(ConnectAgent(agent), nullptr) << proc_.Log();  // a and b are still open
  EXPECT_FALSE(proc_.HasLogLine({"reason=max_source_handshakes"})) << proc_.Log();
}

TEST_F(CollectorServerTest, OneHostCannotTakeEveryConnectionSlot) {
  // One certificate could open max_connections idle connections and hold them for the idle
  // timeout: every other agent got `busy`. Now a host holds at most max_host_connections.
  StartCollector({"--max-host-connections", "2", "--max-connections", "5"});
  auto hog = pki_.Agent("hog");
  auto a = ConnectAgent(hog);
  auto b = ConnectAgent(hog);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  auto c = Connect(&hog);
  ASSERT_NE(c, nullptr);
  ExpectClosedBusy(*c, proc_.Log());
  EXPECT_TRUE(proc_.WaitLog(
      {"connection_refused", "host=hog", "reason=max_host_connections", "connections=2"}))
      << proc_.Log();
  // The other agents have the slots it could not take.
  auto other_cert = pki_.Agent("other");
  auto other = ConnectAgent(other_cert);
  auto third_cert = pki_.Agent("third");
  auto third = ConnectAgent(third_cert);
  ASSERT_NE(other, nullptr) << proc_.Log();
  ASSERT_NE(third, nullptr) << proc_.Log();
  ExpectStored(*other, MakeTestSnapshot("other", "A", "other-1"));
  // Once one of the host's connections is gone, it may open another.
  a.reset();
  ASSERT_TRUE(proc_.WaitLog({"connection_closed", "host=hog"})) << proc_.Log();
  auto again = ConnectAgent(hog);
  ASSERT_NE(again, nullptr) << proc_.Log();
  ExpectStored(*again, MakeTestSnapshot("hog", "A", "hog-1"));
}

TEST_F(CollectorServerTest, OverMaxInflightBytesGetsBusy) {
  StartCollector({"--max-inflight-bytes", "4096"});
  auto agent = pki_.Agent("heavy");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto header = protocol::EncodeHeader(FrameType::kSnapshot, 5000);  // under max_frame_bytes
  ASSERT_TRUE(c->SendRaw(std::string(header.begin(), header.end())));
  EXPECT_TRUE(c->WaitClosed());
  ASSERT_FALSE(c->last_frames.empty()) << proc_.Log();
  EXPECT_EQ(c->last_frames[0].json.value("code", ""), "busy");
  EXPECT_TRUE(proc_.WaitLog({"frame_rejected", "host=heavy", "code=busy", "max_inflight_bytes"}))
      << proc_.Log();
  // The reservation was given back: a small snapshot still fits.
  auto again = ConnectAgent(agent);
  ASSERT_NE(again, nullptr);
  auto s = MakeTestSnapshot("heavy", "A", "heavy-1");
  ASSERT_LT(SnapshotFrame(s).size(), 4096u);
  ASSERT_TRUE(again->SendRaw(SnapshotFrame(s)));
  ExpectAck(again->ReadFrame(), s.id, "stored");
}

TEST_F(CollectorServerTest, SighupReloadsLimitsFromTheConfigFile) {
  std::string conf = dir_.Host("/limits.conf");
  dir_.Write("/limits.conf", "max_frame_bytes = 1048576\n");
  StartCollector({"--config", conf});
  auto agent = pki_.Agent("limited");
  auto c = Connect(&agent);
  ASSERT_NE(c, nullptr);
  auto w = c->Hello();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->json.value("max_frame_bytes", 0u), 1048576u);
  dir_.Write("/limits.conf", "max_frame_bytes = 65536\n");
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info reloaded", "max_frame_bytes=65536"})) << proc_.Log();
  auto c2 = Connect(&agent);
  ASSERT_NE(c2, nullptr);
  w = c2->Hello();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->json.value("max_frame_bytes", 0u), 65536u);
  // A bad value on reload is refused with the key named; the running limits stay.
  dir_.Write("/limits.conf", "max_frame_bytes = huge\n");
  proc_.Signal(SIGHUP);
  EXPECT_TRUE(proc_.WaitLog({"error reload_failed", "max_frame_bytes"})) << proc_.Log();
}

TEST_F(CollectorServerTest, SighupReloadsThePerHostLimits) {
  // An administrator raises the per-host limits for a migration wave without a restart: the
  // new ones apply at once, to hosts that are at the old ones. Two hosts, so that no check
  // waits for a closed connection's slot: "wave" for connections, "flood" for bytes.
  std::string conf = dir_.Host("/limits.conf");
  dir_.Write("/limits.conf", "max_host_connections = 1\nmax_host_bytes_per_day = 20000\n");
  StartCollector({"--config", conf});
  auto wave = pki_.Agent("wave");
  auto held = ConnectAgent(wave);
  ASSERT_NE(held, nullptr);
  auto refused = Connect(&wave);
  ASSERT_NE(refused, nullptr);
  ExpectClosedBusy(*refused, proc_.Log());
  auto flood = pki_.Agent("flood");
  auto f = ConnectAgent(flood);
  ASSERT_NE(f, nullptr);
  ExpectStored(*f, MakeTestSnapshot("flood", std::string(25000, 'a'), "flood-1"));  // overdraws
  ASSERT_TRUE(f->SendRaw(SnapshotFrame(MakeTestSnapshot("flood", "B", "flood-2"))));
  ExpectClosedBusy(*f, proc_.Log());
  ASSERT_TRUE(proc_.WaitLog({"frame_rejected", "host=flood", "max_host_bytes_per_day"}))
      << proc_.Log();

  dir_.Write("/limits.conf", "max_host_connections = 2\nmax_host_bytes_per_day = 0\n");
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(
      proc_.WaitLog({"info reloaded", "max_host_connections=2", "max_host_bytes_per_day=0"}))
      << proc_.Log();
  auto second = ConnectAgent(wave);  // beside `held`, which is still open
  ASSERT_NE(second, nullptr) << proc_.Log();
  ExpectStored(*second, MakeTestSnapshot("wave", "A", "wave-1"));
  auto again = ConnectAgent(flood);
  ASSERT_NE(again, nullptr) << proc_.Log();
  ExpectStored(*again, MakeTestSnapshot("flood", "B", "flood-2"));  // 0: no daily limit
}

// The collector judges what it stores against --policies (acks never wait for it); SIGHUP
// loads them again and re-judges the latest state; policies that do not load are refused at
// start (exit 1, the file named) and on reload (the running ones stay).
TEST_F(CollectorServerTest, JudgesWhatItStoresAndReloadsThePoliciesOnSighup) {
  auto rules = [&](const std::string& id, const std::string& severity) {
    dir_.Write("/policies/rules.yaml", "rules:\n  - id: " + id +
                                           "\n    title: Every host is reported\n" +
                                           "    severity: " + severity + "\n" +
                                           "    query: SELECT 'host:' || id AS id FROM host\n");
  };
  rules("shape-a", "low");
  std::string policies = dir_.Host("/policies");
  StartCollector({"--policies", policies});
  EXPECT_TRUE(proc_.HasLogLine({"info evaluation", "rules=1"})) << proc_.Log();
  auto agent = pki_.Agent("web1");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto a = MakeTestSnapshot("web1", "A", "web1-20261128T190000Z-0000000000000001");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(a)));
  ExpectAck(c->ReadFrame(), a.id, "stored");
  ASSERT_TRUE(proc_.WaitLog({"info evaluated", "host=web1", "rules=1", "fail=1"})) << proc_.Log();
  std::string out;
  EXPECT_EQ(Ctl("findings --fail-on low --format json", &out), 3) << out;
  auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  ASSERT_EQ(j["findings"].size(), 1u) << out;
  EXPECT_EQ(j["findings"][0]["rule"], "shape-a");
  EXPECT_EQ(j["findings"][0]["item"], "host:web1");  // the certificate's name

  rules("shape-b", "high");
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info evaluated", "host=web1", "rules=1", "fail=1"}, 20))
      << proc_.Log();
  // The log line waited for above may be the first judgement's: wait for the re-judgement
  // itself, by time (a loaded machine runs each tidemarkctl slowly), up to 30 s.
  for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
       std::chrono::steady_clock::now() < until;) {
    Ctl("findings --format json", &out);
    if (out.find("shape-b") != std::string::npos) break;
    usleep(100000);
  }
  EXPECT_EQ(Ctl("findings --format json", &out), 3) << out;
  EXPECT_NE(out.find("\"rule\": \"shape-b\""), std::string::npos) << out;
  EXPECT_EQ(out.find("shape-a"), std::string::npos) << out;

  dir_.Write("/policies/rules.yaml", "rules:\n  - id: broken\n    severity: grave\n");
  proc_.Signal(SIGHUP);
  EXPECT_TRUE(proc_.WaitLog({"error reload_failed", "rules.yaml"})) << proc_.Log();
  EXPECT_EQ(Ctl("findings --format json", &out), 3) << out;  // still judged by shape-b
  proc_.Signal(SIGTERM);
  EXPECT_EQ(proc_.Wait(20), 0);

  // At start, policies that do not load stop the collector with the file named.
  CollectorProcess again(dir_.Host("/again.log"));
  auto args = BaseArgs();
  args.insert(args.end(), {"--policies", policies});
  EXPECT_FALSE(again.Start(args));
  EXPECT_EQ(again.Wait(20), 1);
  EXPECT_NE(again.Log().find("rules.yaml"), std::string::npos) << again.Log();
}

TEST_F(CollectorServerTest, RefusesAKeyReadableByOthers) {
  std::string key = dir_.Host("/loose.key");
  dir_.Write("/loose.key", ReadHostFile(pki_.server().key), 0644);
  auto args = BaseArgs();
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--key") args[i + 1] = key;
  }
  EXPECT_FALSE(proc_.Start(args));
  EXPECT_EQ(proc_.exit_code(), 1);
  EXPECT_TRUE(proc_.HasLogLine({"error startup_failed", "loose.key"})) << proc_.Log();
  EXPECT_NE(proc_.Log().find("644"), std::string::npos) << proc_.Log();
}

// OpenSSL opens the certificate and the CA by name: a FIFO in their place ends the start with a
// clear error instead of stalling it.
TEST_F(CollectorServerTest, RefusesAFifoAsItsCertificateOrCa) {
  for (const std::string flag : {"--cert", "--ca"}) {
    std::string fifo = dir_.Host("/fifo" + flag);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto args = BaseArgs();
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == flag) args[i + 1] = fifo;
    }
    EXPECT_FALSE(proc_.Start(args)) << flag;
    EXPECT_EQ(proc_.exit_code(), 1) << flag;
    EXPECT_TRUE(proc_.HasLogLine({"error startup_failed", "fifo" + flag + ": not a regular file"}))
        << proc_.Log();
  }
}

// Run relies on main having blocked the stop and reload signals before any thread started
// (signals.h); where they are not blocked it refuses to run rather than let one kill it.
TEST_F(CollectorServerTest, RunRefusesSignalsThatAreNotBlocked) {
  using namespace collector;
  ASSERT_FALSE(ServerSignalsBlocked());  // gtest's main blocks nothing
  auto args = ParseCollectorArgs(BaseArgs());
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  auto server = Server::Create(*args);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ((*server)->Run(/*handle_signals=*/true), kExitInternal);
}

TEST_F(CollectorServerTest, SigtermStopsCleanly) {
  StartCollector();
  auto agent = pki_.Agent("term1");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto s = MakeTestSnapshot("term1", "A", "term1-1");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(s)));
  ExpectAck(c->ReadFrame(), s.id, "stored");
  proc_.Signal(SIGTERM);
  EXPECT_EQ(proc_.Wait(30), 0) << proc_.Log();
  EXPECT_TRUE(c->WaitClosed(5));
  EXPECT_TRUE(proc_.HasLogLine({"info stopping", "reason=SIGTERM"})) << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"info stopped"})) << proc_.Log();
  std::string out;
  EXPECT_EQ(Ctl("show term1", &out), 0) << out;
}

TEST_F(CollectorServerTest, SighupReloadsTheCrl) {
  auto agent = pki_.Agent("later-revoked");
  std::string crl = pki_.WriteCrl({});
  StartCollector({"--crl", crl});
  ASSERT_NE(ConnectAgent(agent), nullptr);
  pki_.WriteCrl({&agent});
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info reloaded", "crl="})) << proc_.Log();
  EXPECT_TRUE(Refused(&agent));
  EXPECT_TRUE(proc_.WaitLog({"handshake_refused", "certificate revoked"})) << proc_.Log();
  // A broken CRL on reload keeps the previous configuration.
  dir_.Write("/broken.pem", "not a crl");
  ::rename(dir_.Host("/broken.pem").c_str(), crl.c_str());
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"error reload_failed", "crl"})) << proc_.Log();
  auto other = pki_.Agent("still-fine");
  EXPECT_NE(ConnectAgent(other), nullptr);
  EXPECT_TRUE(Refused(&agent));
  // A FIFO in the CRL's place is refused at once: reading it would stall the reload.
  ASSERT_EQ(::unlink(crl.c_str()), 0);
  ASSERT_EQ(::mkfifo(crl.c_str(), 0600), 0);
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"error reload_failed", "not a regular file"})) << proc_.Log();
  auto third = pki_.Agent("after-the-fifo");
  EXPECT_NE(ConnectAgent(third), nullptr);
  EXPECT_TRUE(Refused(&agent));
}

TEST_F(CollectorServerTest, SpoolCountersFromHelloAreLogged) {
  StartCollector();
  auto agent = pki_.Agent("lossy");
  auto c = Connect(&agent);
  ASSERT_NE(c, nullptr);
  auto w = c->Hello(3, 1);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->type, FrameType::kWelcome);
  EXPECT_TRUE(proc_.WaitLog({"warning agent_spool_loss", "host=lossy", "dropped=3", "rejected=1"}))
      << proc_.Log();
}

TEST_F(CollectorServerTest, CertificateChangeIsLogged) {
  StartCollector();
  auto first = pki_.Agent("rekeyed", "rekeyed-1");
  ASSERT_NE(ConnectAgent(first), nullptr);
  auto second = pki_.Agent("rekeyed", "rekeyed-2");
  ASSERT_NE(ConnectAgent(second), nullptr);
  EXPECT_TRUE(proc_.WaitLog({"warning certificate_changed", "host=rekeyed", "fingerprint=sha256:"}))
      << proc_.Log();
}

TEST_F(CollectorServerTest, Tls12OnlyWhenEnabled) {
  auto agent = pki_.Agent("old-tls");
  auto opts = Options(&agent);
  opts.tls12_only = true;
  {
    StartCollector();
    std::string error;
    auto c = TlsTestClient::Connect(proc_.port(), opts, &error);
    EXPECT_EQ(c, nullptr);
    EXPECT_TRUE(proc_.WaitLog({"handshake_refused", "unsupported protocol"})) << proc_.Log();
    proc_.Signal(SIGTERM);
    ASSERT_EQ(proc_.Wait(30), 0);
  }
  StartCollector({"--tls12"});
  std::string error;
  auto c = TlsTestClient::Connect(proc_.port(), opts, &error);
  ASSERT_NE(c, nullptr) << error << proc_.Log();
  EXPECT_EQ(c->Version(), "TLSv1.2");
  auto w = c->Hello();
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->type, FrameType::kWelcome);
}

TEST_F(CollectorServerTest, UndecodableSnapshotIsRefusedPermanentlyAndTheCollectorLives) {
  // "hostname": 5 made DecodeSnapshot throw a JSON type error that nothing caught: the
  // collector aborted, and the agent's resend crashed it again. Whatever one frame throws is
  // a permanent refusal of that snapshot (or malformed_frame for another frame), never a crash.
  StartCollector();
  auto agent = pki_.Agent("web9");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto good = MakeTestSnapshot("web9", "A", "web9-20261128T190000Z-0000000000000001");
  auto doc = nlohmann::json::parse(good.text);
  doc["host"]["hostname"] = 5;
  std::string bad_id = "web9-20261128T190000Z-0000000000000002";
  ASSERT_TRUE(c->SendRaw(protocol::EncodeSnapshotFrame(bad_id, good.hash, doc.dump())));
  auto e = c->ReadFrame();
  ExpectError(e, "bad_snapshot");
  ASSERT_TRUE(e.has_value()) << proc_.Log();
  ASSERT_TRUE(e.has_value()) << proc_.Log();
  EXPECT_TRUE(e->json.value("permanent", false)) << e->payload;
  EXPECT_EQ(e->json.value("snapshot_id", ""), bad_id) << e->payload;
  EXPECT_TRUE(proc_.WaitLog({"snapshot_refused", "host=web9", "code=bad_snapshot", bad_id}))
      << proc_.Log();
  // The same connection goes on, and so does the collector.
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(good)));
  ExpectAck(c->ReadFrame(), good.id, "stored");
  // A hello whose fields have the wrong types: malformed (or protocol), never a crash.
  for (const char* hello : {R"({"protocol":"1","agent_version":5,"capabilities":7})",
                            R"({"protocol":1,"agent_version":["x"],"spool_dropped":"many"})",
                            R"([1,2,3])", R"("hello")"}) {
    SCOPED_TRACE(hello);
    auto h = Connect(&agent);
    ASSERT_NE(h, nullptr);
    ASSERT_TRUE(h->SendFrame(FrameType::kHello, hello));
    auto r = h->ReadFrame();
    ASSERT_TRUE(r.has_value()) << proc_.Log();
    if (r->type == FrameType::kError) {
      std::string code = r->json.value("code", "");
      EXPECT_TRUE(code == "malformed_frame" || code == "protocol") << r->payload;
    }
  }
  auto again = ConnectAgent(agent);
  ASSERT_NE(again, nullptr) << proc_.Log();
  EXPECT_FALSE(proc_.HasLogLine({"session_exception"})) << proc_.Log();
}

TEST_F(CollectorServerTest, HeadersOfHugeFramesDoNotBlockOtherAgents) {
  // Eight connections that each sent only the header of a 64 MiB frame reserved the whole
  // default budget (512 MiB): every other agent got `busy`, even for its hello. Bytes are now
  // budgeted as they arrive, so the others are served at once.
  StartCollector({"--frame-timeout", "30", "--max-host-connections", "16"});
  auto greedy = pki_.Agent("greedy");
  std::vector<std::unique_ptr<TlsTestClient>> hogs;
  auto header = protocol::EncodeHeader(FrameType::kSnapshot, 64u << 20);
  for (int i = 0; i < 9; ++i) {
    auto h = ConnectAgent(greedy);
    ASSERT_NE(h, nullptr);
    ASSERT_TRUE(h->SendRaw(std::string(header.begin(), header.end())));
    hogs.push_back(std::move(h));
  }
  ASSERT_TRUE(proc_.WaitLog({"info hello", "host=greedy"}));
  auto agent = pki_.Agent("modest");
  auto start = std::chrono::steady_clock::now();
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr) << proc_.Log();
  auto s = MakeTestSnapshot("modest", "A", "modest-1");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(s)));
  ExpectAck(c->ReadFrame(5), s.id, "stored");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_FALSE(proc_.HasLogLine({"code=busy"})) << proc_.Log();
}

TEST_F(CollectorServerTest, StalledOrTricklingFramesAreClosed) {
  StartCollector({"--frame-timeout", "1", "--min-frame-rate", "1000000"});
  auto agent = pki_.Agent("slow");
  {  // A payload that stops: closed after frame_timeout (before: only at the idle timeout).
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr);
    auto h = protocol::EncodeHeader(FrameType::kSnapshot, 100000);
    ASSERT_TRUE(c->SendRaw(std::string(h.begin(), h.end()) + std::string(100, 'x')));
    EXPECT_TRUE(c->WaitClosed(10));
    EXPECT_TRUE(proc_.WaitLog({"warning frame_stalled", "host=slow", "received=100"}))
        << proc_.Log();
  }
  {  // A header that stops part-way: closed after frame_timeout too (before: only at the idle
     // timeout, 600 s by default, holding a connection slot all along).
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr);
    auto h = protocol::EncodeHeader(FrameType::kSnapshot, 100000);
    ASSERT_TRUE(c->SendRaw(std::string(h.begin(), h.begin() + 3)));
    EXPECT_TRUE(c->WaitClosed(10));
    EXPECT_TRUE(proc_.WaitLog(
        {"warning frame_stalled", "host=slow", "part=header", "expected=8", "received=3"}))
        << proc_.Log();
  }
  {  // A payload that trickles: closed once it falls behind frame_timeout + length / rate.
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr);
    auto h = protocol::EncodeHeader(FrameType::kSnapshot, 2000000);  // 1 s + 2 s allowed
    ASSERT_TRUE(c->SendRaw(std::string(h.begin(), h.end())));
    for (int i = 0; i < 60 && !proc_.HasLogLine({"frame_too_slow"}); ++i) {
      if (!c->SendRaw(std::string(10, 'y'))) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the trickle itself
    }
    EXPECT_TRUE(c->WaitClosed(10));
    EXPECT_TRUE(proc_.WaitLog({"warning frame_too_slow", "host=slow", "expected=2000000"}))
        << proc_.Log();
  }
  auto ok = ConnectAgent(agent);
  ASSERT_NE(ok, nullptr);
  auto s = MakeTestSnapshot("slow", "A", "slow-1");
  ASSERT_TRUE(ok->SendRaw(SnapshotFrame(s)));
  ExpectAck(ok->ReadFrame(), s.id, "stored");
}

TEST_F(CollectorServerTest, OneHostCannotHoldMoreThanItsShare) {
  StartCollector({"--max-host-inflight-bytes", "100000"});
  auto agent = pki_.Agent("bulky");
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto big = MakeTestSnapshot("bulky", std::string(200000, 'z'), "bulky-1");
  // The collector refuses at the second chunk, while this is still being sent: the write may
  // fail and the busy frame may be lost to the reset, so the log is the witness.
  c->SendRaw(SnapshotFrame(big));
  EXPECT_TRUE(proc_.WaitLog({"frame_rejected", "host=bulky", "max_host_inflight_bytes"}))
      << proc_.Log();
  // Its budget was given back: a small snapshot is stored.
  auto again = ConnectAgent(agent);
  ASSERT_NE(again, nullptr);
  auto s = MakeTestSnapshot("bulky", "A", "bulky-2");
  ASSERT_TRUE(again->SendRaw(SnapshotFrame(s)));
  ExpectAck(again->ReadFrame(), s.id, "stored");
}

TEST_F(CollectorServerTest, OneHostCannotSendMoreThanItsDailyAllowance) {
  // A host with a valid certificate could send distinct snapshots (or offers, each a seen
  // record) without end, filling the store's disk and keeping the collector verifying. Now its
  // snapshot and offer frames count against max_host_bytes_per_day.
  StartCollector({"--max-host-bytes-per-day", "20000"});
  auto cert = pki_.Agent("chatty");
  auto c = ConnectAgent(cert);
  ASSERT_NE(c, nullptr);
  ExpectStored(*c, MakeTestSnapshot("chatty", std::string(12000, 'a'), "chatty-1"));
  // Some allowance is left: this one is taken, and overdraws it.
  auto second = MakeTestSnapshot("chatty", std::string(12000, 'b'), "chatty-2");
  ExpectStored(*c, second);
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(MakeTestSnapshot("chatty", "C", "chatty-3"))));
  ExpectClosedBusy(*c, proc_.Log());
  EXPECT_TRUE(proc_.WaitLog(
      {"frame_rejected", "host=chatty", "code=busy", "max_host_bytes_per_day", "type=snapshot"}))
      << proc_.Log();
  // An offer (a seen record) is refused too, on a new connection.
  auto again = ConnectAgent(cert);
  ASSERT_NE(again, nullptr);
  protocol::Offer o;
  o.snapshot_id = "chatty-4";
  o.content_hash = second.hash;
  o.collected_at = "2026-11-28T19:00:00Z";
  ASSERT_TRUE(again->SendJson(FrameType::kOffer, protocol::ToJson(o)));
  ExpectError(again->ReadFrame(), "busy");
  EXPECT_TRUE(proc_.WaitLog({"frame_rejected", "host=chatty", "type=offer"})) << proc_.Log();
  // Another host has its own allowance.
  auto other_cert = pki_.Agent("quiet");
  auto other = ConnectAgent(other_cert);
  ASSERT_NE(other, nullptr);
  ExpectStored(*other, MakeTestSnapshot("quiet", std::string(12000, 'q'), "quiet-1"));
  std::string out;
  ASSERT_EQ(Ctl("history chatty", &out), 0) << out;
  EXPECT_EQ(out.find("chatty-3"), std::string::npos) << out;
}

TEST_F(CollectorServerTest, SameSnapshotIdFromTwoHostsIsStoredForBoth) {
  StartCollector();
  auto a_cert = pki_.Agent("twin-a");
  auto b_cert = pki_.Agent("twin-b");
  auto a = ConnectAgent(a_cert);
  auto b = ConnectAgent(b_cert);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const std::string id = "shared-20261128T190000Z-0000000000000001";
  auto sa = MakeTestSnapshot("twin-a", "A", id);
  auto sb = MakeTestSnapshot("twin-b", "B", id);
  ASSERT_TRUE(a->SendRaw(SnapshotFrame(sa)));
  ExpectAck(a->ReadFrame(), id, "stored");
  ASSERT_TRUE(b->SendRaw(SnapshotFrame(sb)));
  ExpectAck(b->ReadFrame(), id, "stored");
}

TEST_F(CollectorServerTest, RevokedCertificateClosesItsLiveConnectionOnReload) {
  auto agent = pki_.Agent("turncoat");
  auto bystander_cert = pki_.Agent("bystander");
  std::string crl = pki_.WriteCrl({});
  StartCollector({"--crl", crl});
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr);
  auto bystander = ConnectAgent(bystander_cert);
  ASSERT_NE(bystander, nullptr);
  auto first = MakeTestSnapshot("turncoat", "A", "turncoat-1");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(first)));
  ExpectAck(c->ReadFrame(), first.id, "stored");

  pki_.WriteCrl({&agent});
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info reloaded"})) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog(
      {"warning certificate_refused", "host=turncoat", "when=reload", "certificate revoked"}))
      << proc_.Log();
  EXPECT_TRUE(c->WaitClosed(10));
  auto second = MakeTestSnapshot("turncoat", "B", "turncoat-2");
  if (c->SendRaw(SnapshotFrame(second))) {
    EXPECT_FALSE(c->ReadFrame(2).has_value());
  }
  // The other agent's connection stays and is served.
  auto s = MakeTestSnapshot("bystander", "A", "bystander-1");
  ASSERT_TRUE(bystander->SendRaw(SnapshotFrame(s)));
  ExpectAck(bystander->ReadFrame(), s.id, "stored");
  std::string out;
  ASSERT_EQ(Ctl("history turncoat", &out), 0) << out;
  EXPECT_NE(out.find(first.id), std::string::npos) << out;
  EXPECT_EQ(out.find(second.id), std::string::npos) << out;
}

TEST_F(CollectorServerTest, ExpiredCertificateCannotResumeItsTlsSession) {
  // An expired certificate kept working through TLS 1.3 resumption (the ticket outlived it,
  // and a resumed handshake skips verification). Tickets are now bounded by the certificate's
  // notAfter, and a resumed session is verified again.
  StartCollector();
  pki::CertRequest req;
  req.common_name = "shortlived";
  req.not_before = std::time(nullptr) - 60;
  req.not_after = std::time(nullptr) + 6;
  auto cert = pki_.Issue("shortlived", req);
  SSL_SESSION* session = nullptr;
  {
    auto c = ConnectAgent(cert);
    ASSERT_NE(c, nullptr) << proc_.Log();
    session = c->Session();
  }
  ASSERT_NE(session, nullptr) << "no session ticket";
  EXPECT_LE(SSL_SESSION_get_ticket_lifetime_hint(session), 7u);
  auto live = ConnectAgent(cert);
  ASSERT_NE(live, nullptr) << proc_.Log();
  {  // While the certificate is valid, the session resumes (and is verified again).
    auto opts = Options(&cert);
    opts.resume = session;
    std::string error;
    auto c = TlsTestClient::Connect(proc_.port(), opts, &error);
    ASSERT_NE(c, nullptr) << error;
    auto w = c->Hello();
    ASSERT_TRUE(w.has_value()) << proc_.Log();
    EXPECT_EQ(w->type, FrameType::kWelcome);
    EXPECT_TRUE(c->Resumed());
    EXPECT_TRUE(proc_.WaitLog({"info connection_accepted", "host=shortlived", "resumed=yes"}))
        << proc_.Log();
  }
  // Wait (bounded) until the certificate has expired.
  for (int i = 0; i < 100 && std::time(nullptr) <= req.not_after + 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GT(std::time(nullptr), req.not_after + 1);
  // A connection opened while the certificate was valid is closed at its next frame.
  auto late = MakeTestSnapshot("shortlived", "A", "shortlived-1");
  ASSERT_TRUE(live->SendRaw(SnapshotFrame(late)));
  EXPECT_TRUE(live->WaitClosed(10));
  for (const auto& f : live->last_frames) EXPECT_NE(f.type, FrameType::kAck) << f.payload;
  EXPECT_TRUE(proc_.WaitLog(
      {"warning certificate_refused", "host=shortlived", "when=frame", "certificate has expired"}))
      << proc_.Log();
  auto opts = Options(&cert);
  opts.resume = session;
  std::string error;
  auto c = TlsTestClient::Connect(proc_.port(), opts, &error);
  bool refused = c == nullptr || !c->Hello().has_value();
  SSL_SESSION_free(session);
  EXPECT_TRUE(refused) << proc_.Log();
  EXPECT_TRUE(proc_.WaitLog({"warning handshake_refused", "certificate has expired"}))
      << proc_.Log();
}

TEST_F(CollectorServerTest, TlsSessionsResumeAfterABareCloseAndNotAcrossAReload) {
  // A client that closes without close_notify: OpenSSL drops its session from the cache unless the
  // collector keeps it (TlsStream), and the stateful cache (session_cache) is what a resumed
  // storm costs least with. Each cached session is resumed once. A reload builds a new context,
  // with an empty cache.
  StartCollector();
  auto agent = pki_.Agent("resumer");
  SSL_SESSION* session = nullptr;
  {
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr) << proc_.Log();
    session = c->Session();
  }  // closed without close_notify
  ASSERT_NE(session, nullptr) << "no session ticket";
  auto connect = [&](bool* resumed) {
    auto opts = Options(&agent);
    opts.resume = session;
    std::string error;
    auto c = TlsTestClient::Connect(proc_.port(), opts, &error);
    if (c == nullptr) return false;
    auto w = c->Hello();
    *resumed = c->Resumed();
    SSL_SESSION* next = c->Session();
    if (next != nullptr) {
      SSL_SESSION_free(session);
      session = next;
    }
    return w.has_value() && w->type == FrameType::kWelcome;
  };
  bool resumed = false;
  SSL_SESSION* used = SSL_SESSION_dup(session);
  for (int i = 0; i < 3; ++i) {  // each connection's new ticket resumes the next one
    ASSERT_TRUE(connect(&resumed)) << proc_.Log();
    EXPECT_TRUE(resumed) << "connection " << i;
  }
  EXPECT_TRUE(proc_.WaitLog({"info connection_accepted", "host=resumer", "resumed=yes"}))
      << proc_.Log();
  std::swap(used, session);  // a session is resumed once
  ASSERT_TRUE(connect(&resumed)) << proc_.Log();
  EXPECT_FALSE(resumed) << "a used session was resumed again";
  SSL_SESSION_free(used);
  proc_.Signal(SIGHUP);
  ASSERT_TRUE(proc_.WaitLog({"info reloaded"})) << proc_.Log();
  ASSERT_TRUE(connect(&resumed)) << proc_.Log();
  EXPECT_FALSE(resumed) << "a session of the context before the reload was resumed";
  ASSERT_TRUE(connect(&resumed)) << proc_.Log();
  EXPECT_TRUE(resumed) << "the new context's session";
  SSL_SESSION_free(session);
}

TEST_F(CollectorServerTest, AgentTextInLogsIsEscapedAndBounded) {
  StartCollector();
  auto agent = pki_.Agent("chatty");
  {
    auto c = Connect(&agent);
    ASSERT_NE(c, nullptr);
    protocol::Hello h;
    // Long, but under the payload parser's 64 KiB string limit (a 10 MB one is refused as a
    // malformed frame before anything is logged of it).
    h.agent_version = std::string(60 << 10, 'v');
    ASSERT_TRUE(c->SendJson(FrameType::kHello, protocol::ToJson(h)));
    ASSERT_TRUE(c->ReadFrame(30).has_value()) << proc_.Log();
  }
  {
    auto c = Connect(&agent);
    ASSERT_NE(c, nullptr);
    protocol::Hello h;
    h.agent_version = "1.0\ninfo ack host=forged result=stored\x1b[2K\r\xc2\x9b\xe2\x80\xa8";
    ASSERT_TRUE(c->SendJson(FrameType::kHello, protocol::ToJson(h)));
    ASSERT_TRUE(c->ReadFrame().has_value()) << proc_.Log();
  }
  ASSERT_TRUE(proc_.WaitLog({"info hello", "host=chatty", "forged"}))
      << proc_.Log().substr(0, 4096);
  std::istringstream lines(proc_.Log());
  std::string line;
  int hellos = 0;
  while (std::getline(lines, line)) {
    SCOPED_TRACE(line.substr(0, 200));
    EXPECT_LT(line.size(), 2048u);
    EXPECT_TRUE(line.rfind("info ", 0) == 0 || line.rfind("warning ", 0) == 0 ||
                line.rfind("error ", 0) == 0 || line.rfind("critical ", 0) == 0);
    EXPECT_NE(line.rfind("info ack host=forged", 0), 0u);  // no forged line
    for (char ch : line) {
      auto u = static_cast<unsigned char>(ch);
      EXPECT_FALSE(u < 0x20 || u == 0x7f || u == 0xff) << static_cast<int>(u);
    }
    EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos);
    EXPECT_EQ(line.find("\xe2\x80\xa8"), std::string::npos);
    if (line.rfind("info hello ", 0) == 0 && line.find("host=chatty") != std::string::npos) {
      ++hellos;
      EXPECT_LT(line.size(), 512u);
    }
  }
  EXPECT_EQ(hellos, 2);
  EXPECT_TRUE(proc_.HasLogLine({"info hello", "agent_version=\"1.0\\x0ainfo ack host=forged",
                                "\\x1b[2K\\x0d\\u009b\\u2028\""}))
      << proc_.Log().substr(0, 4096);
}

TEST_F(CollectorServerTest, CorruptStoreStopsAcknowledgingAndExitsCritical) {
  // The collector went on acknowledging on a store it knew was corrupt. Now: no ack, a
  // critical line, exit 3; `tidemarkctl check` says corrupt.
  auto agent = pki_.Agent("victim");
  StartCollector();
  {
    auto c = ConnectAgent(agent);
    ASSERT_NE(c, nullptr);
    auto a = MakeTestSnapshot("victim", "A", "victim-1");
    ASSERT_TRUE(c->SendRaw(SnapshotFrame(a)));
    ExpectAck(c->ReadFrame(), a.id, "stored");
  }
  proc_.Signal(SIGTERM);
  ASSERT_EQ(proc_.Wait(30), 0) << proc_.Log();
  std::string out;
  ASSERT_EQ(Ctl("check", &out), 0) << out;
  EXPECT_NE(out.find(": ok"), std::string::npos) << out;
  SmashRootPage(db_, "sqlite_autoindex_snapshots_1");

  StartCollector();
  auto c = ConnectAgent(agent);
  ASSERT_NE(c, nullptr) << proc_.Log();
  auto b = MakeTestSnapshot("victim", "B", "victim-2");
  ASSERT_TRUE(c->SendRaw(SnapshotFrame(b)));
  auto e = c->ReadFrame();
  ExpectError(e, "store_failed");
  ASSERT_TRUE(e.has_value()) << proc_.Log();
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->json.value("permanent", true));
  EXPECT_EQ(proc_.Wait(30), 3) << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"critical store_corrupt", "collector.db"})) << proc_.Log();
  EXPECT_FALSE(proc_.HasLogLine({"info ack"})) << proc_.Log();
  EXPECT_EQ(Ctl("check", &out), 1) << out;
  EXPECT_NE(out.find("corrupt"), std::string::npos) << out;
}

TEST_F(CollectorServerTest, AStoreTooDamagedToOpenIsCorruptionNotAStartFailure) {
  // It exited 1 with `error startup_failed`, as for a bad flag: monitoring that alerts on the
  // critical line and exit 3 missed it.
  StartCollector();
  proc_.Signal(SIGTERM);
  ASSERT_EQ(proc_.Wait(30), 0) << proc_.Log();
  SmashSchemaPage(db_);
  proc_.Start(BaseArgs());  // it may already be gone when Start looks
  EXPECT_EQ(proc_.Wait(30), 3) << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"critical store_corrupt", "collector.db", "malformed"}))
      << proc_.Log();
  EXPECT_FALSE(proc_.HasLogLine({"startup_failed"})) << proc_.Log();
  std::string out;
  EXPECT_EQ(Ctl("check", &out), 1) << out;
}

TEST_F(CollectorServerTest, CorruptionFoundByRetentionStopsTheCollector) {
  // The daily retention run logged `retention_failed ... malformed` and the collector went on.
  StartCollector();
  proc_.Signal(SIGTERM);
  ASSERT_EQ(proc_.Wait(30), 0) << proc_.Log();
  SmashRootPage(db_, "seen_by_received");
  proc_.Start(BaseArgs());  // it may already be gone when Start looks
  EXPECT_EQ(proc_.Wait(30), 3) << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"error retention_failed"})) << proc_.Log();
  EXPECT_TRUE(proc_.HasLogLine({"critical store_corrupt"})) << proc_.Log();
  std::string out;
  EXPECT_EQ(Ctl("check", &out), 1) << out;
}

}  // namespace
}  // namespace tidemark::testing
