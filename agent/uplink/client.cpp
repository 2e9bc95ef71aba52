#include "agent/uplink/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/read_file.h"
#include "common/transport/pki.h"

namespace tidemark::agent::uplink {
namespace {

using Clock = std::chrono::steady_clock;

Status Transient(std::string message) { return {StatusCode::kUnavailable, std::move(message)}; }
Status Refused(std::string message) { return {StatusCode::kPermissionDenied, std::move(message)}; }
Status Config(std::string message) { return {StatusCode::kInvalidArgument, std::move(message)}; }

// The OpenSSL error queue as one line (and clears it).
std::string SslErrors() {
  std::string all;
  while (unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!all.empty()) all += "; ";
    all += buf.data();
  }
  return all.empty() ? "no details" : all;
}

// True for alerts by which the collector says it does not accept our certificate (or our TLS
// version): retrying with the same certificate cannot succeed.
bool IsRefusalAlert(unsigned long err) {
  if (ERR_GET_LIB(err) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(err)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
      return true;
    default:
      return false;
  }
}

// The agent's certificate or key: a regular file of at most 1 MiB (never a FIFO's wait or
// /dev/zero's memory).
StatusOr<std::string> ReadSmallFile(const std::string& path) {
  StatusOr<std::string> text = ReadRegularFile(path, 1u << 20);
  if (!text.ok()) return Config("cannot read " + text.status().message());
  return text;
}

int RemainingMs(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, INT32_MAX));
}

// Waits until `fd` is ready for `events`, the deadline passes (kUnavailable "timed out") or
// `cancel_fd` becomes readable (kCancelled "interrupted").
Status WaitFd(int fd, short events, Clock::time_point deadline, int cancel_fd, const char* what) {
  for (;;) {
    std::array<pollfd, 2> fds{};
    fds[0] = {fd, events, 0};
    nfds_t n = 1;
    if (cancel_fd >= 0) {
      fds[1] = {cancel_fd, POLLIN, 0};
      n = 2;
    }
    int left = RemainingMs(deadline);
    if (left == 0) return Transient(std::string("timed out during ") + what);
    int rc = ::poll(fds.data(), n, left);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Transient(std::string("poll: ") + std::strerror(errno));
    }
    if (n == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      return {StatusCode::kCancelled, std::string("interrupted during ") + what};
    }
    if (rc > 0 && fds[0].revents != 0) return Status::Ok();
  }
}

}  // namespace

StatusOr<std::unique_ptr<TlsIdentity>> TlsIdentity::Load(const TlsFiles& files) {
  if (files.ca_file.empty() || files.cert_file.empty() || files.key_file.empty()) {
    return Config("--ca, --cert and --key are required");
  }
  if (Status s = pki::CheckPrivateKeyFile(files.key_file); !s.ok()) {
    return Config(s.message() + "; refusing to use it");
  }
  auto cert_pem = ReadSmallFile(files.cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto cn = pki::CommonName(*cert_pem);
  if (!cn.ok()) return Config(files.cert_file + ": " + cn.status().message());
  if (!protocol::IsValidHostId(*cn)) {
    return Config(files.cert_file +
                  ": its commonName is not a valid host id (1 to 253 of "
                  "A-Z a-z 0-9 . - _, not starting with . or -, no ..)");
  }
  // The collector requires the extended key usage clientAuth (docs/protocol.md): a certificate
  // without it would be refused after a whole collection, so it is refused before one.
  auto info = pki::Inspect(*cert_pem);
  if (!info.ok()) return Config(files.cert_file + ": " + info.status().message());
  if (!info->client_auth) {
    return Config(files.cert_file +
                  ": the certificate does not carry the extended key usage clientAuth, which "
                  "the collector requires of an agent (tidemarkctl pki issue makes one)");
  }
  // Whether the key belongs to the certificate, said as such (OpenSSL would only say that the
  // key cannot be loaded).
  auto key_pem = ReadSmallFile(files.key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto matches = pki::KeyMatchesCertificate(*key_pem, *cert_pem);
  if (!matches.ok()) {
    return Config("cannot load the private key " + files.key_file + ": " +
                  matches.status().message());
  }
  if (!*matches) {
    return Config("the private key " + files.key_file + " does not belong to the certificate " +
                  files.cert_file + " (they are not a pair)");
  }
  std::unique_ptr<TlsIdentity> id(new TlsIdentity());
  id->host_id_ = *cn;
  ERR_clear_error();
  id->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (id->ctx_ == nullptr) return Status{StatusCode::kInternal, "SSL_CTX_new: " + SslErrors()};
  SSL_CTX* ctx = id->ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  if (SSL_CTX_set1_groups_list(ctx, pki::kTlsGroups) != 1) {
    return Status{StatusCode::kInternal, "TLS groups: " + SslErrors()};
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // Only the configured CA: the system's trust store has no say over the collector. A regular
  // file (OpenSSL opens it by name: a FIFO would stall the agent).
  if (Status s = CheckRegularFile(files.ca_file, kMaxPemFileBytes); !s.ok()) {
    return Config("cannot load the CA certificate " + s.message());
  }
  if (SSL_CTX_load_verify_locations(ctx, files.ca_file.c_str(), nullptr) != 1) {
    return Config("cannot load the CA certificate " + files.ca_file + ": " + SslErrors());
  }
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return Config("cannot load the certificate " + files.cert_file + ": " + SslErrors());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    // Not the OpenSSL text: it could echo what the file holds.
    ERR_clear_error();
    return Config("cannot load the private key " + files.key_file);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Config("the private key " + files.key_file + " does not match " + files.cert_file);
  }
  // A verified chain must also be fit for a TLS server (EKU serverAuth when an EKU is present;
  // that one is present is checked after the handshake).
  SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  return id;
}

TlsIdentity::~TlsIdentity() = default;

openssl::SslSessionPtr TlsIdentity::Session(const std::string& peer) const {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  auto it = sessions_.find(peer);
  if (it == sessions_.end()) return nullptr;
  SSL_SESSION_up_ref(it->second.get());
  return openssl::SslSessionPtr(it->second.get());
}

void TlsIdentity::KeepSession(const std::string& peer, openssl::SslSessionPtr session) const {
  std::lock_guard<std::mutex> lock(sessions_mu_);
  sessions_[peer] = std::move(session);
}

StatusOr<std::unique_ptr<Connection>> Connection::Open(const TlsIdentity& identity,
                                                       const Endpoint& endpoint,
                                                       const std::string& server_name,
                                                       const Timeouts& timeouts, int cancel_fd) {
  std::unique_ptr<Connection> c(new Connection());
  c->cancel_fd_ = cancel_fd;
  c->timeouts_ = timeouts;
  c->peer_ =
      (endpoint.host.find(':') != std::string::npos ? "[" + endpoint.host + "]" : endpoint.host) +
      ":" + endpoint.port;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(endpoint.host.c_str(), endpoint.port.c_str(), &hints, &res);
  if (gai != 0) return Transient("cannot resolve " + c->peer_ + ": " + ::gai_strerror(gai));
  std::string last_error = "no address";
  for (addrinfo* ai = res; ai != nullptr && c->fd_ < 0; ai = ai->ai_next) {
    int fd =
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      auto deadline = Clock::now() + std::chrono::milliseconds(timeouts.connect_ms);
      Status s = WaitFd(fd, POLLOUT, deadline, cancel_fd, "connect");
      if (!s.ok()) {
        ::close(fd);
        last_error = s.message();
        if (s.code() == StatusCode::kCancelled) break;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fd_ = fd;
  }
  ::freeaddrinfo(res);
  if (c->fd_ < 0) return Transient("cannot connect to " + c->peer_ + ": " + last_error);

  ERR_clear_error();
  c->ssl_.reset(SSL_new(identity.ctx()));
  if (c->ssl_ == nullptr) return Status{StatusCode::kInternal, "SSL_new: " + SslErrors()};
  SSL_set_fd(c->ssl_.get(), c->fd_);
  // Without AUTO_RETRY an SSL_read returns after each record that holds no application data
  // (a KeyUpdate, a session ticket) instead of handling whatever the socket holds in one call:
  // Drive then checks the deadline and the KeyUpdate bound between such records, and a
  // collector sending KeyUpdates faster than they are handled cannot hold the agent past its
  // deadline.
  SSL_clear_mode(c->ssl_.get(), SSL_MODE_AUTO_RETRY);
  SSL_set_app_data(c->ssl_.get(), c.get());
  SSL_set_msg_callback(c->ssl_.get(), &Connection::MessageThunk);
  c->identity_ = &identity;
  c->session_key_ = c->peer_ + " " + server_name;
  if (openssl::SslSessionPtr session = identity.Session(c->session_key_)) {
    // Offered, not required: a collector that does not know it (restarted, reloaded) makes a
    // full handshake, with every check below.
    SSL_set_session(c->ssl_.get(), session.get());  // takes a reference of its own
  }
  // RFC 6125: the name is matched against the subjectAltName only, never the subject's CN.
  SSL_set_hostflags(c->ssl_.get(),
                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
  in6_addr v6{};
  in_addr v4{};
  bool is_ip = ::inet_pton(AF_INET, server_name.c_str(), &v4) == 1 ||
               ::inet_pton(AF_INET6, server_name.c_str(), &v6) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl_.get()), server_name.c_str()) != 1) {
      return Config("invalid server address " + server_name);
    }
  } else {
    if (SSL_set_tlsext_host_name(c->ssl_.get(), server_name.c_str()) != 1 ||
        SSL_set1_host(c->ssl_.get(), server_name.c_str()) != 1) {
      return Config("invalid server name " + server_name);
    }
  }
  auto done = c->Drive([&] { return SSL_connect(c->ssl_.get()); },
                       Clock::now() + std::chrono::milliseconds(timeouts.handshake_ms),
                       Phase::kHandshake, "the TLS handshake");
  if (!done.ok()) return done.status();
  X509* peer = SSL_get0_peer_certificate(c->ssl_.get());
  if (peer == nullptr) return Refused(c->peer_ + ": the collector presented no certificate");
  if ((X509_get_extension_flags(peer) & EXFLAG_XKUSAGE) == 0 ||
      (X509_get_extended_key_usage(peer) & XKU_SSL_SERVER) == 0) {
    return Refused(c->peer_ +
                   ": the collector's certificate does not carry the extended key usage "
                   "serverAuth; not sending to it");
  }
  return c;
}

Connection::~Connection() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void Connection::Close() {
  if (ssl_ != nullptr) {
    // Best effort, no waiting: the data that matters has been acknowledged.
    SSL_shutdown(ssl_.get());
    // TLS 1.3 tickets came after the handshake, read with the frames since.
    openssl::SslSessionPtr session(SSL_get1_session(ssl_.get()));
    if (session != nullptr && SSL_SESSION_is_resumable(session.get()) == 1 &&
        identity_ != nullptr) {
      identity_->KeepSession(session_key_, std::move(session));
    }
    ssl_.reset();
    ERR_clear_error();
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Connection::MessageThunk(int write_p, int /*version*/, int content_type, const void* buf,
                              size_t len, SSL* ssl, void* /*arg*/) {
  auto* self = static_cast<Connection*>(SSL_get_app_data(ssl));
  if (self != nullptr && pki::IsReceivedKeyUpdate(write_p, content_type, buf, len)) {
    ++self->key_updates_;
  }
}

template <typename Op>
StatusOr<int> Connection::Drive(Op op, Clock::time_point deadline, Phase phase, const char* what) {
  if (ssl_ == nullptr) return Transient(peer_ + ": connection closed");
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int rc = op();
    if (key_updates_ > kMaxKeyUpdates) {
      ERR_clear_error();
      // key_updates_ is kMaxKeyUpdates + 1 here: each KeyUpdate ends its read step.
      return Transient(peer_ + ": the collector sent " + std::to_string(key_updates_) +
                       " TLS KeyUpdate messages on one connection, more than the " +
                       std::to_string(kMaxKeyUpdates) +
                       " accepted (a collector sends none); not going on with it");
    }
    if (rc > 0) return rc;
    int err = SSL_get_error(ssl_.get(), rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      Status s =
          WaitFd(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, cancel_fd_, what);
      if (!s.ok()) return Status(s.code(), peer_ + ": " + s.message());
      continue;
    }
    if (err == SSL_ERROR_ZERO_RETURN) {
      return Transient(peer_ + ": the collector closed the connection during " + what);
    }
    if (phase == Phase::kHandshake) {
      long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return Refused(peer_ + ": the collector's certificate is not accepted: " +
                       X509_verify_cert_error_string(verify));
      }
    }
    unsigned long last = ERR_peek_last_error();
    if (phase == Phase::kHandshake && ERR_GET_LIB(last) == ERR_LIB_SSL &&
        ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      // Closed without an alert: the collector closes a connection at accept when this address
      // is over its limits per source (connection_refused in its log), or something between
      // the two closed it.
      ERR_clear_error();
      return Transient(peer_ +
                       ": the collector closed the connection during the TLS handshake without "
                       "an alert (this address over its limits per source: connection_refused "
                       "in its log; or a proxy or firewall in between)");
    }
    if (last != 0) {
      bool refusal = IsRefusalAlert(last);
      std::string details = SslErrors();
      if (refusal) {
        return Refused(peer_ + ": the collector refused the TLS session (" + details +
                       "): check this agent's certificate, its CA and its validity");
      }
      return Transient(peer_ + ": TLS error during " + what + ": " + details);
    }
    if (err == SSL_ERROR_SYSCALL) {
      return Status(StatusCode::kIoError,
                    peer_ + ": connection lost during " + what +
                        (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
    }
    return Transient(peer_ + ": TLS failure during " + what);
  }
}

Connection::Clock::time_point Connection::IoDeadline() const {
  return Clock::now() + std::chrono::milliseconds(timeouts_.io_ms);
}

Status Connection::Write(std::string_view bytes) { return Write(bytes, IoDeadline()); }

Status Connection::Write(std::string_view bytes, Clock::time_point deadline) {
  size_t done = 0;
  while (done < bytes.size()) {
    int chunk = static_cast<int>(std::min<size_t>(bytes.size() - done, 1 << 20));
    auto n = Drive([&] { return SSL_write(ssl_.get(), bytes.data() + done, chunk); }, deadline,
                   Phase::kIo, "a write");
    if (!n.ok()) {
      // A collector that refuses our certificate (TLS 1.3: after the handshake) sends an alert
      // and closes; our next write may meet the reset before we read the alert. Read it.
      if (n.status().code() == StatusCode::kIoError) {
        char byte = 0;
        auto alert = Drive([&] { return SSL_read(ssl_.get(), &byte, 1); },
                           Clock::now() + std::chrono::seconds(1), Phase::kIo, "a read");
        if (!alert.ok() && alert.status().code() == StatusCode::kPermissionDenied) {
          return alert.status();
        }
      }
      return n.status();
    }
    done += static_cast<size_t>(*n);
  }
  return Status::Ok();
}

Status Connection::ReadExact(char* out, size_t n, Clock::time_point deadline) {
  size_t done = 0;
  while (done < n) {
    int chunk = static_cast<int>(std::min<size_t>(n - done, 1 << 20));
    auto got = Drive([&] { return SSL_read(ssl_.get(), out + done, chunk); }, deadline, Phase::kIo,
                     "a frame read");
    if (!got.ok()) return got.status();
    done += static_cast<size_t>(*got);
  }
  return Status::Ok();
}

StatusOr<Frame> Connection::ReadFrame(uint32_t max_frame_bytes) {
  // One deadline for the whole frame: a collector trickling a byte at a time cannot hold the
  // agent longer than the I/O timeout.
  const Clock::time_point deadline = IoDeadline();
  std::array<uint8_t, protocol::kHeaderSize> header{};
  if (Status s = ReadExact(reinterpret_cast<char*>(header.data()), header.size(), deadline);
      !s.ok()) {
    return s;
  }
  auto decoded = protocol::DecodeHeader(header, max_frame_bytes);
  if (!decoded.ok()) {
    return Transient(peer_ +
                     ": the collector sent an invalid frame: " + decoded.status().message());
  }
  Frame frame;
  frame.type = decoded->type;
  frame.payload.resize(decoded->length);
  if (Status s = ReadExact(frame.payload.data(), frame.payload.size(), deadline); !s.ok()) {
    return s;
  }
  return frame;
}

}  // namespace tidemark::agent::uplink
