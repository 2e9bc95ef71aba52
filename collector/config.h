// The collector's configuration (docs/collector.md): a key = value file (--config FILE) whose
// every key is also a flag (`--max-connections 100`), with documented defaults under
// /etc/tidemark and /var/lib/tidemark. Parsing only; the server reads the result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace tidemark::collector {

// The version tidemark-collector and tidemarkctl print and the welcome frame carries.
inline constexpr const char* kCollectorVersion = "0.1.0";

struct CollectorConfig {
  std::string listen_host = "0.0.0.0";
  uint16_t listen_port = 7411;
  std::string ca = "/etc/tidemark/ca.crt";
  std::string cert = "/etc/tidemark/collector.crt";
  std::string key = "/etc/tidemark/collector.key";
  std::string crl;  // empty: no CRL (an absent default file is not an error)
  std::string db = "/var/lib/tidemark/tidemark.db";
  uint32_t max_frame_bytes = 64u << 20;
  int64_t max_connections = 10000;
  // Connections of one host (one certificate CN) at a time: one host cannot take every
  // connection slot (docs/collector.md "Limits"). An agent needs one; the rest is room for
  // connections a broken network left half-open until idle_timeout.
  int64_t max_host_connections = 8;
  // TLS handshakes in progress from one source (an IPv4 address, an IPv6 /64) at a time, as
  // OpenSSH's PerSourceMaxStartups: a peer without a certificate cannot hold every connection
  // slot with handshakes it never finishes (docs/collector.md "Limits").
  int64_t max_source_handshakes = 64;
  // New connections a second from one source (a token bucket of source_connection_burst): a
  // peer cannot keep the collector's cores busy with handshakes it starts and drops. 0 = no
  // limit.
  int64_t source_connection_rate = 100;
  int64_t source_connection_burst = 1000;
  int64_t max_inflight_bytes = 512ll << 20;
  // What the connections of one host (one certificate CN) may hold in flight together: one
  // host cannot take the whole budget (docs/collector.md "Limits").
  int64_t max_host_inflight_bytes = 128ll << 20;
  // What one host may send as snapshot and offer frames per day (a token bucket refilled
  // continuously; each frame counts its length, at least 1 KiB): a host with a valid
  // certificate cannot fill the store's disk or keep the collector verifying. 0 = no limit.
  int64_t max_host_bytes_per_day = 1ll << 30;
  // The largest stored state the evaluator judges (a larger one gets an `error` result): bounds
  // the evaluator's memory (about 27 times a state's size). Restart to change.
  int64_t max_evaluate_bytes = 16ll << 20;
  // A frame that gets no byte for this long once its first byte arrived is closed
  // ("frame_stalled").
  int64_t frame_timeout_s = 30;
  // And one slower on average than this many bytes per second (after frame_timeout of grace)
  // is closed ("frame_too_slow"); 0 = no minimum rate.
  int64_t min_frame_rate = 16384;
  int64_t handshake_timeout_s = 10;
  int64_t idle_timeout_s = 600;
  int64_t shutdown_timeout_s = 10;
  bool tls12 = false;
  // TLS sessions kept for resumption (stateful tickets); 0 = stateless tickets, nothing kept.
  int64_t session_cache = 20000;
  int64_t retention_days = 400;
  int64_t threads = 0;  // 0: one per core
  // The rules and baselines every stored state is judged by (a YAML file or a directory):
  // empty = the installed policies when they exist (else no evaluation, logged); "none" = no
  // evaluation; any other path must load, or the collector does not start.
  std::string policies;
  std::string config_file;  // the --config file, for SIGHUP
};

// The default CRL path: used when it exists and `crl` is not set.
inline constexpr const char* kDefaultCrl = "/etc/tidemark/crl.pem";

struct ParsedArgs {
  CollectorConfig config;
  bool help = false;
  bool version = false;
  std::vector<std::string> flags;  // the command line (for SIGHUP: file + the same flags)
};

// Parses the command line (argv after the program name) and the --config file. kInvalidArgument
// names the key or flag and its origin (FILE:LINE or --flag).
StatusOr<ParsedArgs> ParseCollectorArgs(const std::vector<std::string>& args);

// Re-reads the config file and re-applies the flags (SIGHUP).
StatusOr<CollectorConfig> ReloadConfig(const ParsedArgs& original);

// The --help text (keys, defaults, signals).
std::string CollectorHelp();

}  // namespace tidemark::collector
