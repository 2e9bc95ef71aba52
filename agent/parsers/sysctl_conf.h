// Parser for sysctl.d(5) configuration files as systemd-sysctl 252 reads them: one assignment
// "key = value" per line, "#"/";" comments, "-" prefix (ignore failure, or without "=" exclude the
// key from globs), glob(7) patterns in keys, and "/" or "." as equivalent separators.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent::sysctl {

struct Assignment {
  std::string path;                  // normalized, slash-separated ("net/ipv4/ip_forward")
  std::string key;                   // as sysctl(8) shows it ("net.ipv4.ip_forward")
  std::optional<std::string> value;  // nullopt: "-key" without "=", an exclusion from globs
  bool ignore_failure = false;       // "-key = value"
  bool glob = false;                 // the key holds *, ? or [
  int64_t line = 0;
};

// sysctl.d(5): if the first separator is ".", dots and slashes are interchanged; then repeated
// slashes and "." components are dropped, and so is a leading slash (systemd sysctl_normalize()).
std::string NormalizeKey(std::string_view key);
// Returns the dotted form sysctl(8) prints for a normalized key ("/" <-> "." swapped).
std::string DisplayKey(std::string_view normalized);
bool IsGlob(std::string_view key);

// Parses one file's text. Lines longer than `max_line` bytes, lines with NUL bytes and lines
// that are not assignments go to `errors` (path, line; never quoted).
std::vector<Assignment> ParseSysctlConf(std::string_view text, std::string_view path,
                                        std::vector<SectionError>& errors,
                                        size_t max_line = 1u << 20);

// Returns the index in `options` (one per key, in the order systemd-sysctl applies them) of the
// option that decides `path` (normalized): the explicit option for it (an exclusion decides that
// no glob applies), else the last glob option matching it (glob(7), "*" stays within one
// component); nullopt when none.
std::optional<size_t> FindConfigured(const std::vector<Assignment>& options, std::string_view path);

}  // namespace tidemark::agent::sysctl
