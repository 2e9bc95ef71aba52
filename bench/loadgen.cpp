// Load generator for tidemark-collector: simulates many agents, each with its own client
// certificate, speaking tidemark/1 (docs/protocol.md) over mutual TLS on loopback. Bounded: every
// run stops after --time-limit seconds whatever happens, and uses at most --count agents.
//
//   tidemark_bench_loadgen make-certs --pki DIR --count N --out FILE
//       agent keys + certificates (CN lg-000000 ...) signed by DIR/ca.{crt,key}
//       (tidemarkctl pki init), all in one PEM file.
//   tidemark_bench_loadgen MODE --collector HOST:PORT --ca FILE --agents FILE [options]
//     MODE ingest    --count C persistent connections, each sends --per-agent K distinct
//                    snapshots of --bytes B, one after the other (waits for each ack)
//     MODE offer     the same connections first store one snapshot each (not timed), then each
//                    offers its unchanged content hash K times (ack "seen")
//     MODE storm     every agent first stores one snapshot (full handshake, not timed); then
//                    all --count agents reconnect at once (at most --concurrency in flight),
//                    offer their unchanged state and wait for the ack: once with full
//                    handshakes, once resuming the TLS 1.3 session from the previous pass
//     MODE hold      --count agents connect, say hello and stay connected; prints "holding N"
//                    and waits until stdin closes or the time limit
//     MODE handshake --count TLS handshakes (TCP connect, mutual TLS, close), no protocol:
//                    for comparison with `openssl s_server`
//   Options: --server-name NAME (default: host of --collector), --concurrency N (default 500),
//            --pipeline D (offer: D offers sent before their acks are read; default 1),
//            --time-limit S (default 60), --server-pid PID (reports the server's CPU time)
// Prints one JSON line per measured pass.
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synthetic.h"
#include "common/transport/pki.h"
#include "common/transport/protocol.h"

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Stream = asio::ssl::stream<tcp::socket>;
using namespace tidemark;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The server's user + system CPU time in milliseconds (/proc/PID/stat fields 14 and 15).
std::optional<double> ServerCpuMs(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  double ut = 0, st = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) ut = std::stod(field);
    if (i == 15) st = std::stod(field);
  }
  return (ut + st) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Agent {
  std::string cn;
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  SSL_SESSION* session = nullptr;
  std::unique_ptr<Stream> stream;
  std::vector<std::string> frames;  // snapshot frames to send, in order
  std::string content_hash;         // of the last stored snapshot (for offers)
  bool failed = false;
};

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  std::string port = "7411";
  std::string server_name;
  std::string ca;
  std::string agents_file;
  int count = 10;
  int per_agent = 20;
  int pipeline = 1;
  int concurrency = 500;
  size_t bytes = 20000;
  double time_limit = 60;
  int server_pid = 0;
};

struct Counters {
  int ok = 0;
  int failed = 0;
  int resumed = 0;
  std::map<std::string, int> errors;
};

class LoadGen {
 public:
  explicit LoadGen(Options o) : o_(std::move(o)), ctx_(asio::ssl::context::tls_client) {
    ctx_.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_3_VERSION);
    ctx_.load_verify_file(o_.ca);
    ctx_.set_verify_mode(asio::ssl::verify_peer);
    // Sessions are kept by hand per agent (each agent has its own identity).
    SSL_CTX_set_session_cache_mode(ctx_.native_handle(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    endpoint_ = *tcp::resolver(io_).resolve(o_.host, o_.port).begin();
  }

  bool LoadAgents() {
    FILE* f = std::fopen(o_.agents_file.c_str(), "r");
    if (f == nullptr) return false;
    while (static_cast<int>(agents_.size()) < o_.count) {
      Agent a;
      a.key = PEM_read_PrivateKey(f, nullptr, nullptr, nullptr);
      if (a.key == nullptr) break;
      a.cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
      if (a.cert == nullptr) break;
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(a.cert), NID_commonName, cn, sizeof cn);
      a.cn = cn;
      agents_.push_back(std::move(a));
    }
    std::fclose(f);
    ERR_clear_error();
    return static_cast<int>(agents_.size()) == o_.count;
  }

  int Run() {
    if (o_.mode == "ingest") return Ingest(false);
    if (o_.mode == "offer") return Ingest(true);
    if (o_.mode == "storm") return Storm();
    if (o_.mode == "hold") return Hold();
    if (o_.mode == "handshake") return Handshakes();
    std::cerr << "unknown mode " << o_.mode << "\n";
    return 2;
  }

 private:
  asio::awaitable<std::pair<protocol::FrameType, std::string>> ReadFrame(Stream& s) {
    std::array<uint8_t, protocol::kHeaderSize> h{};
    co_await asio::async_read(s, asio::buffer(h), asio::use_awaitable);
    auto header = protocol::DecodeHeader(h, protocol::kDefaultMaxFrameBytes);
    if (!header.ok()) throw std::runtime_error("bad frame from the collector");
    std::string payload(header->length, '\0');
    co_await asio::async_read(s, asio::buffer(payload), asio::use_awaitable);
    co_return std::make_pair(header->type, std::move(payload));
  }

  // Connects, handshakes (resuming when asked and possible), hello/welcome unless tls_only.
  asio::awaitable<void> Connect(Agent& a, bool resume, bool tls_only) {
    a.stream = std::make_unique<Stream>(io_, ctx_);
    SSL* ssl = a.stream->native_handle();
    SSL_use_certificate(ssl, a.cert);
    SSL_use_PrivateKey(ssl, a.key);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    boost::system::error_code ec;
    (void)asio::ip::make_address(server_name_, ec);
    if (ec) {
      X509_VERIFY_PARAM_set1_host(param, server_name_.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, server_name_.c_str());
    }
    if (resume && a.session != nullptr) SSL_set_session(ssl, a.session);
    co_await a.stream->next_layer().async_connect(endpoint_, asio::use_awaitable);
    // As the agent does (agent/uplink/client.cpp): a frame's last TLS record is not held back
    // by Nagle's algorithm until the collector's delayed ACK.
    a.stream->next_layer().set_option(asio::ip::tcp::no_delay(true));
    co_await a.stream->async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    if (SSL_session_reused(ssl)) ++counters_.resumed;
    if (tls_only) co_return;
    protocol::Hello hello{"0.1.0-bench", protocol::kVersion, {"offer"}, 0, 0};
    std::string frame = protocol::EncodeJsonFrame(protocol::FrameType::kHello, ToJson(hello));
    co_await asio::async_write(*a.stream, asio::buffer(frame), asio::use_awaitable);
    auto [type, payload] = co_await ReadFrame(*a.stream);
    if (type != protocol::FrameType::kWelcome) throw std::runtime_error("no welcome");
    // TLS 1.3 tickets arrive after the handshake; they have been read with the welcome.
    if (SSL_SESSION* s = SSL_get1_session(ssl)) {
      if (a.session != nullptr) SSL_SESSION_free(a.session);
      a.session = s;
    }
  }

  // Sends one frame and waits for the ack (an `error` or `send_body` counts as a failure).
  asio::awaitable<std::string> Exchange(Agent& a, const std::string& frame) {
    co_await asio::async_write(*a.stream, asio::buffer(frame), asio::use_awaitable);
    co_return co_await ReadAck(a);
  }

  // Reads the next frame, which must be an ack; returns its result.
  asio::awaitable<std::string> ReadAck(Agent& a) {
    auto [type, payload] = co_await ReadFrame(*a.stream);
    if (type == protocol::FrameType::kAck) {
      auto j = protocol::ParseJsonPayload(payload);
      co_return j.ok() ? j->value("result", "?") : "?";
    }
    if (type == protocol::FrameType::kError) {
      auto j = protocol::ParseJsonPayload(payload);
      throw std::runtime_error("error " + (j.ok() ? j->value("code", "?") : "?"));
    }
    throw std::runtime_error(std::string("unexpected ") +
                             std::string(protocol::FrameTypeName(type)));
  }

  void Count(const std::exception& e) {
    ++counters_.failed;
    ++counters_.errors[e.what()];
  }

  std::string OfferFrame(const Agent& a, int n) {
    protocol::Offer offer{a.cn + "-offer-" + std::to_string(n) + "-" + run_tag_, a.content_hash,
                          "2026-11-28T19:00:00Z"};
    return protocol::EncodeJsonFrame(protocol::FrameType::kOffer, ToJson(offer));
  }

  void PrepareSnapshots(int per_agent) {
    int64_t variant = static_cast<int64_t>(Now() * 1000);  // new content on every run
    for (auto& a : agents_) {
      a.frames.clear();
      for (int k = 0; k < per_agent; ++k) {
        auto snap = bench::MakeSyntheticSnapshot(a.cn, variant++, o_.bytes);
        std::string id = protocol::NewSnapshotId(a.cn, 1795892400);
        a.frames.push_back(protocol::EncodeSnapshotFrame(id, snap.content_hash, snap.text));
        a.content_hash = snap.content_hash;
      }
    }
  }

  // Runs the io_context until the work is done or the time limit is reached.
  bool RunBounded(double limit) {
    asio::steady_timer stop(io_, std::chrono::milliseconds(static_cast<int64_t>(limit * 1000)));
    bool timed_out = false;
    stop.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) {
        timed_out = true;
        io_.stop();
      }
    });
    io_.restart();
    // run() returns when only the timer is left: cancel it from a watcher.
    asio::co_spawn(
        io_,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer t(io_);
          while (active_ > 0) {
            t.expires_after(std::chrono::milliseconds(2));
            co_await t.async_wait(asio::use_awaitable);
          }
          stop.cancel();
        },
        asio::detached);
    io_.run();
    return !timed_out;
  }

  // CPU time so far of the server (when --server-pid is given) and of this load generator,
  // which shares the machine: their sum over a pass, divided by the cores, is the floor of
  // its wall time.
  struct CpuMark {
    std::optional<double> server;
    double client = 0;
  };
  CpuMark Mark() const { return {ServerCpuMs(o_.server_pid), ServerCpuMs(getpid()).value_or(0)}; }

  void Report(const std::string& pass, int ops, double secs, std::optional<CpuMark> cpu0,
              std::optional<CpuMark> cpu1, const std::string& extra = "") {
    std::ostringstream j;
    j << "{\"mode\":\"" << o_.mode << "\",\"pass\":\"" << pass << "\",\"agents\":" << o_.count
      << ",\"ok\":" << counters_.ok << ",\"failed\":" << counters_.failed
      << ",\"resumed\":" << counters_.resumed << ",\"seconds\":" << secs
      << ",\"rate\":" << (secs > 0 ? counters_.ok / secs : 0);
    if (cpu0 && cpu1 && cpu0->server && cpu1->server) {
      double ms = *cpu1->server - *cpu0->server;
      j << ",\"server_cpu_ms\":" << ms << ",\"server_cpu_ms_per_op\":" << (ops > 0 ? ms / ops : 0);
    }
    if (cpu0 && cpu1) {
      double ms = cpu1->client - cpu0->client;
      j << ",\"client_cpu_ms\":" << ms << ",\"client_cpu_ms_per_op\":" << (ops > 0 ? ms / ops : 0);
    }
    if (!counters_.errors.empty()) {
      j << ",\"errors\":{";
      bool first = true;
      for (const auto& [what, n] : counters_.errors) {
        j << (first ? "" : ",") << nlohmann::json(what).dump() << ":" << n;
        first = false;
      }
      j << "}";
    }
    j << extra << "}";
    std::cout << j.str() << std::endl;
  }

  // A pass over all agents with at most `concurrency` in flight, `body` per agent.
  template <typename Body>
  bool Pass(int concurrency, Body body, double limit) {
    counters_ = Counters{};
    size_t next = 0;
    active_ = 0;
    std::function<void()> launch = [&]() {
      while (active_ < concurrency && next < agents_.size()) {
        Agent* a = &agents_[next++];
        ++active_;
        asio::co_spawn(
            io_,
            [&, a, this]() -> asio::awaitable<void> {
              try {
                co_await body(*a);
                ++counters_.ok;
              } catch (const std::exception& e) {
                a->failed = true;
                Count(e);
              }
              --active_;
              launch();
            },
            asio::detached);
      }
    };
    launch();
    return RunBounded(limit);
  }

  asio::awaitable<void> Close(Agent& a) {
    // The exchange is complete: tell OpenSSL so, or freeing the SSL marks its session
    // not resumable (ssl_clear_bad_session) and the next connection cannot resume it.
    SSL_set_shutdown(a.stream->native_handle(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    boost::system::error_code ec;
    a.stream->lowest_layer().close(ec);
    a.stream.reset();
    co_return;
  }

  int Ingest(bool offers) {
    PrepareSnapshots(offers ? 1 : o_.per_agent);
    double t0 = Now();
    auto cpu0 = Mark();
    // ingest: connect and send every snapshot; offer: connect and store one (not timed).
    bool ok = Pass(
        o_.concurrency,
        [&](Agent& a) -> asio::awaitable<void> {
          co_await Connect(a, false, false);
          for (const auto& f : a.frames) co_await Exchange(a, f);
        },
        o_.time_limit);
    double secs = Now() - t0;
    auto cpu1 = Mark();
    if (!offers) {
      int ok_count = counters_.ok;
      counters_.ok = ok_count * o_.per_agent;  // snapshots acknowledged
      Report("snapshots", counters_.ok, secs, cpu0, cpu1,
             ",\"bytes\":" + std::to_string(agents_[0].frames[0].size()));
      return ok ? 0 : 1;
    }
    int stored_failed = counters_.failed;
    t0 = Now();
    cpu0 = Mark();
    int seen = 0;
    ok = Pass(
             o_.concurrency,
             [&](Agent& a) -> asio::awaitable<void> {
               if (!a.stream) throw std::runtime_error("not connected");
               // --pipeline D: D offers on the wire before their acks are read (the
               // protocol answers in order), as an agent sending a backlog would.
               for (int k = 0; k < o_.per_agent; k += o_.pipeline) {
                 int d = std::min(o_.pipeline, o_.per_agent - k);
                 std::string frames;
                 for (int i = 0; i < d; ++i) frames += OfferFrame(a, k + i);
                 co_await asio::async_write(*a.stream, asio::buffer(frames), asio::use_awaitable);
                 for (int i = 0; i < d; ++i) {
                   if (co_await ReadAck(a) == "seen") ++seen;
                 }
               }
               co_await Close(a);
             },
             o_.time_limit) &&
         ok;
    secs = Now() - t0;
    cpu1 = Mark();
    counters_.ok = seen;
    counters_.failed += stored_failed;
    Report("offers", seen, secs, cpu0, cpu1);
    return ok ? 0 : 1;
  }

  int Storm() {
    PrepareSnapshots(1);
    bool ok = Pass(
        o_.concurrency,
        [&](Agent& a) -> asio::awaitable<void> {
          co_await Connect(a, false, false);
          co_await Exchange(a, a.frames[0]);
          co_await Close(a);
        },
        o_.time_limit);
    Report("store one snapshot each (warm-up)", counters_.ok, 0, std::nullopt, std::nullopt);
    for (bool resume : {false, true}) {
      run_tag_ =
          (resume ? "r" : "f") + std::to_string(static_cast<int64_t>(Now() * 1000) % 100000000);
      double t0 = Now();
      auto cpu0 = Mark();
      ok = Pass(
               o_.concurrency,
               [&, resume](Agent& a) -> asio::awaitable<void> {
                 co_await Connect(a, resume, false);
                 co_await Exchange(a, OfferFrame(a, 0));
                 co_await Close(a);
               },
               o_.time_limit) &&
           ok;
      double secs = Now() - t0;
      Report(resume ? "reconnect storm, TLS 1.3 resumption" : "reconnect storm, full handshakes",
             counters_.ok, secs, cpu0, Mark());
    }
    return ok ? 0 : 1;
  }

  int Hold() {
    double t0 = Now();
    bool ok = Pass(
        o_.concurrency,
        [&](Agent& a) -> asio::awaitable<void> { co_await Connect(a, false, false); },
        o_.time_limit);
    Report("connected", counters_.ok, Now() - t0, std::nullopt, std::nullopt);
    std::cout << "holding " << counters_.ok << std::endl;
    // Keep the connections until stdin closes (the driver measured the server) or time's up.
    std::string line;
    double deadline = t0 + o_.time_limit;
    while (Now() < deadline && std::getline(std::cin, line)) {
    }
    for (auto& a : agents_) {
      if (a.stream) {
        boost::system::error_code ec;
        a.stream->lowest_layer().close(ec);
      }
    }
    return ok ? 0 : 1;
  }

  int Handshakes() {
    double t0 = Now();
    auto cpu0 = Mark();
    bool ok = Pass(
        o_.concurrency,
        [&](Agent& a) -> asio::awaitable<void> {
          co_await Connect(a, false, true);
          // A clean close: the server sees a finished connection.
          boost::system::error_code ec;
          co_await a.stream->async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
          co_await Close(a);
        },
        o_.time_limit);
    Report("TLS handshakes", counters_.ok, Now() - t0, cpu0, Mark());
    return ok ? 0 : 1;
  }

  Options o_;
  asio::io_context io_;
  asio::ssl::context ctx_;
  tcp::endpoint endpoint_;
  std::vector<Agent> agents_;
  Counters counters_;
  int active_ = 0;
  std::string run_tag_ = std::to_string(static_cast<int64_t>(Now() * 1000) % 100000000);

 public:
  std::string server_name_;
};

int MakeCerts(const std::string& dir, int count, const std::string& out) {
  auto read = [](const std::string& p) {
    std::ifstream in(p);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  pki::KeyPair ca{read(dir + "/ca.key"), read(dir + "/ca.crt")};
  std::string all;
  for (int i = 0; i < count; ++i) {
    char cn[32];
    std::snprintf(cn, sizeof cn, "lg-%06d", i);
    pki::CertRequest req;
    req.common_name = cn;
    req.days = 7;
    auto pair = pki::Issue(ca, req);
    if (!pair.ok()) {
      std::cerr << pair.status().ToString() << "\n";
      return 1;
    }
    all += pair->key_pem + pair->cert_pem;
  }
  Status s = pki::WritePem(out, all, 0600);
  if (!s.ok()) return std::cerr << s.ToString() << "\n", 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::cerr << "usage: see the comment atop bench/loadgen.cpp\n";
    return 2;
  }
  Options o;
  o.mode = argv[1];
  std::string pki_dir, out;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--collector") {
      size_t colon = v.rfind(':');
      o.host = v.substr(0, colon);
      o.port = v.substr(colon + 1);
    } else if (k == "--server-name") {
      o.server_name = v;
    } else if (k == "--ca") {
      o.ca = v;
    } else if (k == "--agents") {
      o.agents_file = v;
    } else if (k == "--count") {
      o.count = std::stoi(v);
    } else if (k == "--per-agent") {
      o.per_agent = std::stoi(v);
    } else if (k == "--pipeline") {
      o.pipeline = std::max(1, std::stoi(v));
    } else if (k == "--concurrency") {
      o.concurrency = std::stoi(v);
    } else if (k == "--bytes") {
      o.bytes = std::stoul(v);
    } else if (k == "--time-limit") {
      o.time_limit = std::stod(v);
    } else if (k == "--server-pid") {
      o.server_pid = std::stoi(v);
    } else if (k == "--pki") {
      pki_dir = v;
    } else if (k == "--out") {
      out = v;
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  if (o.mode == "make-certs") return MakeCerts(pki_dir, o.count, out);
  // Each connection is a file descriptor: raise the soft limit to the hard one.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  LoadGen gen(o);
  gen.server_name_ = o.server_name.empty() ? o.host : o.server_name;
  if (!gen.LoadAgents()) {
    std::cerr << "could not read " << o.count << " agents from " << o.agents_file << "\n";
    return 1;
  }
  return gen.Run();
}
