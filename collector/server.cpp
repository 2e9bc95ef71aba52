// server.h: the collector's listener, signals, reload and shutdown. One connection is a Session
// (session.cpp); the store thread is the StoreWorker (store_worker.cpp).
#include "collector/server.h"

#include <sys/stat.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "collector/evaluator.h"
#include "collector/log.h"
#include "collector/session.h"
#include "collector/signals.h"
#include "collector/sqlite_store.h"
#include "collector/store_worker.h"
#include "collector/tls_context.h"
#include "common/policy/evaluate_command.h"
#include "common/time.h"

namespace tidemark::collector {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

// Overflow connections (over max_connections) that still get a handshake and a `busy` error;
// beyond this many at once they are closed right after accept.
constexpr int64_t kMaxOverflowSessions = 32;

}  // namespace

// Resolves the `policies` key (config.h): the set to judge by and where it came from, or
// nullptr when evaluation is off (`none`, or no installed policies and none configured).
struct LoadedPolicies {
  std::shared_ptr<const policy::PolicySet> set;
  std::string path;
};
StatusOr<LoadedPolicies> LoadServerPolicies(const CollectorConfig& c) {
  LoadedPolicies out;
  if (c.policies == "none") return out;
  out.path = c.policies.empty() ? policy::kDefaultPoliciesDir : c.policies;
  if (c.policies.empty()) {
    struct stat st {};
    if (::stat(out.path.c_str(), &st) != 0) return LoadedPolicies{nullptr, out.path};
  }
  auto set = policy::LoadPolicies(out.path);
  if (!set.ok()) return Status(set.status().code(), "policies: " + set.status().message());
  out.set = std::make_shared<const policy::PolicySet>(std::move(*set));
  return out;
}

// ---------------------------------------------------------------------------------------------
struct Server::Impl {
  ParsedArgs args;
  CollectorConfig config;
  // Judges what the store thread stores; it runs for the server's lifetime, with no policies
  // when evaluation is off. Declared before `shared`: the store thread, which wakes it, is
  // joined (with `shared`) before it is destroyed.
  std::unique_ptr<Evaluator> evaluator;
  ServerState shared;
  // Declared after `shared`: destroyed first, so pending handlers (and their sessions) go
  // before what they refer to.
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer retention_timer{io};
  asio::steady_timer drain_timer{io};
  asio::steady_timer accept_retry_timer{io};

  // Gives the evaluator `loaded` and logs what it judges by now.
  void UsePolicies(const LoadedPolicies& loaded);
  void ReloadPolicies(const CollectorConfig& c);
  LoadedPolicies pending_policies;  // from Create to Run
  std::atomic<bool> stopping{false};
  // What Run() returns: 0, or kExitStoreCorrupt / kExitInternal.
  std::atomic<int> exit_code{0};
  // Reloadable settings read outside the sessions (`config` itself is not changed after start).
  std::atomic<int64_t> retention_days{0};
  std::atomic<int64_t> shutdown_timeout_s{0};
  std::chrono::steady_clock::time_point drain_deadline;

  void Accept() {
    acceptor.async_accept(
        asio::make_strand(io), [this](const boost::system::error_code& ec, tcp::socket socket) {
          if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
          if (ec) {
            Log::Warn("accept_failed", {{"error", ec.message()}});
            accept_retry_timer.expires_after(std::chrono::milliseconds(100));
            accept_retry_timer.async_wait([this](const boost::system::error_code& tec) {
              if (!tec) Accept();
            });
            return;
          }
          OnAccepted(std::move(socket));
          Accept();
        });
  }

  void OnAccepted(tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    bool overflow = false;
    if (shared.connections.fetch_add(1) >= shared.limits.max_connections.load()) {
      shared.connections.fetch_sub(1);
      boost::system::error_code ec;
      auto ep = socket.remote_endpoint(ec);
      std::string peer = ec ? "unknown" : EndpointText(ep);
      if (shared.overflow.fetch_add(1) >= kMaxOverflowSessions) {
        shared.overflow.fetch_sub(1);
        Log::Warn("connection_refused", {{"peer", peer}, {"reason", "max_connections"}});
        socket.close(ignored);
        return;
      }
      overflow = true;
    }
    auto session = std::make_shared<Session>(shared, std::move(socket), shared.Context(), overflow);
    session->Start();
  }

  void ScheduleRetention() {
    int days = static_cast<int>(retention_days.load());
    shared.store->Run([days](SnapshotStore& store) {
      auto n = store.Thin(days, NowSeconds());
      if (n.ok()) {
        Log::Info("retention",
                  {{"days", std::to_string(days)}, {"seen_deleted", std::to_string(*n)}});
      } else {
        Log::Error("retention_failed", {{"error", n.status().ToString()}});
      }
    });
    retention_timer.expires_after(std::chrono::hours(24));
    retention_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ScheduleRetention();
    });
  }

  std::vector<std::shared_ptr<Session>> LiveSessions() {
    std::vector<std::shared_ptr<Session>> live;
    std::lock_guard<std::mutex> lock(shared.mu);
    for (auto& [ptr, weak] : shared.sessions) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    return live;
  }

  // The store is corrupted (logged at critical level by the store thread): stop with
  // kExitStoreCorrupt. Connections waiting for the store get store_failed, never an ack.
  void OnStoreCorrupt() {
    exit_code = kExitStoreCorrupt;
    BeginStop("store_corrupt");
  }

  // An exception escaped a handler outside any session: there is no connection to blame, so
  // the collector stops (kExitInternal) rather than go on in an unknown state.
  void OnFatal(const std::string& what) {
    Log::Error("internal_error", {{"event", "io_run"}, {"error", Clip(what, 1024)}});
    int expected = 0;
    exit_code.compare_exchange_strong(expected, kExitInternal);
    io.stop();
  }

  void BeginStop(const char* why) {
    if (stopping.exchange(true)) return;
    Log::Info("stopping",
              {{"reason", why}, {"connections", std::to_string(shared.SessionCount())}});
    shared.shutting_down = true;
    boost::system::error_code ignored;
    acceptor.close(ignored);
    retention_timer.cancel();
    accept_retry_timer.cancel();
    for (auto& s : LiveSessions()) {
      // Drain runs on the session's strand (the socket's executor).
      asio::post(s->executor(), [s] { s->Drain(); });
    }
    drain_deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(shutdown_timeout_s.load());
    PollDrain();
  }

  void PollDrain() {
    size_t left = shared.SessionCount();
    if (left == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      if (left > 0) Log::Warn("shutdown_timeout", {{"connections", std::to_string(left)}});
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(50));
    drain_timer.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) PollDrain();
    });
  }

  void DoReload() {
    auto c = ReloadConfig(args);
    if (!c.ok()) {
      Log::Error("reload_failed", {{"error", c.status().message()}});
      return;
    }
    auto ctx = MakeServerContext(*c);
    if (!ctx.ok()) {
      Log::Error("reload_failed", {{"error", ctx.status().message()}});
      return;
    }
    {
      std::lock_guard<std::mutex> lock(shared.mu);
      shared.ctx = *ctx;
    }
    shared.limits.Set(*c);
    // Revocation and expiry reach live connections: each one's certificate is checked again
    // against the new context (CRL, validity dates), on its own strand.
    std::shared_ptr<ssl::context> fresh = *ctx;
    for (auto& s : LiveSessions()) {
      asio::post(s->executor(), [s, fresh] { s->Recheck(fresh); });
    }
    if (c->listen_host != config.listen_host || c->listen_port != config.listen_port ||
        c->db != config.db || c->threads != config.threads ||
        c->max_evaluate_bytes != config.max_evaluate_bytes) {
      Log::Warn("reload_partial",
                {{"reason", "listen, db, threads and max_evaluate_bytes change only on restart"}});
    }
    retention_days = c->retention_days;
    shutdown_timeout_s = c->shutdown_timeout_s;
    ReloadPolicies(*c);
    Log::Info("reloaded", {{"crl", c->crl.empty() ? "none" : c->crl},
                           {"tls", c->tls12 ? "1.2+1.3" : "1.3"},
                           {"max_connections", std::to_string(c->max_connections)},
                           {"max_host_connections", std::to_string(c->max_host_connections)},
                           {"max_source_handshakes", std::to_string(c->max_source_handshakes)},
                           {"source_connection_rate", std::to_string(c->source_connection_rate)},
                           {"max_frame_bytes", std::to_string(c->max_frame_bytes)},
                           {"max_inflight_bytes", std::to_string(c->max_inflight_bytes)},
                           {"max_host_inflight_bytes", std::to_string(c->max_host_inflight_bytes)},
                           {"max_host_bytes_per_day", std::to_string(c->max_host_bytes_per_day)},
                           {"frame_timeout", std::to_string(c->frame_timeout_s)},
                           {"min_frame_rate", std::to_string(c->min_frame_rate)},
                           {"handshake_timeout", std::to_string(c->handshake_timeout_s)},
                           {"idle_timeout", std::to_string(c->idle_timeout_s)}});
  }
};

void Server::Impl::UsePolicies(const LoadedPolicies& loaded) {
  evaluator->SetPolicies(loaded.set);
  if (!loaded.set) {
    Log::Info("evaluation_off",
              {{"policies", loaded.path.empty() ? "none" : loaded.path},
               {"reason", loaded.path.empty() ? "policies = none" : "no policies there"}});
    return;
  }
  Log::Info("evaluation", {{"policies", loaded.path},
                           {"rules", std::to_string(loaded.set->rules.size())},
                           {"baselines", std::to_string(loaded.set->baselines.size())},
                           {"policy_hash", evaluator->policy_hash()}});
}

void Server::Impl::ReloadPolicies(const CollectorConfig& c) {
  auto loaded = LoadServerPolicies(c);
  if (!loaded.ok()) {
    Log::Error(
        "reload_failed",
        {{"error", loaded.status().message()},
         {"kept", evaluator->policy_hash().empty() ? "no evaluation" : evaluator->policy_hash()}});
    return;
  }
  UsePolicies(*loaded);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_->shared.store) impl_->shared.store->Stop();
  if (impl_->evaluator) impl_->evaluator->Stop();  // before `io`, which on_corrupt posts to
}

StatusOr<std::unique_ptr<Server>> Server::Create(const ParsedArgs& args) {
  auto impl = std::make_unique<Impl>();
  impl->args = args;
  impl->config = args.config;
  const CollectorConfig& c = impl->config;
  auto ctx = MakeServerContext(c);
  if (!ctx.ok()) return ctx.status();
  impl->shared.ctx = *ctx;
  impl->shared.limits.Set(c);
  impl->retention_days = c.retention_days;
  impl->shutdown_timeout_s = c.shutdown_timeout_s;
  auto store = SqliteStore::Open(c.db);
  if (!store.ok()) return store.status();
  Impl* raw = impl.get();
  impl->shared.store = std::make_unique<StoreWorker>(std::move(*store), c.db, [raw](const Status&) {
    asio::post(raw->io, [raw] { raw->OnStoreCorrupt(); });
  });
  auto policies = LoadServerPolicies(c);
  if (!policies.ok()) return policies.status();
  Evaluator::Options eo;
  eo.db = c.db;
  eo.facts = FactsPathFor(c.db);
  eo.max_state_bytes = c.max_evaluate_bytes;
  eo.on_corrupt = [raw] { asio::post(raw->io, [raw] { raw->OnStoreCorrupt(); }); };
  auto evaluator = Evaluator::Start(eo, nullptr);  // policies given (and logged) by Run
  if (!evaluator.ok()) return evaluator.status();
  impl->evaluator = std::move(*evaluator);
  impl->pending_policies = std::move(*policies);
  // The store thread wakes the evaluator after each commit that stored a new state.
  impl->shared.store->SetOnStored([e = impl->evaluator.get()] { e->Wake(); });

  boost::system::error_code ec;
  auto addr = asio::ip::make_address(c.listen_host, ec);
  if (ec) {
    return Status(StatusCode::kInvalidArgument,
                  "listen: '" + c.listen_host + "' is not an IP address");
  }
  tcp::endpoint ep(addr, c.listen_port);
  auto& a = impl->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(StatusCode::kIoError, "listen " + EndpointText(ep) + ": " + ec.message());
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const {
  boost::system::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

int Server::Run(bool handle_signals) {
  Impl& m = *impl_;
  unsigned threads = m.config.threads > 0 ? static_cast<unsigned>(m.config.threads)
                                          : std::max(1u, std::thread::hardware_concurrency());
  if (handle_signals && !ServerSignalsBlocked()) {
    Log::Error("internal_error",
               {{"event", "run"}, {"error", "SIGTERM, SIGINT and SIGHUP are not blocked"}});
    return kExitInternal;
  }
  // Loaded by Create, so that bad ones stop the start; said before "listening", the line that
  // tells a reader (and the tests) that the start is complete.
  m.UsePolicies(m.pending_policies);
  m.pending_policies = {};
  m.ScheduleRetention();
  m.Accept();
  // The last named edge: whatever escapes a handler (all session handlers catch their own)
  // stops the collector with a clear line instead of std::terminate.
  auto run = [&m] {
    try {
      m.io.run();
    } catch (const std::exception& e) {
      m.OnFatal(e.what());
    } catch (...) {
      m.OnFatal("unknown exception");
    }
  };
  // Every thread, the signal waiter's too, exists before "listening" (the work above keeps the
  // io threads in run()), so that the line means the start is complete.
  // The port is read first: once the threads run, a handler may close the acceptor.
  const std::string listen_port = std::to_string(port());
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(run);
  // Signals are taken by a thread of their own (signals.h) and handled on the io threads.
  std::unique_ptr<SignalWaiter> signals;
  if (handle_signals) {
    signals = std::make_unique<SignalWaiter>([&m](int sig) {
      asio::post(m.io, [&m, sig] {
        if (sig == SIGHUP) {
          Log::Info("signal", {{"signal", "SIGHUP"}});
          m.DoReload();
        } else {
          m.BeginStop(sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
      });
    });
  }
  const CollectorConfig& c = m.config;
  Log::Info("listening", {{"addr", c.listen_host},
                          {"port", listen_port},
                          {"tls", c.tls12 ? "1.2+1.3" : "1.3"},
                          {"crl", c.crl.empty() ? "none" : c.crl},
                          {"db", c.db},
                          {"threads", std::to_string(threads)},
                          {"max_connections", std::to_string(c.max_connections)},
                          {"max_host_connections", std::to_string(c.max_host_connections)},
                          {"max_source_handshakes", std::to_string(c.max_source_handshakes)},
                          {"source_connection_rate", std::to_string(c.source_connection_rate)},
                          {"max_frame_bytes", std::to_string(c.max_frame_bytes)}});
  run();
  for (auto& t : pool) t.join();
  signals.reset();
  m.shared.store->Stop();
  m.evaluator->Stop();
  int code = m.exit_code.load();
  Log::FlushSuppressed();
  if (code == 0) {
    Log::Info("stopped", {});
  } else {
    Log::Error("stopped",
               {{"exit_code", std::to_string(code)},
                {"reason", code == kExitStoreCorrupt ? "store corrupted" : "internal error"}});
  }
  return code;
}

void Server::Stop() {
  asio::post(impl_->io, [this] { impl_->BeginStop("requested"); });
}

void Server::Reload() {
  asio::post(impl_->io, [this] { impl_->DoReload(); });
}

}  // namespace tidemark::collector
