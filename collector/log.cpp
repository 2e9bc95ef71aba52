// log.h: one line per event.
#include "collector/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <mutex>

#include "common/text.h"

namespace tidemark::collector {
namespace {

std::mutex& SinkMutex() {
  static std::mutex m;
  return m;
}
std::function<void(const std::string&)>& Sink() {
  static std::function<void(const std::string&)> sink;
  return sink;
}
LogLimiter& Limiter() {  // under SinkMutex()
  static LogLimiter limiter;
  return limiter;
}

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kCritical:
      return "critical";
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kInfo:
      return "info";
  }
  return "info";
}

// Writes `v` escaped (EscapeControl, then '"' as \"), quoted unless it is a plain word.
void AppendValue(std::string& out, std::string_view v) {
  std::string escaped = EscapeControlBounded(v, kMaxLogValueBytes);
  bool plain = !escaped.empty();
  for (char c : escaped) {
    if (c == ' ' || c == '"' || c == '\\' || c == '=') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(escaped);
    return;
  }
  out.push_back('"');
  for (char c : escaped) {
    if (c == '"') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

std::string Clip(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Back off over UTF-8 continuation bytes so a character is not split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\u2026(" + std::to_string(text.size()) + " bytes)";
}

bool LogLimiter::Admit(LogLevel level, std::string_view event, std::string_view source,
                       Clock::time_point now) {
  // Errors, critical lines and the collector's own (no source: listening, reloaded, stopped)
  // are never limited.
  if (!Limited(level) || source.empty()) return true;
  std::string key(event);
  key.push_back('\0');
  key.append(source);
  // Both buckets must have a token; a line refused by its source's bucket does not use one of
  // the total's, so one flooding source cannot spend the others' share.
  bool admitted = sources_.Take(key, limits_.source_burst, limits_.source_rate, now) &&
                  total_.Take(limits_.total_burst, limits_.total_rate, now);
  if (!admitted) ++suppressed_[std::string(event)];
  return admitted;
}

std::vector<std::pair<std::string, uint64_t>> LogLimiter::TakeSuppressed(Clock::time_point now,
                                                                         bool force) {
  std::vector<std::pair<std::string, uint64_t>> out;
  if (suppressed_.empty() || (!force && now - last_summary_ < limits_.summary_interval)) {
    return out;
  }
  out.assign(suppressed_.begin(), suppressed_.end());
  suppressed_.clear();
  last_summary_ = now;
  return out;
}

std::string LogSource(std::initializer_list<LogField> fields) {
  std::string_view peer;
  for (const auto& [k, v] : fields) {
    if (k == "host" && !v.empty()) return v;
    if (k == "peer") peer = v;
  }
  return peer.empty() ? std::string() : PeerSource(peer);
}

std::string PeerSource(std::string_view peer) {
  // "192.0.2.1:5000" or "[2001:db8::1]:5000" (EndpointText's form), without the port.
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    std::string address(peer.substr(1, close == std::string_view::npos ? peer.npos : close - 1));
    in6_addr a{};
    if (inet_pton(AF_INET6, address.c_str(), &a) != 1) return address;
    char text[INET6_ADDRSTRLEN] = {};
    if (IN6_IS_ADDR_V4MAPPED(&a)) {
      return inet_ntop(AF_INET, &a.s6_addr[12], text, sizeof text) ? text : address;
    }
    std::fill(std::begin(a.s6_addr) + 8, std::end(a.s6_addr), 0);
    if (!inet_ntop(AF_INET6, &a, text, sizeof text)) return address;
    return std::string(text) + "/64";
  }
  return std::string(peer.substr(0, peer.rfind(':')));
}

std::string Log::Format(LogLevel level, std::string_view event,
                        std::initializer_list<LogField> fields) {
  std::string line(LevelName(level));
  line.push_back(' ');
  line.append(event);
  for (const auto& [k, v] : fields) {
    line.push_back(' ');
    line.append(k);
    line.push_back('=');
    AppendValue(line, v);
  }
  return line;
}

namespace {

// Writes one formatted line. REQUIRES: SinkMutex() held.
void Emit(LogLevel level, std::string line) {
  if (Sink()) {
    Sink()(line);
    return;
  }
  static const bool journald = std::getenv("JOURNAL_STREAM") != nullptr;
  if (journald) {
    const char* prio = level == LogLevel::kCritical  ? "<2>"
                       : level == LogLevel::kError   ? "<3>"
                       : level == LogLevel::kWarning ? "<4>"
                                                     : "<6>";
    line.insert(0, prio);
  }
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// Writes the `log_suppressed` lines that are due. REQUIRES: SinkMutex() held.
void EmitSuppressed(LogLimiter::Clock::time_point now, bool force) {
  for (const auto& [event, lines] : Limiter().TakeSuppressed(now, force)) {
    Emit(LogLevel::kWarning, Log::Format(LogLevel::kWarning, "log_suppressed",
                                         {{"event", event}, {"lines", std::to_string(lines)}}));
  }
}

}  // namespace

void Log::Write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  const std::string source = LogLimiter::Limited(level) ? LogSource(fields) : std::string();
  std::lock_guard<std::mutex> lock(SinkMutex());
  const auto now = LogLimiter::Clock::now();
  EmitSuppressed(now, false);
  if (!Limiter().Admit(level, event, source, now)) return;
  Emit(level, Format(level, event, fields));
}

void Log::FlushSuppressed() {
  std::lock_guard<std::mutex> lock(SinkMutex());
  EmitSuppressed(LogLimiter::Clock::now(), true);
}

void Log::SetSink(std::function<void(const std::string&)> sink, LogLimiter::Limits limits) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
  Limiter() = LogLimiter(limits);
}

}  // namespace tidemark::collector
