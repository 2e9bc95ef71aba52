// log.h: one line per event.
#include "collector/log.h"

#include <unistd.h>

#include <cstdlib>
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

void Log::Write(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  std::string line = Format(level, event, fields);
  std::lock_guard<std::mutex> lock(SinkMutex());
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

void Log::SetSink(std::function<void(const std::string&)> sink) {
  std::lock_guard<std::mutex> lock(SinkMutex());
  Sink() = std::move(sink);
}

}  // namespace tidemark::collector
