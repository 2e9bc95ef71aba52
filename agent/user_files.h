// Reading a file that a user controls (~/.ssh/authorized_keys, later ~/.rhosts ...) only as its
// owner could, and judging it as sshd's StrictModes would.
//
// The path is resolved component by component inside the audited root (Fs::Stat without
// following, Fs::ReadLink; absolute link targets re-rooted, ".." applied physically, at most
// 40 links as Linux allows). The owner's permissions are simulated from mode bits, uid and the
// owner's gids: search (x) on every directory looked up in, read (r) on the file; uid 0 may do
// anything. A file the owner could not read is never read. StrictModes follows OpenSSH misc.c
// safe_path(): the resolved file regular, owned by root or the user, not group/world-writable,
// and likewise every parent directory up to the (resolved) home directory, else up to "/".
// A file reached through a symlink is followed only when StrictModes would accept the target.
// What is read is re-checked by device and inode against what was judged.
// Not reproduced: POSIX ACLs, LSMs (SELinux/AppArmor), capabilities other than uid 0's.
// The functions are stateless and thread-safe; StatMemoFs is for one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/fs.h"
#include "common/status.h"

namespace tidemark::agent {

// Linux fs/namei.c MAXSYMLINKS.
inline constexpr int kMaxSymlinkHops = 40;

// Whose view a file is read with.
struct FileOwner {
  std::string name;
  uint32_t uid = 0;
  std::vector<uint32_t> gids;  // effective gids: primary first
  std::string home;            // the passwd home directory (in-root path)
};

enum class UserFileState {
  kPresent,            // read (content available)
  kAbsent,             // a component does not exist: a missing optional file
  kUnreadableByOwner,  // the owner could not search a directory or read the file: not read
  kUnsafeSymlink,      // reached through a symlink to a target StrictModes rejects: not read
  kError,              // not a regular file, a loop, too large, changed while checked, I/O
};

// Returns "present", "absent", "unreadable_by_owner", "unsafe_symlink", "error".
std::string_view UserFileStateName(UserFileState state);

struct StrictModesProblem {
  std::string path;     // the file or a parent directory (resolved, in-root)
  std::string problem;  // "not_regular_file", "group_writable", "world_writable", "foreign_owner"
  bool operator==(const StrictModesProblem&) const = default;
};

struct Resolution {
  Status status;                 // kNotFound, kPermissionDenied, kLoop, kWrongType, ...
  bool owner_denied = false;     // status is the simulated owner's denial (not the agent's)
  std::string resolved;          // physical in-root path (when status is ok)
  bool via_symlink = false;      // a symlink was followed on the way
  std::optional<FileInfo> info;  // lstat of the final object (when status is ok)
};

// An Fs that answers Stat once per path (and per `follow`) and forwards everything else: for a
// section that resolves every user's files component by component, where the same directories
// ("/", "/home", each home, each ~/.ssh) are looked at again for each file, each user and each
// StrictModes check (ssh_keys: 816 path system calls for 25 users, 3 per Stat). One section's
// collection long, by one thread: what it says is the state of the first look, as a snapshot
// is anyway; a file's content is still checked by device and inode against what was judged.
// At most kMaxEntries answers are kept; beyond that it starts again empty.
class StatMemoFs : public Fs {
 public:
  static constexpr size_t kMaxEntries = 65536;

  explicit StatMemoFs(const Fs& fs) : fs_(fs) {}

  StatusOr<FileInfo> Stat(std::string_view path, bool follow) const override;
  StatusOr<FileContent> ReadFile(std::string_view path, const ReadOptions& options) const override {
    return fs_.ReadFile(path, options);
  }
  Status ScanFile(std::string_view path, const ReadOptions& options,
                  const ScanFn& fn) const override {
    return fs_.ScanFile(path, options, fn);
  }
  StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override {
    return fs_.ListDir(path);
  }
  StatusOr<std::string> ReadLink(std::string_view path) const override {
    return fs_.ReadLink(path);
  }
  const std::string& root() const override { return fs_.root(); }
  StatusOr<int> OpenDirectoryFd(std::string_view path) const override {
    return fs_.OpenDirectoryFd(path);
  }

  // How many Stat calls reached the wrapped Fs (for tests).
  size_t forwarded_stats() const { return forwarded_; }

 private:
  const Fs& fs_;
  // Key: 'f' or 'l' (follow or not) + the path.
  mutable std::unordered_map<std::string, StatusOr<FileInfo>> answers_;
  mutable size_t forwarded_ = 0;
};

// Resolves `path` inside the root as the kernel would for `owner` (nullptr: no permission
// checks). The final component is followed when it is a symlink.
Resolution ResolveAsOwner(const Fs& fs, std::string_view path, const FileOwner* owner);

// Returns true when `owner` may read (r) or search (x) an object with these metadata.
bool OwnerMayRead(const FileInfo& info, const FileOwner& owner);
bool OwnerMaySearch(const FileInfo& info, const FileOwner& owner);

// Judges the resolved path as safe_path() does; empty means StrictModes accepts it. Lists every
// problem (sshd stops at the first). `resolved_home` is empty when the home does not resolve.
std::vector<StrictModesProblem> JudgeStrictModes(const Fs& fs, std::string_view resolved,
                                                 const FileInfo& info, const FileOwner& owner,
                                                 std::string_view resolved_home);

struct UserFile {
  std::string path;           // as asked
  std::string resolved_path;  // physical path when resolution got to the file
  bool via_symlink = false;
  UserFileState state = UserFileState::kError;
  std::string reason;                       // why, for every state but kPresent
  StatusCode error_code = StatusCode::kOk;  // for kError: what kind of failure
  std::optional<FileInfo> info;             // metadata of the resolved file, when it exists
  std::vector<StrictModesProblem> strict_modes;
  std::string data;  // content, only for kPresent
};

struct UserFileOptions {
  uint64_t max_bytes = 1u << 20;  // larger files are an error, never read
};

// Reads `path` as `owner` could (see the header comment).
UserFile ReadAsOwner(const Fs& fs, std::string_view path, const FileOwner& owner,
                     const UserFileOptions& options = {});

}  // namespace tidemark::agent
