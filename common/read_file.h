// Reading a whole file named on a command line (a snapshot to import, verify, evaluate or
// query; a certificate): bounded in size, and only a regular file, so that a FIFO, a device or
// a huge file ends in a clear error instead of a hang or an exhausted memory.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace tidemark {

// The largest snapshot file the tools read (the store keeps bodies up to the same size).
inline constexpr uint64_t kMaxSnapshotFileBytes = 512ull << 20;

// Returns the content of the regular file at `path`. kNotFound, kPermissionDenied, kWrongType
// (a directory, FIFO, device, socket), kTooLarge (over `max_bytes`; nothing is read then) or
// kIoError, each naming the path.
StatusOr<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes);

// The same checks without reading (for a file another library then opens by name, e.g. OpenSSL's
// certificate files, whose fopen would wait on a FIFO): OK, or the error ReadRegularFile gives.
Status CheckRegularFile(const std::string& path, uint64_t max_bytes);

// The most a certificate, CA bundle or CRL file is allowed to hold.
inline constexpr uint64_t kMaxPemFileBytes = 64ull << 20;

// No bound on the size: for CheckRegularFile on a file that is streamed, never held whole (a
// package uploaded in pieces, a known_hosts file libssh reads by line).
inline constexpr uint64_t kAnySize = ~0ull;

}  // namespace tidemark
