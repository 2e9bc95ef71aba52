// The collector's event log: one line per event on stderr, "<level> <event> key=value ...",
// values quoted when they hold blanks or quotes. Every value is escaped (common/text.h
// EscapeControl: C0, DEL, C1, U+2028/9, bidi overrides, invalid UTF-8; and '"'), so nothing an
// agent sends can forge a line or a field, and cut at kMaxLogValueBytes. Under journald
// (JOURNAL_STREAM set) each line starts with its syslog priority ("<6>") so `journalctl -p
// warning` works. Thread-safe: a line is one write(2).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

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
  // For tests: receives each line (without the newline) instead of stderr; nullptr = stderr.
  static void SetSink(std::function<void(const std::string&)> sink);
  // Returns the line as written (without priority prefix and newline).
  static std::string Format(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields);
};

}  // namespace tidemark::collector
