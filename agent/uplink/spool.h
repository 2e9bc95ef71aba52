// The agent's spool (docs/agent.md): a directory of complete snapshot files waiting for the
// collector's ack, oldest first by name, with rejected/ for snapshots the collector refused for
// good (a `rejected` counter); both together are bounded by count and bytes (the oldest rejected
// files, then the oldest queued ones are dropped, with a log line and a persistent `dropped`
// counter). Files are written to a temporary file, fsync'd, renamed
// and the directory fsync'd, so a crash leaves either nothing or a complete file. One process
// uses a spool at a time (an exclusive lock on DIR/.lock).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/uplink_usage.h"  // the default bounds
#include "common/status.h"

namespace tidemark::agent::uplink {

// A spool file: this fixed-size header (magic, JSON meta, blank padding, '\n'), then the
// snapshot document exactly as SnapshotWriter wrote it.
inline constexpr size_t kSpoolHeaderSize = 512;
inline constexpr std::string_view kSpoolMagic = "tidemark-spool/1 ";

struct SpoolLimits {
  int64_t max_files = kDefaultSpoolMaxFiles;
  int64_t max_bytes = kDefaultSpoolMaxBytes;
};

// Loss counters since they were last reported to a collector (hello's "spool" field).
struct SpoolCounters {
  int64_t dropped = 0;
  int64_t rejected = 0;
};

// What the header of a spooled snapshot says.
struct SpoolMeta {
  std::string snapshot_id;
  std::string content_hash;
  std::string collected_at;
};

// A file in the queue.
struct SpoolEntry {
  std::string name;  // file name in the spool directory
  std::string path;  // directory + name
  SpoolMeta meta;
  uint64_t body_bytes = 0;  // size of the document (file size - header)
};

// One line per event ("spool: dropped ..."), without a trailing newline.
using LogFn = std::function<void(const std::string&)>;

class Spool {
 public:
  // Creates the directory (0700) and rejected/ when missing, takes the lock, loads the counters
  // and removes temporary files a crash left behind. kUnavailable when another process holds
  // the lock.
  static StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir, SpoolLimits limits,
                                               LogFn log);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Writes one snapshot into the spool: `write_body` receives a sink for the document's text
  // and returns the meta once the document is complete (its content hash is known only then).
  // On success the file is durable and the spool's bounds are enforced (the new file is never
  // the one dropped). On failure (e.g. a full disk) nothing is left behind and the error names
  // the spool.
  using BodySink = std::function<Status(std::string_view)>;
  StatusOr<SpoolEntry> Add(const std::function<StatusOr<SpoolMeta>(const BodySink&)>& write_body);
  // Convenience for a document already in memory.
  StatusOr<SpoolEntry> AddDocument(const SpoolMeta& meta, std::string_view document);

  // The queue, oldest first. Files that are not spool files (foreign names, other types, a
  // header that does not parse) are moved to rejected/ with a log line (not counted as
  // rejected by the collector) and left out.
  StatusOr<std::vector<SpoolEntry>> List();

  // Reads `length` bytes of the document from `offset`.
  StatusOr<std::string> ReadBody(const SpoolEntry& entry, uint64_t offset, size_t length) const;

  // Deletes an acknowledged snapshot.
  Status Remove(const SpoolEntry& entry);
  // Moves a snapshot refused for good to rejected/ (log line with `reason`, rejected + 1).
  Status Reject(const SpoolEntry& entry, const std::string& reason);

  const SpoolCounters& counters() const { return state_.counters; }
  // After a welcome: subtracts what the hello reported (events since then stay counted).
  Status CountersReported(const SpoolCounters& reported);

  // The content hash of the last snapshot the collector acknowledged ("" when unknown): the
  // agent offers a snapshot with the same hash instead of sending its body.
  const std::string& last_acked_hash() const { return state_.last_acked_hash; }
  Status SetLastAckedHash(const std::string& hash);

  const std::string& dir() const { return dir_; }
  std::string rejected_dir() const { return dir_ + "/rejected"; }

 private:
  struct State {
    SpoolCounters counters;
    std::string last_acked_hash;
  };
  Spool(std::string dir, SpoolLimits limits, LogFn log, int lock_fd)
      : dir_(std::move(dir)), limits_(limits), log_(std::move(log)), lock_fd_(lock_fd) {}
  Status LoadState();
  Status SaveState();
  void CleanTemporaries();
  // Drops files until the spool, rejected/ included, is within its bounds: the oldest rejected
  // files first, then the oldest queued ones (never `keep`); each counts as dropped.
  Status EnforceBounds(const std::string& keep);
  struct RejectedFile {
    std::string name;
    std::string path;
    int64_t bytes = 0;
    int64_t mtime_ns = 0;
  };
  // The files in rejected/, oldest first.
  std::vector<RejectedFile> ListRejected() const;
  // Moves a file that is not a valid spool file to rejected/.
  void Quarantine(const std::string& name, const std::string& reason);
  std::string NextName(const std::string& snapshot_id);

  std::string dir_;
  SpoolLimits limits_;
  LogFn log_;
  int lock_fd_ = -1;
  State state_;
  uint64_t last_seq_ = 0;
};

// Parses a spool file header (kSpoolHeaderSize bytes). kInvalidArgument when it is not one.
StatusOr<SpoolMeta> ParseSpoolHeader(std::string_view header);
// Returns the header for `meta`; kInvalidArgument when it does not fit.
StatusOr<std::string> EncodeSpoolHeader(const SpoolMeta& meta);

}  // namespace tidemark::agent::uplink
