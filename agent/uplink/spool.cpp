#include "agent/uplink/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/transport/protocol.h"

namespace tidemark::agent::uplink {
namespace {

constexpr std::string_view kTmpPrefix = ".tmp-";
constexpr std::string_view kSuffix = ".snap";
constexpr size_t kSeqDigits = 20;
constexpr size_t kMaxStateBytes = 64 * 1024;

// The spool's errors start with "spool " (common/atomic_file.h's errors name the directory).
Status SpoolError(const Status& s) { return s.ok() ? s : Status(s.code(), "spool " + s.message()); }

Status FsyncDir(const std::string& dir) { return SpoolError(FsyncDirectory(dir)); }

Status MakeDirs(const std::string& dir, unsigned leaf_mode) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    bool leaf = pos == dir.size();
    if (::mkdir(part.c_str(), leaf ? leaf_mode : 0755) != 0 && errno != EEXIST) {
      return IoError("spool " + dir + ": cannot create " + part, errno);
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return IoError("spool " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return {StatusCode::kWrongType, "spool " + dir + ": not a directory"};
  return Status::Ok();
}

// "<20 digits>-<snapshot id>.snap" -> (sequence, snapshot id).
std::optional<std::pair<uint64_t, std::string>> ParseName(std::string_view name) {
  if (name.size() <= kSeqDigits + 1 + kSuffix.size()) return std::nullopt;
  if (name.substr(name.size() - kSuffix.size()) != kSuffix) return std::nullopt;
  uint64_t seq = 0;
  for (size_t i = 0; i < kSeqDigits; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    if (seq > (UINT64_MAX - 9) / 10) return std::nullopt;
    seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (name[kSeqDigits] != '-') return std::nullopt;
  std::string id(name.substr(kSeqDigits + 1, name.size() - kSeqDigits - 1 - kSuffix.size()));
  if (!protocol::IsValidSnapshotId(id)) return std::nullopt;
  return std::make_pair(seq, id);
}

}  // namespace

StatusOr<std::string> EncodeSpoolHeader(const SpoolMeta& meta) {
  nlohmann::json j = {{"snapshot_id", meta.snapshot_id},
                      {"content_hash", meta.content_hash},
                      {"collected_at", meta.collected_at}};
  std::string text = std::string(kSpoolMagic) + j.dump();
  if (text.size() + 1 > kSpoolHeaderSize) {
    return Status{StatusCode::kInvalidArgument,
                  "spool header too long for snapshot " + meta.snapshot_id.substr(0, 64)};
  }
  text.resize(kSpoolHeaderSize - 1, ' ');
  text.push_back('\n');
  return text;
}

StatusOr<SpoolMeta> ParseSpoolHeader(std::string_view header) {
  auto bad = [](const std::string& why) {
    return Status{StatusCode::kInvalidArgument, "not a spool file: " + why};
  };
  if (header.size() != kSpoolHeaderSize) return bad("shorter than its header");
  if (header.substr(0, kSpoolMagic.size()) != kSpoolMagic) return bad("no spool magic");
  if (header.back() != '\n') return bad("header not terminated");
  std::string_view json_text = header.substr(kSpoolMagic.size());
  while (!json_text.empty() && (json_text.back() == ' ' || json_text.back() == '\n')) {
    json_text.remove_suffix(1);
  }
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return bad("header is not a JSON object");
  SpoolMeta meta;
  for (auto [key, field] :
       {std::pair{"snapshot_id", &meta.snapshot_id}, std::pair{"content_hash", &meta.content_hash},
        std::pair{"collected_at", &meta.collected_at}}) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return bad(std::string("header has no ") + key);
    *field = it->get<std::string>();
  }
  if (!protocol::IsValidSnapshotId(meta.snapshot_id)) return bad("invalid snapshot_id");
  if (meta.content_hash.rfind("sha256:", 0) != 0 || meta.content_hash.size() != 71) {
    return bad("invalid content_hash");
  }
  return meta;
}

StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir_in, SpoolLimits limits,
                                             LogFn log) {
  if (dir_in.empty()) return Status{StatusCode::kInvalidArgument, "empty spool directory"};
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (Status s = MakeDirs(dir, 0700); !s.ok()) return s;
  if (Status s = MakeDirs(dir + "/rejected", 0700); !s.ok()) return s;
  std::string lock_path = dir + "/.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("spool " + dir + ": cannot open " + lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status{
          StatusCode::kUnavailable,
          "spool " + dir + " is in use by another tidemark-agent (lock " + lock_path + ")"};
    }
    return IoError("spool " + dir + ": lock", err);
  }
  std::unique_ptr<Spool> spool(new Spool(dir, limits, std::move(log), fd));
  if (Status s = spool->LoadState(); !s.ok()) return s;
  spool->CleanTemporaries();
  return spool;
}

Spool::~Spool() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status Spool::LoadState() {
  std::string path = dir_ + "/.state";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return Status::Ok();
    return IoError("spool " + dir_ + ": cannot read " + path, errno);
  }
  std::string text(kMaxStateBytes, '\0');
  ssize_t n = ::read(fd, text.data(), text.size());
  ::close(fd);
  if (n < 0) return IoError("spool " + dir_ + ": cannot read " + path, errno);
  text.resize(static_cast<size_t>(n));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    // The counters are lost: say so rather than restart at zero silently.
    log_("spool: " + path + " is not a valid state file; dropped/rejected counters restart at 0");
    return Status::Ok();
  }
  auto get = [&](const char* key) -> int64_t {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? std::max<int64_t>(0, it->get<int64_t>()) : 0;
  };
  state_.counters.dropped = get("dropped");
  state_.counters.rejected = get("rejected");
  if (auto it = j.find("last_acked_hash"); it != j.end() && it->is_string()) {
    state_.last_acked_hash = it->get<std::string>();
  }
  return Status::Ok();
}

Status Spool::SaveState() {
  nlohmann::json j = {{"dropped", state_.counters.dropped},
                      {"rejected", state_.counters.rejected},
                      {"last_acked_hash", state_.last_acked_hash}};
  AtomicFileWriter file;
  Status s = file.OpenInDirectory(dir_, std::string(kTmpPrefix) + "state-");
  if (s.ok()) s = file.Write(j.dump() + "\n");
  if (s.ok()) s = file.CommitAs(dir_ + "/.state");
  if (!s.ok()) return Status(s.code(), "spool: cannot save its state: " + s.message());
  return Status::Ok();
}

void Spool::CleanTemporaries() {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, kTmpPrefix.size()) == kTmpPrefix) stale.emplace_back(name);
  }
  ::closedir(d);
  for (const auto& name : stale) {
    if (::unlink((dir_ + "/" + name).c_str()) == 0) {
      log_("spool: removed " + dir_ + "/" + name + ", a partial write left by an interrupted run");
    }
  }
}

void Spool::Quarantine(const std::string& name, const std::string& reason) {
  std::string from = dir_ + "/" + name;
  std::string to = rejected_dir() + "/" + name;
  for (int i = 1; ::access(to.c_str(), F_OK) == 0 && i < 1000; ++i) {
    to = rejected_dir() + "/" + name + "." + std::to_string(i);
  }
  if (::rename(from.c_str(), to.c_str()) == 0) {
    log_("spool: " + from + " is not a spool file (" + reason + "); moved to " + to);
  } else {
    log_("spool: " + from + " is not a spool file (" + reason + ") and cannot be moved to " +
         rejected_dir() + ": " + std::strerror(errno) + "; skipped");
  }
}

StatusOr<std::vector<SpoolEntry>> Spool::List() {
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) return IoError("spool " + dir_ + ": cannot list", errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name == ".lock" || name == ".state" || name == "rejected") {
      continue;
    }
    if (name.rfind(kTmpPrefix, 0) == 0) continue;
    names.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<SpoolEntry> entries;
  for (const auto& name : names) {
    auto parsed = ParseName(name);
    if (!parsed) {
      Quarantine(name, "unexpected name");
      continue;
    }
    last_seq_ = std::max(last_seq_, parsed->first);
    std::string path = dir_ + "/" + name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      if (fd >= 0) ::close(fd);
      Quarantine(name, "not a regular file");
      continue;
    }
    std::string header(kSpoolHeaderSize, '\0');
    ssize_t n = ::pread(fd, header.data(), header.size(), 0);
    ::close(fd);
    if (n != static_cast<ssize_t>(kSpoolHeaderSize) ||
        static_cast<uint64_t>(st.st_size) <= kSpoolHeaderSize) {
      Quarantine(name, "shorter than a spool file");
      continue;
    }
    auto meta = ParseSpoolHeader(header);
    if (!meta.ok()) {
      Quarantine(name, meta.status().message());
      continue;
    }
    if (meta->snapshot_id != parsed->second) {
      Quarantine(name, "header names another snapshot id");
      continue;
    }
    SpoolEntry entry;
    entry.name = name;
    entry.path = std::move(path);
    entry.meta = std::move(*meta);
    entry.body_bytes = static_cast<uint64_t>(st.st_size) - kSpoolHeaderSize;
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::string Spool::NextName(const std::string& snapshot_id) {
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  uint64_t seq =
      std::max<uint64_t>(static_cast<uint64_t>(std::max<int64_t>(now, 0)), last_seq_ + 1);
  last_seq_ = seq;
  std::string digits = std::to_string(seq);
  return std::string(kSeqDigits - digits.size(), '0') + digits + "-" + snapshot_id +
         std::string(kSuffix);
}

StatusOr<SpoolEntry> Spool::Add(
    const std::function<StatusOr<SpoolMeta>(const BodySink&)>& write_body) {
  // Names must sort after every file already queued, whatever the clock says.
  if (auto listed = List(); !listed.ok()) return listed.status();
  auto fail = [](const Status& s) -> Status {
    return Status(s.code(), s.message() + "; the snapshot was not spooled");
  };
  AtomicFileWriter file;  // a temporary ".tmp-" file until committed, removed on failure
  if (Status s = file.OpenInDirectory(dir_, kTmpPrefix); !s.ok()) return fail(SpoolError(s));
  if (Status s = file.Write(std::string(kSpoolHeaderSize, ' ')); !s.ok()) {
    return fail(SpoolError(s));
  }
  uint64_t body_bytes = 0;
  auto meta = write_body([&](std::string_view piece) {
    body_bytes += piece.size();
    return SpoolError(file.Write(piece));
  });
  if (!meta.ok()) return fail(meta.status());
  if (!protocol::IsValidSnapshotId(meta->snapshot_id)) {
    return fail({StatusCode::kInternal, "spool: invalid snapshot id"});
  }
  if (body_bytes == 0) return fail({StatusCode::kInternal, "spool: empty snapshot document"});
  auto header = EncodeSpoolHeader(*meta);
  if (!header.ok()) return fail(header.status());
  if (Status s = file.WriteAt(0, *header); !s.ok()) return fail(SpoolError(s));
  SpoolEntry entry;
  entry.name = NextName(meta->snapshot_id);
  entry.path = dir_ + "/" + entry.name;
  entry.meta = *meta;
  entry.body_bytes = body_bytes;
  if (Status s = file.CommitAs(entry.path); !s.ok()) {
    // Only the directory's fsync fails after the rename: the file is queued, maybe not durably.
    return ::access(entry.path.c_str(), F_OK) == 0 ? SpoolError(s) : fail(SpoolError(s));
  }
  if (Status s = EnforceBounds(entry.name); !s.ok()) return s;
  return entry;
}

StatusOr<SpoolEntry> Spool::AddDocument(const SpoolMeta& meta, std::string_view document) {
  return Add([&](const BodySink& sink) -> StatusOr<SpoolMeta> {
    if (Status s = sink(document); !s.ok()) return s;
    return meta;
  });
}

std::vector<Spool::RejectedFile> Spool::ListRejected() const {
  std::vector<RejectedFile> files;
  DIR* d = ::opendir(rejected_dir().c_str());
  if (d == nullptr) return files;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    RejectedFile f;
    f.path = rejected_dir() + "/" + name;
    struct stat st {};
    if (::lstat(f.path.c_str(), &st) != 0) continue;
    f.bytes = S_ISREG(st.st_mode) ? static_cast<int64_t>(st.st_size) : 0;
    f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    f.name = std::move(name);
    files.push_back(std::move(f));
  }
  ::closedir(d);
  // Oldest first: spool file names begin with their sequence number, so the name orders files
  // of the same moment; the time of the move (mtime is kept by rename) orders the rest.
  std::sort(files.begin(), files.end(), [](const RejectedFile& a, const RejectedFile& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.name < b.name;
  });
  return files;
}

Status Spool::EnforceBounds(const std::string& keep) {
  auto entries = List();
  if (!entries.ok()) return entries.status();
  // rejected/ counts against the bounds too: snapshots refused for good (kept for an
  // administrator to look at) must not grow the spool without limit. They go first.
  std::vector<RejectedFile> rejected = ListRejected();
  int64_t count = static_cast<int64_t>(entries->size() + rejected.size());
  int64_t bytes = 0;
  for (const auto& e : *entries) bytes += static_cast<int64_t>(e.body_bytes + kSpoolHeaderSize);
  for (const auto& r : rejected) bytes += r.bytes;
  bool changed = false;
  for (const auto& r : rejected) {
    if (count <= limits_.max_files && bytes <= limits_.max_bytes) break;
    if (::unlink(r.path.c_str()) != 0) {
      log_("spool: cannot drop " + r.path + ": " + std::strerror(errno));
      continue;
    }
    --count;
    bytes -= r.bytes;
    ++state_.counters.dropped;
    changed = true;
    log_("spool: full (max_files " + std::to_string(limits_.max_files) + ", max_bytes " +
         std::to_string(limits_.max_bytes) + ", rejected/ included): dropped the oldest rejected " +
         "file " + r.path + " (dropped " + std::to_string(state_.counters.dropped) +
         " since the last report)");
  }
  if (changed) {
    if (Status s = FsyncDir(rejected_dir()); !s.ok()) return s;
  }
  for (const auto& e : *entries) {
    if (count <= limits_.max_files && bytes <= limits_.max_bytes) break;
    if (e.name == keep) continue;
    if (::unlink(e.path.c_str()) != 0) {
      log_("spool: cannot drop " + e.path + ": " + std::strerror(errno));
      continue;
    }
    --count;
    bytes -= static_cast<int64_t>(e.body_bytes + kSpoolHeaderSize);
    ++state_.counters.dropped;
    changed = true;
    log_("spool: full (max_files " + std::to_string(limits_.max_files) + ", max_bytes " +
         std::to_string(limits_.max_bytes) + "): dropped the oldest snapshot " +
         e.meta.snapshot_id + " collected at " + e.meta.collected_at + " (dropped " +
         std::to_string(state_.counters.dropped) + " since the last report)");
  }
  if (!changed) return Status::Ok();
  if (Status s = FsyncDir(dir_); !s.ok()) return s;
  return SaveState();
}

StatusOr<std::string> Spool::ReadBody(const SpoolEntry& entry, uint64_t offset,
                                      size_t length) const {
  int fd = ::open(entry.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return IoError("spool: cannot open " + entry.path, errno);
  std::string out(length, '\0');
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done,
                        static_cast<off_t>(kSpoolHeaderSize + offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      ::close(fd);
      if (err != 0) return IoError("spool: cannot read " + entry.path, err);
      return Status{StatusCode::kIoError, "spool: " + entry.path + " shrank while being sent"};
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

Status Spool::Remove(const SpoolEntry& entry) {
  if (::unlink(entry.path.c_str()) != 0 && errno != ENOENT) {
    return IoError("spool: cannot remove " + entry.path, errno);
  }
  return FsyncDir(dir_);
}

Status Spool::Reject(const SpoolEntry& entry, const std::string& reason) {
  std::string to = rejected_dir() + "/" + entry.name;
  if (::rename(entry.path.c_str(), to.c_str()) != 0) {
    return IoError("spool: cannot move " + entry.path + " to " + rejected_dir(), errno);
  }
  ++state_.counters.rejected;
  log_("spool: snapshot " + entry.meta.snapshot_id + " refused for good (" + reason +
       "); moved to " + to + " (rejected " + std::to_string(state_.counters.rejected) +
       " since the last report)");
  if (Status s = FsyncDir(dir_); !s.ok()) return s;
  return SaveState();
}

Status Spool::CountersReported(const SpoolCounters& reported) {
  if (reported.dropped == 0 && reported.rejected == 0) return Status::Ok();
  state_.counters.dropped = std::max<int64_t>(0, state_.counters.dropped - reported.dropped);
  state_.counters.rejected = std::max<int64_t>(0, state_.counters.rejected - reported.rejected);
  return SaveState();
}

Status Spool::SetLastAckedHash(const std::string& hash) {
  if (hash == state_.last_acked_hash) return Status::Ok();
  state_.last_acked_hash = hash;
  return SaveState();
}

}  // namespace tidemark::agent::uplink
