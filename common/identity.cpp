#include "common/identity.h"

namespace tidemark {

bool IsValidHostId(std::string_view id) {
  if (id.empty() || id.size() > kMaxHostIdBytes || id[0] == '.' || id[0] == '-') return false;
  char prev = 0;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok || (c == '.' && prev == '.')) return false;
    prev = c;
  }
  return true;
}

bool IsRfc3339Timestamp(std::string_view text) {
  if (text.size() > kMaxTimestampBytes) return false;
  auto number = [&](size_t pos, size_t n, int lo, int hi) {
    if (pos + n > text.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    return v >= lo && v <= hi;
  };
  auto at = [&](size_t pos, char c) { return pos < text.size() && text[pos] == c; };
  if (!number(0, 4, 0, 9999) || !at(4, '-') || !number(5, 2, 1, 12) || !at(7, '-') ||
      !number(8, 2, 1, 31) || !(at(10, 'T') || at(10, 't')) || !number(11, 2, 0, 23) ||
      !at(13, ':') || !number(14, 2, 0, 59) || !at(16, ':') || !number(17, 2, 0, 60)) {
    return false;
  }
  size_t pos = 19;
  if (at(pos, '.')) {
    size_t start = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (at(pos, 'Z') || at(pos, 'z')) return pos + 1 == text.size();
  if (!(at(pos, '+') || at(pos, '-'))) return false;
  return number(pos + 1, 2, 0, 23) && at(pos + 3, ':') && number(pos + 4, 2, 0, 59) &&
         pos + 6 == text.size();
}

bool IsContentHash(std::string_view text) {
  constexpr std::string_view kPrefix = "sha256:";
  if (text.size() != kPrefix.size() + 64 || text.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  for (char c : text.substr(kPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace tidemark
