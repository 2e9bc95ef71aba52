// TestResponder: see test_responder.h.
#include "tests/support/test_responder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <stdexcept>

#include "common/snapshot.h"
#include "common/transport/openssl_ptr.h"

namespace tidemark::testing {
namespace {

namespace proto = tidemark::protocol;

int BindLoopback(int port, bool listen_too) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    throw std::runtime_error("bind 127.0.0.1:" + std::to_string(port));
  }
  if (listen_too && ::listen(fd, 16) != 0) {
    ::close(fd);
    throw std::runtime_error("listen");
  }
  return fd;
}

int LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

bool ReadAll(SSL* ssl, char* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    int got = SSL_read(ssl, out + done, static_cast<int>(n - done));
    if (got <= 0) return false;
    done += static_cast<size_t>(got);
  }
  return true;
}

bool WriteAll(SSL* ssl, const std::string& data) {
  return SSL_write(ssl, data.data(), static_cast<int>(data.size())) ==
         static_cast<int>(data.size());
}

std::string ErrorFrame(const std::string& code, const std::string& message,
                       const std::string& snapshot_id, bool permanent) {
  proto::Error e;
  e.code = code;
  e.message = message;
  if (!snapshot_id.empty()) e.snapshot_id = snapshot_id;
  e.permanent = permanent;
  return proto::EncodeJsonFrame(proto::FrameType::kError, proto::ToJson(e));
}

std::string AckFrame(const std::string& id, const std::string& result) {
  proto::Ack a{id, result, NowRfc3339()};
  return proto::EncodeJsonFrame(proto::FrameType::kAck, proto::ToJson(a));
}

}  // namespace

TestResponder::TestResponder(const TestPki& pki, ResponderScript script, const CertFiles* server,
                             int port)
    : script_(std::move(script)),
      ca_file_(pki.ca_file()),
      cert_file_(server != nullptr ? server->cert : pki.server().cert),
      key_file_(server != nullptr ? server->key : pki.server().key) {
  // An agent that hangs up must not kill the test binary when the responder writes.
  ::signal(SIGPIPE, SIG_IGN);
  listen_fd_ = BindLoopback(port, true);
  port_ = LocalPort(listen_fd_);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  thread_ = std::thread([this] { Serve(); });
}

TestResponder::~TestResponder() {
  [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  ::close(listen_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void TestResponder::Serve() {
  for (;;) {
    std::array<pollfd, 2> fds{{{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}}};
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    HandleConnection(fd);
    ::close(fd);
  }
}

void TestResponder::HandleConnection(int fd) {
  {
    openssl::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    SSL_CTX_use_certificate_chain_file(ctx.get(), cert_file_.c_str());
    SSL_CTX_use_PrivateKey_file(ctx.get(), key_file_.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_load_verify_locations(ctx.get(), ca_file_.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    openssl::SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    if (SSL_accept(ssl.get()) != 1) {
      ++handshakes_failed_;
    } else {
      X509* peer = SSL_get0_peer_certificate(ssl.get());
      std::array<char, 256> buf{};
      if (peer != nullptr) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf.data(),
                                  static_cast<int>(buf.size()));
      }
      ServeFrames(ssl.get(), buf.data());
      SSL_shutdown(ssl.get());
    }
  }
  ERR_clear_error();
}

// Answers frames until the agent or the script ends the connection.
void TestResponder::ServeFrames(SSL* ssl, const std::string& cn) {
  for (;;) {
    std::array<uint8_t, proto::kHeaderSize> header{};
    if (!ReadAll(ssl, reinterpret_cast<char*>(header.data()), header.size())) return;
    auto h = proto::DecodeHeader(header, script_.max_frame_bytes);
    if (!h.ok()) {
      WriteAll(ssl, ErrorFrame(h.status().code() == StatusCode::kTooLarge
                                   ? std::string(proto::kErrFrameTooLarge)
                                   : std::string(proto::kErrMalformedFrame),
                               h.status().message(), "", true));
      return;
    }
    std::string payload(h->length, '\0');
    if (!ReadAll(ssl, payload.data(), payload.size())) return;
    ++frames_;
    bool go_on = false;
    if (h->type == proto::FrameType::kHello) {
      go_on = OnHello(ssl, payload, cn);
    } else if (h->type == proto::FrameType::kOffer) {
      go_on = OnOffer(ssl, payload);
    } else if (h->type == proto::FrameType::kSnapshot) {
      go_on = OnSnapshot(ssl, payload, cn);
    } else {
      WriteAll(ssl, ErrorFrame(std::string(proto::kErrProtocol), "unexpected frame", "", true));
    }
    if (!go_on) return;
  }
}

// The following return false when the connection ends (scripted, or a write failed).
bool TestResponder::OnHello(SSL* ssl, const std::string& payload, const std::string& cn) {
  auto j = proto::ParseJsonPayload(payload);
  auto hello = j.ok() ? proto::HelloFromJson(*j) : StatusOr<proto::Hello>(j.status());
  if (hello.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    hellos_.push_back(*hello);
  }
  if (!script_.hello_error.empty()) {
    WriteAll(ssl, ErrorFrame(script_.hello_error, "scripted", "", script_.hello_error_permanent));
    return false;
  }
  proto::Welcome w;
  w.collector_version = "test";
  w.host = script_.welcome_host.empty() ? cn : script_.welcome_host;
  w.max_frame_bytes = script_.max_frame_bytes;
  if (script_.offer_capability) w.capabilities = {"offer"};
  std::string welcome = proto::EncodeJsonFrame(proto::FrameType::kWelcome, ToJson(w));
  // Corked, the KeyUpdates leave in one segment and are all in the agent's socket when it
  // reads: the agent must still handle them one read step at a time.
  const int fd = SSL_get_fd(ssl);
  int cork = 1;
  if (script_.key_updates_before_welcome > 0) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
  }
  for (int i = 0; i < script_.key_updates_before_welcome; ++i) {
    if (SSL_key_update(ssl, SSL_KEY_UPDATE_NOT_REQUESTED) != 1 || SSL_do_handshake(ssl) != 1) {
      return false;
    }
  }
  if (script_.key_updates_before_welcome > 0) {
    cork = 0;
    ::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &cork, sizeof cork);
  }
  if (script_.trickle_ms > 0) {  // one byte per trickle_ms, until stopped
    for (char c : welcome) {
      pollfd stop{stop_pipe_[0], POLLIN, 0};
      if (::poll(&stop, 1, script_.trickle_ms) != 0 || !WriteAll(ssl, std::string(1, c))) {
        return false;
      }
    }
    return true;
  }
  return WriteAll(ssl, welcome);
}

bool TestResponder::OnOffer(SSL* ssl, const std::string& payload) {
  auto j = proto::ParseJsonPayload(payload);
  auto offer = j.ok() ? proto::OfferFromJson(*j) : StatusOr<proto::Offer>(j.status());
  if (!offer.ok()) return false;
  bool known = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    offers_.push_back(offer->snapshot_id);
    for (const auto& [id, hash] : hash_by_id_) known |= hash == offer->content_hash;
  }
  std::string reply =
      script_.offers_seen && known
          ? AckFrame(offer->snapshot_id, "seen")
          : proto::EncodeJsonFrame(proto::FrameType::kSendBody,
                                   proto::ToJson(proto::SendBody{offer->snapshot_id}));
  return WriteAll(ssl, reply);
}

bool TestResponder::OnSnapshot(SSL* ssl, const std::string& payload, const std::string& cn) {
  auto p = proto::ParseSnapshotPayload(payload);
  if (!p.ok()) {
    WriteAll(ssl, ErrorFrame(std::string(proto::kErrBadSnapshot), p.status().message(), "", true));
    return true;
  }
  ++snapshots_seen_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_frames_.push_back(p->snapshot_id);
  }
  if (snapshots_seen_ == script_.hang_up_at_snapshot) return false;
  if (snapshots_seen_ == script_.stall_at_snapshot) {
    pollfd stop{stop_pipe_[0], POLLIN, 0};
    ::poll(&stop, 1, 60'000);
    return false;
  }
  if (script_.refuse_all || script_.refuse_ids.count(p->snapshot_id) != 0) {
    WriteAll(ssl, ErrorFrame(script_.refuse_code, script_.refuse_message, p->snapshot_id, true));
    return !script_.close_after_refusal;
  }
  if (script_.store_failed) {
    WriteAll(ssl,
             ErrorFrame(std::string(proto::kErrStoreFailed), "scripted", p->snapshot_id, false));
    return true;
  }
  // Like the collector, a body that does not decode is refused for good; the decoder's
  // exceptions (a non-string host.hostname, before it was fixed) are caught here.
  StatusOr<Snapshot> doc = Status(StatusCode::kInternal, "not decoded");
  try {
    doc = DecodeSnapshot(p->body);
  } catch (const std::exception& e) {
    doc = Status(StatusCode::kInvalidArgument, e.what());
  }
  if (!doc.ok() || ContentHash(*doc) != p->content_hash) {
    WriteAll(ssl,
             ErrorFrame(std::string(proto::kErrBadSnapshot),
                        doc.ok() ? "hash mismatch" : doc.status().message(), p->snapshot_id, true));
    return true;
  }
  if (doc->host.id != cn) {
    WriteAll(ssl,
             ErrorFrame(std::string(proto::kErrIdentityMismatch), "host.id", p->snapshot_id, true));
    return true;
  }
  std::string result = "stored";
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hash_by_id_.count(p->snapshot_id) != 0) {
      result = "duplicate";
    } else {
      hash_by_id_[p->snapshot_id] = p->content_hash;
      stored_.push_back({p->snapshot_id, p->content_hash, doc->host.id, cn});
    }
  }
  return WriteAll(ssl, AckFrame(p->snapshot_id, result));
}

std::vector<ReceivedSnapshot> TestResponder::stored() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stored_;
}
std::vector<std::string> TestResponder::snapshot_frames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_frames_;
}
std::vector<std::string> TestResponder::offers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return offers_;
}
std::vector<proto::Hello> TestResponder::hellos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hellos_;
}

ClosedPort::ClosedPort() {
  fd_ = BindLoopback(0, false);
  port_ = LocalPort(fd_);
}
ClosedPort::~ClosedPort() { Release(); }
void ClosedPort::Release() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace tidemark::testing
