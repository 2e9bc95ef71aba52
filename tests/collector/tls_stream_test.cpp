// The collector's TLS stream (collector/tls_stream.h) against a plain blocking OpenSSL client
// on 127.0.0.1: exact reads across records, a write larger than the socket buffers, the errors
// a peer's close_notify, a bare close and a local close give, sessions that stay resumable after
// a bare close unless forgotten, the verification callback, and a shutdown that waits for the
// peer's close_notify while dropping what comes before it.
#include "collector/tls_stream.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "collector/tls_context.h"
#include "tests/support/test_pki.h"

namespace tidemark::collector {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

struct Result {
  error_code ec;
  size_t n = 0;
};

// A blocking TLS 1.3 client with an agent certificate.
class Client {
 public:
  Client(uint16_t port, const testing::TestPki& pki, const testing::CertFiles& cert,
         SSL_SESSION* resume = nullptr) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_3_VERSION);
    SSL_CTX_load_verify_locations(ctx_.get(), pki.ca_file().c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_use_certificate_file(ctx_.get(), cert.cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_.get(), cert.key.c_str(), SSL_FILETYPE_PEM);
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};  // no test hangs on a read
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    if (resume != nullptr) SSL_set_session(ssl_.get(), resume);
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);  // then ssl_, then ctx_
  }
  bool connected() const { return connected_; }
  bool Handshake() { return SSL_connect(ssl_.get()) == 1; }
  bool Write(const std::string& s) {
    size_t n = 0;
    return SSL_write_ex(ssl_.get(), s.data(), s.size(), &n) == 1 && n == s.size();
  }
  // Reads until `n` bytes, EOF or error.
  std::string Read(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      size_t k = 0;
      if (SSL_read_ex(ssl_.get(), out.data() + got, n - got, &k) != 1) break;
      got += k;
    }
    out.resize(got);
    return out;
  }
  // SSL_read's error after the server closed: SSL_ERROR_ZERO_RETURN for its close_notify.
  int ReadError() {
    char c;
    size_t k = 0;
    int r = SSL_read_ex(ssl_.get(), &c, 1, &k);
    return r == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), r);
  }
  void CloseNotify() { SSL_shutdown(ssl_.get()); }
  bool Resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
  // The session to resume (a copy: the original is made unresumable when this client ends
  // without close_notify); null when there is none.
  SSL_SESSION* Session() const {
    SSL_SESSION* s = SSL_get1_session(ssl_.get());
    SSL_SESSION* copy =
        s != nullptr && SSL_SESSION_is_resumable(s) == 1 ? SSL_SESSION_dup(s) : nullptr;
    SSL_SESSION_free(s);
    return copy;
  }
  // A FIN without close_notify (close() would send a reset here: the server's session tickets
  // are still unread in the socket).
  void EndWithoutCloseNotify() { shutdown(fd_, SHUT_WR); }

 private:
  openssl::SslCtxPtr ctx_;
  openssl::SslPtr ssl_;
  int fd_ = -1;
  bool connected_ = false;
};

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = Context(CollectorConfig().session_cache);
    ASSERT_NE(ctx_, nullptr);
    acceptor_.open(tcp::v4());
    acceptor_.bind(tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    acceptor_.listen();
    agent_ = pki_.Agent("tls-stream");
  }
  void TearDown() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::shared_ptr<asio::ssl::context> Context(int64_t session_cache) {
    CollectorConfig config;
    config.ca = pki_.ca_file();
    config.cert = pki_.server().cert;
    config.key = pki_.server().key;
    config.session_cache = session_cache;
    auto ctx = MakeServerContext(config);
    EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
    return ctx.ok() ? *ctx : nullptr;
  }

  // Accepts the client's TCP connection (already in the backlog) into a stream and runs the
  // io_context on its own thread.
  void AcceptAndRun() {
    stream_ = std::make_unique<TlsStream>(acceptor_.accept(), ctx_->native_handle());
    RunIo();
  }
  void RunIo() {
    thread_ = std::thread([this] {
      auto guard = asio::make_work_guard(io_);
      io_.run();
    });
  }
  // Starts an operation on the io thread and returns its future result.
  template <typename F>
  std::future<Result> Run(F start) {
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    asio::post(io_, [start, promise] {
      start([promise](const error_code& ec, size_t n) { promise->set_value({ec, n}); });
    });
    return future;
  }
  static Result Get(std::future<Result>& f) {
    if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
      ADD_FAILURE() << "operation did not complete";
      return {asio::error::timed_out, 0};
    }
    return f.get();
  }
  // Client and server handshake; returns the client.
  std::unique_ptr<Client> Connected() {
    auto client = std::make_unique<Client>(port(), pki_, agent_);
    EXPECT_TRUE(client->connected());
    AcceptAndRun();
    auto hs = Run([this](TlsStream::Handler h) { stream_->AsyncHandshake(std::move(h)); });
    EXPECT_TRUE(client->Handshake());
    EXPECT_FALSE(Get(hs).ec);
    return client;
  }

  SSL_SESSION* Once(SSL_CTX* ctx, SSL_SESSION* resume, bool forget, bool* resumed);

  testing::TestPki pki_;
  testing::CertFiles agent_;
  std::shared_ptr<asio::ssl::context> ctx_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  std::unique_ptr<TlsStream> stream_;
  std::thread thread_;
};

TEST_F(TlsStreamTest, ReadsExactlyAcrossRecordsAndWritesMoreThanTheSocketHolds) {
  auto client = Connected();
  char header[8] = {};
  auto read = Run([&](TlsStream::Handler h) { stream_->AsyncRead(header, 8, std::move(h)); });
  ASSERT_TRUE(client->Write("abc"));  // two records: the read must wait for the second
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(read.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  ASSERT_TRUE(client->Write("defgh-and-more"));
  Result r = Get(read);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.n, 8u);
  EXPECT_EQ(std::string(header, 8), "abcdefgh");
  // What the exact read left stays in OpenSSL's buffer for the next read, which therefore
  // completes at once; its handler still runs after AsyncReadSome returned, never inside it.
  char rest[32] = {};
  bool returned = false;
  bool inline_call = false;
  auto some = Run([&](TlsStream::Handler h) {
    stream_->AsyncReadSome(rest, 32, [&, h](const error_code& ec, size_t n) {
      inline_call = !returned;
      h(ec, n);
    });
    returned = true;
  });
  r = Get(some);
  EXPECT_FALSE(r.ec);
  EXPECT_EQ(std::string(rest, r.n), "-and-more");
  EXPECT_FALSE(inline_call) << "the handler ran inside AsyncReadSome";

  // 8 MiB: far more than loopback's socket buffers, so the write waits for the reader
  // (SSL_ERROR_WANT_WRITE) and continues where it stopped.
  std::string big(8 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 + i / 4096);
  auto write =
      Run([&](TlsStream::Handler h) { stream_->AsyncWrite(big.data(), big.size(), std::move(h)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(write.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  std::string got = client->Read(big.size());
  r = Get(write);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.n, big.size());
  EXPECT_TRUE(got == big) << "received " << got.size() << " bytes, not the same";
}

TEST_F(TlsStreamTest, ClosingErrorsAreThoseOfAsioSslStream) {
  // The peer's close_notify: eof.
  auto client = Connected();
  char buf[16];
  auto read = Run([&](TlsStream::Handler h) { stream_->AsyncReadSome(buf, 16, std::move(h)); });
  client->CloseNotify();
  Result r = Get(read);
  EXPECT_EQ(r.ec, asio::error::eof) << r.ec.message();
  EXPECT_EQ(r.n, 0u);
}

TEST_F(TlsStreamTest, ABareCloseIsTruncatedAndALocalCloseAbortsWithoutTouchingTheDescriptor) {
  auto client = Connected();
  char buf[16];
  // An exact read that got part of its bytes reports how many.
  auto read = Run([&](TlsStream::Handler h) { stream_->AsyncRead(buf, 16, std::move(h)); });
  ASSERT_TRUE(client->Write("12345"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  client->EndWithoutCloseNotify();
  Result r = Get(read);
  EXPECT_EQ(r.ec, asio::ssl::error::stream_truncated) << r.ec.message();
  EXPECT_EQ(r.n, 5u);

  // Closed locally (a timer, a reload): a pending read completes with operation_aborted, and an
  // operation started later never calls OpenSSL on the closed descriptor.
  auto client2 = std::make_unique<Client>(port(), pki_, agent_);
  auto stream2 = std::make_unique<TlsStream>(acceptor_.accept(), ctx_->native_handle());
  auto hs = Run([&](TlsStream::Handler h) { stream2->AsyncHandshake(std::move(h)); });
  ASSERT_TRUE(client2->Handshake());
  ASSERT_FALSE(Get(hs).ec);
  auto pending = Run([&](TlsStream::Handler h) { stream2->AsyncReadSome(buf, 16, std::move(h)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto closed = Run([&](TlsStream::Handler h) {
    stream2->socket().close();
    h({}, 0);
  });
  Get(closed);
  EXPECT_EQ(Get(pending).ec, asio::error::operation_aborted);
  auto later = Run([&](TlsStream::Handler h) { stream2->AsyncWrite("x", 1, std::move(h)); });
  EXPECT_EQ(Get(later).ec, asio::error::operation_aborted);
  auto stop = Run([&](TlsStream::Handler h) {
    stream2.reset();
    h({}, 0);
  });
  Get(stop);
}

// One connection on `ctx`: handshake (resuming `resume` when given; then the session is retired
// as the collector does), a byte from the server (the client takes the session ticket with it),
// the client's bare close, the server's read of it; `forget` calls ForgetSession() before the
// stream goes. Returns the client's new session; `resumed` says whether the handshake resumed.
SSL_SESSION* TlsStreamTest::Once(SSL_CTX* ctx, SSL_SESSION* resume, bool forget, bool* resumed) {
  Client client(port(), pki_, agent_, resume);
  auto stream = std::make_unique<TlsStream>(acceptor_.accept(), ctx);
  auto hs = Run([&](TlsStream::Handler h) { stream->AsyncHandshake(std::move(h)); });
  EXPECT_TRUE(client.Handshake());
  EXPECT_FALSE(Get(hs).ec);
  RetireResumedSession(stream->native_handle());
  auto wrote = Run([&](TlsStream::Handler h) { stream->AsyncWrite("x", 1, std::move(h)); });
  EXPECT_EQ(client.Read(1), "x");
  EXPECT_FALSE(Get(wrote).ec);
  *resumed = client.Resumed();
  SSL_SESSION* session = client.Session();
  client.EndWithoutCloseNotify();
  char c;
  auto read = Run([&](TlsStream::Handler h) { stream->AsyncReadSome(&c, 1, std::move(h)); });
  EXPECT_EQ(Get(read).ec, asio::ssl::error::stream_truncated);
  auto end = Run([&](TlsStream::Handler h) {
    if (forget) stream->ForgetSession();
    stream.reset();
    h({}, 0);
  });
  Get(end);
  return session;
}

TEST_F(TlsStreamTest, SessionsStayResumableAfterABareCloseUnlessForgotten) {
  RunIo();                                              // this test makes its own streams
  for (int64_t cache : {int64_t{20000}, int64_t{0}}) {  // stateful, then stateless tickets
    SCOPED_TRACE("session_cache " + std::to_string(cache));
    auto ctx = Context(cache);
    ASSERT_NE(ctx, nullptr);
    bool resumed = true;
    SSL_SESSION* first = Once(ctx->native_handle(), nullptr, false, &resumed);
    EXPECT_FALSE(resumed);
    ASSERT_NE(first, nullptr) << "no session ticket";
    SSL_SESSION* second = Once(ctx->native_handle(), first, cache > 0, &resumed);
    EXPECT_TRUE(resumed) << "a bare close made the session unresumable";
    ASSERT_NE(second, nullptr);
    if (cache > 0) {  // forgotten: the cache no longer has it (a stateless ticket cannot be)
      SSL_SESSION* third = Once(ctx->native_handle(), second, false, &resumed);
      EXPECT_FALSE(resumed) << "a forgotten session was resumed";
      SSL_SESSION_free(third);
    }
    SSL_SESSION_free(first);
    SSL_SESSION_free(second);
  }
}

TEST_F(TlsStreamTest, ACachedSessionIsResumedOnceAndTheCacheHoldsOnePerClient) {
  RunIo();
  auto ctx = Context(20000);
  ASSERT_NE(ctx, nullptr);
  SSL_CTX* native = ctx->native_handle();
  bool resumed = false;
  SSL_SESSION* first = Once(native, nullptr, false, &resumed);
  ASSERT_NE(first, nullptr) << "no session ticket";
  EXPECT_EQ(SSL_CTX_sess_number(native), 1);
  SSL_SESSION* latest = SSL_SESSION_dup(first);
  for (int i = 0; i < 3; ++i) {  // each connection resumes the ticket of the one before
    SSL_SESSION* next = Once(native, latest, false, &resumed);
    EXPECT_TRUE(resumed) << "connection " << i;
    EXPECT_EQ(SSL_CTX_sess_number(native), 1) << "connection " << i;
    SSL_SESSION_free(latest);
    latest = next;
    ASSERT_NE(latest, nullptr);
  }
  // The first ticket was used: offered again, it gets a full handshake (and a new session).
  SSL_SESSION_free(Once(native, first, false, &resumed));
  EXPECT_FALSE(resumed) << "a used session was resumed again";
  EXPECT_EQ(SSL_CTX_sess_number(native), 2);
  SSL_SESSION_free(Once(native, latest, false, &resumed));
  EXPECT_TRUE(resumed);
  SSL_SESSION_free(first);
  SSL_SESSION_free(latest);
}

TEST_F(TlsStreamTest, VerifyCallbackSeesTheChainAndCanRefuse) {
  auto client = std::make_unique<Client>(port(), pki_, agent_);
  AcceptAndRun();
  std::vector<int> depths;
  stream_->SetVerifyCallback([&](bool preverified, X509_STORE_CTX* x) {
    depths.push_back(X509_STORE_CTX_get_error_depth(x));
    EXPECT_TRUE(preverified);
    if (X509_STORE_CTX_get_error_depth(x) == 0) {
      X509_STORE_CTX_set_error(x, X509_V_ERR_APPLICATION_VERIFICATION);
      return false;
    }
    return true;
  });
  auto hs = Run([this](TlsStream::Handler h) { stream_->AsyncHandshake(std::move(h)); });
  client->Handshake();  // TLS 1.3: the client learns of the refusal on its next read
  Result r = Get(hs);
  ASSERT_TRUE(r.ec);
  EXPECT_EQ(r.ec.category(), asio::error::get_ssl_category()) << r.ec.message();
  EXPECT_EQ(SSL_get_verify_result(stream_->native_handle()), X509_V_ERR_APPLICATION_VERIFICATION);
  EXPECT_EQ(depths, (std::vector<int>{1, 0}));
}

TEST_F(TlsStreamTest, ShutdownSendsCloseNotifyAndDropsDataUntilThePeers) {
  auto client = Connected();
  auto done = Run([this](TlsStream::Handler h) { stream_->AsyncShutdown(std::move(h)); });
  EXPECT_EQ(client->ReadError(), SSL_ERROR_ZERO_RETURN);  // the server's close_notify
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_NE(done.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  ASSERT_TRUE(client->Write(std::string(20000, 'z')));  // read and dropped
  client->CloseNotify();
  Result r = Get(done);
  EXPECT_FALSE(r.ec) << r.ec.message();
}

TEST_F(TlsStreamTest, AReadOfManyRecordsTakesTurnsWithTheThreadsOtherWork) {
  // OpenSSL handles in one call whatever the socket holds when it can: a burst of 100,000 TLS
  // KeyUpdates was one SSL_read, and the connection's thread served no one else meanwhile. The
  // stream reads at most kRecordsPerTurn records, then lets the thread's other work run.
  auto client = Connected();
  constexpr int kRecords = 200;  // 20 KB in all: in the server's socket before the read starts
  const std::string record(100, 'r');
  for (int i = 0; i < kRecords; ++i) ASSERT_TRUE(client->Write(record));
  // Until every record (its 100 bytes, 22 of TLS 1.3) is in the server's socket.
  const int fd = SSL_get_fd(stream_->native_handle());
  int queued = 0;
  for (int i = 0; i < 500 && queued < kRecords * 122; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(ioctl(fd, FIONREAD, &queued), 0);
  }
  ASSERT_GE(queued, kRecords * 122);
  // Other work of the thread: a task that counts and posts itself again while the read runs.
  auto ticks = std::make_shared<int>(0);
  auto reading = std::make_shared<bool>(true);
  std::function<void()> tick = [&io = io_, ticks, reading, &tick] {
    ++*ticks;
    if (*reading) asio::post(io, tick);
  };
  std::string got(kRecords * record.size(), '\0');
  int ticks_at_start = 0;
  int ticks_at_end = 0;
  auto read = Run([&](TlsStream::Handler h) {
    stream_->AllowRecords(kRecords);  // as a session does for the frames it reads
    ticks_at_start = *ticks;
    asio::post(io_, tick);
    stream_->AsyncRead(got.data(), got.size(), [&, h](const error_code& ec, size_t n) {
      ticks_at_end = *ticks;
      *reading = false;
      h(ec, n);
    });
  });
  Result r = Get(read);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.n, got.size());
  EXPECT_EQ(got, std::string(got.size(), 'r'));
  // Three turns' pauses (64, 64, 64, 8 records); in one go, only the completion is posted.
  EXPECT_GE(ticks_at_end - ticks_at_start, kRecords / TlsStream::kRecordsPerTurn)
      << "the read did not let the thread's other work run between its turns: "
      << ticks_at_end - ticks_at_start << " ticks";
}

}  // namespace
}  // namespace tidemark::collector
