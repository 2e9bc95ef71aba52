// The `login` section: login and account defaults. Every key of /etc/login.defs (as shadow's
// getdef.c reads it) and /etc/default/useradd, the TMOUT and umask settings of the login shell
// startup files (a best-effort scan, not a shell), and root's PATH entries with the owner and
// mode of each directory. docs/sections/login.md documents each field and the scan's limits.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/section_reader.h"

namespace tidemark::agent {

// One variable setting or umask call found by the startup-file scan.
struct ShellSetting {
  std::string name;       // "TMOUT", "PATH", ... or "umask"
  std::string statement;  // assignment, readonly, export, declare, typeset, local, umask
  std::optional<std::string> value;
  bool readonly = false;
  bool exported = false;
  int index = 0;  // order within the line
};

// Scans one line of a POSIX/bash startup file for assignments of `names` (bare, or after
// readonly/export/declare/typeset/local) and for umask calls. Not a shell: no expansion,
// no multi-line constructs; quotes are removed from values.
std::vector<ShellSetting> ScanShellLine(std::string_view line,
                                        const std::vector<std::string_view>& names);

class LoginReader final : public SectionReader {
 public:
  std::string_view name() const override { return "login"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
