// Tokenizing and value conversion for the sshd_config files (internal to them). Source of truth:
// OpenSSH 9.2p1 misc.c strdelim(), convtime(), a2port(), parse_ipqos(),
// iptos2str(); openbsd-compat strtonum(); log.c log_levels[] and log_facilities[].
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemark::agent::sshd::internal {

// strdelim(): returns the next token of `s` from `*pos` (npos: no more).
std::optional<std::string> StrDelim(std::string& s, size_t* pos);

// strtonum(): the decimal number `s` if it is within [lo, hi].
std::optional<long long> StrToNum(std::string_view s, long long lo, long long hi);
// a2port(): the port number or service name `s`; -1 if it is neither.
int A2Port(std::string_view s);
// convtime(): the time `s` ("1h30m") in seconds; -1 if invalid.
int ConvTime(std::string_view s);
// parse_ipqos(): the IPQoS value `s` names; -1 if invalid.
int ParseIpQos(std::string_view s);
// iptos2str(): the name `sshd -T` prints for an IPQoS value.
std::string IpQosName(int v);

// log.c: the LogLevel and SyslogFacility names.
inline constexpr std::pair<const char*, int> kLogLevels[] = {
    {"SILENT", 0},  {"QUIET", 0}, {"FATAL", 1},  {"ERROR", 2},  {"INFO", 3},
    {"VERBOSE", 4}, {"DEBUG", 5}, {"DEBUG1", 5}, {"DEBUG2", 6}, {"DEBUG3", 7}};
inline constexpr const char* kFacilities[] = {"DAEMON", "USER",   "AUTH",   "AUTHPRIV",
                                              "LOCAL0", "LOCAL1", "LOCAL2", "LOCAL3",
                                              "LOCAL4", "LOCAL5", "LOCAL6", "LOCAL7"};

}  // namespace tidemark::agent::sshd::internal
