// tls_test_client.h: a blocking test client on raw OpenSSL.
#include "tests/support/tls_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace tidemark::testing {
namespace {

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error" : out;
}

int TcpConnect(uint16_t port, const std::string& source) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (!source.empty()) {
    sockaddr_in from{};
    from.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
        ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void SetTimeout(int fd, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

}  // namespace

std::unique_ptr<TlsTestClient> TlsTestClient::Connect(uint16_t port,
                                                      const TlsClientOptions& options,
                                                      std::string* error) {
  std::unique_ptr<TlsTestClient> c(new TlsTestClient());
  ERR_clear_error();
  c->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(c->ctx_.get(), TLS1_2_VERSION);
  if (options.tls12_only) SSL_CTX_set_max_proto_version(c->ctx_.get(), TLS1_2_VERSION);
  if (SSL_CTX_load_verify_locations(c->ctx_.get(), options.ca.c_str(), nullptr) != 1) {
    *error = "load CA: " + SslErrors();
    return nullptr;
  }
  SSL_CTX_set_verify(c->ctx_.get(), SSL_VERIFY_PEER, nullptr);
  if (!options.cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(c->ctx_.get(), options.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(c->ctx_.get(), options.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      *error = "load client cert: " + SslErrors();
      return nullptr;
    }
  }
  c->fd_ = TcpConnect(port, options.source);
  if (c->fd_ < 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    return nullptr;
  }
  SetTimeout(c->fd_, 15);
  c->ssl_.reset(SSL_new(c->ctx_.get()));
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_.get()), "127.0.0.1");
  SSL_set_fd(c->ssl_.get(), c->fd_);
  if (options.resume != nullptr) SSL_set_session(c->ssl_.get(), options.resume);
  if (SSL_connect(c->ssl_.get()) != 1) {
    *error = "handshake: " + SslErrors();
    return nullptr;
  }
  return c;
}

TlsTestClient::~TlsTestClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string TlsTestClient::Version() const { return ssl_ ? SSL_get_version(ssl_.get()) : ""; }

SSL_SESSION* TlsTestClient::Session() const {
  if (!ssl_) return nullptr;
  SSL_SESSION* s = SSL_get1_session(ssl_.get());
  if (s == nullptr) return nullptr;
  // A copy: SSL_free without a close_notify marks the connection's own session not resumable.
  SSL_SESSION* copy = SSL_SESSION_is_resumable(s) == 1 ? SSL_SESSION_dup(s) : nullptr;
  SSL_SESSION_free(s);
  return copy;
}

bool TlsTestClient::Resumed() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

bool TlsTestClient::SendRaw(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    size_t n = 0;
    if (SSL_write_ex(ssl_.get(), bytes.data() + off, bytes.size() - off, &n) != 1) return false;
    off += n;
  }
  return true;
}

bool TlsTestClient::SendInRecords(std::string_view bytes, size_t record_bytes) {
  for (size_t off = 0; off < bytes.size(); off += record_bytes) {
    if (!SendRaw(bytes.substr(off, record_bytes))) return false;
  }
  return true;
}

int TlsTestClient::SendKeyUpdates(int n) {
  for (int i = 0; i < n; ++i) {
    if (SSL_key_update(ssl_.get(), SSL_KEY_UPDATE_REQUESTED) != 1 ||
        SSL_do_handshake(ssl_.get()) != 1) {
      ERR_clear_error();
      return i;
    }
  }
  return n;
}

bool TlsTestClient::SendFrame(protocol::FrameType type, std::string_view payload) {
  return SendRaw(protocol::EncodeFrame(type, payload));
}

bool TlsTestClient::SendJson(protocol::FrameType type, const nlohmann::json& payload) {
  return SendRaw(protocol::EncodeJsonFrame(type, payload));
}

bool TlsTestClient::ReadExact(char* p, size_t n, int timeout_s, std::string* error) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  size_t off = 0;
  while (off < n) {
    if (SSL_pending(ssl_.get()) == 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        if (error) *error = "timeout";
        return false;
      }
      pollfd pfd{fd_, POLLIN, 0};
      int r = ::poll(&pfd, 1, static_cast<int>(left));
      if (r == 0) {
        if (error) *error = "timeout";
        return false;
      }
    }
    size_t got = 0;
    int r = SSL_read_ex(ssl_.get(), p + off, n - off, &got);
    if (r != 1) {
      int e = SSL_get_error(ssl_.get(), r);
      if (e == SSL_ERROR_WANT_READ) continue;
      if (error) {
        *error = e == SSL_ERROR_ZERO_RETURN ? "closed" : "read: " + SslErrors();
      }
      return false;
    }
    off += got;
  }
  return true;
}

std::optional<ReceivedFrame> TlsTestClient::ReadFrame(int timeout_s, std::string* error) {
  std::array<uint8_t, protocol::kHeaderSize> header{};
  if (!ReadExact(reinterpret_cast<char*>(header.data()), header.size(), timeout_s, error)) {
    return std::nullopt;
  }
  auto h = protocol::DecodeHeader(header, 1u << 30);
  if (!h.ok()) {
    if (error) *error = "bad header from server: " + h.status().message();
    return std::nullopt;
  }
  ReceivedFrame f;
  f.type = h->type;
  f.payload.resize(h->length);
  if (!ReadExact(f.payload.data(), f.payload.size(), timeout_s, error)) return std::nullopt;
  auto j = protocol::ParseJsonPayload(f.payload);
  if (j.ok()) f.json = *j;
  return f;
}

std::optional<ReceivedFrame> TlsTestClient::Hello(int64_t spool_dropped, int64_t spool_rejected) {
  protocol::Hello h;
  h.agent_version = "0.1.0-test";
  h.capabilities = {"offer"};
  h.spool_dropped = spool_dropped;
  h.spool_rejected = spool_rejected;
  if (!SendJson(protocol::FrameType::kHello, protocol::ToJson(h))) return std::nullopt;
  return ReadFrame();
}

bool TlsTestClient::WaitClosed(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline -
                                                                 std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    std::string error;
    auto f = ReadFrame(static_cast<int>(left), &error);
    if (f) {
      last_frames.push_back(std::move(*f));
      continue;
    }
    return error != "timeout";
  }
}

std::unique_ptr<RawTcpClient> RawTcpClient::Connect(uint16_t port, const std::string& source) {
  int fd = TcpConnect(port, source);
  if (fd < 0) return nullptr;
  auto c = std::make_unique<RawTcpClient>();
  c->fd_ = fd;
  return c;
}

RawTcpClient::~RawTcpClient() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawTcpClient::Send(std::string_view bytes) {
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

bool RawTcpClient::WaitClosed(int timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) return false;
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return true;  // EOF or reset
  }
}

}  // namespace tidemark::testing
