// Parser for crontab(5) files as Debian's cron 3.0pl1 reads them (system format with a user
// field for /etc/crontab and /etc/cron.d, user format for /var/spool/cron/crontabs), and the
// masking rule that keeps secrets on command lines and in variables out of snapshots
// (docs/sections/cron.md, "Masking").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/snapshot.h"

namespace tidemark::agent::cron {

struct CronEntry {
  int64_t line = 0;
  bool is_variable = false;
  // Entries.
  std::string schedule;  // the five fields joined by single spaces, or "@reboot" etc.
  std::string user;      // system format only
  std::string command;   // masked
  // Variables.
  std::string name;
  std::string value;  // masked
  bool masked = false;
};

// Returns `text` with every secret the rule recognizes replaced by "***"; sets *masked when any
// was. The rule: the value of an option or assignment whose name contains pass, pwd, token,
// secret, key or credential (any case) — "--name=V", "--name V", "-name V", "NAME=V",
// "?name=V&" — the password of "scheme://user:password@", and the part after ":" of
// "--user NAME:PASSWORD".
std::string MaskSecrets(std::string_view text, bool* masked);

// Returns true when a variable of this name has its value masked (its name contains one of the
// words above).
bool IsSecretName(std::string_view name);

// Parses a crontab. `system` selects the format with a user field. Malformed lines go to
// `errors` by path and line, never quoted.
std::vector<CronEntry> ParseCrontab(std::string_view text, std::string_view path, bool system,
                                    std::vector<SectionError>& errors, size_t max_line = 1u << 20);

}  // namespace tidemark::agent::cron
