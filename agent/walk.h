// Walk: one race-safe, depth-first walk of the local filesystems inside the audited root, as
// `find ROOT -xdev` walks them, for checks that look at every file (the sweep section).
//
// Each root is opened through Fs::OpenDirectoryFd (inside the root, no symlinks); from there the
// walker uses only openat(2) on single directory entry names with O_NOFOLLOW|O_DIRECTORY,
// fdopendir(3)/readdir(3) and fstatat(2) with AT_SYMLINK_NOFOLLOW: no path is ever resolved
// again, no symlink is followed, ".." is never looked up, so the walk cannot leave the root.
// A subdirectory whose st_dev differs from its root's is not entered (find -xdev); neither are
// the excluded paths nor directories deeper than max_depth or with paths longer than
// max_path_bytes. Memory: one open DIR per level. A deadline bounds the walk's time: when it
// passes, the walk stops and says where (a host's users can create files faster than any walk
// reads them).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fs.h"

namespace tidemark::agent {

// Never walked: kernel and runtime pseudo trees (on a live host they are also other devices).
inline const std::vector<std::string>& AlwaysSkippedPaths() {
  static const std::vector<std::string> kPaths = {"/proc", "/sys", "/dev", "/run"};
  return kPaths;
}

struct WalkOptions {
  std::vector<std::string> roots = {"/"};  // in-root absolute paths
  std::vector<std::string> excludes;       // in-root paths whose subtree is not entered
  int max_depth = 256;                     // a root is depth 0
  // Live host: read /proc/self/mountinfo to name the filesystem type of skipped mounts.
  bool use_mount_table = false;
  size_t max_recorded = 100;  // skipped mounts and errors kept in the lists; all are counted
  // Directories whose path is longer are not entered (so every reported path is at most this
  // plus one name of 255 bytes): PATH_MAX.
  size_t max_path_bytes = 4096;
  // When set and passed, the walk stops (WalkResult::stopped_at).
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// One object met by the walk (every entry below a root; not the root directories themselves).
struct WalkEntry {
  const std::string& path;  // in-root path
  const struct stat& st;    // lstat of the entry
  int parent_fd;            // descriptor of the directory holding it
  const char* name;         // its name in that directory
};

struct WalkSkip {
  std::string path;
  std::string reason;   // "other_device", "excluded", "pseudo_path", "own_root",
                        // "pseudo_filesystem", "network_filesystem"
  std::string fs_type;  // from the mount table or statfs(2), empty when unknown
};

struct WalkProblem {
  std::string path;
  std::string message;
};

struct WalkResult {
  uint64_t directories = 0;  // directories entered (roots included)
  uint64_t files = 0;        // non-directory entries seen
  uint64_t skipped_count = 0;
  uint64_t error_count = 0;
  uint64_t depth_limited = 0;  // directories not entered because of max_depth
  uint64_t path_limited = 0;   // directories not entered because of max_path_bytes
  bool stopped = false;        // the deadline passed: entries after stopped_at were not seen
  std::string stopped_at;      // the last path examined before stopping
  std::vector<WalkSkip> skipped;
  std::vector<WalkProblem> errors;
};

using WalkVisitor = std::function<void(const WalkEntry&)>;

// Walks every root in order. `visit` sees every entry (directories before their content).
WalkResult Walk(const Fs& fs, const WalkOptions& options, const WalkVisitor& visit);

// Returns the filesystem type name of a statfs(2) f_type and whether the walk skips it:
// "pseudo" (proc, sysfs, cgroup, debugfs, ...), "network" (nfs, cifs, ceph, 9p, fuse ...) or
// "local".
struct FsTypeClass {
  std::string name;
  std::string kind;  // "pseudo", "network", "local"
};
FsTypeClass ClassifyFsType(int64_t f_type);

// Classifies a mount table type name ("nfs4", "proc", "ext4" ...) the same way.
std::string FsKindByName(std::string_view type);

}  // namespace tidemark::agent
