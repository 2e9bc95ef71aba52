// The agent's side of a tidemark/1 connection (docs/protocol.md): mutual TLS 1.3 on plain
// OpenSSL over a non-blocking socket, every wait bounded by a deadline and interruptible through
// a cancel file descriptor (the daemon's SIGTERM pipe). It verifies the collector's certificate
// against --ca, the server name against its DNS/IP subjectAltName and EKU serverAuth; it
// presents the agent's certificate, whose commonName is the host's identity.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/transport/openssl_ptr.h"
#include "common/transport/pki.h"
#include "common/transport/protocol.h"

namespace tidemark::agent::uplink {

// How a failure should be treated. Statuses from this file use these codes:
//   kUnavailable       transient: unreachable, timeout, busy -> keep it spooled, retry
//   kIoError           transient too: the connection was lost (reset, closed without TLS close)
//   kPermissionDenied  refused for good: a certificate was not accepted (either side) or the
//                      collector refused us permanently -> exit 1, retrying will not help
//   kInvalidArgument   local configuration (unreadable files, a key others can read, a CN that
//                      is not a host id) -> exit 2
//   kCancelled         the cancel fd became readable ("interrupted"): stop, keep it spooled

// "HOST:PORT", "[V6]:PORT" (common/transport/protocol.h: tidemarkctl deploy checks the same).
using protocol::Endpoint;
using protocol::ParseEndpoint;

struct TlsFiles {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
};

// The agent's TLS context and identity, loaded once.
class TlsIdentity {
 public:
  // Refuses a key file others can read (pki::CheckPrivateKeyFile), a certificate whose CN is
  // not a valid host id, a key that does not match the certificate, an unreadable CA file.
  static StatusOr<std::unique_ptr<TlsIdentity>> Load(const TlsFiles& files);
  ~TlsIdentity();
  TlsIdentity(const TlsIdentity&) = delete;
  TlsIdentity& operator=(const TlsIdentity&) = delete;

  // The certificate's subject CN: the host id every snapshot carries.
  const std::string& host_id() const { return host_id_; }
  SSL_CTX* ctx() const { return ctx_.get(); }

  // The TLS session of the last connection to `peer` (collector address and server name) that
  // ended cleanly, for the next connection to resume (RFC 8446, 2.2): a resumed handshake
  // skips the certificate signatures and checks of a full one on both sides, which is most of
  // what a reconnect costs the collector. Null when there is none; the caller frees it. A new
  // identity (renewed certificate files) starts with none, so a session made with the old
  // certificate is never resumed. Thread-safe.
  openssl::SslSessionPtr Session(const std::string& peer) const;
  // Keeps `session` for `peer`, replacing the one kept before.
  void KeepSession(const std::string& peer, openssl::SslSessionPtr session) const;

 private:
  TlsIdentity() = default;
  openssl::SslCtxPtr ctx_;
  std::string host_id_;
  mutable std::mutex sessions_mu_;
  mutable std::map<std::string, openssl::SslSessionPtr> sessions_;
};

struct Timeouts {
  int connect_ms = 10'000;    // TCP connect (each address)
  int handshake_ms = 10'000;  // TLS handshake
  // Each frame read or written, as a whole (not each read): a peer trickling bytes cannot hold
  // the agent longer. An ack waits for the store's commit.
  int io_ms = 60'000;
};

// One frame received.
struct Frame {
  protocol::FrameType type = protocol::FrameType::kError;
  std::string payload;
};

class Connection {
 public:
  // Connects to `endpoint`, completes the handshake and checks the collector's certificate
  // (`server_name` against DNS or IP subjectAltName, EKU serverAuth). `cancel_fd` (-1: none)
  // interrupts any wait when it becomes readable.
  static StatusOr<std::unique_ptr<Connection>> Open(const TlsIdentity& identity,
                                                    const Endpoint& endpoint,
                                                    const std::string& server_name,
                                                    const Timeouts& timeouts, int cancel_fd);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  using Clock = std::chrono::steady_clock;
  // Returns now + the I/O timeout: the deadline of one frame.
  Clock::time_point IoDeadline() const;
  // Writes `bytes` (one whole frame) within the I/O timeout.
  Status Write(std::string_view bytes);
  // Writes `bytes` (a part of a frame) before `deadline` (from IoDeadline() at the frame's start).
  Status Write(std::string_view bytes, Clock::time_point deadline);
  // Reads one frame whose payload is at most `max_frame_bytes`, within the I/O timeout.
  StatusOr<Frame> ReadFrame(uint32_t max_frame_bytes);
  // Sends close_notify (best effort), keeps the TLS session for the next connection, and
  // closes. Call it when the exchange ended as it should; a connection dropped on an error keeps
  // no session.
  void Close();

  const std::string& peer() const { return peer_; }

  // TLS 1.3 KeyUpdate messages the agent accepts from the collector on one connection (a
  // collector sends none); past it the exchange ends (docs/agent.md, "Exit codes": 75).
  static constexpr int kMaxKeyUpdates = pki::kMaxKeyUpdates;

 private:
  Connection() = default;
  enum class Phase { kHandshake, kIo };
  // Runs `op` (an SSL call) until it completes, waiting on the socket as OpenSSL asks.
  template <typename Op>
  StatusOr<int> Drive(Op op, Clock::time_point deadline, Phase phase, const char* what);
  Status ReadExact(char* out, size_t n, Clock::time_point deadline);
  // Counts the collector's KeyUpdate messages (SSL_set_msg_callback).
  static void MessageThunk(int write_p, int version, int content_type, const void* buf, size_t len,
                           SSL* ssl, void* arg);

  openssl::SslPtr ssl_;
  int fd_ = -1;
  int cancel_fd_ = -1;
  const TlsIdentity* identity_ = nullptr;
  std::string session_key_;  // TlsIdentity::Session's key: peer and server name
  Timeouts timeouts_;
  std::string peer_;
  int key_updates_ = 0;  // KeyUpdate messages received
};

}  // namespace tidemark::agent::uplink
