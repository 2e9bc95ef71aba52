// Parser for the configuration files of two PAM modules, read exactly as the modules read them:
// pam_faillock's /etc/security/faillock.conf (Linux-PAM 1.5.2, modules/pam_faillock/
// pam_faillock.c read_config_file/set_conf_opt) and libpwquality's /etc/security/pwquality.conf
// and pwquality.conf.d/*.conf (libpwquality 1.4.5, src/settings.c read_config_file/
// set_name_value). Pure functions on a file's bytes; values are never quoted in errors.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tidemark::agent::pam {

enum class ConfModule { kFaillock, kPwquality };

// Returns "faillock" or "pwquality".
std::string_view ConfModuleName(ConfModule module);

// One assignment the module applies.
struct ModuleSetting {
  std::string key;                   // pwquality: lower-cased (it compares case-insensitively)
  std::optional<std::string> value;  // nullopt: nothing after the key (a bare flag)
  int64_t line = 0;
};

// One assignment the module reads and ignores (keeping the earlier value), or the line where it
// stops reading.
struct ModuleConfProblem {
  int64_t line = 0;
  std::string message;
};

struct ModuleConf {
  std::vector<ModuleSetting> settings;     // applied, in file order (a later one wins)
  std::vector<ModuleConfProblem> ignored;  // faillock: unknown keys, bad numbers (logged only)
  // Set when the module stops at this line. faillock: the whole file is refused (no setting
  // applies and pam_faillock returns PAM_SERVICE_ERR); pwquality: the settings before it stay
  // applied, the rest of the file and the files after it are not read.
  std::optional<ModuleConfProblem> stop;
};

// The longest line either module reads: a 1024-byte fgets buffer (FAILLOCK_CONF_MAX_LINELEN,
// PWQSETTINGS_MAX_LINELEN = 1023) holds 1022 characters and the newline.
inline constexpr size_t kMaxModuleConfLine = 1022;

// Parses one file of `module`.
ModuleConf ParseModuleConf(std::string_view text, ConfModule module);

// Returns true when libpwquality reads the drop-in `name` of pwquality.conf.d (settings.c
// filter_conf: the first ".conf" in the name ends it).
bool IsPwqualityDropin(std::string_view name);

}  // namespace tidemark::agent::pam
