// server.h: the collector's Asio/TLS server, sessions and store thread.
#include "collector/server.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "collector/evaluator.h"
#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "collector/tls_context.h"
#include "collector/tls_stream.h"
#include "common/policy/evaluate_command.h"
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
//
// Named edge: nothing thrown while storing (std::bad_alloc, a library exception) leaves this
// thread; every job queued then is answered with an error. Once the store reports corruption,
// nothing is acknowledged any more: every result becomes an error, on_corrupt runs once.
class StoreWorker {
 public:
  using Done = std::function<void(StatusOr<PutResult>)>;
  struct PutJob {
    SnapshotInput input;
    std::shared_ptr<std::string> payload;  // owns the text input.body points into
    Done done;
  };
  struct SeenJob {
    SeenInput input;
    Done done;
  };
  struct HostJob {
    HostContact contact;
    std::function<void(StatusOr<bool>)> done;  // true: the certificate fingerprint changed
  };
  using Task = std::function<void(SnapshotStore&)>;
  // Called (on the store thread) when a task cannot run or threw: it must answer its caller.
  using TaskFailed = std::function<void(const Status&)>;

  StoreWorker(std::unique_ptr<SnapshotStore> store, std::string db,
              std::function<void(const Status&)> on_corrupt)
      : store_(std::move(store)), db_(std::move(db)), on_corrupt_(std::move(on_corrupt)) {
    thread_ = std::thread([this] { Loop(); });
  }
  // Called on the store thread after a commit that stored a new state (the evaluator's wake).
  // Set before the first Put.
  void SetOnStored(std::function<void()> on_stored) { on_stored_ = std::move(on_stored); }
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
  // Hellos queued from all connections are recorded together (UpsertHostBatch: one fsync).
  void Hello(HostJob job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hosts_.push_back(std::move(job));
    }
    cv_.notify_one();
  }
  void Run(Task task, TaskFailed failed = {}) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      tasks_.push_back({std::move(task), std::move(failed)});
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
  struct QueuedTask {
    Task task;
    TaskFailed failed;
  };

  // Calls `done` once with `r`; an exception from it is logged, never propagated.
  template <typename F, typename R>
  static void Answer(F& done, R r) {
    if (!done) return;
    auto f = std::move(done);
    done = nullptr;
    try {
      f(std::move(r));
    } catch (const std::exception& e) {
      Log::Error("store_exception", {{"event", "answer"}, {"error", Clip(e.what(), 256)}});
    } catch (...) {
      Log::Error("store_exception", {{"event", "answer"}, {"error", "unknown exception"}});
    }
  }

  Status CorruptStatus() const {
    return Status(StatusCode::kIoError, db_ + ": the store is corrupted; nothing is acknowledged");
  }

  // After each store call: the first time the store reports corruption, say so at critical
  // level and tell the server (which stops).
  bool CheckCorrupt(const std::string& error) {
    if (corrupt_) return true;
    if (!store_->Corrupt()) return false;
    corrupt_ = true;
    Log::Critical("store_corrupt", {{"db", db_}, {"error", Clip(error, 1024)}});
    if (on_corrupt_) on_corrupt_(CorruptStatus());
    return true;
  }

  void Loop() {
    for (;;) {
      std::deque<QueuedTask> tasks;
      std::vector<PutJob> puts;
      std::vector<SeenJob> seens;
      std::vector<HostJob> hosts;
      {
        std::unique_lock<std::mutex> lock(mu_);
        auto idle = [this] {
          return tasks_.empty() && puts_.empty() && seens_.empty() && hosts_.empty();
        };
        cv_.wait(lock, [&] { return stop_ || !idle(); });
        if (idle()) return;  // stop_, nothing left
        tasks.swap(tasks_);
        puts.swap(puts_);
        seens.swap(seens_);
        hosts.swap(hosts_);
      }
      for (auto& t : tasks) RunTask(t);
      try {
        ProcessHosts(hosts);
        ProcessSeens(seens);
        ProcessPuts(puts);
      } catch (const std::exception& e) {
        Log::Error("store_exception", {{"event", "commit"}, {"error", Clip(e.what(), 256)}});
      } catch (...) {
        Log::Error("store_exception", {{"event", "commit"}, {"error", "unknown exception"}});
      }
      // Whatever an exception left unanswered gets a (transient) error: never an ack.
      Status failed(StatusCode::kInternal, "the store thread failed on this batch");
      for (auto& j : hosts) Answer(j.done, StatusOr<bool>(failed));
      for (auto& j : seens) Answer(j.done, StatusOr<PutResult>(failed));
      for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(failed));
    }
  }

  void RunTask(QueuedTask& t) {
    if (corrupt_) {
      Answer(t.failed, CorruptStatus());
      return;
    }
    try {
      t.task(*store_);
      t.failed = nullptr;  // the task answered its caller itself
    } catch (const std::exception& e) {
      Log::Error("store_exception", {{"event", "task"}, {"error", Clip(e.what(), 256)}});
      Answer(t.failed, Status(StatusCode::kInternal, "the store thread failed"));
    } catch (...) {
      Log::Error("store_exception", {{"event", "task"}, {"error", "unknown exception"}});
      Answer(t.failed, Status(StatusCode::kInternal, "the store thread failed"));
    }
    CheckCorrupt("a store call reported corruption");
  }

  // A group commit of hellos or offers: `commit` records every job's input in one transaction;
  // each job is answered with its own result, the commit's error, or the store's corruption.
  template <typename R, typename Job, typename Commit>
  void ProcessBatch(std::vector<Job>& jobs, const char* what, Commit commit) {
    if (jobs.empty()) return;
    if (corrupt_) {
      for (auto& j : jobs) Answer(j.done, StatusOr<R>(CorruptStatus()));
      return;
    }
    auto results = commit(jobs);
    if (!results.ok()) {
      Log::Error("store_commit_failed",
                 {{what, std::to_string(jobs.size())}, {"error", results.status().ToString()}});
    }
    if (CheckCorrupt(results.ok() ? "" : results.status().ToString())) {
      for (auto& j : jobs) Answer(j.done, StatusOr<R>(CorruptStatus()));
      return;
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
      Answer(jobs[i].done, results.ok() ? (*results)[i] : StatusOr<R>(results.status()));
    }
  }

  void ProcessHosts(std::vector<HostJob>& hosts) {
    ProcessBatch<bool>(hosts, "hosts", [this](const std::vector<HostJob>& jobs) {
      std::vector<HostContact> contacts;
      contacts.reserve(jobs.size());
      for (const auto& j : jobs) contacts.push_back(j.contact);
      return store_->UpsertHostBatch(contacts);
    });
  }

  void ProcessSeens(std::vector<SeenJob>& seens) {
    ProcessBatch<PutResult>(seens, "seen_records", [this](const std::vector<SeenJob>& jobs) {
      std::vector<SeenInput> inputs;
      inputs.reserve(jobs.size());
      for (const auto& j : jobs) inputs.push_back(j.input);
      return store_->RecordSeenBatch(inputs);
    });
  }

  void ProcessPuts(std::vector<PutJob>& puts) {
    if (puts.empty()) return;
    if (corrupt_) {
      for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(CorruptStatus()));
      return;
    }
    std::vector<SnapshotInput> inputs;
    inputs.reserve(puts.size());
    for (const auto& p : puts) inputs.push_back(p.input);
    auto results = store_->PutBatch(inputs);
    if (!results.ok()) {
      Log::Error("store_commit_failed", {{"snapshots", std::to_string(puts.size())},
                                         {"error", results.status().ToString()}});
    }
    std::string first_error;
    if (results.ok()) {
      for (const auto& r : *results) {
        if (!r.ok() && first_error.empty()) first_error = r.status().ToString();
      }
    } else {
      first_error = results.status().ToString();
    }
    // A batch in which the store met corruption is not acknowledged, not even the snapshots
    // that were committed: the agents keep them and send them again (then `duplicate`).
    if (CheckCorrupt(first_error)) {
      for (auto& j : puts) Answer(j.done, StatusOr<PutResult>(CorruptStatus()));
      return;
    }
    bool stored = false;
    for (size_t i = 0; i < puts.size(); ++i) {
      Answer(puts[i].done, results.ok() ? (*results)[i] : StatusOr<PutResult>(results.status()));
      stored |= results.ok() && (*results)[i].ok() && *(*results)[i] == PutResult::kStored;
    }
    if (stored && on_stored_) on_stored_();
  }

  std::unique_ptr<SnapshotStore> store_;
  std::string db_;
  std::function<void(const Status&)> on_corrupt_;
  std::function<void()> on_stored_;
  bool corrupt_ = false;  // store thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueuedTask> tasks_;
  std::vector<PutJob> puts_;
  std::vector<SeenJob> seens_;
  std::vector<HostJob> hosts_;
  bool stop_ = false;
  std::thread thread_;
};

// Limits that SIGHUP may change, read by every session.
struct Limits {
  std::atomic<uint32_t> max_frame_bytes{protocol::kDefaultMaxFrameBytes};
  std::atomic<int64_t> max_connections{0};
  std::atomic<int64_t> max_inflight_bytes{0};
  std::atomic<int64_t> max_host_inflight_bytes{0};
  std::atomic<int64_t> handshake_timeout_s{10};
  std::atomic<int64_t> idle_timeout_s{600};
  std::atomic<int64_t> frame_timeout_s{30};
  std::atomic<int64_t> min_frame_rate{0};

  void Set(const CollectorConfig& c) {
    max_frame_bytes = c.max_frame_bytes;
    max_connections = c.max_connections;
    max_inflight_bytes = c.max_inflight_bytes;
    max_host_inflight_bytes = c.max_host_inflight_bytes;
    handshake_timeout_s = c.handshake_timeout_s;
    idle_timeout_s = c.idle_timeout_s;
    frame_timeout_s = c.frame_timeout_s;
    min_frame_rate = c.min_frame_rate;
  }
};

// A frame's payload is read in chunks of at most this many bytes, each reserved against the
// in-flight budget just before it is read: a connection holds budget only for bytes it sent
// (plus at most one chunk), never for a length it merely announced in a header.
constexpr int64_t kReadChunk = 64 * 1024;

class Session;

// What sessions share.
struct Shared {
  Limits limits;
  std::atomic<int64_t> connections{0};  // counted sessions (not overflow)
  std::atomic<int64_t> overflow{0};
  std::atomic<bool> shutting_down{false};
  std::unique_ptr<StoreWorker> store;

  std::mutex mu;  // guards ctx and sessions
  std::shared_ptr<ssl::context> ctx;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;

  std::mutex budget_mu;  // guards inflight_bytes and host_inflight
  int64_t inflight_bytes = 0;
  std::unordered_map<std::string, int64_t> host_inflight;

  std::shared_ptr<ssl::context> Context() {
    std::lock_guard<std::mutex> lock(mu);
    return ctx;
  }
  size_t SessionCount() {
    std::lock_guard<std::mutex> lock(mu);
    return sessions.size();
  }

  // Reserves n payload bytes for `host` against max_inflight_bytes (all connections) and
  // max_host_inflight_bytes (that host's connections). Returns "" or the limit that was hit.
  std::string Reserve(const std::string& host, int64_t n) {
    std::lock_guard<std::mutex> lock(budget_mu);
    if (inflight_bytes + n > limits.max_inflight_bytes.load()) return "max_inflight_bytes";
    int64_t& mine = host_inflight[host];
    if (mine + n > limits.max_host_inflight_bytes.load()) {
      if (mine == 0) host_inflight.erase(host);
      return "max_host_inflight_bytes";
    }
    mine += n;
    inflight_bytes += n;
    return "";
  }
  void Release(const std::string& host, int64_t n) {
    std::lock_guard<std::mutex> lock(budget_mu);
    inflight_bytes -= n;
    auto it = host_inflight.find(host);
    if (it == host_inflight.end()) return;
    it->second -= n;
    if (it->second <= 0) host_inflight.erase(it);
  }
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
        stream_(std::move(socket), ctx_->native_handle()),
        timer_(stream_.get_executor()),
        overflow_(overflow) {
    boost::system::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? "unknown" : EndpointText(ep);
  }

  ~Session() {
    if (reserved_ > 0) shared_.Release(host_, reserved_);
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
    stream_.SetVerifyCallback(
        [this](bool preverified, X509_STORE_CTX* x) { return Verify(preverified, x); });
    stream_.AsyncHandshake([this, self](const boost::system::error_code& ec, size_t) {
      Guard("handshake", [&] { OnHandshake(ec); });
    });
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }

  // On shutdown: a connection waiting for its next frame (or handshaking) is closed now; one
  // with a frame in progress finishes it (its ack is sent) and is closed then.
  void Drain() {
    Guard("drain", [&] {
      draining_ = true;
      if (state_ == State::kHandshake || state_ == State::kIdle) {
        Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", "shutdown"}});
        CloseNow();
      }
    });
  }

  // After a reload (SIGHUP): checks the peer's certificate again against the new context (its
  // CRL, validity dates, chain) and closes the connection when it no longer passes. A
  // connection still handshaking is checked in OnHandshake against the current context.
  void Recheck(const std::shared_ptr<ssl::context>& ctx) {
    Guard("recheck", [&] {
      if (state_ == State::kHandshake || state_ == State::kClosed) return;
      Status st = VerifyPeerCertificate(stream_.native_handle(), ctx->native_handle());
      if (st.ok()) return;
      Log::Warn("certificate_refused",
                {{"peer", peer_}, {"host", host_}, {"when", "reload"}, {"reason", st.message()}});
      Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", st.message()}});
      CloseRefused();
    });
  }

 private:
  enum class State { kHandshake, kIdle, kPayload, kBusy, kClosed };

  // The named edge of every completion handler: an exception (nlohmann, Asio, std::bad_alloc)
  // is logged with the event it came from and closes this connection; it never reaches
  // io_context::run().
  template <typename F>
  void Guard(const char* event, F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      OnException(event, e.what());
    } catch (...) {
      OnException(event, "unknown exception");
    }
  }
  void OnException(const char* event, const std::string& what) noexcept {
    try {
      Log::Error("session_exception",
                 {{"peer", peer_}, {"host", host_}, {"event", event}, {"error", Clip(what, 256)}});
    } catch (...) {
    }
    try {
      CloseNow();
    } catch (...) {
    }
  }

  bool Verify(bool preverified, X509_STORE_CTX* x) {
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
      Guard(event, [&] {
        if (state_ == State::kPayload) {
          Log::Warn(event, {{"peer", peer_},
                            {"host", host_},
                            {"type", std::string(protocol::FrameTypeName(type_))},
                            {"expected", std::to_string(frame_length_)},
                            {"received", std::to_string(received_)}});
        } else {
          Log::Warn(event, {{"peer", peer_}, {"host", host_}});
        }
        CloseNow();
      });
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
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  // Closes a connection whose certificate was refused after the handshake; its TLS session
  // leaves the cache, so that it cannot be resumed either.
  void CloseRefused() {
    stream_.ForgetSession();
    CloseNow();
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
    RetireResumedSession(ssl_handle);
    X509* cert = SSL_get0_peer_certificate(ssl_handle);
    auto id = CheckAgentCertificate(cert);  // again: a resumed session skips the callback
    if (!id.ok()) {
      Log::Warn("handshake_refused", {{"peer", peer_}, {"reason", id.status().message()}});
      CloseRefused();
      return;
    }
    // A resumed session (TLS 1.3 ticket) skips chain, validity and CRL checks: run them now,
    // against the current context (a reload may have brought a new CRL since accept).
    auto current = shared_.Context();
    Status valid = VerifyPeerCertificate(ssl_handle, current->native_handle());
    if (!valid.ok()) {
      Log::Warn("handshake_refused", {{"peer", peer_},
                                      {"reason", valid.message()},
                                      {"resumed", SSL_session_reused(ssl_handle) ? "yes" : "no"}});
      CloseRefused();
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
    stream_.AsyncRead(header_.data(), header_.size(),
                      [this, self](const boost::system::error_code& ec, size_t) {
                        Guard("header", [&] { OnHeader(ec); });
                      });
  }

  // True while the peer's certificate is within its validity dates; a live connection whose
  // certificate expired is closed at its next frame.
  bool CertificateStillValid() {
    X509* cert = SSL_get0_peer_certificate(stream_.native_handle());
    if (cert == nullptr) return false;
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) >= 0) return true;
    Log::Warn("certificate_refused", {{"peer", peer_},
                                      {"host", host_},
                                      {"when", "frame"},
                                      {"reason", "certificate has expired"}});
    CloseRefused();
    return false;
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
    if (!CertificateStillValid()) return;
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
    frame_length_ = header->length;
    received_ = 0;
    snapshot_id_.reset();
    state_ = State::kPayload;
    payload_ = std::make_shared<std::string>();
    frame_started_ = std::chrono::steady_clock::now();
    ReadPayload();
  }

  // Reads the payload chunk by chunk: the budget grows with the bytes that arrive, and a frame
  // that stops progressing (frame_timeout) or is too slow (min_frame_rate) is closed.
  void ReadPayload() {
    if (received_ == frame_length_) {
      timer_.cancel();
      state_ = State::kBusy;
      return SafeDispatch();
    }
    if (received_ == reserved_) {
      int64_t chunk = std::min(kReadChunk, frame_length_ - received_);
      std::string limit = shared_.Reserve(host_, chunk);
      if (!limit.empty()) {
        Log::Warn("frame_rejected", {{"peer", peer_},
                                     {"host", host_},
                                     {"code", std::string(protocol::kErrBusy)},
                                     {"reason", limit + " reached"},
                                     {"bytes", std::to_string(frame_length_)}});
        ReleasePayload();
        SendError(protocol::kErrBusy, "too many bytes in flight; try again later", std::nullopt,
                  false, true);
        return;
      }
      reserved_ += chunk;
      // Capacity grows geometrically up to the frame's length (no copy per chunk).
      size_t want = static_cast<size_t>(reserved_);
      if (want > payload_->capacity()) {
        payload_->reserve(
            std::min(static_cast<size_t>(frame_length_), std::max(want, payload_->capacity() * 2)));
      }
      payload_->resize(want);
    }
    ArmTimer(shared_.limits.frame_timeout_s.load(), "frame_stalled");
    auto self = shared_from_this();
    stream_.AsyncReadSome(payload_->data() + received_, static_cast<size_t>(reserved_ - received_),
                          [this, self](const boost::system::error_code& ec, size_t n) {
                            Guard("payload", [&] { OnPayload(ec, n); });
                          });
  }

  void OnPayload(const boost::system::error_code& ec, size_t n) {
    if (state_ == State::kClosed) return;
    received_ += static_cast<int64_t>(n);
    if (ec) {
      timer_.cancel();
      Log::Warn("frame_truncated", {{"peer", peer_},
                                    {"host", host_},
                                    {"type", std::string(protocol::FrameTypeName(type_))},
                                    {"expected", std::to_string(frame_length_)},
                                    {"received", std::to_string(received_)},
                                    {"reason", ec.message()}});
      CloseNow();
      return;
    }
    int64_t rate = shared_.limits.min_frame_rate.load();
    if (rate > 0) {
      auto elapsed = std::chrono::steady_clock::now() - frame_started_;
      auto allowed =
          std::chrono::seconds(shared_.limits.frame_timeout_s.load() + frame_length_ / rate);
      if (elapsed > allowed) {
        timer_.cancel();
        Log::Warn("frame_too_slow", {{"peer", peer_},
                                     {"host", host_},
                                     {"type", std::string(protocol::FrameTypeName(type_))},
                                     {"expected", std::to_string(frame_length_)},
                                     {"received", std::to_string(received_)},
                                     {"min_frame_rate", std::to_string(rate)}});
        CloseNow();
        return;
      }
    }
    ReadPayload();
  }

  void ReleasePayload() {
    payload_.reset();
    if (reserved_ > 0) shared_.Release(host_, reserved_);
    reserved_ = 0;
  }

  void Malformed(const std::string& reason) {
    Log::Warn("frame_rejected", {{"peer", peer_},
                                 {"host", host_},
                                 {"code", std::string(protocol::kErrMalformedFrame)},
                                 {"type", std::string(protocol::FrameTypeName(type_))},
                                 {"reason", Clip(reason, kMaxAgentTextBytes)}});
    SendError(protocol::kErrMalformedFrame, reason, std::nullopt, false, true);
  }
  void OutOfTurn(const std::string& reason) {
    Log::Warn("frame_rejected", {{"peer", peer_},
                                 {"host", host_},
                                 {"code", std::string(protocol::kErrProtocol)},
                                 {"type", std::string(protocol::FrameTypeName(type_))},
                                 {"reason", Clip(reason, kMaxAgentTextBytes)}});
    SendError(protocol::kErrProtocol, reason, std::nullopt, false, true);
  }

  // The named edge of frame handling: whatever one frame throws (a decoder's type error,
  // std::bad_alloc) refuses that frame, never the collector. A snapshot is refused for good
  // (permanent bad_snapshot: the agent moves it to rejected/ rather than resending it forever);
  // any other frame is malformed and closes the connection.
  void SafeDispatch() {
    std::string what;
    try {
      Dispatch();
      return;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    try {
      Log::Error("frame_exception", {{"peer", peer_},
                                     {"host", host_},
                                     {"type", std::string(protocol::FrameTypeName(type_))},
                                     {"snapshot_id", snapshot_id_.value_or("")},
                                     {"error", Clip(what, kMaxAgentTextBytes)}});
      if (payload_ != nullptr) ReleasePayload();
      if (state_ == State::kClosed || writing_ || store_pending_) {
        CloseNow();  // an answer is already on its way: nothing more to say on this connection
        return;
      }
      if (type_ == FrameType::kSnapshot) {
        RefuseSnapshot(protocol::kErrBadSnapshot, "the collector cannot decode this snapshot",
                       snapshot_id_);
      } else {
        Malformed(std::string(protocol::FrameTypeName(type_)) + " could not be handled");
      }
    } catch (const std::exception& e) {
      OnException("frame", e.what());
    } catch (...) {
      OnException("frame", "unknown exception");
    }
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
        Log::Warn("agent_error",
                  {{"peer", peer_}, {"host", host_}, {"code", Clip(code, kMaxAgentTextBytes)}});
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
    // The agent chooses this text: bounded before it is logged or stored.
    agent_version_ = Clip(hello->agent_version, kMaxAgentVersionBytes);
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
    auto executor = stream_.get_executor();
    store_pending_ = true;
    shared_.store->Hello({HostContact{host_, agent_version_, fingerprint_, Now()},
                          [self, executor](StatusOr<bool> changed) {
                            asio::post(executor, [self, changed = std::move(changed)] {
                              self->OnHostRecorded(changed);
                            });
                          }});
  }

  void OnHostRecorded(const StatusOr<bool>& changed) {
    store_pending_ = false;
    Guard("host_recorded", [&] {
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
    });
  }

  void OnOffer() {
    auto j = protocol::ParseJsonPayload(*payload_);
    ReleasePayload();
    if (!j.ok()) return Malformed("offer: " + j.status().message());
    auto offer = protocol::OfferFromJson(*j);
    if (!offer.ok() && offer.status().code() == StatusCode::kRejected) {
      return RefuseSnapshot(protocol::kErrBadSnapshot, offer.status().message(), std::nullopt);
    }
    if (!offer.ok()) return Malformed("offer: " + offer.status().message());
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
    store_pending_ = true;
    shared_.store->Seen(std::move(job));
  }

  void OnOfferDone(const StatusOr<PutResult>& r, const protocol::Offer& o, int64_t received_at) {
    store_pending_ = false;
    Guard("offer_done", [&] {
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
    });
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
                                   {"reason", Clip(reason, kMaxAgentTextBytes)}});
    SendError(code, reason, std::move(id), true, false);
  }

  void OnSnapshot() {
    auto parsed = protocol::ParseSnapshotPayload(*payload_);
    if (!parsed.ok() && parsed.status().code() == StatusCode::kRejected) {
      // The frame parsed; only the id breaks the rules: a permanent refusal of this snapshot.
      ReleasePayload();
      return RefuseSnapshot(protocol::kErrBadSnapshot, parsed.status().message(), std::nullopt);
    }
    if (!parsed.ok()) {
      ReleasePayload();
      return Malformed("snapshot: " + parsed.status().message());
    }
    std::string id = parsed->snapshot_id;
    snapshot_id_ = id;  // for a refusal if decoding throws
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
    store_pending_ = true;
    shared_.store->Put(std::move(job));
  }

  void OnStored(const StatusOr<PutResult>& r, const std::string& id, int64_t received_at) {
    store_pending_ = false;
    Guard("stored", [&] {
      ReleasePayload();
      if (state_ == State::kClosed) return;
      if (!r.ok()) {
        Log::Error("store_failed",
                   {{"host", host_}, {"snapshot_id", id}, {"error", r.status().ToString()}});
        return SendError(protocol::kErrStoreFailed, "the collector's store failed; try again later",
                         id, false, false);
      }
      Ack(id, *r, received_at, "snapshot");
    });
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
    writing_ = true;
    stream_.AsyncWrite(out_.data(), out_.size(),
                       [this, self, close_after](const boost::system::error_code& ec, size_t) {
                         writing_ = false;
                         Guard("write", [&] {
                           if (state_ == State::kClosed) return;
                           timer_.cancel();
                           if (ec) {
                             Log::Info(
                                 "connection_closed",
                                 {{"peer", peer_}, {"host", host_}, {"reason", ec.message()}});
                             CloseNow();
                             return;
                           }
                           if (close_after) return Shutdown();
                           ReadHeader();
                         });
                       });
  }

  // TLS close_notify (bounded by a short timer), then close.
  void Shutdown() {
    state_ = State::kBusy;
    auto self = shared_from_this();
    timer_.expires_after(std::chrono::seconds(2));
    timer_.async_wait([this, self](const boost::system::error_code& ec) {
      if (!ec) Guard("shutdown", [&] { CloseNow(); });
    });
    stream_.AsyncShutdown([this, self](const boost::system::error_code&, size_t) {
      Guard("shutdown", [&] { CloseNow(); });
    });
  }

  Shared& shared_;
  std::shared_ptr<ssl::context> ctx_;
  TlsStream stream_;
  asio::steady_timer timer_;
  bool overflow_;
  State state_ = State::kHandshake;
  bool draining_ = false;
  bool slot_released_ = false;
  bool hello_done_ = false;
  bool writing_ = false;        // an async_write is in progress (out_ must stay)
  bool store_pending_ = false;  // a store job will answer this frame
  std::string peer_;
  std::string host_;
  std::string fingerprint_;
  std::string agent_version_;
  std::string verify_reason_;
  std::array<uint8_t, protocol::kHeaderSize> header_{};
  FrameType type_ = FrameType::kHello;
  int64_t frame_length_ = 0;
  int64_t received_ = 0;
  std::chrono::steady_clock::time_point frame_started_;
  std::optional<std::string> snapshot_id_;  // of the snapshot frame being handled
  std::shared_ptr<std::string> payload_;
  int64_t reserved_ = 0;  // budget held: received_ <= reserved_ <= received_ + kReadChunk
  std::string out_;
};

}  // namespace

// Resolves the `policies` key (config.h): the set to judge by and where it came from, or
// nullptr when evaluation is off (`none`, or no installed policies and none configured).
struct LoadedPolicies {
  std::shared_ptr<const policy::PolicySet> set;
  std::string path;
};
StatusOr<LoadedPolicies> LoadServerPolicies(const CollectorConfig& c) {
  LoadedPolicies out;
  if (c.policies == "none") return out;
  out.path = c.policies.empty() ? policy::kDefaultPoliciesDir : c.policies;
  if (c.policies.empty()) {
    struct stat st {};
    if (::stat(out.path.c_str(), &st) != 0) return LoadedPolicies{nullptr, out.path};
  }
  auto set = policy::LoadPolicies(out.path);
  if (!set.ok()) return Status(set.status().code(), "policies: " + set.status().message());
  out.set = std::make_shared<const policy::PolicySet>(std::move(*set));
  return out;
}

// ---------------------------------------------------------------------------------------------
struct Server::Impl {
  ParsedArgs args;
  CollectorConfig config;
  // Judges what the store thread stores; it runs for the server's lifetime, with no policies
  // when evaluation is off. Declared before `shared`: the store thread, which wakes it, is
  // joined (with `shared`) before it is destroyed.
  std::unique_ptr<Evaluator> evaluator;
  Shared shared;
  // Declared after `shared`: destroyed first, so pending handlers (and their sessions) go
  // before what they refer to.
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retention_timer{io};
  asio::steady_timer drain_timer{io};
  asio::steady_timer accept_retry_timer{io};

  // Gives the evaluator `loaded` and logs what it judges by now.
  void UsePolicies(const LoadedPolicies& loaded);
  void ReloadPolicies(const CollectorConfig& c);
  LoadedPolicies pending_policies;  // from Create to Run
  std::atomic<bool> stopping{false};
  // What Run() returns: 0, or kExitStoreCorrupt / kExitInternal.
  std::atomic<int> exit_code{0};
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

  std::vector<std::shared_ptr<Session>> LiveSessions() {
    std::vector<std::shared_ptr<Session>> live;
    std::lock_guard<std::mutex> lock(shared.mu);
    for (auto& [ptr, weak] : shared.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    return live;
  }

  // The store is corrupted (logged at critical level by the store thread): stop with
  // kExitStoreCorrupt. Connections waiting for the store get store_failed, never an ack.
  void OnStoreCorrupt() {
    exit_code = kExitStoreCorrupt;
    BeginStop("store_corrupt");
  }

  // An exception escaped a handler outside any session: there is no connection to blame, so
  // the collector stops (kExitInternal) rather than go on in an unknown state.
  void OnFatal(const std::string& what) {
    Log::Error("internal_error", {{"event", "io_run"}, {"error", Clip(what, 1024)}});
    int expected = 0;
    exit_code.compare_exchange_strong(expected, kExitInternal);
    io.stop();
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
    for (auto& s : LiveSessions()) {
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
    // Revocation and expiry reach live connections: each one's certificate is checked again
    // against the new context (CRL, validity dates), on its own strand.
    std::shared_ptr<ssl::context> fresh = *ctx;
    for (auto& s : LiveSessions()) {
      asio::post(s->executor(), [s, fresh] { s->Recheck(fresh); });
    }
    if (c->listen_host != config.listen_host || c->listen_port != config.listen_port ||
        c->db != config.db || c->threads != config.threads) {
      Log::Warn("reload_partial", {{"reason", "listen, db and threads change only on restart"}});
    }
    retention_days = c->retention_days;
    shutdown_timeout_s = c->shutdown_timeout_s;
    ReloadPolicies(*c);
    Log::Info("reloaded", {{"crl", c->crl.empty() ? "none" : c->crl},
                           {"tls", c->tls12 ? "1.2+1.3" : "1.3"},
                           {"max_connections", std::to_string(c->max_connections)},
                           {"max_frame_bytes", std::to_string(c->max_frame_bytes)},
                           {"max_inflight_bytes", std::to_string(c->max_inflight_bytes)},
                           {"max_host_inflight_bytes", std::to_string(c->max_host_inflight_bytes)},
                           {"frame_timeout", std::to_string(c->frame_timeout_s)},
                           {"min_frame_rate", std::to_string(c->min_frame_rate)},
                           {"handshake_timeout", std::to_string(c->handshake_timeout_s)},
                           {"idle_timeout", std::to_string(c->idle_timeout_s)}});
  }
};

void Server::Impl::UsePolicies(const LoadedPolicies& loaded) {
  evaluator->SetPolicies(loaded.set);
  if (!loaded.set) {
    Log::Info("evaluation_off",
              {{"policies", loaded.path.empty() ? "none" : loaded.path},
               {"reason", loaded.path.empty() ? "policies = none" : "no policies there"}});
    return;
  }
  Log::Info("evaluation", {{"policies", loaded.path},
                           {"rules", std::to_string(loaded.set->rules.size())},
                           {"baselines", std::to_string(loaded.set->baselines.size())},
                           {"policy_hash", evaluator->policy_hash()}});
}

void Server::Impl::ReloadPolicies(const CollectorConfig& c) {
  auto loaded = LoadServerPolicies(c);
  if (!loaded.ok()) {
    Log::Error(
        "reload_failed",
        {{"error", loaded.status().message()},
         {"kept", evaluator->policy_hash().empty() ? "no evaluation" : evaluator->policy_hash()}});
    return;
  }
  UsePolicies(*loaded);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_->shared.store) impl_->shared.store->Stop();
  if (impl_->evaluator) impl_->evaluator->Stop();  // before `io`, which on_corrupt posts to
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
  Impl* raw = impl.get();
  impl->shared.store = std::make_unique<StoreWorker>(std::move(*store), c.db, [raw](const Status&) {
    asio::post(raw->io, [raw] { raw->OnStoreCorrupt(); });
  });
  auto policies = LoadServerPolicies(c);
  if (!policies.ok()) return policies.status();
  Evaluator::Options eo;
  eo.db = c.db;
  eo.facts = FactsPathFor(c.db);
  eo.on_corrupt = [raw] { asio::post(raw->io, [raw] { raw->OnStoreCorrupt(); }); };
  auto evaluator = Evaluator::Start(eo, nullptr);  // policies given (and logged) by Run
  if (!evaluator.ok()) return evaluator.status();
  impl->evaluator = std::move(*evaluator);
  impl->pending_policies = std::move(*policies);
  // The store thread wakes the evaluator after each commit that stored a new state.
  impl->shared.store->SetOnStored([e = impl->evaluator.get()] { e->Wake(); });

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
  // Loaded by Create, so that bad ones stop the start; said before "listening", the line that
  // tells a reader (and the tests) that the start is complete.
  m.UsePolicies(m.pending_policies);
  m.pending_policies = {};
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
  // The last named edge: whatever escapes a handler (all session handlers catch their own)
  // stops the collector with a clear line instead of std::terminate.
  auto run = [&m] {
    try {
      m.io.run();
    } catch (const std::exception& e) {
      m.OnFatal(e.what());
    } catch (...) {
      m.OnFatal("unknown exception");
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  m.shared.store->Stop();
  m.evaluator->Stop();
  int code = m.exit_code.load();
  if (code == 0) {
    Log::Info("stopped", {});
  } else {
    Log::Error("stopped",
               {{"exit_code", std::to_string(code)},
                {"reason", code == kExitStoreCorrupt ? "store corrupted" : "internal error"}});
  }
  return code;
}

void Server::Stop() {
  asio::post(impl_->io, [this] { impl_->BeginStop("requested"); });
}

void Server::Reload() {
  asio::post(impl_->io, [this] { impl_->DoReload(); });
}

}  // namespace tidemark::collector
