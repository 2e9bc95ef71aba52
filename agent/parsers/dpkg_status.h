// Parser for dpkg's status database (/var/lib/dpkg/status, deb822 stanzas as dpkg 1.21 writes
// them; dpkg(1), deb-control(5)). Reads only the fields the packages section reports, and
// derives db:Status-Abbrev as dpkg-query(1) prints it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent::dpkg {

struct Package {
  int64_t line = 0;  // first line of the stanza
  std::string name;
  std::string version;
  std::string architecture;
  std::string want;    // unknown, install, hold, deinstall, purge
  std::string eflag;   // ok, reinstreq
  std::string status;  // not-installed, config-files, half-installed, unpacked,
                       // half-configured, triggers-awaited, triggers-pending, installed
  std::optional<std::string> source;          // Source: name
  std::optional<std::string> source_version;  // Source: name (version)
};

// Returns e.g. "ii " or "rc " (dpkg-query's ${db:Status-Abbrev}); "" when a word is unknown.
std::string StatusAbbrev(const Package& p);

// Calls `fn` for each well-formed stanza. A malformed stanza (no Package, a bad Status, a line
// that is neither "Field: value" nor a continuation) goes to `errors` with its line and is
// skipped; the others are still delivered.
void ParseStatus(std::string_view text, std::string_view path,
                 const std::function<void(Package&&)>& fn, std::vector<SectionError>& errors,
                 size_t max_line = 1u << 20);

}  // namespace tidemark::agent::dpkg
