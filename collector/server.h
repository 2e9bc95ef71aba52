// The collector's network server (docs/collector.md, docs/protocol.md): accepts agents over
// mutual TLS on a Boost.Asio thread pool (one thread per core), speaks tidemark/1 with each
// (hello, offer, snapshot), and hands store work to one store thread that group-commits the
// snapshots queued from all connections (SqliteStore is single-threaded). An ack is sent only
// after the commit returned. Limits: handshake and idle timeouts, connections, frame size,
// bytes in flight. SIGTERM/SIGINT drain and stop; SIGHUP reloads the config (CRL, limits).
#pragma once

#include <cstdint>
#include <memory>

#include "collector/config.h"
#include "common/status.h"

namespace tidemark::collector {

// Exit codes of Run() besides 0 (clean stop); main adds 1 (cannot start) and 2 (usage).
inline constexpr int kExitStoreCorrupt = 3;  // the store reported corruption (critical)
inline constexpr int kExitInternal = 4;      // an exception outside any connection

class Server {
 public:
  // Loads the TLS context (refusing a key readable by others), opens the store, binds the
  // listening socket. Errors name the file or address.
  static StatusOr<std::unique_ptr<Server>> Create(const ParsedArgs& args);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port (useful with listen port 0).
  uint16_t port() const;

  // Serves until Stop() (or SIGTERM/SIGINT when handle_signals; SIGHUP then reloads). Returns
  // the process exit code: 0 after a clean stop, kExitStoreCorrupt when the store reported
  // corruption (nothing is acknowledged after that), kExitInternal after an exception outside
  // any connection.
  int Run(bool handle_signals);

  // Thread-safe: stop accepting, let in-flight snapshots finish (bounded by shutdown_timeout),
  // then make Run() return.
  void Stop();
  // Thread-safe: re-read the config file and flags; new TLS context (CRL, certificates) and
  // limits for new connections and frames; every open connection's certificate is checked
  // again (CRL, validity) and the connection closed when it fails. The listen address and db
  // are not changed.
  void Reload();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemark::collector
