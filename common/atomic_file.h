// Writes a whole file atomically: a private temporary file beside the target, fsync, rename.
// Readers see the old file or the complete new one, never a torn write; a full disk leaves the
// old file in place, removes the temporary file and returns an error naming the path.
// An AtomicFileWriter is used by one thread at a time.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemark {

class AtomicFileWriter {
 public:
  AtomicFileWriter() = default;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  // Removes the temporary file unless Commit() succeeded.
  ~AtomicFileWriter();

  // Creates the temporary file for `path` with permission bits `mode` (exactly, whatever the
  // umask). Refuses a `path` that exists and is not a regular file: rename(2) would replace a
  // device, FIFO or symlink (as root, /dev/null itself).
  Status Open(const std::string& path, unsigned mode = 0600);
  // Appends `data`. REQUIRES: Open() succeeded.
  Status Write(std::string_view data);
  // Flushes to disk and renames the temporary file over the target.
  Status Commit();

 private:
  Status Fail(const char* what, int err);

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
};

// Writes `data` to `path` with permission bits `mode` through an AtomicFileWriter.
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600);

}  // namespace tidemark
