// Writes a whole file atomically: a private temporary file beside the target, fsync, rename.
// Readers see the old file or the complete new one, never a torn write; a full disk leaves the
// old file in place and returns an error naming the path.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemark {

// Writes `data` to `path` with permission bits `mode` (applied exactly, regardless of umask).
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0600);

}  // namespace tidemark
