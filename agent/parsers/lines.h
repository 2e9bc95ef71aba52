// Line iteration over file text, for the line-oriented host files (passwd, sudoers, keys), and
// the small text and error helpers their parsers share.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent {

// Calls fn(line_text, line_number) for each line of `text` (without "\n"; a final line without
// a newline counts; 1-based numbers). Stops early when fn returns false.
template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  int64_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    ++number;
    if (!fn(text.substr(pos, end - pos), number)) return;
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
}

// Returns true when `text` holds a NUL byte (binary data where text was expected).
inline bool HasNul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// Returns true when `line` is fit to parse. A line longer than `max_bytes` or holding a NUL byte
// is recorded in `errors` by path and line number, never quoted, and false is returned.
inline bool AcceptLine(std::string_view line, std::string_view path, int64_t number,
                       size_t max_bytes, std::vector<SectionError>& errors) {
  if (line.size() > max_bytes) {
    errors.push_back({std::string(path), number,
                      "line longer than " + std::to_string(max_bytes) + " bytes; skipped"});
    return false;
  }
  if (HasNul(line)) {
    errors.push_back({std::string(path), number, "line contains a NUL byte; skipped"});
    return false;
  }
  return true;
}

inline bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

inline std::string_view TrimBlank(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Bounds the errors a parser keeps for one file: call Trim() after each line; errors past `cap`
// (counted from the size at construction) are dropped and counted, and Finish() adds one
// summary error. Keeps a hostile file of millions of bad lines from using memory per line.
class ErrorCap {
 public:
  ErrorCap(std::vector<SectionError>& errors, std::string path, size_t cap = 20)
      : errors_(errors), path_(std::move(path)), base_(errors.size()), cap_(cap) {}
  void Trim() {
    while (errors_.size() > base_ + cap_) {
      errors_.pop_back();
      ++dropped_;
    }
  }
  // The error that ended the file's reading early (a limit): listed last, after the summary of
  // the dropped ones, so that a file cut short always says so, however many line errors came
  // before (it was dropped with them, until 2026-12-07).
  void Stop(SectionError stop) { stop_ = std::move(stop); }
  void Finish() {
    Trim();
    if (dropped_)
      errors_.push_back(
          {path_, std::nullopt, std::to_string(dropped_) + " more line errors not listed"});
    if (stop_) errors_.push_back(std::move(*stop_));
  }

 private:
  std::vector<SectionError>& errors_;
  std::string path_;
  size_t base_;
  size_t cap_;
  size_t dropped_ = 0;
  std::optional<SectionError> stop_;
};

}  // namespace tidemark::agent
