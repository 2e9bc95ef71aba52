// A minimal blocking tidemark/1 client for collector tests: TCP to 127.0.0.1, a TLS handshake
// with a given certificate (or none, or capped at TLS 1.2) through raw OpenSSL, frames or raw
// bytes out, frames in. Every read has a timeout so a test never hangs. Also a plain TCP peer
// that never speaks TLS.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/transport/openssl_ptr.h"
#include "common/transport/protocol.h"

namespace tidemark::testing {

struct TlsClientOptions {
  std::string ca;    // verifies the collector (IP SAN 127.0.0.1)
  std::string cert;  // empty: no client certificate
  std::string key;
  bool tls12_only = false;  // offer TLS 1.2 only
  // A session (ticket) from an earlier connection to resume (TlsTestClient::Session()); not
  // owned, may be nullptr.
  SSL_SESSION* resume = nullptr;
  // The loopback address to connect from (e.g. "127.0.0.2": another source for the
  // collector's limits per source); empty: the kernel's choice (127.0.0.1).
  std::string source;
};

struct ReceivedFrame {
  protocol::FrameType type = protocol::FrameType::kError;
  std::string payload;
  nlohmann::json json;  // parsed when the payload is JSON
};

class TlsTestClient {
 public:
  // Connects and handshakes. nullptr with *error set on failure. Note that with TLS 1.3 the
  // server's verdict on the client certificate arrives after the client's handshake ended: a
  // refused certificate shows as a failing first read.
  static std::unique_ptr<TlsTestClient> Connect(uint16_t port, const TlsClientOptions& options,
                                                std::string* error);
  ~TlsTestClient();
  TlsTestClient(const TlsTestClient&) = delete;
  TlsTestClient& operator=(const TlsTestClient&) = delete;

  bool SendRaw(std::string_view bytes);
  // Sends `bytes` in TLS records of at most `record_bytes` each (one SSL_write per record); false
  // when a write failed.
  bool SendInRecords(std::string_view bytes, size_t record_bytes);
  // Sends `n` TLS 1.3 KeyUpdate messages (each asking the server to update its keys too); the
  // number sent before a write failed.
  int SendKeyUpdates(int n);
  bool SendFrame(protocol::FrameType type, std::string_view payload);
  bool SendJson(protocol::FrameType type, const nlohmann::json& payload);
  // Reads one frame; nullopt on EOF, error or timeout (reason in *error).
  std::optional<ReceivedFrame> ReadFrame(int timeout_s = 15, std::string* error = nullptr);
  // Sends hello and returns the answer (welcome or error), nullopt when the connection failed.
  std::optional<ReceivedFrame> Hello(int64_t spool_dropped = 0, int64_t spool_rejected = 0);
  // True when the server closes the connection (EOF, reset or alert) within timeout_s, after
  // reading and discarding any frames it sent (they are kept in `last_frames`).
  bool WaitClosed(int timeout_s = 15);
  std::string Version() const;  // negotiated protocol, e.g. "TLSv1.3"
  // The session to resume later (TLS 1.3: set once a ticket was read, e.g. after Hello());
  // owned by the caller (SSL_SESSION_free), nullptr when there is none.
  SSL_SESSION* Session() const;
  // True when this connection resumed the session given in TlsClientOptions::resume.
  bool Resumed() const;
  std::vector<ReceivedFrame> last_frames;

 private:
  TlsTestClient() = default;
  bool ReadExact(char* p, size_t n, int timeout_s, std::string* error);
  int fd_ = -1;
  openssl::SslCtxPtr ctx_;
  openssl::SslPtr ssl_;
};

// A plain TCP connection (no TLS).
class RawTcpClient {
 public:
  // Connects to 127.0.0.1:port, from `source` when given (see TlsClientOptions::source).
  static std::unique_ptr<RawTcpClient> Connect(uint16_t port, const std::string& source = "");
  ~RawTcpClient();
  bool Send(std::string_view bytes);
  // True when the server closes the connection within timeout_s.
  bool WaitClosed(int timeout_s);

 private:
  int fd_ = -1;
};

}  // namespace tidemark::testing
