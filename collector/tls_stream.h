// A server-side TLS connection over a non-blocking TCP socket, for the collector's sessions
// (session.cpp). OpenSSL reads and writes the socket itself (a socket BIO, under a filter BIO
// that pauses the reads between turns, kRecordsPerTurn); the stream waits for readiness with
// Asio (socket::async_wait) and retries.
//
// Why not asio::ssl::stream: it keeps two 17 KiB vectors and a BIO pair of two 17 KiB buffers
// for as long as a connection lives, which were most of the 80 kB that each idle connection
// cost the collector (issue 14, README "Transport"). This stream owns no buffer at all; with
// SSL_MODE_RELEASE_BUFFERS, OpenSSL frees its record buffers whenever nothing is pending, so an
// idle connection holds only OpenSSL's connection state (docs/collector.md, "Memory").
//
// Sessions: a connection's TLS session stays in the context's cache (resumable) however the
// connection ends, unless ForgetSession() is called; OpenSSL would drop it whenever the peer
// closes without close_notify (a stopped or timed-out agent).
//
// Errors are reported as asio::ssl::stream reports them, so callers keep one vocabulary:
// asio::error::eof after the peer's close_notify, asio::ssl::error::stream_truncated for an
// EOF without it, the OpenSSL error (asio::error::get_ssl_category()) for a TLS failure, the
// socket's errno otherwise, and asio::error::operation_aborted once the socket is closed.
//
// Threading: like an Asio socket, one operation of each kind at a time (one read or handshake,
// one write), every call and every completion on the socket's executor (a strand). A handler
// is never called from inside the function that starts the operation.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/transport/openssl_ptr.h"
#include "common/transport/pki.h"

namespace tidemark::collector {

class TlsStream {
 public:
  using Handler = std::function<void(const boost::system::error_code&, size_t)>;
  // Called for each certificate of the peer's chain, as SSL_CTX_set_verify's callback is.
  using VerifyCallback = std::function<bool(bool preverified, X509_STORE_CTX* ctx)>;

  // Takes the accepted socket and makes a server-side SSL from `ctx` (which must outlive the
  // stream). Throws boost::system::system_error when OpenSSL cannot make one.
  TlsStream(boost::asio::ip::tcp::socket socket, SSL_CTX* ctx);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;
  TlsStream(TlsStream&&) = delete;  // OpenSSL's verify callback holds `this`
  TlsStream& operator=(TlsStream&&) = delete;

  boost::asio::ip::tcp::socket& socket() { return socket_; }
  boost::asio::any_io_executor get_executor() { return socket_.get_executor(); }
  SSL* native_handle() { return ssl_.get(); }

  // Replaces the verification callback for this connection (the mode stays the context's).
  void SetVerifyCallback(VerifyCallback callback);

  void AsyncHandshake(Handler handler);
  // Completes with at least one byte, or an error.
  void AsyncReadSome(void* data, size_t size, Handler handler);
  // Completes when `size` bytes were read, or with an error and the count read so far.
  void AsyncRead(void* data, size_t size, Handler handler);
  // Completes when all `size` bytes were written (`data` must stay until then).
  void AsyncWrite(const void* data, size_t size, Handler handler);
  // Sends close_notify and waits for the peer's (data arriving before it is discarded).
  void AsyncShutdown(Handler handler);

  // Removes this connection's TLS session from the context's cache: a connection refused after
  // its handshake (certificate checks, a reload) must not be resumed. Otherwise a session that
  // completed its handshake stays resumable however the connection ends.
  void ForgetSession();

  // What a peer may make OpenSSL do for little or no application data (docs/collector.md, "TLS
  // and identity"); past it, the operation in progress fails (an OpenSSL error, "too many key
  // updates", or errc::protocol_error) and flood() says why.
  // TLS 1.3 KeyUpdate messages on one connection: OpenSSL processes any number, each a key
  // derivation (and one to write back when the peer asks for it), without a byte of application
  // data; one connection sending them in a loop kept half a core busy. An agent sends none.
  static constexpr int kMaxKeyUpdates = pki::kMaxKeyUpdates;
  // TLS records received: at most kBaseRecords (the handshake's among them), the records
  // AllowRecords() granted (the session: kRecordsPerFrame for each frame it starts to read) and
  // one per kMinRecordBytes of application data read. Each record costs a decryption and
  // OpenSSL's record processing (about 2.8 us here) whatever it holds: 1 MB sent in one-byte
  // records cost the collector 2.8 s of CPU, against none measurable in full ones. An agent
  // writes a frame in one or two records (full ones hold 16 KiB).
  // Records read in one turn of this stream on its thread (one Drive): OpenSSL handles every
  // KeyUpdate or handshake fragment it finds buffered within one call, so without a turn's bound
  // a burst of 100,000 KeyUpdates was all handled in one SSL_read, before any bound was checked,
  // and every other connection of the thread waited. Past it the socket reads pause (the filter
  // BIO in tls_stream.cpp) and the stream takes its next turn after the thread's other work.
  static constexpr int64_t kRecordsPerTurn = 64;
  static constexpr int64_t kBaseRecords = 64;
  static constexpr int64_t kRecordsPerFrame = 4;
  static constexpr int64_t kMinRecordBytes = 256;
  void AllowRecords(int64_t n) { allowed_records_ += n; }
  enum class Flood { kNone, kKeyUpdates, kSmallRecords };
  // kNone while the peer stays within the bounds above, else the bound it passed.
  Flood flood() const;
  // "key_updates" or "small_records" (the `kind` of the log's tls_flood); "" for kNone.
  static std::string_view FloodName(Flood flood);
  int key_updates() const { return key_updates_; }
  // For the filter BIO between OpenSSL and the socket (tls_stream.cpp): false, and the read
  // pauses, once this turn read kRecordsPerTurn records or the peer passed a bound (flood()).
  bool MayRead();
  int64_t records() const { return records_; }
  int64_t bytes_read() const { return bytes_read_; }

 private:
  enum class Kind { kHandshake, kRead, kReadAll, kWrite, kShutdown };
  struct Op {
    Kind kind;
    char* data = nullptr;
    size_t size = 0;
    size_t done = 0;
    bool close_sent = false;
    Handler handler;
    // Still inside the call that started it: a completion now is posted, not called.
    bool initiating = true;
  };

  // Tries at once (OpenSSL may hold the bytes already, or the socket be ready); no post
  // unless it completes there.
  void Start(Op op);
  // One attempt; waits for the socket and tries again, or completes.
  void Drive(Op op);
  void Complete(Op op, const boost::system::error_code& ec);
  // The error of a failed SSL call, in asio::ssl::stream's terms.
  boost::system::error_code ErrorOf(int ssl_error, int sys_errno) const;
  static int VerifyThunk(int preverified, X509_STORE_CTX* ctx);
  // Notes the peer's close_notify alert (SSL_set_info_callback).
  static void InfoThunk(const SSL* ssl, int where, int value);
  // Counts the peer's records and KeyUpdate messages (SSL_set_msg_callback).
  static void MessageThunk(int write_p, int version, int content_type, const void* buf, size_t len,
                           SSL* ssl, void* arg);

  boost::asio::ip::tcp::socket socket_;
  openssl::SslPtr ssl_;  // declared after socket_: freed before the socket closes
  VerifyCallback verify_;
  bool close_notify_ = false;    // the peer sent close_notify
  bool reusable_ = true;         // ForgetSession() not called
  int key_updates_ = 0;          // KeyUpdate messages received
  int64_t records_ = 0;          // TLS records received
  int64_t allowed_records_ = 0;  // AllowRecords()
  int64_t bytes_read_ = 0;       // application data read
  int64_t turn_records_ = 0;     // records_ when this turn began
  bool paused_ = false;          // MayRead() refused in this turn
};

}  // namespace tidemark::collector
