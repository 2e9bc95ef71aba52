// /etc/nsswitch.conf (nsswitch.conf(5)) for the account databases, read as glibc 2.36 reads it
// (nss/nss_database.c): "database: service [STATUS=action] ...", leading blanks ignored, a later
// line for the same database replaces an earlier one, text after '#' is NOT a comment inside a
// service line (glibc loads a service named "#"), unknown databases are ignored. Databases not
// configured take glibc's defaults: shadow <- passwd, gshadow <- group, otherwise "files".
// tidemark reports the configured sources; it enumerates only the local files.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent {

inline constexpr std::string_view kNsswitchPath = "/etc/nsswitch.conf";

struct NssDatabase {
  std::vector<std::string> services;  // module names in order ("files", "sss", "ldap", ...)
  std::string raw;                    // the service text as written, blanks collapsed
  std::optional<int64_t> line;        // where it was configured; nullopt when defaulted
  std::string defaulted_from;         // "" when configured; "passwd"/"group"/"glibc default"
};

struct NssConfig {
  // passwd, group, shadow, gshadow, initgroups (initgroups: only when configured; glibc then
  // falls back to the group database).
  std::map<std::string, NssDatabase> databases;
};

// The account databases tidemark reports, in output order.
inline constexpr std::string_view kNssAccountDatabases[] = {"passwd", "group", "shadow", "gshadow"};

// Parses nsswitch.conf text (errors: unparsable action brackets, NUL bytes, long lines).
NssConfig ParseNsswitch(std::string_view text, std::string_view path,
                        std::vector<SectionError>& errors);
// Returns the configuration glibc uses when nsswitch.conf does not exist.
NssConfig DefaultNsswitch();

}  // namespace tidemark::agent
