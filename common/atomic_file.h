// Writes a whole file atomically and durably: a private temporary file, fsync, rename over the
// target, fsync of the target's directory. Readers see the old file or the complete new one,
// never a torn write, and after Commit() returns the new file survives a power cut. A full disk
// leaves the old file in place, removes the temporary file and returns an error naming the path.
// Every file tidemark writes for good goes through here (reports, certificates, pulled files,
// the agent's --output, the spool's snapshots and state).
// An AtomicFileWriter is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/unique_fd.h"

namespace tidemark {

class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Removes the temporary file unless Commit() succeeded.
  ~AtomicFileWriter();

  // Creates the temporary file for `path` (beside it, `path.tmp.XXXXXX`) with permission bits
  // `mode` (exactly, whatever the umask). Refuses a `path` that exists and is not a regular
  // file: rename(2) would replace a device, FIFO or symlink (as root, /dev/null itself).
  Status Open(const std::string& path, unsigned mode = 0600);
  // Creates the temporary file `dir/<temp_prefix>XXXXXX` for a target that CommitAs() names
  // later (the spool names a file after what was written into it). Errors name `dir`.
  Status OpenInDirectory(const std::string& dir, std::string_view temp_prefix,
                         unsigned mode = 0600);
  // Appends `data`. REQUIRES: Open() succeeded.
  Status Write(std::string_view data);
  // Overwrites `data.size()` bytes at `offset` (e.g. a header reserved before the body).
  Status WriteAt(uint64_t offset, std::string_view data);
  // Flushes to disk, renames the temporary file over the target and flushes its directory.
  Status Commit();
  // Commit() onto `path`, in the directory the temporary file was created in.
  Status CommitAs(const std::string& path);

 private:
  Status Fail(const char* what, int err);
  // Writes all of `data` at `offset`, or appended when `offset` is negative.
  Status WriteAtOffset(std::string_view data, int64_t offset);

  std::string path_;  // the target (Open) or the directory (OpenInDirectory), for messages
  std::string tmp_;
  UniqueFd fd_;
};

// Writes `data` to `path` with permission bits `mode` through an AtomicFileWriter.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600);

// fsync(2) of a directory: makes the creation, renaming or removal of its entries durable.
// kIoError "DIR: ...: reason" on failure.
Status FsyncDirectory(const std::string& dir);

}  // namespace tidemark
