// Tokenizing and value conversion for the sshd_config files (sshd_misc.h). Source of truth:
// OpenSSH 9.2p1 misc.c strdelim(), convtime(), a2port(), parse_ipqos(),
// iptos2str(); openbsd-compat strtonum().
#include "agent/parsers/sshd_misc.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "common/text.h"

namespace tidemark::agent::sshd::internal {

// ---------------------------------------------------------------------------------------------
// Tokenizing (misc.c strdelim(); argv_split() is common/sshd_argv.h).

namespace {

constexpr std::string_view kWhitespace = " \t\r\n";

}  // namespace

// strdelim(): returns the next token of `s` from `*pos` (npos: no more); splits at whitespace,
// a quote or one '='. Returns nullopt where strdelim returns NULL.
std::optional<std::string> StrDelim(std::string& s, size_t* pos) {
  if (*pos == std::string::npos) return std::nullopt;
  size_t start = *pos;
  size_t hit = s.find_first_of(" \t\r\n\"=", start);
  if (hit == std::string::npos) {
    *pos = std::string::npos;
    return s.substr(start);
  }
  if (s[hit] == '"') {
    s.erase(hit, 1);
    size_t q = s.find('"', hit);
    if (q == std::string::npos) {
      *pos = std::string::npos;
      return std::nullopt;
    }
    std::string token = s.substr(start, q - start);
    size_t next = q + 1;
    while (next < s.size() && kWhitespace.find(s[next]) != std::string_view::npos) ++next;
    *pos = next;
    return token;
  }
  bool equals = s[hit] == '=';
  std::string token = s.substr(start, hit - start);
  size_t next = hit + 1;
  while (next < s.size() && kWhitespace.find(s[next]) != std::string_view::npos) ++next;
  if (next < s.size() && s[next] == '=' && !equals) {
    ++next;
    while (next < s.size() && kWhitespace.find(s[next]) != std::string_view::npos) ++next;
  }
  *pos = next;
  return token;
}

// ---------------------------------------------------------------------------------------------
// Values (misc.c convtime, a2port, parse_ipqos, iptos2str; strtonum).

std::optional<long long> StrToNum(std::string_view s, long long lo, long long hi) {
  std::string t(s);
  if (t.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (end == t.c_str() || *end != '\0' || errno == ERANGE || v < lo || v > hi) return std::nullopt;
  return v;
}

int A2Port(std::string_view s) {
  auto v = StrToNum(s, 0, 65535);
  if (v) return static_cast<int>(*v);
  if (s == "ssh") return 22;  // getservbyname("ssh", "tcp") in /etc/services
  return -1;
}

int ConvTime(std::string_view s) {
  if (s.empty()) return -1;
  long total = 0;
  std::string t(s);
  const char* p = t.c_str();
  while (*p) {
    errno = 0;
    char* endp = nullptr;
    long secs = std::strtol(p, &endp, 10);
    if (p == endp || (errno == ERANGE && (secs == LONG_MIN || secs == LONG_MAX)) || secs < 0)
      return -1;
    long mult = 1;
    switch (*endp++) {
      case '\0':
        endp--;
        break;
      case 's':
      case 'S':
        break;
      case 'm':
      case 'M':
        mult = 60;
        break;
      case 'h':
      case 'H':
        mult = 3600;
        break;
      case 'd':
      case 'D':
        mult = 86400;
        break;
      case 'w':
      case 'W':
        mult = 604800;
        break;
      default:
        return -1;
    }
    if (secs > INT_MAX / mult) return -1;
    secs *= mult;
    if (total > INT_MAX - secs) return -1;
    total += secs;
    p = endp;
  }
  return static_cast<int>(total);
}

namespace {

constexpr std::pair<const char*, int> kIpQos[] = {
    {"none", INT_MAX},    {"af11", 0x28}, {"af12", 0x30}, {"af13", 0x38},     {"af21", 0x48},
    {"af22", 0x50},       {"af23", 0x58}, {"af31", 0x68}, {"af32", 0x70},     {"af33", 0x78},
    {"af41", 0x88},       {"af42", 0x90}, {"af43", 0x98}, {"cs0", 0x00},      {"cs1", 0x20},
    {"cs2", 0x40},        {"cs3", 0x60},  {"cs4", 0x80},  {"cs5", 0xa0},      {"cs6", 0xc0},
    {"cs7", 0xe0},        {"ef", 0xb8},   {"le", 0x04},   {"lowdelay", 0x10}, {"throughput", 0x08},
    {"reliability", 0x04}};

}  // namespace

int ParseIpQos(std::string_view s) {
  for (const auto& [name, v] : kIpQos) {
    if (EqualsNoCase(s, name)) return v;
  }
  std::string t(s);
  if (t.empty()) return -1;
  char* end = nullptr;
  long v = std::strtol(t.c_str(), &end, 0);
  if (*end != '\0' || v < 0 || v > 255) return -1;
  return static_cast<int>(v);
}

std::string IpQosName(int v) {
  for (const auto& [name, value] : kIpQos) {
    if (value == v) return name;
  }
  char buf[8];
  std::snprintf(buf, sizeof(buf), "0x%02x", v & 0xff);
  return buf;
}

}  // namespace tidemark::agent::sshd::internal
