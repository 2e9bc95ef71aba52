// The `sweep` section: one walk of the local filesystems (agent/walk.h) reporting SUID and SGID
// regular files (with SHA-256 and owning Debian package), world-writable files, world-writable
// directories without the sticky bit, and files whose uid or gid is in neither passwd nor group
// of the audited root. docs/sections/sweep.md documents each field.
// Bounded whatever a local user does (SweepLimits): a size cap per hashed file, a byte budget for
// all hashing, a time budget for walk and hashing, and caps on every list.
// Package ownership reads dpkg's own database: /var/lib/dpkg/info/*.list and
// /var/lib/dpkg/diversions (dpkg-divert(1)), with Debian's merged /usr aliases.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/section_reader.h"

namespace tidemark::agent {

// The bounds of one sweep; docs/sections/sweep.md gives the reasons for the defaults.
struct SweepLimits {
  uint64_t max_hash_bytes = 16ull << 20;           // larger SUID/SGID files are not hashed
  uint64_t hash_budget_bytes = 256ull << 20;       // all hashing together
  std::chrono::milliseconds time_budget{300'000};  // walk and hashing together
  size_t max_items = 5000;           // per list (setid, world-writable files and dirs, unowned)
  size_t max_list_bytes = 1u << 20;  // per list, compact JSON text
};

class SweepReader final : public SectionReader {
 public:
  SweepReader() = default;
  explicit SweepReader(SweepLimits limits) : limits_(limits) {}
  std::string_view name() const override { return "sweep"; }
  void Collect(CollectContext& ctx, Section& out) override;

 private:
  SweepLimits limits_;
};

// Returns the top-level directories ("bin", "sbin", "lib", "lib32", "lib64", "libx32") that the
// root has merged into /usr: /X is a symlink whose target is "usr/X" or "/usr/X".
std::vector<std::string> MergedUsrDirs(const Fs& fs);

// Returns the other name of `path` under merged /usr ("/usr/bin/su" <-> "/bin/su"), if any.
std::optional<std::string> MergedUsrAlias(std::string_view path,
                                          const std::vector<std::string>& merged_dirs);

// One dpkg-divert(1) record of /var/lib/dpkg/diversions: the package's file `from` is installed
// as `to`; `by` is the diverting package, ":" for a local (administrator's) diversion.
struct Diversion {
  std::string from;
  std::string to;
  std::string by;
};

struct PackageOwnership {
  std::vector<std::string> packages;  // sorted; empty: no package owns the file
  std::string dpkg_path;              // the name dpkg records for it
  std::optional<Diversion> diversion;
};

struct DpkgLookup {
  // kOk; kNotFound when the root has no dpkg database (then `owners` is empty).
  Status status;
  std::vector<std::string> merged_usr;
  std::map<std::string, PackageOwnership> owners;  // by walked path
  std::vector<SectionError> errors;                // unreadable or malformed files
};

// Finds the owning packages of `paths` (paths as the walk found them):
// - a path that is the `to` of a diversion belongs to the packages listing `from`, except the
//   diverting package (dpkg installed their file under the diverted name);
// - a path that is the `from` of a diversion belongs to the diverting package only when it lists
//   the path itself, to no package for a local diversion;
// - any other path belongs to every package whose .list names it or its merged-/usr alias.
DpkgLookup LookUpPackages(const Fs& fs, const std::vector<std::string>& paths);

}  // namespace tidemark::agent
