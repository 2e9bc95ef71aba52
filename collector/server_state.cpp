// server_state.h: the budgets and counts that every connection of the collector shares.
#include "collector/server_state.h"

#include <algorithm>

namespace tidemark::collector {

std::string ServerState::Reserve(const std::string& host, int64_t n) {
  std::lock_guard<std::mutex> lock(budget_mu);
  if (inflight_bytes + n > limits.max_inflight_bytes.load()) return "max_inflight_bytes";
  int64_t& mine = host_inflight[host];
  if (mine + n > limits.max_host_inflight_bytes.load()) {
    if (mine == 0) host_inflight.erase(host);
    return "max_host_inflight_bytes";
  }
  mine += n;
  inflight_bytes += n;
  return "";
}

void ServerState::Release(const std::string& host, int64_t n) {
  std::lock_guard<std::mutex> lock(budget_mu);
  inflight_bytes -= n;
  auto it = host_inflight.find(host);
  if (it == host_inflight.end()) return;
  it->second -= n;
  if (it->second <= 0) host_inflight.erase(it);
}

bool ServerState::ChargeHostBytes(const std::string& host, int64_t bytes) {
  const int64_t per_day = limits.max_host_bytes_per_day.load();
  if (per_day <= 0) return true;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(budget_mu);
  auto [it, fresh] = host_allowance.try_emplace(host, Allowance{static_cast<double>(per_day), now});
  Allowance& a = it->second;
  if (!fresh) {
    double elapsed = std::chrono::duration<double>(now - a.at).count();
    a.bytes = std::min(static_cast<double>(per_day), a.bytes + elapsed * per_day / 86400.0);
    a.at = now;
  }
  if (a.bytes <= 0) return false;
  a.bytes -= static_cast<double>(std::max(bytes, kMinFrameCharge));
  return true;
}

std::pair<bool, int64_t> ServerState::AddHostConnection(const std::string& host) {
  std::lock_guard<std::mutex> lock(mu);
  int64_t& n = host_connections[host];
  if (n >= limits.max_host_connections.load()) return {false, n};
  return {true, ++n};
}

void ServerState::RemoveHostConnection(const std::string& host) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = host_connections.find(host);
  if (it == host_connections.end()) return;
  if (--it->second <= 0) host_connections.erase(it);
}

bool ServerState::TakeSourceConnection(const std::string& source) {
  int64_t rate = limits.source_connection_rate.load();
  if (rate == 0) return true;
  std::lock_guard<std::mutex> lock(rate_mu);
  return source_connections.Take(source, static_cast<double>(limits.source_connection_burst.load()),
                                 static_cast<double>(rate), std::chrono::steady_clock::now());
}

std::pair<bool, int64_t> ServerState::AddSourceHandshake(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = source_handshakes.try_emplace(source, 0).first;
  if (it->second >= limits.max_source_handshakes.load()) return {false, it->second};
  return {true, ++it->second};
}

void ServerState::RemoveSourceHandshake(const std::string& source) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = source_handshakes.find(source);
  if (it == source_handshakes.end()) return;
  if (--it->second <= 0) source_handshakes.erase(it);
}

}  // namespace tidemark::collector
