// server.h: the collector's Asio/TLS server, sessions and store thread.
#include "collector/server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "collector/tls_context.h"
#include "common/snapshot.h"
#include "common/snapshot_verify.h"
#include "common/transport/protocol.h"

namespace tidemark::collector {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using protocol::FrameType;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

// Overflow connections (over max_connections) that still get a handshake and a `busy` error;
// beyond this many at once they are closed right after accept.
constexpr int64_t kMaxOverflowSessions = 32;

// ---------------------------------------------------------------------------------------------
// The store thread: SqliteStore is used by this thread only. Snapshot puts queued from all
// connections are committed together (PutBatch: one fsync); other work runs in order.
class StoreWorker {
 public:
  struct PutJob {
    SnapshotInput input;
    std::shared_ptr<std::string> payload;  // owns the text input.body points into
    std::function<void(StatusOr<PutResult>)> done;
  };
  struct SeenJob {
    SeenInput input;
    std::function<void(StatusOr<PutResult>)> done;
  };
  using Task = std::function<void(SnapshotStore&)>;

  explicit StoreWorker(std::unique_ptr<SnapshotStore> store) : store_(std::move(store)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~StoreWorker() { Stop(); }

  void Put(PutJob job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      puts_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  // Offers queued from all connections are recorded together (RecordSeenBatch: one fsync).
  void Seen(SeenJob job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      seens_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void Run(Task task) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }
  // Finishes the queued work, then joins.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    for (;;) {
      std::deque<Task> tasks;
      std::vector<PutJob> puts;
      std::vector<SeenJob> seens;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock,
                 [this] { return stop_ || !tasks_.empty() || !puts_.empty() || !seens_.empty(); });
        if (tasks_.empty() && puts_.empty() && seens_.empty()) return;  // stop_, nothing left
        tasks.swap(tasks_);
        puts.swap(puts_);
        seens.swap(seens_);
      }
      for (auto& t : tasks) t(*store_);
      if (!seens.empty()) {
        std::vector<SeenInput> inputs;
        inputs.reserve(seens.size());
        for (const auto& j : seens) inputs.push_back(j.input);
        auto results = store_->RecordSeenBatch(inputs);
        if (!results.ok()) {
          Log::Error("store_commit_failed", {{"seen_records", std::to_string(seens.size())},
                                             {"error", results.status().ToString()}});
        }
        for (size_t i = 0; i < seens.size(); ++i) {
          seens[i].done(results.ok() ? (*results)[i] : StatusOr<PutResult>(results.status()));
        }
      }
      if (puts.empty()) continue;
      std::vector<SnapshotInput> inputs;
      inputs.reserve(puts.size());
      for (const auto& p : puts) inputs.push_back(p.input);
      auto results = store_->PutBatch(inputs);
      if (!results.ok()) {
        Log::Error("store_commit_failed", {{"snapshots", std::to_string(puts.size())},
                                           {"error", results.status().ToString()}});
      } else if (puts.size() > 1) {
        // Group commit across connections: worth a line only at debug level; kept quiet.
      }
      for (size_t i = 0; i < puts.size(); ++i) {
        if (results.ok()) {
          puts[i].done((*results)[i]);
        } else {
          puts[i].done(results.status());
        }
      }
    }
  }

  std::unique_ptr<SnapshotStore> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> tasks_;
  std::vector<PutJob> puts_;
  std::vector<SeenJob> seens_;
  bool stop_ = false;
  std::thread thread_;
};

// Limits that SIGHUP may change, read by every session.
struct Limits {
  std::atomic<uint32_t> max_frame_bytes{protocol::kDefaultMaxFrameBytes};
  std::atomic<int64_t> max_connections{0};
  std::atomic<int64_t> max_inflight_bytes{0};
  std::atomic<int64_t> handshake_timeout_s{10};
  std::atomic<int64_t> idle_timeout_s{600};

  void Set(const CollectorConfig& c) {
    max_frame_bytes = c.max_frame_bytes;
    max_connections = c.max_connections;
    max_inflight_bytes = c.max_inflight_bytes;
    handshake_timeout_s = c.handshake_timeout_s;
    idle_timeout_s = c.idle_timeout_s;
  }
};

class Session;

// What sessions share.
struct Shared {
  Limits limits;
  std::atomic<int64_t> connections{0};  // counted sessions (not overflow)
  std::atomic<int64_t> overflow{0};
  std::atomic<int64_t> inflight_bytes{0};
  std::atomic<bool> shutting_down{false};
  std::unique_ptr<StoreWorker> store;

  std::mutex mu;  // guards ctx and sessions
  std::shared_ptr<ssl::context> ctx;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  std::shared_ptr<ssl::context> Context() {
    std::lock_guard<std::mutex> lock(mu);
    return ctx;
  }
  size_t SessionCount() {
    std::lock_guard<std::mutex> lock(mu);
    return sessions.size();
  }

  // Reserves payload bytes against max_inflight_bytes; false when over it.
  bool Reserve(int64_t n) {
    int64_t now = inflight_bytes.fetch_add(n) + n;
    if (now > limits.max_inflight_bytes.load()) {
      inflight_bytes.fetch_sub(n);
      return false;
    }
    return true;
  }
  void Release(int64_t n) { inflight_bytes.fetch_sub(n); }
};

std::string EndpointText(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  std::string a = addr.to_string();
  if (addr.is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}

// The reason a TLS handshake failed, in words: the verify error recorded by the callback, or
// OpenSSL's reason for the handshake error.
std::string HandshakeReason(const boost::system::error_code& ec, SSL* ssl_handle) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    return "peer closed the connection during the handshake";
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    int lib_reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
    if (lib_reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) return "no client certificate";
    if (lib_reason == SSL_R_UNSUPPORTED_PROTOCOL || lib_reason == SSL_R_WRONG_VERSION_NUMBER) {
      return "unsupported protocol version (" + ec.message() + ")";
    }
    if (ssl_handle != nullptr) {
      long v = SSL_get_verify_result(ssl_handle);
      if (v != X509_V_OK) return X509_verify_cert_error_string(v);
    }
  }
  return ec.message();
}

// ---------------------------------------------------------------------------------------------
// One agent connection. All handlers run on the socket's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Shared& shared, tcp::socket socket, std::shared_ptr<ssl::context> ctx, bool overflow)
      : shared_(shared),
        ctx_(std::move(ctx)),
        stream_(std::move(socket), *ctx_),
        timer_(stream_.get_executor()),
        overflow_(overflow) {
    boost::system::error_code ec;
    auto ep = stream_.lowest_layer().remote_endpoint(ec);
    peer_ = ec ? "unknown" : EndpointText(ep);
  }

  ~Session() {
    if (reserved_ > 0) shared_.Release(reserved_);
    ReleaseSlot();
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.sessions.erase(this);
  }

  void Start() {
    {
      std::lock_guard<std::mutex> lock(shared_.mu);
      shared_.sessions[this] = weak_from_this();
    }
    auto self = shared_from_this();
    state_ = State::kHandshake;
    ArmTimer(shared_.limits.handshake_timeout_s.load(), "handshake_timeout");
    // `this`, not `self`: the stream owns the callback, so a shared_ptr would be a cycle.
    stream_.set_verify_callback(
        [this](bool preverified, ssl::verify_context& vctx) { return Verify(preverified, vctx); });
    stream_.async_handshake(ssl::stream_base::server,
                            [this, self](const boost::system::error_code& ec) { OnHandshake(ec); });
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // On shutdown: a connection waiting for its next frame (or handshaking) is closed now; one
  // with a frame in progress finishes it (its ack is sent) and is closed then.
  void Drain() {
    draining_ = true;
    if (state_ == State::kHandshake || state_ == State::kIdle) {
      Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", "shutdown"}});
      CloseNow();
    }
  }

 private:
  enum class State { kHandshake, kIdle, kPayload, kBusy, kClosed };

  bool Verify(bool preverified, ssl::verify_context& vctx) {
    X509_STORE_CTX* x = vctx.native_handle();
    if (!preverified) {
      if (verify_reason_.empty()) {
        verify_reason_ = X509_verify_cert_error_string(X509_STORE_CTX_get_error(x));
      }
      return false;
    }
    if (X509_STORE_CTX_get_error_depth(x) == 0) {
      auto id = CheckAgentCertificate(X509_STORE_CTX_get_current_cert(x));
      if (!id.ok()) {
        if (verify_reason_.empty()) verify_reason_ = id.status().message();
        X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
        return false;
      }
    }
    return true;
  }

  void ArmTimer(int64_t seconds, const char* event) {
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(seconds));
    timer_.async_wait([this, self, event](const boost::system::error_code& ec) {
      if (ec || state_ == State::kClosed) return;
      Log::Warn(event, {{"peer", peer_}, {"host", host_}});
      CloseNow();
    });
  }

  // Gives the connection slot back (at close: a new agent may connect at once).
  void ReleaseSlot() {
    if (slot_released_) return;
    slot_released_ = true;
    if (overflow_) {
      shared_.overflow.fetch_sub(1);
    } else {
      shared_.connections.fetch_sub(1);
    }
  }

  void CloseNow() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    ReleaseSlot();
    timer_.cancel();
    boost::system::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
  }

  void OnHandshake(const boost::system::error_code& ec) {
    if (state_ == State::kClosed) return;  // timed out
    timer_.cancel();
    if (ec) {
      std::string reason =
          !verify_reason_.empty() ? verify_reason_ : HandshakeReason(ec, stream_.native_handle());
      Log::Warn("handshake_refused", {{"peer", peer_}, {"reason", reason}});
      CloseNow();
      return;
    }
    SSL* ssl_handle = stream_.native_handle();
    X509* cert = SSL_get0_peer_certificate(ssl_handle);
    auto id = CheckAgentCertificate(cert);  // again: a resumed session skips the callback
    if (!id.ok()) {
      Log::Warn("handshake_refused", {{"peer", peer_}, {"reason", id.status().message()}});
      CloseNow();
      return;
    }
    host_ = *id;
    fingerprint_ = CertFingerprint(cert);
    Log::Info("connection_accepted", {{"peer", peer_},
                                      {"host", host_},
                                      {"tls", SSL_get_version(ssl_handle)},
                                      {"resumed", SSL_session_reused(ssl_handle) ? "yes" : "no"}});
    if (overflow_) {
      Log::Warn("connection_refused",
                {{"peer", peer_}, {"host", host_}, {"reason", "max_connections"}});
      SendError(protocol::kErrBusy, "too many connections; try again later", std::nullopt, false,
                true);
      return;
    }
    ReadHeader();
  }

  void ReadHeader() {
    if (draining_) {
      Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", "shutdown"}});
      SendError(protocol::kErrShuttingDown, "the collector is stopping", std::nullopt, false, true);
      return;
    }
    state_ = State::kIdle;
    ArmTimer(shared_.limits.idle_timeout_s.load(), "idle_timeout");
    auto self = shared_from_this();
    asio::async_read(stream_, asio::buffer(header_),
                     [this, self](const boost::system::error_code& ec, size_t) { OnHeader(ec); });
  }

  void OnHeader(const boost::system::error_code& ec) {
    if (state_ == State::kClosed) return;
    if (ec) {
      bool clean = ec == asio::error::eof || ec == ssl::error::stream_truncated;
      Log::Info(
          "connection_closed",
          {{"peer", peer_}, {"host", host_}, {"reason", clean ? "peer closed" : ec.message()}});
      CloseNow();
      return;
    }
    auto header = protocol::DecodeHeader(header_, shared_.limits.max_frame_bytes.load());
    if (!header.ok()) {
      bool too_large = header.status().code() == StatusCode::kTooLarge;
      Log::Warn("frame_rejected", {{"peer", peer_},
                                   {"host", host_},
                                   {"code", std::string(too_large ? protocol::kErrFrameTooLarge
                                                                  : protocol::kErrMalformedFrame)},
                                   {"reason", header.status().message()}});
      SendError(too_large ? protocol::kErrFrameTooLarge : protocol::kErrMalformedFrame,
                header.status().message(), std::nullopt, too_large, true);
      return;
    }
    type_ = header->type;
    int64_t length = header->length;
    if (!shared_.Reserve(length)) {
      Log::Warn("frame_rejected", {{"peer", peer_},
                                   {"host", host_},
                                   {"code", std::string(protocol::kErrBusy)},
                                   {"reason", "max_inflight_bytes reached"},
                                   {"bytes", std::to_string(length)}});
      SendError(protocol::kErrBusy, "too many bytes in flight; try again later", std::nullopt,
                false, true);
      return;
    }
    reserved_ = length;
    state_ = State::kPayload;
    payload_ = std::make_shared<std::string>();
    payload_->resize(static_cast<size_t>(length));
    auto self = shared_from_this();
    asio::async_read(
        stream_, asio::buffer(payload_->data(), payload_->size()),
        [this, self](const boost::system::error_code& rec, size_t n) { OnPayload(rec, n); });
  }

  void OnPayload(const boost::system::error_code& ec, size_t n) {
    if (state_ == State::kClosed) return;
    timer_.cancel();
    if (ec) {
      Log::Warn("frame_truncated", {{"peer", peer_},
                                    {"host", host_},
                                    {"type", std::string(protocol::FrameTypeName(type_))},
                                    {"expected", std::to_string(payload_->size())},
                                    {"received", std::to_string(n)},
                                    {"reason", ec.message()}});
      CloseNow();
      return;
    }
    state_ = State::kBusy;
    Dispatch();
  }

  void ReleasePayload() {
    payload_.reset();
    if (reserved_ > 0) shared_.Release(reserved_);
    reserved_ = 0;
  }

  void Malformed(const std::string& reason) {
    Log::Warn("frame_rejected", {{"peer", peer_},
                                 {"host", host_},
                                 {"code", std::string(protocol::kErrMalformedFrame)},
                                 {"type", std::string(protocol::FrameTypeName(type_))},
                                 {"reason", reason}});
    SendError(protocol::kErrMalformedFrame, reason, std::nullopt, false, true);
  }
  void OutOfTurn(const std::string& reason) {
    Log::Warn("frame_rejected", {{"peer", peer_},
                                 {"host", host_},
                                 {"code", std::string(protocol::kErrProtocol)},
                                 {"type", std::string(protocol::FrameTypeName(type_))},
                                 {"reason", reason}});
    SendError(protocol::kErrProtocol, reason, std::nullopt, false, true);
  }

  void Dispatch() {
    switch (type_) {
      case FrameType::kHello:
        return OnHello();
      case FrameType::kOffer:
        if (!hello_done_) return OutOfTurn("offer before hello");
        return OnOffer();
      case FrameType::kSnapshot:
        if (!hello_done_) return OutOfTurn("snapshot before hello");
        return OnSnapshot();
      case FrameType::kError: {
        auto j = protocol::ParseJsonPayload(*payload_);
        std::string code = "?";
        if (j.ok() && j->contains("code") && (*j)["code"].is_string()) {
          code = (*j)["code"].get<std::string>();
        }
        Log::Warn("agent_error", {{"peer", peer_}, {"host", host_}, {"code", code}});
        ReleasePayload();
        CloseNow();
        return;
      }
      default:
        return OutOfTurn(std::string(protocol::FrameTypeName(type_)) + " is not sent by an agent");
    }
  }

  void OnHello() {
    if (hello_done_) return OutOfTurn("second hello");
    auto j = protocol::ParseJsonPayload(*payload_);
    ReleasePayload();
    if (!j.ok()) return Malformed("hello: " + j.status().message());
    auto hello = protocol::HelloFromJson(*j);
    if (!hello.ok()) return Malformed("hello: " + hello.status().message());
    if (hello->protocol != protocol::kVersion) {
      return OutOfTurn("hello: protocol " + std::to_string(hello->protocol) + " not supported");
    }
    agent_version_ = hello->agent_version;
    Log::Info("hello", {{"peer", peer_},
                        {"host", host_},
                        {"agent_version", agent_version_},
                        {"spool_dropped", std::to_string(hello->spool_dropped)},
                        {"spool_rejected", std::to_string(hello->spool_rejected)}});
    if (hello->spool_dropped > 0 || hello->spool_rejected > 0) {
      Log::Warn("agent_spool_loss", {{"host", host_},
                                     {"dropped", std::to_string(hello->spool_dropped)},
                                     {"rejected", std::to_string(hello->spool_rejected)}});
    }
    auto self = shared_from_this();
    std::string host = host_, version = agent_version_, fp = fingerprint_;
    int64_t now = Now();
    auto executor = stream_.get_executor();
    shared_.store->Run([self, executor, host, version, fp, now](SnapshotStore& store) {
      auto changed = store.UpsertHost(host, version, fp, now);
      asio::post(executor, [self, changed] { self->OnHostRecorded(changed); });
    });
  }

  void OnHostRecorded(const StatusOr<bool>& changed) {
    if (state_ == State::kClosed) return;
    if (!changed.ok()) {
      Log::Error("store_failed", {{"host", host_}, {"error", changed.status().ToString()}});
      SendError(protocol::kErrStoreFailed, "the collector's store failed; try again later",
                std::nullopt, false, true);
      return;
    }
    if (*changed) {
      Log::Warn("certificate_changed", {{"host", host_}, {"fingerprint", fingerprint_}});
    }
    hello_done_ = true;
    protocol::Welcome w;
    w.collector_version = kCollectorVersion;
    w.host = host_;
    w.max_frame_bytes = shared_.limits.max_frame_bytes.load();
    w.capabilities = {"offer"};
    Send(protocol::EncodeJsonFrame(FrameType::kWelcome, protocol::ToJson(w)), false);
  }

  void OnOffer() {
    auto j = protocol::ParseJsonPayload(*payload_);
    ReleasePayload();
    if (!j.ok()) return Malformed("offer: " + j.status().message());
    auto offer = protocol::OfferFromJson(*j);
    if (!offer.ok() && offer.status().message().find("invalid snapshot_id") != std::string::npos) {
      return RefuseSnapshot(protocol::kErrBadSnapshot, "invalid snapshot_id", std::nullopt);
    }
    if (!offer.ok()) return Malformed("offer: " + offer.status().message());
    if (!protocol::IsValidSnapshotId(offer->snapshot_id)) {
      return RefuseSnapshot(protocol::kErrBadSnapshot, "invalid snapshot_id", std::nullopt);
    }
    auto self = shared_from_this();
    auto executor = stream_.get_executor();
    std::string host = host_;
    int64_t now = Now();
    protocol::Offer o = *offer;
    StoreWorker::SeenJob job;
    job.input = SeenInput{host, o.snapshot_id, o.content_hash, o.collected_at, now};
    job.done = [self, executor, o, now](StatusOr<PutResult> r) {
      asio::post(executor, [self, r = std::move(r), o, now] { self->OnOfferDone(r, o, now); });
    };
    shared_.store->Seen(std::move(job));
  }

  void OnOfferDone(const StatusOr<PutResult>& r, const protocol::Offer& o, int64_t received_at) {
    if (state_ == State::kClosed) return;
    if (!r.ok() && r.status().code() == StatusCode::kNotFound) {
      Log::Info("offer",
                {{"host", host_}, {"snapshot_id", o.snapshot_id}, {"result", "send_body"}});
      protocol::SendBody sb{o.snapshot_id};
      return Send(protocol::EncodeJsonFrame(FrameType::kSendBody, protocol::ToJson(sb)), false);
    }
    if (!r.ok()) {
      Log::Error(
          "store_failed",
          {{"host", host_}, {"snapshot_id", o.snapshot_id}, {"error", r.status().ToString()}});
      return SendError(protocol::kErrStoreFailed, "the collector's store failed; try again later",
                       o.snapshot_id, false, false);
    }
    Ack(o.snapshot_id, *r, received_at, "offer");
  }

  void Ack(const std::string& id, PutResult result, int64_t received_at, const char* via) {
    Log::Info("ack", {{"host", host_},
                      {"snapshot_id", id},
                      {"result", std::string(PutResultName(result))},
                      {"via", via}});
    protocol::Ack a;
    a.snapshot_id = id;
    a.result = std::string(PutResultName(result));
    a.received_at = FormatRfc3339(received_at);
    Send(protocol::EncodeJsonFrame(FrameType::kAck, protocol::ToJson(a)), false);
  }

  void RefuseSnapshot(std::string_view code, const std::string& reason,
                      std::optional<std::string> id) {
    Log::Warn("snapshot_refused", {{"peer", peer_},
                                   {"host", host_},
                                   {"snapshot_id", id.value_or("")},
                                   {"code", std::string(code)},
                                   {"reason", reason}});
    SendError(code, reason, std::move(id), true, false);
  }

  void OnSnapshot() {
    auto parsed = protocol::ParseSnapshotPayload(*payload_);
    if (!parsed.ok() &&
        parsed.status().message().find("invalid snapshot_id") != std::string::npos) {
      // The frame parsed; only the id breaks the rules: a permanent refusal of this snapshot.
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrBadSnapshot, "invalid snapshot_id", std::nullopt);
    }
    if (!parsed.ok()) {
      ReleasePayload();
      return Malformed("snapshot: " + parsed.status().message());
    }
    std::string id = parsed->snapshot_id;
    if (!protocol::IsValidSnapshotId(id)) {
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrBadSnapshot, "invalid snapshot_id", std::nullopt);
    }
    // One streaming pass: structure, limits, envelope and content hash, no tree and no copy of
    // the body (docs/collector.md, "Memory per snapshot").
    auto snapshot = VerifySnapshotText(parsed->body);
    if (!snapshot.ok()) {
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrBadSnapshot, snapshot.status().message(), id);
    }
    if (snapshot->host.id != host_) {
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrIdentityMismatch,
                            "snapshot host.id '" + snapshot->host.id +
                                "' is not the certificate's identity '" + host_ + "'",
                            id);
    }
    int64_t now = Now();
    SnapshotInput input = MakeSnapshotInput(host_, id, *snapshot, parsed->body, now);
    if (input.content_hash != parsed->content_hash) {
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrBadSnapshot,
                            "content_hash in the frame does not match the document", id);
    }
    if (input.agent_version.empty()) input.agent_version = agent_version_;
    auto self = shared_from_this();
    auto executor = stream_.get_executor();
    StoreWorker::PutJob job;
    job.input = std::move(input);
    job.payload = payload_;  // keeps the body alive until the commit
    job.done = [self, executor, id, now](StatusOr<PutResult> r) {
      asio::post(executor, [self, r, id, now] { self->OnStored(r, id, now); });
    };
    shared_.store->Put(std::move(job));
  }

  void OnStored(const StatusOr<PutResult>& r, const std::string& id, int64_t received_at) {
    ReleasePayload();
    if (state_ == State::kClosed) return;
    if (!r.ok()) {
      Log::Error("store_failed",
                 {{"host", host_}, {"snapshot_id", id}, {"error", r.status().ToString()}});
      return SendError(protocol::kErrStoreFailed, "the collector's store failed; try again later",
                       id, false, false);
    }
    Ack(id, *r, received_at, "snapshot");
  }

  void SendError(std::string_view code, const std::string& message, std::optional<std::string> id,
                 bool permanent, bool close_after) {
    protocol::Error e;
    e.code = std::string(code);
    e.message = message;
    e.snapshot_id = std::move(id);
    e.permanent = permanent;
    Send(protocol::EncodeJsonFrame(FrameType::kError, protocol::ToJson(e)), close_after);
  }

  void Send(std::string frame, bool close_after) {
    if (state_ == State::kClosed) return;
    state_ = State::kBusy;
    out_ = std::move(frame);
    ArmTimer(shared_.limits.idle_timeout_s.load(), "write_timeout");
    auto self = shared_from_this();
    asio::async_write(stream_, asio::buffer(out_),
                      [this, self, close_after](const boost::system::error_code& ec, size_t) {
                        if (state_ == State::kClosed) return;
                        timer_.cancel();
                        if (ec) {
                          Log::Info("connection_closed",
                                    {{"peer", peer_}, {"host", host_}, {"reason", ec.message()}});
                          CloseNow();
                          return;
                        }
                        if (close_after) return Shutdown();
                        ReadHeader();
                      });
  }

  // TLS close_notify (bounded by a short timer), then close.
  void Shutdown() {
    state_ = State::kBusy;
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([this, self](const boost::system::error_code& ec) {
      if (!ec) CloseNow();
    });
    stream_.async_shutdown([this, self](const boost::system::error_code&) { CloseNow(); });
  }

  Shared& shared_;
  std::shared_ptr<ssl::context> ctx_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  bool overflow_;
  State state_ = State::kHandshake;
  bool draining_ = false;
  bool slot_released_ = false;
  bool hello_done_ = false;
  std::string peer_;
  std::string host_;
  std::string fingerprint_;
  std::string agent_version_;
  std::string verify_reason_;
  std::array<uint8_t, protocol::kHeaderSize> header_{};
  FrameType type_ = FrameType::kHello;
  std::shared_ptr<std::string> payload_;
  int64_t reserved_ = 0;
  std::string out_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
struct Server::Impl {
  ParsedArgs args;
  CollectorConfig config;
  Shared shared;
  // Declared after `shared`: destroyed first, so pending handlers (and their sessions) go
  // before what they refer to.
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retention_timer{io};
  asio::steady_timer drain_timer{io};
  asio::steady_timer accept_retry_timer{io};
  std::atomic<bool> stopping{false};
  // Reloadable settings read outside the sessions (`config` itself is not changed after start).
  std::atomic<int64_t> retention_days{0};
  std::atomic<int64_t> shutdown_timeout_s{0};
  std::chrono::steady_clock::time_point drain_deadline;

  void Accept() {
    acceptor.async_accept(
        asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
          if (ec) {
            Log::Warn("accept_failed", {{"error", ec.message()}});
            accept_retry_timer.expires_after(std::chrono::milliseconds(100));
            accept_retry_timer.async_wait([this](const boost::system::error_code& tec) {
              if (!tec) Accept();
            });
            return;
          }
          OnAccepted(std::move(socket));
          Accept();
        });
  }

  void OnAccepted(tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    bool overflow = false;
    if (shared.connections.fetch_add(1) >= shared.limits.max_connections.load()) {
      shared.connections.fetch_sub(1);
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      std::string peer = ec ? "unknown" : EndpointText(ep);
      if (shared.overflow.fetch_add(1) >= kMaxOverflowSessions) {
        shared.overflow.fetch_sub(1);
        Log::Warn("connection_refused", {{"peer", peer}, {"reason", "max_connections"}});
        socket.close(ignored);
        return;
      }
      overflow = true;
    }
    auto session = std::make_shared<Session>(shared, std::move(socket), shared.Context(), overflow);
    session->Start();
  }

  void ScheduleRetention() {
    int days = static_cast<int>(retention_days.load());
    shared.store->Run([days](SnapshotStore& store) {
      auto n = store.Thin(days, Now());
      if (n.ok()) {
        Log::Info("retention",
                  {{"days", std::to_string(days)}, {"seen_deleted", std::to_string(*n)}});
      } else {
        Log::Error("retention_failed", {{"error", n.status().ToString()}});
      }
    });
    retention_timer.expires_after(std::chrono::hours(24));
    retention_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ScheduleRetention();
    });
  }

  void BeginStop(const char* why) {
    if (stopping.exchange(true)) return;
    Log::Info("stopping",
              {{"reason", why}, {"connections", std::to_string(shared.SessionCount())}});
    shared.shutting_down = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    retention_timer.cancel();
    accept_retry_timer.cancel();
    std::vector<std::shared_ptr<Session>> live;
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      for (auto& [ptr, weak] : shared.sessions) {
        if (auto s = weak.lock()) live.push_back(std::move(s));
      }
    }
    for (auto& s : live) {
      // Drain runs on the session's strand (the socket's executor).
      asio::post(s->executor(), [s] { s->Drain(); });
    }
    drain_deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(shutdown_timeout_s.load());
    PollDrain();
  }

  void PollDrain() {
    size_t left = shared.SessionCount();
    if (left == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (left > 0) Log::Warn("shutdown_timeout", {{"connections", std::to_string(left)}});
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) PollDrain();
    });
  }

  void DoReload() {
    auto c = ReloadConfig(args);
    if (!c.ok()) {
      Log::Error("reload_failed", {{"error", c.status().message()}});
      return;
    }
    auto ctx = MakeServerContext(*c);
    if (!ctx.ok()) {
      Log::Error("reload_failed", {{"error", ctx.status().message()}});
      return;
    }
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.ctx = *ctx;
    }
    shared.limits.Set(*c);
    if (c->listen_host != config.listen_host || c->listen_port != config.listen_port ||
        c->db != config.db || c->threads != config.threads) {
      Log::Warn("reload_partial", {{"reason", "listen, db and threads change only on restart"}});
    }
    retention_days = c->retention_days;
    shutdown_timeout_s = c->shutdown_timeout_s;
    Log::Info("reloaded", {{"crl", c->crl.empty() ? "none" : c->crl},
                           {"tls", c->tls12 ? "1.2+1.3" : "1.3"},
                           {"max_connections", std::to_string(c->max_connections)},
                           {"max_frame_bytes", std::to_string(c->max_frame_bytes)},
                           {"max_inflight_bytes", std::to_string(c->max_inflight_bytes)},
                           {"handshake_timeout", std::to_string(c->handshake_timeout_s)},
                           {"idle_timeout", std::to_string(c->idle_timeout_s)}});
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_->shared.store) impl_->shared.store->Stop();
}

StatusOr<std::unique_ptr<Server>> Server::Create(const ParsedArgs& args) {
  auto impl = std::make_unique<Impl>();
  impl->args = args;
  impl->config = args.config;
  const CollectorConfig& c = impl->config;
  auto ctx = MakeServerContext(c);
  if (!ctx.ok()) return ctx.status();
  impl->shared.ctx = *ctx;
  impl->shared.limits.Set(c);
  impl->retention_days = c.retention_days;
  impl->shutdown_timeout_s = c.shutdown_timeout_s;
  auto store = SqliteStore::Open(c.db);
  if (!store.ok()) return store.status();
  impl->shared.store = std::make_unique<StoreWorker>(std::move(*store));

  boost::system::error_code ec;
  auto addr = asio::ip::make_address(c.listen_host, ec);
  if (ec) {
    return Status(StatusCode::kInvalidArgument,
                  "listen: '" + c.listen_host + "' is not an IP address");
  }
  tcp::endpoint ep(addr, c.listen_port);
  auto& a = impl->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(StatusCode::kIoError, "listen " + EndpointText(ep) + ": " + ec.message());
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

int Server::Run(bool handle_signals) {
  Impl& m = *impl_;
  unsigned threads = m.config.threads > 0 ? static_cast<unsigned>(m.config.threads)
                                          : std::max(1u, std::thread::hardware_concurrency());
  asio::signal_set signals(m.io);
  std::function<void()> wait_signal;
  if (handle_signals) {
    signals.add(SIGTERM);
    signals.add(SIGINT);
    signals.add(SIGHUP);
    wait_signal = [&] {
      signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        if (sig == SIGHUP) {
          Log::Info("signal", {{"signal", "SIGHUP"}});
          m.DoReload();
          wait_signal();
        } else {
          m.BeginStop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
      });
    };
    wait_signal();
  }
  const CollectorConfig& c = m.config;
  Log::Info("listening", {{"addr", c.listen_host},
                          {"port", std::to_string(port())},
                          {"tls", c.tls12 ? "1.2+1.3" : "1.3"},
                          {"crl", c.crl.empty() ? "none" : c.crl},
                          {"db", c.db},
                          {"threads", std::to_string(threads)},
                          {"max_connections", std::to_string(c.max_connections)},
                          {"max_frame_bytes", std::to_string(c.max_frame_bytes)}});
  m.ScheduleRetention();
  m.Accept();
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&m] { m.io.run(); });
  m.io.run();
  for (auto& t : pool) t.join();
  m.shared.store->Stop();
  Log::Info("stopped", {});
  return 0;
}

void Server::Stop() {
  asio::post(impl_->io, [this] { impl_->BeginStop("requested"); });
}

void Server::Reload() {
  asio::post(impl_->io, [this] { impl_->DoReload(); });
}

}  // namespace tidemark::collector
