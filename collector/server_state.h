// What the collector's sessions (session.h) and its server (server.h) share: the limits that
// SIGHUP may change, the in-flight byte budget, each host's daily allowance, and the counts of
// connections per host and of handshakes and new connections per source (docs/collector.md,
// "Limits"). Atomics, or guarded by its mutexes; safe from any thread.
#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "collector/config.h"
#include "collector/store_worker.h"
#include "collector/token_buckets.h"
#include "common/transport/protocol.h"

namespace tidemark::collector {

// Limits that SIGHUP may change, read by every session.
struct ReloadableLimits {
  std::atomic<uint32_t> max_frame_bytes{protocol::kDefaultMaxFrameBytes};
  std::atomic<int64_t> max_connections{0};
  std::atomic<int64_t> max_host_connections{0};
  std::atomic<int64_t> max_source_handshakes{0};
  std::atomic<int64_t> source_connection_rate{0};
  std::atomic<int64_t> source_connection_burst{0};
  std::atomic<int64_t> max_inflight_bytes{0};
  std::atomic<int64_t> max_host_inflight_bytes{0};
  std::atomic<int64_t> max_host_bytes_per_day{0};
  std::atomic<int64_t> handshake_timeout_s{10};
  std::atomic<int64_t> idle_timeout_s{600};
  std::atomic<int64_t> frame_timeout_s{30};
  std::atomic<int64_t> min_frame_rate{0};

  void Set(const CollectorConfig& c) {
    max_frame_bytes = c.max_frame_bytes;
    max_connections = c.max_connections;
    max_host_connections = c.max_host_connections;
    max_source_handshakes = c.max_source_handshakes;
    source_connection_rate = c.source_connection_rate;
    source_connection_burst = c.source_connection_burst;
    max_inflight_bytes = c.max_inflight_bytes;
    max_host_inflight_bytes = c.max_host_inflight_bytes;
    max_host_bytes_per_day = c.max_host_bytes_per_day;
    handshake_timeout_s = c.handshake_timeout_s;
    idle_timeout_s = c.idle_timeout_s;
    frame_timeout_s = c.frame_timeout_s;
    min_frame_rate = c.min_frame_rate;
  }
};

// A frame's payload is read in chunks of at most this many bytes, each reserved against the
// in-flight budget just before it is read: a connection holds budget only for bytes it sent
// (plus at most one chunk), never for a length it merely announced in a header.
constexpr int64_t kReadChunk = 64 * 1024;

// The least a snapshot or offer frame counts against max_host_bytes_per_day: an offer writes a
// small row (a seen record), not nothing.
constexpr int64_t kMinFrameCharge = 1024;

// Sources whose connection rate is tracked at once (TokenBuckets: then the refilled ones are
// dropped); about 100 bytes each.
constexpr size_t kMaxRateSources = 16384;

class Session;

// What the sessions and the server share.
struct ServerState {
  ReloadableLimits limits;
  std::atomic<int64_t> connections{0};  // counted sessions (not overflow)
  std::atomic<int64_t> overflow{0};
  std::atomic<bool> shutting_down{false};
  std::unique_ptr<StoreWorker> store;

  std::mutex mu;  // guards ctx, sessions, host_connections and source_handshakes
  std::shared_ptr<boost::asio::ssl::context> ctx;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::unordered_map<std::string, int64_t> host_connections;   // counted sessions per CN
  std::unordered_map<std::string, int64_t> source_handshakes;  // per PeerSource (log.h)

  std::mutex rate_mu;                                // guards source_connections
  TokenBuckets source_connections{kMaxRateSources};  // per PeerSource

  std::mutex budget_mu;  // guards inflight_bytes, host_inflight and host_allowance
  int64_t inflight_bytes = 0;
  std::unordered_map<std::string, int64_t> host_inflight;
  // Each host's allowance of max_host_bytes_per_day: bytes left (may be below 0 by the last
  // frame) and when they were counted. One entry per host that sent a frame.
  struct Allowance {
    double bytes = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Allowance> host_allowance;

  std::shared_ptr<boost::asio::ssl::context> Context() {
    std::lock_guard<std::mutex> lock(mu);
    return ctx;
  }
  size_t SessionCount() {
    std::lock_guard<std::mutex> lock(mu);
    return sessions.size();
  }

  // Reserves n payload bytes for `host` against max_inflight_bytes (all connections) and
  // max_host_inflight_bytes (that host's connections). Returns "" or the limit that was hit.
  std::string Reserve(const std::string& host, int64_t n);
  // Gives back n bytes that Reserve granted to `host`.
  void Release(const std::string& host, int64_t n);

  // Counts a frame of `bytes` (at least kMinFrameCharge) against the host's daily allowance,
  // which refills continuously at max_host_bytes_per_day per 24 hours up to that amount. False
  // (nothing counted) when the allowance is used up.
  bool ChargeHostBytes(const std::string& host, int64_t bytes);

  // Counts one more connection of `host`, unless it has max_host_connections already; returns
  // the count it has (the new one included when added).
  std::pair<bool, int64_t> AddHostConnection(const std::string& host);
  void RemoveHostConnection(const std::string& host);
  // Takes a token of `source`'s connection rate (source_connection_rate,
  // source_connection_burst); false when it has none (the connection is closed at accept).
  bool TakeSourceConnection(const std::string& source);
  // The same as AddHostConnection for handshakes in progress from `source` against
  // max_source_handshakes.
  std::pair<bool, int64_t> AddSourceHandshake(const std::string& source);
  void RemoveSourceHandshake(const std::string& source);
};

}  // namespace tidemark::collector
