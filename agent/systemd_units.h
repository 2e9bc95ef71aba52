// systemd unit files of a root and their enablement state exactly as
// `systemctl --root=DIR is-enabled UNIT` computes it (systemd 252 src/shared/install.c:
// unit_file_lookup_state, install_info_traverse, find_symlinks_in_scope; unit-file.c:
// unit_file_resolve_symlink; path-lookup.c: the system unit search path). Reads only through
// an Fs; the symlink listings of all search directories are indexed once, so a state costs no
// further syscalls beyond loading the unit's own files.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/parsers/unit_file.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

// The system unit search path in systemd's order (lookup_paths_init, Debian: /lib before /usr/lib).
const std::vector<std::string>& SystemUnitSearchPath();

struct UnitInfo {
  std::string name;
  std::string path;  // the file finally loaded (in-root)
  enum class Type { kUnknown, kRegular, kSymlink, kMasked } type = Type::kUnknown;
  std::string symlink_target;
  std::vector<std::string> aliases, wanted_by, required_by, also;
  std::optional<std::string> default_instance;
  std::vector<std::string> dropins;  // drop-in .conf files loaded, in order
  // Every assignment of the main file then the drop-ins (all sections), with its file. They
  // point into files parsed once per UnitLookup.
  struct Setting {
    const unit_file::Assignment* assignment;
    const std::string* file;
  };
  std::vector<Setting> settings;
};

struct UnitState {
  std::string state;  // is-enabled word, or "bad" when systemctl would fail
  std::string error;  // why, when "bad" (systemctl: "Failed to get unit file state ...: ERROR")
  // The final unit file, when found. Valid until the next LookupState() call.
  const UnitInfo* info = nullptr;
};

class UnitLookup {
 public:
  explicit UnitLookup(const Fs& fs);
  ~UnitLookup();
  UnitLookup(const UnitLookup&) = delete;
  UnitLookup& operator=(const UnitLookup&) = delete;

  // The search directories that exist, duplicates (same inode) removed.
  const std::vector<std::string>& search_path() const;
  // Unit names systemctl list-unit-files would list (regular files and symlinks with valid unit
  // names in the search directories), plus instances named by .wants/.requires symlinks; sorted.
  std::vector<std::string> ListUnitNames() const;
  // The state of `name` as `systemctl --root is-enabled name` prints it.
  UnitState LookupState(const std::string& name);
  // Problems met reading directories and files (unreadable, loops, wrong types).
  std::vector<SectionError>& errors();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A unit as the running service manager has it loaded (systemctl list-units).
struct ManagerUnit {
  std::string load;    // "loaded", "not-found", "masked", "bad-setting", "error", ...
  std::string active;  // "active", "inactive", "failed", "activating", ...
  std::string sub;     // "running", "exited", "dead", ...
};

// Asks the live host's running systemd for every unit it has loaded, with the host's own tool:
// `systemctl list-units --all --full --plain --no-legend --no-pager --output=json`, started
// with posix_spawn (fixed path, fixed environment, stdin /dev/null), its output read with a
// bound (16 MiB) and a deadline (`timeout_ms`; the child is then killed). Only for the live host
// (the tool answers for the running system, not for a --root). An error says why, never empty.
StatusOr<std::map<std::string, ManagerUnit>> QueryManagerUnits(int timeout_ms = 10000);

}  // namespace tidemark::agent
