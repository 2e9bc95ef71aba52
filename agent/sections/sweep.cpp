#include "agent/sections/sweep.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "agent/bounded_items.h"
#include "agent/file_meta.h"
#include "agent/walk.h"
#include "common/sha256.h"
#include "common/unique_fd.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kDpkgInfoDir = "/var/lib/dpkg/info";
constexpr std::string_view kDiversionsPath = "/var/lib/dpkg/diversions";
constexpr size_t kMaxDpkgErrors = 20;
// Errors about single SUID/SGID files that could not be hashed; the rest are counted.
constexpr size_t kMaxHashErrors = 100;

// Streams the SHA-256 of the regular file `name` in `parent_fd`, which must still be the object
// `expected` describes. Never opens anything but a regular file: O_NOFOLLOW|O_NONBLOCK, then
// fstat checks type, device and inode before one byte is read.
// Reads at most `max_bytes` (a file that grew past it is not hashed) and stops at `deadline`.
StatusOr<std::string> HashAt(int parent_fd, const char* name, const struct stat& expected,
                             uint64_t max_bytes, std::chrono::steady_clock::time_point deadline) {
  int fd = ::openat(parent_fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Status(
        err == EACCES || err == EPERM ? StatusCode::kPermissionDenied : StatusCode::kIoError,
        std::string("cannot open for hashing: ") + std::strerror(err));
  }
  UniqueFd closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status(StatusCode::kIoError, "fstat failed");
  if (!S_ISREG(st.st_mode) || st.st_dev != expected.st_dev || st.st_ino != expected.st_ino) {
    return Status(StatusCode::kIoError, "changed while walked (type/device/inode differ)");
  }
  Sha256Stream sha;
  static thread_local std::vector<char> buf(1 << 16);
  uint64_t total = 0;
  for (;;) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(StatusCode::kUnavailable, "not hashed: the sweep's time budget ran out");
    }
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status(StatusCode::kIoError, std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    total += static_cast<uint64_t>(n);
    if (total > max_bytes) {
      return Status(StatusCode::kTooLarge,
                    "not hashed: grew over " + std::to_string(max_bytes) + " bytes while read");
    }
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return sha.HexDigest();
}

struct SetIdFile {
  std::string path;
  struct stat st;
  std::optional<std::string> sha256;
  std::string hash_error;  // why not hashed ("not hashed: ...")
  bool io_error = false;   // the reason is a failure (an error of the section), not a bound
};

class Names {
 public:
  explicit Names(const AccountDb& db) : db_(db) {}
  json User(uint32_t uid) const { return UserNameJson(db_.FindUserById(uid)); }
  json Group(uint32_t gid) const {
    const GroupEntry* g = db_.FindGroupById(gid);
    return g ? json(HostName(g->name)) : json(nullptr);
  }

 private:
  const AccountDb& db_;
};

json OwnerFields(json j, const struct stat& st, const Names& names) {
  j["uid"] = st.st_uid;
  j["owner"] = names.User(st.st_uid);
  j["gid"] = st.st_gid;
  j["group"] = names.Group(st.st_gid);
  return j;
}

// Heterogeneous lookup of string_view keys.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using PathSet = std::unordered_set<std::string, ViewHash, std::equal_to<>>;

}  // namespace

std::vector<std::string> MergedUsrDirs(const Fs& fs) {
  std::vector<std::string> out;
  for (const char* dir : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
    auto st = fs.Stat(std::string("/") + dir, /*follow=*/false);
    if (!st.ok() || st->type != FileType::kSymlink) continue;
    auto target = fs.ReadLink(std::string("/") + dir);
    if (!target.ok()) continue;
    std::string t = *target;
    while (t.size() > 1 && t.back() == '/') t.pop_back();
    if (t == std::string("usr/") + dir || t == std::string("/usr/") + dir) out.push_back(dir);
  }
  return out;
}

std::optional<std::string> MergedUsrAlias(std::string_view path,
                                          const std::vector<std::string>& merged_dirs) {
  for (const auto& dir : merged_dirs) {
    std::string top = "/" + dir;
    std::string usr = "/usr/" + dir;
    auto under = [&](const std::string& prefix) {
      return path.size() > prefix.size() && path.compare(0, prefix.size(), prefix) == 0 &&
             path[prefix.size()] == '/';
    };
    if (under(usr)) return top + std::string(path.substr(usr.size()));
    if (under(top)) return usr + std::string(path.substr(top.size()));
  }
  return std::nullopt;
}

namespace {

// dpkg-divert(1): /var/lib/dpkg/diversions holds three lines per diversion: from, to, package
// (":" = local). A missing file is no diversion; an unreadable one an error.
std::vector<Diversion> ReadDiversions(const Fs& fs, std::vector<SectionError>& errors) {
  std::vector<Diversion> diversions;
  auto div_text = fs.ReadFile(kDiversionsPath);
  if (div_text.ok()) {
    std::vector<std::string> lines;
    std::string_view text = div_text->data;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string_view::npos) end = text.size();
      lines.emplace_back(text.substr(pos, end - pos));
      pos = end + 1;
    }
    if (lines.size() % 3 != 0) {
      errors.push_back({std::string(kDiversionsPath), std::nullopt,
                        "line count is not a multiple of three; the last record is ignored"});
    }
    for (size_t i = 0; i + 2 < lines.size(); i += 3) {
      diversions.push_back({lines[i], lines[i + 1], lines[i + 2]});
    }
  } else if (div_text.status().code() != StatusCode::kNotFound) {
    errors.push_back({std::string(kDiversionsPath), std::nullopt,
                      "cannot read: " + div_text.status().message()});
  }
  return diversions;
}

// What to look up for one walked path, as dpkg -S would: the path itself and its merged-/usr
// alias (kPlain), or, for a diverted file, the name the package installed it under.
enum class Mode { kPlain, kDivertedTo, kDivertedFrom };
struct Query {
  Mode mode = Mode::kPlain;
  std::vector<std::string> names;
  const Diversion* diversion = nullptr;
};

Query PlanQuery(const std::string& path, const std::vector<std::string>& merged_usr,
                const std::vector<Diversion>& diversions) {
  auto find_div = [&](const std::string& name, bool as_to) -> const Diversion* {
    for (const auto& d : diversions) {
      if ((as_to ? d.to : d.from) == name) return &d;
    }
    return nullptr;
  };
  std::vector<std::string> names = {path};
  if (auto alias = MergedUsrAlias(path, merged_usr)) names.push_back(*alias);
  Query q;
  for (const auto& n : names) {
    if (const Diversion* d = find_div(n, /*as_to=*/true)) {
      q = {Mode::kDivertedTo, {d->from}, d};
      break;
    }
  }
  if (q.diversion == nullptr) {
    for (const auto& n : names) {
      if (const Diversion* d = find_div(n, /*as_to=*/false)) {
        q = {Mode::kDivertedFrom, {n}, d};
        break;
      }
    }
  }
  if (q.diversion == nullptr) q.names = names;
  return q;
}

// Calls take(line) for every line of `fd`, read in pieces of `buf` (a .list file may hold
// 100,000 paths: memory stays small); a line longer than 8 KiB (PATH_MAX twice) is cut.
// Returns errno of a failed read, else 0.
template <typename Take>
int ForEachListLine(int fd, std::vector<char>& buf, std::string& line, Take&& take) {
  line.clear();
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return errno;
    }
    if (n == 0) break;
    std::string_view piece(buf.data(), static_cast<size_t>(n));
    size_t pos = 0;
    while (pos < piece.size()) {
      size_t end = piece.find('\n', pos);
      if (end == std::string_view::npos) {
        if (line.size() < 8192) line.append(piece.substr(pos));
        break;
      }
      if (line.empty()) {
        take(piece.substr(pos, end - pos));
      } else {
        line.append(piece.substr(pos, end - pos));
        take(line);
        line.clear();
      }
      pos = end + 1;
    }
  }
  if (!line.empty()) take(line);
  return 0;
}

// Which packages list each wanted name: dpkg -S reads the same /var/lib/dpkg/info/*.list files.
// Unreadable lists become errors (the first kMaxDpkgErrors, then a count).
std::unordered_map<std::string, std::set<std::string>> FindListers(
    int info_fd, const std::vector<std::string>& lists, const PathSet& wanted,
    std::vector<SectionError>& errors_out) {
  std::unordered_map<std::string, std::set<std::string>> listers;
  size_t errors = 0;
  std::vector<char> buf(1 << 16);
  std::string line;
  for (const auto& file : lists) {
    constexpr std::string_view kSuffix = ".list";
    if (file.size() <= kSuffix.size() ||
        file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    std::string package = file.substr(0, file.size() - kSuffix.size());
    std::string path = JoinPath(kDpkgInfoDir, file);
    auto fail = [&](const std::string& why) {
      if (++errors <= kMaxDpkgErrors) {
        errors_out.push_back({path, std::nullopt, "cannot read: " + why});
      }
    };
    UniqueFd fd(
        ::openat(info_fd, file.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
    if (!fd.valid()) {
      fail(std::strerror(errno));
      continue;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      fail("not a regular file");
      continue;
    }
    int err = ForEachListLine(fd.get(), buf, line, [&](std::string_view l) {
      auto it = wanted.find(l);
      if (it != wanted.end()) listers[*it].insert(package);
    });
    if (err != 0) fail(std::strerror(err));
  }
  if (errors > kMaxDpkgErrors) {
    errors_out.push_back(
        {std::string(kDpkgInfoDir), std::nullopt,
         std::to_string(errors - kMaxDpkgErrors) + " more unreadable .list files not listed"});
  }
  return listers;
}

// The owners of one walked path from what the lists say and its diversion.
PackageOwnership OwnersOf(const std::string& path, const Query& q,
                          const std::unordered_map<std::string, std::set<std::string>>& listers) {
  PackageOwnership own;
  std::set<std::string> pkgs;
  switch (q.mode) {
    case Mode::kPlain:
      own.dpkg_path = path;
      for (const auto& n : q.names) {
        auto it = listers.find(n);
        if (it == listers.end()) continue;
        if (pkgs.empty()) own.dpkg_path = n;
        pkgs.insert(it->second.begin(), it->second.end());
      }
      break;
    case Mode::kDivertedTo: {
      own.dpkg_path = q.names[0];
      auto it = listers.find(q.names[0]);
      if (it != listers.end()) {
        for (const auto& p : it->second) {
          if (p != q.diversion->by) pkgs.insert(p);
        }
      }
      break;
    }
    case Mode::kDivertedFrom: {
      own.dpkg_path = q.names[0];
      auto it = listers.find(q.names[0]);
      if (q.diversion->by != ":" && it != listers.end() && it->second.count(q.diversion->by)) {
        pkgs.insert(q.diversion->by);
      }
      break;
    }
  }
  own.packages.assign(pkgs.begin(), pkgs.end());
  if (q.diversion) own.diversion = *q.diversion;
  return own;
}

}  // namespace

DpkgLookup LookUpPackages(const Fs& fs, const std::vector<std::string>& paths) {
  DpkgLookup out;
  auto lists = fs.ListDir(kDpkgInfoDir);
  if (!lists.ok()) {
    out.status = lists.status();
    return out;
  }
  out.merged_usr = MergedUsrDirs(fs);
  std::vector<Diversion> diversions = ReadDiversions(fs, out.errors);
  std::map<std::string, Query> queries;
  PathSet wanted;
  for (const auto& path : paths) {
    Query q = PlanQuery(path, out.merged_usr, diversions);
    for (const auto& n : q.names) wanted.insert(n);
    queries[path] = std::move(q);
  }
  auto info_fd = fs.OpenDirectoryFd(kDpkgInfoDir);
  if (!info_fd.ok()) {
    out.status = info_fd.status();
    return out;
  }
  UniqueFd info_closer(*info_fd);
  auto listers = FindListers(*info_fd, *lists, wanted, out.errors);
  for (const auto& [path, q] : queries) out.owners[path] = OwnersOf(path, q, listers);
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

// What the walk finds, sorted as it goes. Every list is bounded (agent/bounded_items.h); what
// only root can create (uid 0) is kept before what any user can, so a user's flood cannot hide
// root's SUID or world-writable files.
class Findings {
 public:
  Findings(const AccountDb& db, const SweepLimits& limits)
      : names_(db),
        check_users_(db.passwd_status.ok()),
        check_groups_(db.group_status.ok()),
        max_items_(limits.max_items),
        ww_files_(limits.max_items, limits.max_list_bytes),
        ww_dirs_(limits.max_items, limits.max_list_bytes),
        unowned_(limits.max_items, limits.max_list_bytes) {
    for (const auto& u : db.users) uids_.insert(u.uid);
    for (const auto& g : db.groups) gids_.insert(g.gid);
  }

  // Unowned means: not in the root's passwd/group (find -nouser/-nogroup ask NSS, which on a
  // files-only host reads the same files). Without a readable file that check is not made.
  bool check_users() const { return check_users_; }
  bool check_groups() const { return check_groups_; }
  const Names& names() const { return names_; }

  // The walk's visitor: sorts every entry into the lists. REQUIRES: this outlives the walk.
  WalkVisitor Visitor() {
    return [this](const WalkEntry& e) {
      const struct stat& st = e.st;
      const mode_t mode = st.st_mode;
      const bool by_root = st.st_uid == 0;
      if (S_ISREG(mode) && (mode & (S_ISUID | S_ISGID)) != 0) {
        ++setid_total_;
        SetIdBucket& b = by_root ? setid_root_ : setid_other_;
        if (b.files.size() < max_items_) b.files.push_back({e.path, st, std::nullopt, "", false});
      }
      if (!S_ISLNK(mode) && (mode & S_IWOTH) != 0) {
        bool is_dir = S_ISDIR(mode);
        if (!is_dir || (mode & S_ISVTX) == 0) {
          const std::string path = HostName(e.path);
          json j = {{"id", std::string(is_dir ? "sweep:world_writable_dir:"
                                              : "sweep:world_writable_file:") +
                               path}};
          SetHostName(j, "path", e.path);
          j["type"] = FileTypeName(FileTypeFromMode(mode));
          j["mode"] = ModeOctal(mode);
          j = OwnerFields(std::move(j), st, names_);
          (is_dir ? ww_dirs_ : ww_files_).Add(std::move(j), by_root);
        }
      }
      bool no_user = check_users_ && uids_.count(st.st_uid) == 0;
      bool no_group = check_groups_ && gids_.count(st.st_gid) == 0;
      if (no_user || no_group) {
        json j = {{"id", "sweep:unowned:" + HostName(e.path)}};
        SetHostName(j, "path", e.path);
        j["type"] = FileTypeName(FileTypeFromMode(mode));
        j["mode"] = ModeOctal(mode);
        j = OwnerFields(std::move(j), st, names_);
        j["no_user"] = no_user;
        j["no_group"] = no_group;
        unowned_.Add(std::move(j));
      }
    };
  }

  // The SUID/SGID files kept, root's first, at most max_items.
  std::vector<SetIdFile> TakeSetId() {
    std::vector<SetIdFile> setid = std::move(setid_root_.files);
    for (auto& f : setid_other_.files) {
      if (setid.size() >= max_items_) break;
      setid.push_back(std::move(f));
    }
    return setid;
  }
  uint64_t setid_total() const { return setid_total_; }
  BoundedItems& ww_files() { return ww_files_; }
  BoundedItems& ww_dirs() { return ww_dirs_; }
  BoundedItems& unowned() { return unowned_; }

 private:
  struct SetIdBucket {
    std::vector<SetIdFile> files;
  };
  Names names_;
  bool check_users_;
  bool check_groups_;
  size_t max_items_;
  std::unordered_set<uint32_t> uids_, gids_;
  SetIdBucket setid_root_, setid_other_;
  uint64_t setid_total_ = 0;
  BoundedItems ww_files_;
  BoundedItems ww_dirs_;
  BoundedItems unowned_;
};

// Hashes the SUID/SGID files within the per-file cap and the budgets. Returns how many were
// not hashed because a budget ran out.
size_t HashSetIdFiles(const Fs& fs, std::vector<SetIdFile>& setid, const SweepLimits& limits,
                      Clock::time_point deadline) {
  uint64_t hash_budget = limits.hash_budget_bytes;
  size_t budget_skipped = 0;
  for (SetIdFile& f : setid) {
    const auto size = static_cast<uint64_t>(f.st.st_size);
    if (size > limits.max_hash_bytes) {
      f.hash_error = "not hashed: larger than " + std::to_string(limits.max_hash_bytes) + " bytes";
      continue;
    }
    if (size > hash_budget) {
      f.hash_error = "not hashed: the sweep's hashing budget of " +
                     std::to_string(limits.hash_budget_bytes) + " bytes is used up";
      ++budget_skipped;
      continue;
    }
    if (Clock::now() >= deadline) {
      f.hash_error = "not hashed: the sweep's time budget ran out";
      ++budget_skipped;
      continue;
    }
    hash_budget -= size;
    // Opened again from its directory (no symlink in the way) and checked by device and inode.
    auto dir_fd = fs.OpenDirectoryFd(DirName(f.path));
    if (!dir_fd.ok()) {
      f.hash_error = "not hashed: cannot open its directory: " + dir_fd.status().message();
      f.io_error = true;
      continue;
    }
    UniqueFd dir_closer(*dir_fd);
    auto hash = HashAt(*dir_fd, BaseName(f.path).c_str(), f.st, limits.max_hash_bytes, deadline);
    if (hash.ok()) {
      f.sha256 = std::move(*hash);
    } else {
      f.hash_error = hash.status().message();
      f.io_error = hash.status().code() != StatusCode::kUnavailable &&
                   hash.status().code() != StatusCode::kTooLarge;
      if (!f.io_error) ++budget_skipped;
    }
  }
  return budget_skipped;
}

// One SUID/SGID file as an item, with its packages when dpkg's lists could be read.
json SetIdItem(const SetIdFile& f, const Names& names, const DpkgLookup& dpkg, bool dpkg_ok) {
  json j = {{"id", "sweep:setid:" + HostName(f.path)}};
  SetHostName(j, "path", f.path);
  j["mode"] = ModeOctal(f.st.st_mode);
  j["setuid"] = (f.st.st_mode & S_ISUID) != 0;
  j["setgid"] = (f.st.st_mode & S_ISGID) != 0;
  j = OwnerFields(std::move(j), f.st, names);
  j["size"] = static_cast<uint64_t>(f.st.st_size);
  j["mtime"] = static_cast<int64_t>(f.st.st_mtim.tv_sec);
  j["sha256"] = f.sha256 ? json(*f.sha256) : json(nullptr);
  j["not_hashed"] = f.sha256 ? json(nullptr) : json(f.hash_error);
  auto it = dpkg.owners.find(f.path);
  if (dpkg_ok && it != dpkg.owners.end()) {
    j["packages"] = it->second.packages;
    SetHostName(j, "dpkg_path", it->second.dpkg_path);
    if (it->second.diversion) {
      const Diversion& d = *it->second.diversion;
      json div = {{"by", d.by == ":" ? json(nullptr) : json(d.by)}, {"local", d.by == ":"}};
      SetHostName(div, "from", d.from);
      SetHostName(div, "to", d.to);
      j["diversion"] = std::move(div);
    } else {
      j["diversion"] = nullptr;
    }
  } else {
    j["packages"] = nullptr;
    j["dpkg_path"] = nullptr;
    j["diversion"] = nullptr;
  }
  return j;
}

// The walk's errors, the first ones by path, and where the time budget stopped it.
void ReportWalkErrors(const WalkResult& walk, const SweepLimits& limits, Section& out) {
  for (const auto& err : walk.errors) out.AddError(err.path, std::nullopt, err.message);
  if (walk.error_count > walk.errors.size()) {
    out.AddError(
        "", std::nullopt,
        std::to_string(walk.error_count - walk.errors.size()) + " more walk errors not listed");
  }
  if (walk.stopped) {
    out.AddError(walk.stopped_at, std::nullopt,
                 "sweep stopped: its time budget of " + std::to_string(limits.time_budget.count()) +
                     " ms ran out while reading this directory; what follows it in the walk was "
                     "not examined");
  }
}

// What was walked: roots, excluded and skipped subtrees, the walk's own bounds.
void WriteWalk(const WalkOptions& wo, const WalkResult& walk, Section& out) {
  json skipped = json::array();
  for (const auto& s : walk.skipped) {
    json j = {{"id", "sweep_skip:" + HostName(s.path)}};
    SetHostName(j, "path", s.path);
    j["reason"] = s.reason;
    j["fs_type"] = s.fs_type.empty() ? json(nullptr) : json(HostName(s.fs_type));
    skipped.push_back(std::move(j));
  }
  std::vector<std::string> roots, excludes;
  for (const auto& r : wo.roots) roots.push_back(HostName(NormalizePath(r)));
  for (const auto& x : wo.excludes) excludes.push_back(HostName(NormalizePath(x)));
  out.data["roots"] = roots;
  out.data["excludes"] = excludes;
  out.data["always_skipped"] = AlwaysSkippedPaths();
  out.data["max_depth"] = wo.max_depth;
  out.data["max_path_bytes"] = wo.max_path_bytes;
  out.data["mount_table"] = wo.use_mount_table;
  out.data["stopped_at"] = walk.stopped ? json(HostName(walk.stopped_at)) : json(nullptr);
  out.data["skipped"] = std::move(skipped);
  out.data["skipped_truncated"] = walk.skipped_count > walk.skipped.size();
}

// Sorts `setid` by path and looks up their packages (dpkg's lists, for these paths only);
// errors reading the lists go to `out` (no dpkg database at all is not an error).
DpkgLookup LookUpSetIdPackages(const Fs& fs, std::vector<SetIdFile>& setid, Section& out) {
  std::sort(setid.begin(), setid.end(),
            [](const SetIdFile& a, const SetIdFile& b) { return a.path < b.path; });
  std::vector<std::string> setid_paths;
  for (const auto& f : setid) setid_paths.push_back(f.path);
  DpkgLookup dpkg;
  if (!setid_paths.empty()) {
    dpkg = LookUpPackages(fs, setid_paths);
  } else {
    dpkg.merged_usr = MergedUsrDirs(fs);
  }
  if (!dpkg.status.ok() && dpkg.status.code() != StatusCode::kNotFound) {
    out.AddError(std::string(kDpkgInfoDir), std::nullopt,
                 "cannot read dpkg's file lists: " + dpkg.status.message());
  }
  for (const auto& e : dpkg.errors) out.AddError(e.path, e.line, e.message);
  return dpkg;
}

// The SUID/SGID items, bounded, with the files not kept counted; hashing errors go to `out`
// (at most kMaxHashErrors, then their count).
BoundedItems ListSetIdFiles(const std::vector<SetIdFile>& setid, const Findings& found,
                            const DpkgLookup& dpkg, const SweepLimits& limits, Section& out) {
  const bool dpkg_ok = dpkg.status.ok();
  BoundedItems setid_list(limits.max_items, limits.max_list_bytes);
  setid_list.CountMore(found.setid_total() - setid.size());
  size_t hash_errors = 0;
  for (const auto& f : setid) {
    if (f.io_error && ++hash_errors <= kMaxHashErrors) {
      out.AddError(f.path, std::nullopt, f.hash_error);
    }
    setid_list.Add(SetIdItem(f, found.names(), dpkg, dpkg_ok));
  }
  if (hash_errors > kMaxHashErrors) {
    out.AddError("", std::nullopt,
                 std::to_string(hash_errors - kMaxHashErrors) + " more hashing errors not listed");
  }
  return setid_list;
}

}  // namespace

void SweepReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  const AccountDb& db = ctx.accounts();
  const CollectOptions& opts = ctx.options();
  Findings found(db, limits_);
  if (!found.check_users()) {
    out.AddError(std::string(kPasswdPath), std::nullopt,
                 "cannot read the user list; files without an owning user are not reported: " +
                     db.passwd_status.message());
  }
  if (!found.check_groups()) {
    out.AddError(std::string(kGroupPath), std::nullopt,
                 "cannot read the group list; files without an owning group are not reported: " +
                     db.group_status.message());
  }

  // 1. One walk over the roots (agent/walk.h), within the time budget.
  const Clock::time_point deadline = Clock::now() + limits_.time_budget;
  WalkOptions wo;
  wo.roots = opts.sweep_roots;
  wo.excludes = opts.sweep_excludes;
  wo.use_mount_table = ctx.live();
  wo.deadline = deadline;
  WalkResult walk = Walk(fs, wo, found.Visitor());
  ReportWalkErrors(walk, limits_, out);

  // 2. The SUID/SGID files kept (root's first), hashed within the per-file cap and the budgets.
  std::vector<SetIdFile> setid = found.TakeSetId();
  if (size_t budget_skipped = HashSetIdFiles(fs, setid, limits_, deadline); budget_skipped > 0) {
    out.AddError("", std::nullopt,
                 std::to_string(budget_skipped) +
                     " SUID/SGID files not hashed: the sweep's hashing or time budget ran out");
  }

  // 3. Packages of the SUID/SGID files: one pass over dpkg's lists, for these paths only.
  DpkgLookup dpkg = LookUpSetIdPackages(fs, setid, out);
  const bool dpkg_ok = dpkg.status.ok();
  BoundedItems setid_list = ListSetIdFiles(setid, found, dpkg, limits_, out);

  // 4. The section: what was walked and skipped, the limits, the bounded lists.
  WriteWalk(wo, walk, out);
  out.data["unowned_checked"] = {{"user", found.check_users()}, {"group", found.check_groups()}};
  out.data["dpkg"] = {{"state", dpkg_ok                                       ? "present"
                                : dpkg.status.code() == StatusCode::kNotFound ? "absent"
                                                                              : "error"},
                      {"merged_usr", dpkg.merged_usr}};
  out.data["limits"] = {{"max_hash_bytes", limits_.max_hash_bytes},
                        {"hash_budget_bytes", limits_.hash_budget_bytes},
                        {"time_budget_ms", limits_.time_budget.count()},
                        {"max_items", limits_.max_items},
                        {"max_list_bytes", limits_.max_list_bytes}};

  ItemArray setid_items = setid_list.Take();
  ItemArray ww_file_items = found.ww_files().Take();
  ItemArray ww_dir_items = found.ww_dirs().Take();
  ItemArray unowned_items = found.unowned().Take();
  out.data["counts"] = {{"directories", walk.directories},
                        {"files", walk.files},
                        {"skipped", walk.skipped_count},
                        {"errors", walk.error_count},
                        {"depth_limited", walk.depth_limited},
                        {"path_limited", walk.path_limited},
                        {"setid_files", found.setid_total()},
                        {"world_writable_files", found.ww_files().total()},
                        {"world_writable_dirs", found.ww_dirs().total()},
                        {"unowned_files", found.unowned().total()}};
  setid_list.Report(out, "setid_files");
  found.ww_files().Report(out, "world_writable_files");
  found.ww_dirs().Report(out, "world_writable_dirs");
  found.unowned().Report(out, "unowned_files");
  if (walk.directories == 0 && walk.error_count > 0) out.status = SectionStatus::kError;
  out.items["setid_files"] = std::move(setid_items);
  out.items["world_writable_files"] = std::move(ww_file_items);
  out.items["world_writable_dirs"] = std::move(ww_dir_items);
  out.items["unowned_files"] = std::move(unowned_items);
  EscapeErrorNames(out);
}

}  // namespace tidemark::agent
