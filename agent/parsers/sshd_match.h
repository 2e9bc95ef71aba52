// Pattern and address matching for the sshd_config files (internal to them). Source of truth:
// OpenSSH 9.2p1 match.c match_pattern(), match_pattern_list(); addrmatch.c addr_match_list(),
// addr_pton_cidr().
#pragma once

#include <string>
#include <string_view>

namespace tidemark::agent::sshd::internal {

// match_pattern_list(): 1 if `str` matches a pattern of the comma-separated `pattern`, -1 if it
// matches a negated one ("!pat"), 0 if none.
int MatchPatternList(std::string_view str, std::string_view pattern, bool dolower);

// An IPv4 or IPv6 address (addrmatch.c struct xaddr).
struct Addr {
  int af = 0;
  unsigned char b[16] = {};
};

// Parses the numeric address `s` into `*a`; false if it is not one.
bool ParseAddr(std::string_view s, Addr* a);

// addr_match_list(): 1 match, 0 none, -1 negated match, -2 invalid list. `addr` null: validate.
int AddrMatchList(const std::string* addr, std::string_view list);

}  // namespace tidemark::agent::sshd::internal
