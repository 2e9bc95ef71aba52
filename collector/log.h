// The collector's event log: one line per event on stderr, "<level> <event> key=value ...",
// values quoted when they hold blanks or quotes. Every value is escaped (common/text.h
// EscapeControl: C0, DEL, C1, U+2028/9, bidi overrides, invalid UTF-8; and '"'), so nothing an
// agent sends can forge a line or a field, and cut at kMaxLogValueBytes. Under journald
// (JOURNAL_STREAM set) each line starts with its syslog priority ("<6>") so `journalctl -p
// warning` works. Thread-safe: a line is one write(2). Info and warning lines are rate-limited
// per source and in all (LogLimiter), so that no peer can flood the log and make journald drop
// the collector's other lines; errors and critical lines are always written.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/token_buckets.h"

namespace tidemark::collector {

enum class LogLevel { kCritical, kError, kWarning, kInfo };

// The most bytes of one value written (after escaping); longer values are cut with
// "…(N bytes)". Agent-controlled fields get tighter bounds through Clip().
inline constexpr size_t kMaxLogValueBytes = 1024;
// Bounds for agent-controlled values (docs/collector.md "Logs").
inline constexpr size_t kMaxAgentVersionBytes = 128;
inline constexpr size_t kMaxAgentTextBytes = 256;

// Returns `text` cut to at most `max_bytes` bytes (never inside a UTF-8 sequence) with
// "…(N bytes)" appended when cut, N being the original length. Log escapes the result.
std::string Clip(std::string_view text, size_t max_bytes);

using LogField = std::pair<std::string_view, std::string>;

// Bounds what one source can make the collector log. journald drops a service's lines beyond
// its rate limit (by default 10,000 in 30 s), whatever their priority: a peer that opened
// connections in a loop (a bad certificate is a warning line each) could have hidden the
// collector's errors and other hosts' refusals. Info and warning lines pass a token bucket per
// (event, source) and one for all of them; what does not pass is counted per event and said
// by a `log_suppressed` warning with the count, at the next line written at least
// `summary_interval` after the last such summary (or at Log::FlushSuppressed). Errors,
// critical lines and lines without a source (the collector's own: listening, reloaded,
// stopped) are never limited. Not thread-safe (Log holds its lock around it).
class LogLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Limits {
    // Lines of one event from one source at once (an agent's spool of 50 snapshots is 50 acks
    // and 50 evaluated lines), then lines per second.
    double source_burst = 50;
    double source_rate = 1;
    // Info and warning lines of every source at once (bench/transport.sh: 100 agents' 2,000
    // snapshots make 4,305, measured), then per second: at most 9,000 in journald's 30 s.
    double total_burst = 6000;
    double total_rate = 100;
    size_t max_sources = 4096;  // (event, source) buckets kept; then refilled ones are dropped
    std::chrono::milliseconds summary_interval{1000};
  };

  LogLimiter() : LogLimiter(Limits{}) {}
  explicit LogLimiter(Limits limits) : limits_(limits) {}

  // Whether lines of `level` pass the limits at all: errors and critical lines never do.
  static bool Limited(LogLevel level) {
    return level != LogLevel::kCritical && level != LogLevel::kError;
  }
  // True when the line may be written; else counts it as suppressed.
  bool Admit(LogLevel level, std::string_view event, std::string_view source,
             Clock::time_point now);
  // The suppressed lines per event since the last summary, when there are any and
  // `summary_interval` has passed since the last summary (or `force`); the counts restart.
  std::vector<std::pair<std::string, uint64_t>> TakeSuppressed(Clock::time_point now, bool force);

 private:
  Limits limits_;
  TokenBuckets sources_{limits_.max_sources};  // per event "\0" source
  TokenBucket total_{limits_.total_burst, Clock::time_point{}};
  std::map<std::string, uint64_t, std::less<>> suppressed_;
  Clock::time_point last_summary_{};
};

// The source a peer ("ADDRESS:PORT", an IPv6 address in brackets) counts as for the limits per
// source (log lines, handshakes in progress): its address without the port; an IPv6 peer its
// /64 ("2001:db8:0:1::/64"): one end site is usually given a whole /64 (RFC 6177) and can pick
// a new address in it for every connection, so a source per address would limit nothing; an
// IPv4-mapped address ("::ffff:192.0.2.7", a dual-stack listener's IPv4 peer) the IPv4 address.
std::string PeerSource(std::string_view peer);

// The source a line is limited by: its `host` field (an authenticated agent), else its `peer`
// field's PeerSource, else "".
std::string LogSource(std::initializer_list<LogField> fields);

class Log {
 public:
  static void Write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
  static void Info(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kInfo, event, fields);
  }
  static void Warn(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kWarning, event, fields);
  }
  static void Error(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kError, event, fields);
  }
  // The collector cannot go on safely (a corrupted store): it stops after this line.
  static void Critical(std::string_view event, std::initializer_list<LogField> fields = {}) {
    Write(LogLevel::kCritical, event, fields);
  }
  // Writes the pending `log_suppressed` lines now (at shutdown).
  static void FlushSuppressed();
  // For tests: receives each line (without the newline) instead of stderr; nullptr = stderr.
  // Starts a new LogLimiter with `limits`.
  static void SetSink(std::function<void(const std::string&)> sink, LogLimiter::Limits limits = {});
  // Returns the line as written (without priority prefix and newline).
  static std::string Format(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields);
};

}  // namespace tidemark::collector
