#include "agent/collectors/sweep.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "agent/file_meta.h"
#include "agent/walk.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kDpkgInfoDir = "/var/lib/dpkg/info";
constexpr std::string_view kDiversionsPath = "/var/lib/dpkg/diversions";
constexpr size_t kMaxDpkgErrors = 20;

// Streams the SHA-256 of the regular file `name` in `parent_fd`, which must still be the object
// `expected` describes. Never opens anything but a regular file: O_NOFOLLOW|O_NONBLOCK, then
// fstat checks type, device and inode before one byte is read.
StatusOr<std::string> HashAt(int parent_fd, const char* name, const struct stat& expected) {
  int fd = ::openat(parent_fd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return Status(
        err == EACCES || err == EPERM ? StatusCode::kPermissionDenied : StatusCode::kIoError,
        std::string("cannot open for hashing: ") + std::strerror(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status(StatusCode::kIoError, "fstat failed");
  if (!S_ISREG(st.st_mode) || st.st_dev != expected.st_dev || st.st_ino != expected.st_ino) {
    return Status(StatusCode::kIoError, "changed while walked (type/device/inode differ)");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status(StatusCode::kInternal, "SHA-256 unavailable");
  }
  static thread_local std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status(StatusCode::kIoError, std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    return Status(StatusCode::kInternal, "SHA-256 failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 15];
  }
  return hex;
}

struct SetIdFile {
  std::string path;
  struct stat st;
  std::optional<std::string> sha256;
  std::string hash_error;
};

class Names {
 public:
  explicit Names(const AccountDb& db) : db_(db) {}
  json User(uint32_t uid) const {
    const PasswdEntry* u = db_.FindUserById(uid);
    return u ? json(u->name) : json(nullptr);
  }
  json Group(uint32_t gid) const {
    const GroupEntry* g = db_.FindGroupById(gid);
    return g ? json(g->name) : json(nullptr);
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

DpkgLookup LookUpPackages(const Fs& fs, const std::vector<std::string>& paths) {
  DpkgLookup out;
  auto lists = fs.ListDir(kDpkgInfoDir);
  if (!lists.ok()) {
    out.status = lists.status();
    return out;
  }
  out.merged_usr = MergedUsrDirs(fs);

  // dpkg-divert(1); the file holds three lines per diversion: from, to, package (":" = local).
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
      out.errors.push_back({std::string(kDiversionsPath), std::nullopt,
                            "line count is not a multiple of three; the last record is ignored"});
    }
    for (size_t i = 0; i + 2 < lines.size(); i += 3) {
      diversions.push_back({lines[i], lines[i + 1], lines[i + 2]});
    }
  } else if (div_text.status().code() != StatusCode::kNotFound) {
    out.errors.push_back({std::string(kDiversionsPath), std::nullopt,
                          "cannot read: " + div_text.status().message()});
  }
  auto find_div = [&](const std::string& name, bool as_to) -> const Diversion* {
    for (const auto& d : diversions) {
      if ((as_to ? d.to : d.from) == name) return &d;
    }
    return nullptr;
  };

  enum class Mode { kPlain, kDivertedTo, kDivertedFrom };
  struct Query {
    Mode mode = Mode::kPlain;
    std::vector<std::string> names;
    const Diversion* diversion = nullptr;
  };
  std::map<std::string, Query> queries;
  PathSet wanted;
  for (const auto& path : paths) {
    std::vector<std::string> names = {path};
    if (auto alias = MergedUsrAlias(path, out.merged_usr)) names.push_back(*alias);
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
    for (const auto& n : q.names) wanted.insert(n);
    queries[path] = std::move(q);
  }

  // Which packages list each wanted name (dpkg -S reads the same .list files).
  std::unordered_map<std::string, std::set<std::string>> listers;
  // The lists are streamed in 64 KiB pieces (some hold 100,000 paths): memory stays small.
  size_t errors = 0;
  auto info_fd = fs.OpenDirectoryFd(kDpkgInfoDir);
  if (!info_fd.ok()) {
    out.status = info_fd.status();
    return out;
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } info_closer{*info_fd};
  std::vector<char> buf(1 << 16);
  std::string line;
  for (const auto& file : *lists) {
    constexpr std::string_view kSuffix = ".list";
    if (file.size() <= kSuffix.size() ||
        file.compare(file.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0) {
      continue;
    }
    std::string package = file.substr(0, file.size() - kSuffix.size());
    std::string path = JoinPath(kDpkgInfoDir, file);
    auto fail = [&](const std::string& why) {
      if (++errors <= kMaxDpkgErrors) {
        out.errors.push_back({path, std::nullopt, "cannot read: " + why});
      }
    };
    int fd =
        ::openat(*info_fd, file.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
      fail(std::strerror(errno));
      continue;
    }
    Closer closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      fail("not a regular file");
      continue;
    }
    line.clear();
    auto take = [&](std::string_view l) {
      auto it = wanted.find(l);
      if (it != wanted.end()) listers[*it].insert(package);
    };
    bool read_error = false;
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        fail(std::strerror(errno));
        read_error = true;
        break;
      }
      if (n == 0) break;
      std::string_view piece(buf.data(), static_cast<size_t>(n));
      size_t pos = 0;
      while (pos < piece.size()) {
        size_t end = piece.find('\n', pos);
        if (end == std::string_view::npos) {
          if (line.size() < 8192) line.append(piece.substr(pos));  // longer than PATH_MAX x2
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
    if (!read_error && !line.empty()) take(line);
  }
  if (errors > kMaxDpkgErrors) {
    out.errors.push_back(
        {std::string(kDpkgInfoDir), std::nullopt,
         std::to_string(errors - kMaxDpkgErrors) + " more unreadable .list files not listed"});
  }

  for (const auto& [path, q] : queries) {
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
    out.owners[path] = std::move(own);
  }
  return out;
}

void SweepCollector::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  const AccountDb& db = ctx.accounts();
  const CollectOptions& opts = ctx.options();
  Names names(db);

  // Unowned means: not in the root's passwd/group (find -nouser/-nogroup ask NSS, which on a
  // files-only host reads the same files). Without a readable file that check is not made.
  const bool check_users = db.passwd_status.ok();
  const bool check_groups = db.group_status.ok();
  std::unordered_set<uint32_t> uids, gids;
  for (const auto& u : db.users) uids.insert(u.uid);
  for (const auto& g : db.groups) gids.insert(g.gid);
  if (!check_users) {
    out.AddError(std::string(kPasswdPath), std::nullopt,
                 "cannot read the user list; files without an owning user are not reported: " +
                     db.passwd_status.message());
  }
  if (!check_groups) {
    out.AddError(std::string(kGroupPath), std::nullopt,
                 "cannot read the group list; files without an owning group are not reported: " +
                     db.group_status.message());
  }

  WalkOptions wo;
  wo.roots = opts.sweep_roots;
  wo.excludes = opts.sweep_excludes;
  wo.use_mount_table = ctx.live();

  std::vector<SetIdFile> setid;
  ItemArray ww_files, ww_dirs, unowned;
  WalkVisitor visit = [&](const WalkEntry& e) {
    const struct stat& st = e.st;
    const mode_t mode = st.st_mode;
    if (S_ISREG(mode) && (mode & (S_ISUID | S_ISGID)) != 0) {
      SetIdFile f{e.path, st, std::nullopt, ""};
      auto hash = HashAt(e.parent_fd, e.name, st);
      if (hash.ok()) {
        f.sha256 = std::move(*hash);
      } else {
        f.hash_error = hash.status().message();
      }
      setid.push_back(std::move(f));
    }
    if (!S_ISLNK(mode) && (mode & S_IWOTH) != 0) {
      bool is_dir = S_ISDIR(mode);
      if (!is_dir || (mode & S_ISVTX) == 0) {
        json j = {{"id", std::string(is_dir ? "sweep:world_writable_dir:"
                                            : "sweep:world_writable_file:") +
                             e.path},
                  {"path", e.path},
                  {"type", FileTypeName(FileTypeFromMode(mode))},
                  {"mode", ModeOctal(mode)}};
        j = OwnerFields(std::move(j), st, names);
        (is_dir ? ww_dirs : ww_files).push_back(j);
      }
    }
    bool no_user = check_users && uids.count(st.st_uid) == 0;
    bool no_group = check_groups && gids.count(st.st_gid) == 0;
    if (no_user || no_group) {
      json j = {{"id", "sweep:unowned:" + e.path},
                {"path", e.path},
                {"type", FileTypeName(FileTypeFromMode(mode))},
                {"mode", ModeOctal(mode)}};
      j = OwnerFields(std::move(j), st, names);
      j["no_user"] = no_user;
      j["no_group"] = no_group;
      unowned.push_back(j);
    }
  };
  WalkResult walk = Walk(fs, wo, visit);

  for (const auto& err : walk.errors) out.AddError(err.path, std::nullopt, err.message);
  if (walk.error_count > walk.errors.size()) {
    out.AddError(
        "", std::nullopt,
        std::to_string(walk.error_count - walk.errors.size()) + " more walk errors not listed");
  }

  // Packages of the SUID/SGID files: one pass over dpkg's lists, for these paths only.
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
  const bool dpkg_ok = dpkg.status.ok();
  if (!dpkg_ok && dpkg.status.code() != StatusCode::kNotFound) {
    out.AddError(std::string(kDpkgInfoDir), std::nullopt,
                 "cannot read dpkg's file lists: " + dpkg.status.message());
  }
  for (const auto& e : dpkg.errors) out.AddError(e.path, e.line, e.message);

  ItemArray setid_items;
  for (const auto& f : setid) {
    json j = {{"id", "sweep:setid:" + f.path},
              {"path", f.path},
              {"mode", ModeOctal(f.st.st_mode)},
              {"setuid", (f.st.st_mode & S_ISUID) != 0},
              {"setgid", (f.st.st_mode & S_ISGID) != 0}};
    j = OwnerFields(std::move(j), f.st, names);
    j["size"] = static_cast<uint64_t>(f.st.st_size);
    j["mtime"] = static_cast<int64_t>(f.st.st_mtim.tv_sec);
    j["sha256"] = f.sha256 ? json(*f.sha256) : json(nullptr);
    if (!f.sha256) out.AddError(f.path, std::nullopt, f.hash_error);
    auto it = dpkg.owners.find(f.path);
    if (dpkg_ok && it != dpkg.owners.end()) {
      j["packages"] = it->second.packages;
      j["dpkg_path"] = it->second.dpkg_path;
      if (it->second.diversion) {
        const Diversion& d = *it->second.diversion;
        j["diversion"] = {{"from", d.from},
                          {"to", d.to},
                          {"by", d.by == ":" ? json(nullptr) : json(d.by)},
                          {"local", d.by == ":"}};
      } else {
        j["diversion"] = nullptr;
      }
    } else {
      j["packages"] = nullptr;
      j["dpkg_path"] = nullptr;
      j["diversion"] = nullptr;
    }
    setid_items.push_back(j);
  }

  json skipped = json::array();
  for (const auto& s : walk.skipped) {
    skipped.push_back({{"id", "sweep_skip:" + s.path},
                       {"path", s.path},
                       {"reason", s.reason},
                       {"fs_type", s.fs_type.empty() ? json(nullptr) : json(s.fs_type)}});
  }
  std::vector<std::string> roots, excludes;
  for (const auto& r : wo.roots) roots.push_back(NormalizePath(r));
  for (const auto& x : wo.excludes) excludes.push_back(NormalizePath(x));
  out.data["roots"] = roots;
  out.data["excludes"] = excludes;
  out.data["always_skipped"] = AlwaysSkippedPaths();
  out.data["max_depth"] = wo.max_depth;
  out.data["mount_table"] = wo.use_mount_table;
  out.data["unowned_checked"] = {{"user", check_users}, {"group", check_groups}};
  out.data["dpkg"] = {{"state", dpkg_ok                                       ? "present"
                                : dpkg.status.code() == StatusCode::kNotFound ? "absent"
                                                                              : "error"},
                      {"merged_usr", dpkg.merged_usr}};
  out.data["counts"] = {
      {"directories", walk.directories},         {"files", walk.files},
      {"skipped", walk.skipped_count},           {"errors", walk.error_count},
      {"depth_limited", walk.depth_limited},     {"setid_files", setid_items.size()},
      {"world_writable_files", ww_files.size()}, {"world_writable_dirs", ww_dirs.size()},
      {"unowned_files", unowned.size()}};
  out.data["skipped"] = std::move(skipped);
  out.data["skipped_truncated"] = walk.skipped_count > walk.skipped.size();
  if (walk.directories == 0 && walk.error_count > 0) out.status = SectionStatus::kError;
  out.items["setid_files"] = std::move(setid_items);
  out.items["world_writable_files"] = std::move(ww_files);
  out.items["world_writable_dirs"] = std::move(ww_dirs);
  out.items["unowned_files"] = std::move(unowned);
}

}  // namespace tidemark::agent
