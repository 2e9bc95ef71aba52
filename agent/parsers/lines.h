// Line iteration over file text, for the line-oriented host files (passwd, sudoers, keys).
#pragma once

#include <cstdint>
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

}  // namespace tidemark::agent
