// tls_stream.h: a TLS connection with OpenSSL on the socket and Asio waiting for readiness.
#include "collector/tls_stream.h"

#include <openssl/err.h>

#include <array>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/errc.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <utility>

namespace tidemark::collector {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

error_code SslError(unsigned long e) {
  return {static_cast<int>(e), asio::error::get_ssl_category()};
}

// A filter BIO over the socket BIO that passes everything through, except that a read is
// refused as "retry" when the stream says so (TlsStream::MayRead): OpenSSL then returns
// SSL_ERROR_WANT_READ, keeping what it read of a record, and goes on where it stopped.
int PausingRead(BIO* bio, char* out, int size) {
  BIO_clear_retry_flags(bio);
  auto* stream = static_cast<TlsStream*>(BIO_get_data(bio));
  if (stream != nullptr && !stream->MayRead()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  int n = BIO_read(BIO_next(bio), out, size);
  BIO_copy_next_retry(bio);
  return n;
}

int PausingWrite(BIO* bio, const char* in, int size) {
  BIO_clear_retry_flags(bio);
  int n = BIO_write(BIO_next(bio), in, size);
  BIO_copy_next_retry(bio);
  return n;
}

long PausingCtrl(BIO* bio, int cmd, long num, void* ptr) {
  BIO* next = BIO_next(bio);
  return next == nullptr ? 0 : BIO_ctrl(next, cmd, num, ptr);
}

int PausingCreate(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

const BIO_METHOD* PausingMethod() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "tidemark pausing filter");
    if (m == nullptr || BIO_meth_set_read(m, PausingRead) != 1 ||
        BIO_meth_set_write(m, PausingWrite) != 1 || BIO_meth_set_ctrl(m, PausingCtrl) != 1 ||
        BIO_meth_set_create(m, PausingCreate) != 1) {
      throw boost::system::system_error(SslError(ERR_get_error()), "BIO_meth_new");
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(asio::ip::tcp::socket socket, SSL_CTX* ctx) : socket_(std::move(socket)) {
  ssl_.reset(SSL_new(ctx));
  if (ssl_ == nullptr) throw boost::system::system_error(SslError(ERR_get_error()), "SSL_new");
  // RELEASE_BUFFERS: the record buffers are freed whenever nothing is pending in them.
  SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                               SSL_MODE_RELEASE_BUFFERS);
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_info_callback(ssl_.get(), &TlsStream::InfoThunk);
  SSL_set_msg_callback(ssl_.get(), &TlsStream::MessageThunk);
  SSL_set_accept_state(ssl_.get());
  error_code ec;
  socket_.non_blocking(true, ec);
  // The socket BIO does not own the descriptor (BIO_NOCLOSE): the Asio socket closes it. The
  // SSL reads and writes through the pausing filter over it, and frees both.
  if (!ec) {
    BIO* filter = BIO_new(PausingMethod());
    BIO* sock = BIO_new_socket(socket_.native_handle(), BIO_NOCLOSE);
    if (filter == nullptr || sock == nullptr) {
      ec = SslError(ERR_get_error());
      BIO_free(filter);
      BIO_free(sock);
    } else {
      BIO_set_data(filter, this);
      BIO_push(filter, sock);
      SSL_set_bio(ssl_.get(), filter, filter);  // one reference, taken for both directions
    }
  }
  if (ec) throw boost::system::system_error(ec, "TLS stream");  // ssl_ frees the SSL
}

TlsStream::~TlsStream() {
  // SSL_free drops the session from the context's cache unless this side sent close_notify
  // (ssl_clear_bad_session). A stopped or timed-out agent ends without close_notify, and a session
  // that completed its handshake stays resumable (framing, not TLS, tells a cut frame apart);
  // ForgetSession() is for the connections that must not be resumed.
  if (reusable_ && SSL_is_init_finished(ssl_.get())) {
    SSL_set_shutdown(ssl_.get(), SSL_get_shutdown(ssl_.get()) | SSL_SENT_SHUTDOWN);
  }
}  // ssl_ frees the SSL before socket_ closes the descriptor

void TlsStream::ForgetSession() {
  reusable_ = false;
  if (SSL_SESSION* session = SSL_get0_session(ssl_.get())) {
    SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl_.get()), session);
  }
}

void TlsStream::SetVerifyCallback(VerifyCallback callback) {
  verify_ = std::move(callback);
  SSL_set_verify(ssl_.get(), SSL_get_verify_mode(ssl_.get()), &TlsStream::VerifyThunk);
}

int TlsStream::VerifyThunk(int preverified, X509_STORE_CTX* ctx) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = ssl == nullptr ? nullptr : static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (self == nullptr || !self->verify_) return preverified;
  try {
    return self->verify_(preverified != 0, ctx) ? 1 : 0;
  } catch (...) {  // nothing may unwind through OpenSSL's C frames
    return 0;
  }
}

void TlsStream::InfoThunk(const SSL* ssl, int where, int value) {
  if ((where & SSL_CB_READ_ALERT) == 0 || (value & 0xff) != SSL_AD_CLOSE_NOTIFY) return;
  if (auto* self = static_cast<TlsStream*>(SSL_get_app_data(ssl))) self->close_notify_ = true;
}

void TlsStream::MessageThunk(int write_p, int /*version*/, int content_type, const void* buf,
                             size_t len, SSL* ssl, void* /*arg*/) {
  auto* self = static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (write_p != 0 || self == nullptr) return;
  if (content_type == SSL3_RT_HEADER) {
    ++self->records_;
  } else if (pki::IsReceivedKeyUpdate(write_p, content_type, buf, len)) {
    ++self->key_updates_;
  }
}

TlsStream::Flood TlsStream::flood() const {
  if (key_updates_ > kMaxKeyUpdates) return Flood::kKeyUpdates;
  if (records_ > kBaseRecords + allowed_records_ + bytes_read_ / kMinRecordBytes) {
    return Flood::kSmallRecords;
  }
  return Flood::kNone;
}

std::string_view TlsStream::FloodName(Flood flood) {
  switch (flood) {
    case Flood::kNone:
      return "";
    case Flood::kKeyUpdates:
      return "key_updates";
    case Flood::kSmallRecords:
      return "small_records";
  }
  return "";
}

void TlsStream::AsyncHandshake(Handler handler) {
  Start(Op{Kind::kHandshake, nullptr, 0, 0, false, std::move(handler)});
}

void TlsStream::AsyncReadSome(void* data, size_t size, Handler handler) {
  Start(Op{Kind::kRead, static_cast<char*>(data), size, 0, false, std::move(handler)});
}

void TlsStream::AsyncRead(void* data, size_t size, Handler handler) {
  Start(Op{Kind::kReadAll, static_cast<char*>(data), size, 0, false, std::move(handler)});
}

void TlsStream::AsyncWrite(const void* data, size_t size, Handler handler) {
  // SSL_write_ex takes const data; Op keeps one pointer type for reads and writes.
  Start(Op{Kind::kWrite, static_cast<char*>(const_cast<void*>(data)), size, 0, false,
           std::move(handler)});
}

void TlsStream::AsyncShutdown(Handler handler) {
  Start(Op{Kind::kShutdown, nullptr, 0, 0, false, std::move(handler)});
}

void TlsStream::Start(Op op) { Drive(std::move(op)); }

bool TlsStream::MayRead() {
  if (records_ - turn_records_ < kRecordsPerTurn && flood() == Flood::kNone) return true;
  paused_ = true;
  return false;
}

void TlsStream::Drive(Op op) {
  turn_records_ = records_;
  for (;;) {
    // Closed (a timer, a reload, shutdown): the descriptor may already belong to another
    // connection, so OpenSSL must not touch it again.
    if (!socket_.is_open()) return Complete(std::move(op), asio::error::operation_aborted);
    if (op.kind == Kind::kRead && op.size == 0) return Complete(std::move(op), {});
    ERR_clear_error();
    errno = 0;
    paused_ = false;
    size_t n = 0;
    int result = 0;
    switch (op.kind) {
      case Kind::kHandshake:
        result = SSL_do_handshake(ssl_.get());
        break;
      case Kind::kRead:
      case Kind::kReadAll:
        result = SSL_read_ex(ssl_.get(), op.data + op.done, op.size - op.done, &n);
        break;
      case Kind::kWrite:
        if (op.done == op.size) return Complete(std::move(op), {});
        result = SSL_write_ex(ssl_.get(), op.data + op.done, op.size - op.done, &n);
        break;
      case Kind::kShutdown:
        if (!op.close_sent) {
          result = SSL_shutdown(ssl_.get());  // 1: both sent and received; 0: ours sent
          if (result == 1) return Complete(std::move(op), {});
          if (result == 0) {
            op.close_sent = true;
            continue;
          }
        } else {
          // Waiting for the peer's close_notify; what it still sends is read and dropped.
          std::array<char, 4096> scratch;
          result = SSL_read_ex(ssl_.get(), scratch.data(), scratch.size(), &n);
          if (result == 1) continue;
        }
        break;
    }
    int sys_errno = errno;
    if (op.kind == Kind::kRead || op.kind == Kind::kReadAll) bytes_read_ += static_cast<int64_t>(n);
    if (Flood why = flood(); why != Flood::kNone) {
      if (why == Flood::kKeyUpdates) {
        return Complete(std::move(op),
                        SslError(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TOO_MANY_KEY_UPDATES)));
      }
      return Complete(std::move(op),
                      boost::system::errc::make_error_code(boost::system::errc::protocol_error));
    }
    if (result == 1) {
      op.done += n;
      if (op.kind == Kind::kHandshake || op.kind == Kind::kRead || op.done == op.size) {
        return Complete(std::move(op), {});
      }
      continue;
    }
    int ssl_error = SSL_get_error(ssl_.get(), result);
    if (ssl_error == SSL_ERROR_WANT_READ && paused_) {
      // The filter paused the reads, not the socket (it may hold more): the next turn comes
      // after what else the thread has to do, not at the socket's next readiness.
      op.initiating = false;
      asio::post(socket_.get_executor(),
                 [this, op = std::move(op)]() mutable { Drive(std::move(op)); });
      return;
    }
    if (ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE) {
      auto wait = ssl_error == SSL_ERROR_WANT_READ ? asio::socket_base::wait_read
                                                   : asio::socket_base::wait_write;
      op.initiating = false;
      socket_.async_wait(wait, [this, op = std::move(op)](const error_code& ec) mutable {
        if (ec) return Complete(std::move(op), ec);
        Drive(std::move(op));
      });
      return;
    }
    error_code ec = ErrorOf(ssl_error, sys_errno);
    // The peer's close_notify is what a shutdown waits for.
    if (op.kind == Kind::kShutdown && ec == asio::error::eof) ec = {};
    return Complete(std::move(op), ec);
  }
}

void TlsStream::Complete(Op op, const error_code& ec) {
  if (op.initiating) {
    asio::post(socket_.get_executor(),
               [handler = std::move(op.handler), ec, n = op.done] { handler(ec, n); });
    return;
  }
  Handler handler = std::move(op.handler);
  handler(ec, op.done);
}

error_code TlsStream::ErrorOf(int ssl_error, int sys_errno) const {
  // With SSL_OP_IGNORE_UNEXPECTED_EOF (the collector's context) OpenSSL reports an EOF without
  // close_notify as a close; the alert seen by InfoThunk tells the two apart.
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    return close_notify_ ? error_code(asio::error::eof) : asio::ssl::error::stream_truncated;
  }
  unsigned long e = ERR_get_error();
  // Without it, OpenSSL 3 reports that EOF as an SSL error; asio::ssl::stream calls it
  // stream_truncated, and so does this stream.
  if (e != 0 && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    return asio::ssl::error::stream_truncated;
  }
  if (e != 0) return SslError(e);
  if (ssl_error == SSL_ERROR_SYSCALL) {
    if (sys_errno != 0) return {sys_errno, boost::system::system_category()};
    return asio::ssl::error::stream_truncated;
  }
  return make_error_code(boost::system::errc::protocol_error);
}

}  // namespace tidemark::collector
