// session.h: one agent connection, from the handshake to the last ack.
#include "collector/session.h"

#include <openssl/err.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <exception>
#include <utility>

#include "collector/log.h"
#include "collector/tls_context.h"
#include "common/snapshot_verify.h"
#include "common/time.h"

namespace tidemark::collector {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using protocol::FrameType;

namespace {

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

}  // namespace

std::string EndpointText(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  std::string a = addr.to_string();
  if (addr.is_v6()) a = "[" + a + "]";
  return a + ":" + std::to_string(ep.port());
}

template <typename F>
void Session::Guard(const char* event, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    OnException(event, e.what());
  } catch (...) {
    OnException(event, "unknown exception");
  }
}

Session::Session(ServerState& shared, tcp::socket socket, std::shared_ptr<ssl::context> ctx,
                 bool overflow)
    : shared_(shared),
      ctx_(std::move(ctx)),
      stream_(std::move(socket), ctx_->native_handle()),
      timer_(stream_.get_executor()),
      overflow_(overflow) {
  boost::system::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  peer_ = ec ? "unknown" : EndpointText(ep);
  source_ = PeerSource(peer_);
}

Session::~Session() {
  if (reserved_ > 0) shared_.Release(host_, reserved_);
  ReleaseHandshake();
  ReleaseSlot();
  std::lock_guard<std::mutex> lock(shared_.mu);
  shared_.sessions.erase(this);
}

void Session::Start() {
  {
    std::lock_guard<std::mutex> lock(shared_.mu);
    shared_.sessions[this] = weak_from_this();
  }
  auto self = shared_from_this();
  state_ = State::kHandshake;
  if (!shared_.TakeSourceConnection(source_)) {
    Log::Warn("connection_refused", {{"peer", peer_}, {"reason", "source_connection_rate"}});
    CloseNow();
    return;
  }
  auto [admitted, handshakes] = shared_.AddSourceHandshake(source_);
  if (!admitted) {
    Log::Warn("connection_refused", {{"peer", peer_},
                                     {"reason", "max_source_handshakes"},
                                     {"handshakes", std::to_string(handshakes)}});
    CloseNow();
    return;
  }
  handshake_counted_ = true;
  ArmTimer(shared_.limits.handshake_timeout_s.load(), "handshake_timeout");
  // `this`, not `self`: the stream owns the callback, so a shared_ptr would be a cycle.
  stream_.SetVerifyCallback(
      [this](bool preverified, X509_STORE_CTX* x) { return Verify(preverified, x); });
  stream_.AsyncHandshake([this, self](const boost::system::error_code& ec, size_t) {
    Guard("handshake", [&] { OnHandshake(ec); });
  });
}

void Session::Drain() {
  Guard("drain", [&] {
    draining_ = true;
    if (state_ == State::kHandshake || state_ == State::kIdle) {
      Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", "shutdown"}});
      CloseNow();
    }
  });
}

void Session::Recheck(const std::shared_ptr<ssl::context>& ctx) {
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

void Session::OnException(const char* event, const std::string& what) noexcept {
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

bool Session::Verify(bool preverified, X509_STORE_CTX* x) {
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

void Session::ArmTimer(int64_t seconds, const char* event) {
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
      } else if (state_ == State::kHeader) {
        Log::Warn(event, {{"peer", peer_},
                          {"host", host_},
                          {"part", "header"},
                          {"expected", std::to_string(header_.size())},
                          {"received", std::to_string(header_received_)}});
      } else {
        Log::Warn(event, {{"peer", peer_}, {"host", host_}});
      }
      CloseNow();
    });
  });
}

void Session::ReleaseSlot() {
  if (slot_released_) return;
  slot_released_ = true;
  if (host_counted_) shared_.RemoveHostConnection(host_);
  if (overflow_) {
    shared_.overflow.fetch_sub(1);
  } else {
    shared_.connections.fetch_sub(1);
  }
}

void Session::ReleaseHandshake() {
  if (!handshake_counted_) return;
  handshake_counted_ = false;
  shared_.RemoveSourceHandshake(source_);
}

void Session::CloseNow() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  ReleaseHandshake();
  ReleaseSlot();
  timer_.cancel();
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

void Session::CloseRefused() {
  stream_.ForgetSession();
  CloseNow();
}

void Session::OnHandshake(const boost::system::error_code& ec) {
  if (state_ == State::kClosed) return;  // timed out
  timer_.cancel();
  ReleaseHandshake();
  if (ec) {
    std::string reason =
        stream_.flood() != TlsStream::Flood::kNone
            ? "too many TLS records (" + std::to_string(stream_.records()) + ") for the handshake"
        : !verify_reason_.empty() ? verify_reason_
                                  : HandshakeReason(ec, stream_.native_handle());
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
  auto [added, count] = shared_.AddHostConnection(host_);
  if (!added) {
    Log::Warn("connection_refused", {{"peer", peer_},
                                     {"host", host_},
                                     {"reason", "max_host_connections"},
                                     {"connections", std::to_string(count)}});
    SendError(
        protocol::kErrBusy,
        "too many connections from this host (" + std::to_string(count) + " open); try again later",
        std::nullopt, false, true);
    return;
  }
  host_counted_ = true;
  ReadHeader();
}

void Session::ReadHeader() {
  if (draining_) {
    Log::Info("connection_closed", {{"peer", peer_}, {"host", host_}, {"reason", "shutdown"}});
    SendError(protocol::kErrShuttingDown, "the collector is stopping", std::nullopt, false, true);
    return;
  }
  state_ = State::kIdle;
  ArmTimer(shared_.limits.idle_timeout_s.load(), "idle_timeout");
  stream_.AllowRecords(TlsStream::kRecordsPerFrame);
  auto self = shared_from_this();
  // Waiting for a frame may take idle_timeout; once its first byte is here, the rest of the
  // header must follow within frame_timeout like any part of a frame (OnHeaderStart).
  stream_.AsyncReadSome(header_.data(), header_.size(),
                        [this, self](const boost::system::error_code& ec, size_t n) {
                          Guard("header", [&] { OnHeaderStart(ec, n); });
                        });
}

void Session::OnHeaderStart(const boost::system::error_code& ec, size_t n) {
  if (state_ == State::kClosed) return;
  header_received_ = n;
  if (ec || n == header_.size()) return OnHeader(ec);
  state_ = State::kHeader;
  ArmTimer(shared_.limits.frame_timeout_s.load(), "frame_stalled");
  auto self = shared_from_this();
  stream_.AsyncRead(header_.data() + n, header_.size() - n,
                    [this, self](const boost::system::error_code& rest_ec, size_t more) {
                      Guard("header", [&] {
                        header_received_ += more;
                        OnHeader(rest_ec);
                      });
                    });
}

bool Session::CertificateStillValid() {
  X509* cert = SSL_get0_peer_certificate(stream_.native_handle());
  if (cert == nullptr) return false;
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) >= 0) return true;
  Log::Warn(
      "certificate_refused",
      {{"peer", peer_}, {"host", host_}, {"when", "frame"}, {"reason", "certificate has expired"}});
  CloseRefused();
  return false;
}

void Session::LogFlood() {
  Log::Warn("tls_flood", {{"peer", peer_},
                          {"host", host_},
                          {"kind", std::string(TlsStream::FloodName(stream_.flood()))},
                          {"key_updates", std::to_string(stream_.key_updates())},
                          {"records", std::to_string(stream_.records())},
                          {"bytes", std::to_string(stream_.bytes_read())}});
}

void Session::OnHeader(const boost::system::error_code& ec) {
  if (state_ == State::kClosed) return;
  if (ec) {
    if (stream_.flood() != TlsStream::Flood::kNone) {
      LogFlood();
      CloseNow();
      return;
    }
    bool clean = ec == asio::error::eof || ec == ssl::error::stream_truncated;
    Log::Info("connection_closed",
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
  if ((header->type == FrameType::kSnapshot || header->type == FrameType::kOffer) &&
      !shared_.ChargeHostBytes(host_, header->length)) {
    Log::Warn("frame_rejected", {{"peer", peer_},
                                 {"host", host_},
                                 {"code", std::string(protocol::kErrBusy)},
                                 {"reason", "max_host_bytes_per_day reached"},
                                 {"type", std::string(protocol::FrameTypeName(header->type))},
                                 {"bytes", std::to_string(header->length)}});
    SendError(protocol::kErrBusy,
              "this host sent its daily allowance of snapshot bytes; try again later", std::nullopt,
              false, true);
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

void Session::ReadPayload() {
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

void Session::OnPayload(const boost::system::error_code& ec, size_t n) {
  if (state_ == State::kClosed) return;
  received_ += static_cast<int64_t>(n);
  if (ec) {
    timer_.cancel();
    if (stream_.flood() != TlsStream::Flood::kNone) {
      LogFlood();
      CloseNow();
      return;
    }
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

void Session::ReleasePayload() {
  payload_.reset();
  if (reserved_ > 0) shared_.Release(host_, reserved_);
  reserved_ = 0;
}

void Session::Malformed(const std::string& reason) {
  Log::Warn("frame_rejected", {{"peer", peer_},
                               {"host", host_},
                               {"code", std::string(protocol::kErrMalformedFrame)},
                               {"type", std::string(protocol::FrameTypeName(type_))},
                               {"reason", Clip(reason, kMaxAgentTextBytes)}});
  SendError(protocol::kErrMalformedFrame, reason, std::nullopt, false, true);
}

void Session::OutOfTurn(const std::string& reason) {
  Log::Warn("frame_rejected", {{"peer", peer_},
                               {"host", host_},
                               {"code", std::string(protocol::kErrProtocol)},
                               {"type", std::string(protocol::FrameTypeName(type_))},
                               {"reason", Clip(reason, kMaxAgentTextBytes)}});
  SendError(protocol::kErrProtocol, reason, std::nullopt, false, true);
}

void Session::SafeDispatch() {
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

void Session::Dispatch() {
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

void Session::OnHello() {
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
  shared_.store->Hello({HostContact{host_, agent_version_, fingerprint_, NowSeconds()},
                        [self, executor](StatusOr<bool> changed) {
                          asio::post(executor, [self, changed = std::move(changed)] {
                            self->OnHostRecorded(changed);
                          });
                        }});
}

void Session::OnHostRecorded(const StatusOr<bool>& changed) {
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

void Session::OnOffer() {
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
  int64_t now = NowSeconds();
  protocol::Offer o = *offer;
  StoreWorker::SeenJob job;
  job.input = SeenInput{host, o.snapshot_id, o.content_hash, o.collected_at, now};
  job.done = [self, executor, o, now](StatusOr<PutResult> r) {
    asio::post(executor, [self, r = std::move(r), o, now] { self->OnOfferDone(r, o, now); });
  };
  store_pending_ = true;
  shared_.store->Seen(std::move(job));
}

void Session::OnOfferDone(const StatusOr<PutResult>& r, const protocol::Offer& o,
                          int64_t received_at) {
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

void Session::Ack(const std::string& id, PutResult result, int64_t received_at, const char* via) {
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

void Session::RefuseSnapshot(std::string_view code, const std::string& reason,
                             std::optional<std::string> id) {
  Log::Warn("snapshot_refused", {{"peer", peer_},
                                 {"host", host_},
                                 {"snapshot_id", id.value_or("")},
                                 {"code", std::string(code)},
                                 {"reason", Clip(reason, kMaxAgentTextBytes)}});
  SendError(code, reason, std::move(id), true, false);
}

void Session::OnSnapshot() {
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
  int64_t now = NowSeconds();
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

void Session::OnStored(const StatusOr<PutResult>& r, const std::string& id, int64_t received_at) {
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

void Session::SendError(std::string_view code, const std::string& message,
                        std::optional<std::string> id, bool permanent, bool close_after) {
  protocol::Error e;
  e.code = std::string(code);
  e.message = message;
  e.snapshot_id = std::move(id);
  e.permanent = permanent;
  Send(protocol::EncodeJsonFrame(FrameType::kError, protocol::ToJson(e)), close_after);
}

void Session::Send(std::string frame, bool close_after) {
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
                           Log::Info("connection_closed",
                                     {{"peer", peer_}, {"host", host_}, {"reason", ec.message()}});
                           CloseNow();
                           return;
                         }
                         if (close_after) return Shutdown();
                         ReadHeader();
                       });
                     });
}

void Session::Shutdown() {
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
}  // namespace tidemark::collector
