// The collector's event log: one line per event on stderr, "<level> <event> key=value ...",
// values quoted when they hold blanks or quotes. Under journald (JOURNAL_STREAM set) each line
// starts with its syslog priority ("<6>") so `journalctl -p warning` works. Thread-safe: a line
// is one write(2).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace tidemark::collector {

enum class LogLevel { kError, kWarning, kInfo };

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
  // For tests: receives each line (without the newline) instead of stderr; nullptr = stderr.
  static void SetSink(std::function<void(const std::string&)> sink);
  // Returns the line as written (without priority prefix and newline).
  static std::string Format(LogLevel level, std::string_view event,
                            std::initializer_list<LogField> fields);
};

}  // namespace tidemark::collector
