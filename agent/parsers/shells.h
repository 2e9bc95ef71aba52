// /etc/shells (shells(5)): the list of valid login shells, read the way glibc's getusershell(3)
// reads it (an entry starts at the first '/' of a line and ends at a blank or '#'; lines whose
// first non-'/' text reaches '#' or the end are ignored), plus the nologin rule tidemark applies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent {

inline constexpr std::string_view kShellsPath = "/etc/shells";
// passwd(5): an empty shell field means /bin/sh.
inline constexpr std::string_view kDefaultShell = "/bin/sh";

struct ShellEntry {
  std::string path;
  int64_t line = 0;
};

// Parses shells text; lines holding a NUL byte or over the length bound become errors.
std::vector<ShellEntry> ParseShells(std::string_view text, std::string_view path,
                                    std::vector<SectionError>& errors);

// Returns true for the shells that never give a session even when listed in /etc/shells:
// /usr/sbin/nologin, /sbin/nologin, /bin/false, /usr/bin/false.
bool IsNoLoginShell(std::string_view shell);

// Returns the shell login(1) starts: `shell`, or /bin/sh when it is empty (passwd(5)).
std::string_view EffectiveShell(std::string_view shell);

}  // namespace tidemark::agent
