// Fs: the filesystem seam. Every collector reads host files through an Fs, never by path.
//
// OpenRootFs(dir) confines every lookup to `dir` the way chroot(2) would, without races: each
// path is resolved by the kernel with openat2(2) RESOLVE_IN_ROOT, so an absolute symlink target
// is re-rooted under `dir` and ".." cannot climb above it. OpenRootFs("/") is the live host.
// Paths given to and reported by an Fs are absolute paths as seen inside the root ("/etc/passwd").
// Tests point an Fs at a fixture root and never touch the machine's own files.
// An Fs is immutable after construction; its methods are safe to call from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

enum class FileType { kRegular, kDirectory, kSymlink, kFifo, kSocket, kCharDevice, kBlockDevice };

// Returns the type encoded in a stat(2) st_mode.
FileType FileTypeFromMode(uint32_t st_mode);

// Returns "regular", "directory", "symlink", "fifo", "socket", "char_device", "block_device".
std::string_view FileTypeName(FileType type);

struct FileInfo {
  FileType type = FileType::kRegular;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (st_mode & 07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  int64_t mtime = 0;  // seconds since the epoch
  uint64_t dev = 0;
  uint64_t ino = 0;
  uint64_t nlink = 0;
};

struct ReadOptions {
  // Larger files fail with kTooLarge; nothing beyond max_bytes + 1 is ever read.
  uint64_t max_bytes = 32ull << 20;
  // Fail with kLoop when any component (including the last) is a symlink.
  bool no_symlinks = false;
};

struct FileContent {
  std::string data;
  FileInfo info;  // fstat of the descriptor the data was read from
};

class Fs {
 public:
  virtual ~Fs() = default;

  // Reads the regular file at `path`. FIFOs, devices and directories fail with kWrongType
  // without blocking; a missing file is kNotFound (callers decide whether that is "absent").
  virtual StatusOr<FileContent> ReadFile(std::string_view path,
                                         const ReadOptions& options) const = 0;
  StatusOr<FileContent> ReadFile(std::string_view path) const { return ReadFile(path, {}); }

  // Reads the regular file at `path` as ReadFile does (the same checks, limit and errors) but
  // piece by piece, calling fn(piece) for each, in order, until fn returns false or the file
  // ends; no piece is longer than 64 KiB. For a large file searched once (dpkg's status): it is
  // never held in memory as a whole. The default reads it whole and cuts it (fakes).
  using ScanFn = std::function<bool(std::string_view piece)>;
  static constexpr size_t kScanPieceBytes = size_t{64} << 10;
  virtual Status ScanFile(std::string_view path, const ReadOptions& options,
                          const ScanFn& fn) const;

  // Returns the metadata of `path`; with follow == false a final symlink is described itself.
  virtual StatusOr<FileInfo> Stat(std::string_view path, bool follow) const = 0;

  // Returns the entry names of the directory at `path` (no "." or ".."), sorted bytewise.
  virtual StatusOr<std::vector<std::string>> ListDir(std::string_view path) const = 0;

  // Returns the target of the symlink at `path`, exactly as stored.
  virtual StatusOr<std::string> ReadLink(std::string_view path) const = 0;

  // Returns how this root is shown to people: "/" for the live host, else the directory.
  virtual const std::string& root() const = 0;

  // Opens the directory at `path` for a walk (O_RDONLY|O_DIRECTORY, no symlink in any
  // component) and returns its descriptor, owned by the caller. Walkers go on from it only with
  // openat(2)/fstatat(2) on single names and O_NOFOLLOW, so they never leave the root.
  // The default (fakes) is kUnavailable.
  virtual StatusOr<int> OpenDirectoryFd(std::string_view path) const;
};

// Returns an Fs confined to `root_dir`, or an error when it cannot be opened as a directory.
StatusOr<std::unique_ptr<Fs>> OpenRootFs(const std::string& root_dir);

// Path helpers for in-root absolute paths. They work on text only.
// Returns `dir` + "/" + `name` with exactly one slash between them.
std::string JoinPath(std::string_view dir, std::string_view name);
// Returns the parent directory ("/etc/sudoers" -> "/etc", "/x" -> "/", "/" -> "/").
std::string DirName(std::string_view path);
// Returns the last component ("/etc/sudoers" -> "sudoers").
std::string BaseName(std::string_view path);
// Returns `path` with "." and empty components removed and ".." applied lexically, never above
// "/". Relative input is taken relative to "/".
std::string NormalizePath(std::string_view path);
// Splits a path into its non-empty components ("/a//b/" -> {"a", "b"}); "." and ".." are
// kept as they are.
std::vector<std::string> PathComponents(std::string_view path);

// Host names (paths, user names) as snapshots carry them (docs/snapshot.md, "Names that are not
// UTF-8"): JSON strings must be UTF-8, host names are bytes. The escaped form is valid UTF-8,
// lossless and injective: a name that is valid UTF-8 and holds no backslash is itself; any other
// name has each backslash doubled and each byte that is not part of a valid UTF-8 sequence
// written as "\xNN" (lowercase hex). So "a\xff" (4 bytes) and the byte string a,0xff differ.
// Returns true when `text` is valid UTF-8 (shortest form, no surrogates, at most U+10FFFF).
bool IsValidUtf8(std::string_view text);
// Returns the escaped form of the host name `name` (see above).
std::string EscapeHostName(std::string_view name);
// Returns the raw bytes of an escaped form, or nullopt when `escaped` is not one.
std::optional<std::string> UnescapeHostName(std::string_view escaped);
// Returns `data` in base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view data);
// Returns the bytes of RFC 4648 base64 text (padding required), or nullopt when malformed.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace tidemark
