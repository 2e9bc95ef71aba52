// Pattern and address matching for the sshd_config files (sshd_match.h). Source of truth:
// OpenSSH 9.2p1 match.c match_pattern(), match_pattern_list(); addrmatch.c addr_match_list(),
// addr_pton_cidr().
#include "agent/parsers/sshd_match.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace tidemark::agent::sshd::internal {
namespace {

bool MatchPattern(const char* s, const char* p) {
  for (;;) {
    if (!*p) return !*s;
    if (*p == '*') {
      while (*p == '*') ++p;
      if (!*p) return true;
      if (*p != '?' && *p != '*') {
        for (; *s; ++s)
          if (*s == *p && MatchPattern(s + 1, p + 1)) return true;
        return false;
      }
      for (; *s; ++s)
        if (MatchPattern(s, p)) return true;
      return false;
    }
    if (!*s) return false;
    if (*p != '?' && *p != *s) return false;
    ++s;
    ++p;
  }
}

}  // namespace

// 1: positive match, -1: negated match, 0: none.
int MatchPatternList(std::string_view str, std::string_view pattern, bool dolower) {
  std::string s(str);
  bool positive = false;
  size_t i = 0;
  while (i < pattern.size()) {
    bool negated = pattern[i] == '!';
    if (negated) ++i;
    std::string sub;
    while (i < pattern.size() && pattern[i] != ',') {
      char c = pattern[i++];
      sub += dolower ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
    }
    if (sub.size() >= 1023) return 0;
    if (i < pattern.size() && pattern[i] == ',') ++i;
    if (MatchPattern(s.c_str(), sub.c_str())) {
      if (negated) return -1;
      positive = true;
    }
  }
  return positive ? 1 : 0;
}

bool ParseAddr(std::string_view s, Addr* a) {
  std::string t(s);
  if (inet_pton(AF_INET, t.c_str(), a->b) == 1) {
    a->af = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, t.c_str(), a->b) == 1) {
    a->af = AF_INET6;
    return true;
  }
  return false;
}

namespace {

// addr_pton_cidr(): 0 ok, -1 not an address, -2 bad mask.
int ParseCidr(std::string_view s, Addr* a, unsigned* masklen) {
  if (s.size() >= 64) return -1;
  size_t slash = s.find('/');
  long len = -1;
  if (slash != std::string_view::npos) {
    std::string m(s.substr(slash + 1));
    if (m.empty() || m[0] < '0' || m[0] > '9') return -1;
    char* end = nullptr;
    unsigned long v = std::strtoul(m.c_str(), &end, 10);
    if (*end != '\0' || v > 128) return -1;
    len = static_cast<long>(v);
    s = s.substr(0, slash);
  }
  if (!ParseAddr(s, a)) return -1;
  int bits = a->af == AF_INET ? 32 : 128;
  if (len < 0) len = bits;
  if (len > bits) return -2;
  for (int i = static_cast<int>(len); i < bits; ++i) {
    if (a->b[i / 8] & (0x80 >> (i % 8))) return -2;
  }
  *masklen = static_cast<unsigned>(len);
  return 0;
}

}  // namespace

// addr_match_list(): 1 match, 0 none, -1 negated match, -2 invalid list. `addr` null: validate.
int AddrMatchList(const std::string* addr, std::string_view list) {
  Addr try_addr;
  if (addr && !ParseAddr(*addr, &try_addr)) return 0;
  int ret = 0;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string_view cp = list.substr(pos, comma - pos);
    pos = comma + 1;
    bool neg = !cp.empty() && cp[0] == '!';
    if (neg) cp.remove_prefix(1);
    if (cp.empty()) return -2;
    Addr net;
    unsigned masklen = 0;
    int r = ParseCidr(cp, &net, &masklen);
    bool found = false;
    if (r == -2) return -2;
    if (r == 0) {
      if (addr && net.af == try_addr.af) {
        found = true;
        for (unsigned i = 0; i < masklen; ++i) {
          unsigned char bit = 0x80 >> (i % 8);
          if ((net.b[i / 8] & bit) != (try_addr.b[i / 8] & bit)) found = false;
        }
      }
    } else if (addr) {
      found = MatchPattern(addr->c_str(), std::string(cp).c_str());
    }
    if (found) {
      if (neg) return -1;
      ret = 1;
    }
  }
  return ret;
}

}  // namespace tidemark::agent::sshd::internal
