#include "agent/systemd_units.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "agent/conf_files.h"

namespace tidemark::agent {
namespace {

using unit_file::ClassifyName;
using unit_file::NameKind;

constexpr size_t kMaxUnitFile = 4u << 20;
constexpr size_t kMaxDirEntries = 1u << 16;
constexpr size_t kMaxMemoBytes = 4u << 20;  // unit text kept parsed for the whole collection
constexpr int kFollowMax = 64;              // UNIT_FILE_FOLLOW_SYMLINK_MAX

bool StartsWithDir(std::string_view path, std::string_view dir) {
  if (dir == "/") return true;
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

bool IsRuntimeDir(std::string_view dir) { return dir == "/run" || StartsWithDir(dir, "/run"); }

Status ErrnoError(int err, const std::string& path, const char* what) {
  std::string msg = path + ": " + what + ": " + std::strerror(err);
  switch (err) {
    case ENOENT:
      return {StatusCode::kNotFound, path + ": no such file or directory"};
    case EACCES:
    case EPERM:
      return {StatusCode::kPermissionDenied, msg};
    case ELOOP:
      return {StatusCode::kLoop, msg};
    case ENOTDIR:
    case EISDIR:
      return {StatusCode::kWrongType, msg};
    default:
      return {StatusCode::kIoError, msg};
  }
}

std::optional<FileType> TypeOfDirent(unsigned char d_type) {
  switch (d_type) {
    case DT_REG:
      return FileType::kRegular;
    case DT_DIR:
      return FileType::kDirectory;
    case DT_LNK:
      return FileType::kSymlink;
    case DT_FIFO:
      return FileType::kFifo;
    case DT_SOCK:
      return FileType::kSocket;
    case DT_CHR:
      return FileType::kCharDevice;
    case DT_BLK:
      return FileType::kBlockDevice;
    default:
      return std::nullopt;
  }
}

// An error that ends a lookup, like a negative errno in install.c.
struct Failure {
  enum Kind { kNone, kNotFound, kSkip, kFatal } kind = kNone;
  std::string message;
};

}  // namespace

const std::vector<std::string>& SystemUnitSearchPath() {
  static const std::vector<std::string> kPath = {
      "/etc/systemd/system.control", "/run/systemd/system.control",
      "/run/systemd/transient",      "/run/systemd/generator.early",
      "/etc/systemd/system",         "/etc/systemd/system.attached",
      "/run/systemd/system",         "/run/systemd/system.attached",
      "/run/systemd/generator",      "/usr/local/lib/systemd/system",
      "/lib/systemd/system",         "/usr/lib/systemd/system",
      "/run/systemd/generator.late"};
  return kPath;
}

struct UnitLookup::Impl {
  struct Link {
    std::string name;
    std::string dest;                    // absolute, in-root
    std::string dest_base;               // BaseName(dest)
    NameKind kind = NameKind::kInvalid;  // of name
    std::string template_of;             // TemplateOf(name) for an instance
  };
  // A unit file read and parsed once per collection (aliases, instances and several lookups
  // share files).
  struct LoadedFile {
    std::string path;
    Status status;  // of the read
    bool empty = false;
    unit_file::Parsed parsed;
  };
  struct DirIndex {
    std::string path;
    std::vector<Link> top_links;
    std::vector<std::pair<std::string, std::vector<Link>>> wants;  // .wants/.requires dirs
    std::vector<std::string> unit_names;                           // regular files and links
  };

  const Fs& fs;
  std::vector<std::string> search;
  std::vector<DirIndex> index;
  std::vector<SectionError> errors;
  std::set<std::pair<std::string, std::string>> reported;
  // Per lookup (systemd builds a fresh InstallContext per is-enabled).
  std::map<std::string, std::unique_ptr<UnitInfo>> ctx;
  // Answers of the Fs, memoized for the whole collection: a host has hundreds of units whose
  // lookups probe the same directories and files again and again.
  std::unordered_map<std::string, StatusOr<FileInfo>> stat_memo[2];  // [follow]
  std::unordered_map<std::string, StatusOr<std::string>> link_memo;
  std::unordered_map<std::string, StatusOr<std::vector<std::string>>> list_memo;
  std::unordered_map<std::string, LoadedFile> file_memo;
  size_t memo_bytes = 0;
  std::deque<LoadedFile> lookup_files;  // parsed for the current lookup only
  // Search and .wants directories opened once (Fs::OpenDirectoryFd, then only single names with
  // O_NOFOLLOW): listing them with d_type and reading their links and files by name costs one
  // system call each instead of an in-root path resolution per probe.
  std::unordered_map<std::string, DIR*> dirs_open;
  std::unordered_map<std::string, FileType> type_memo;
  std::unordered_set<std::string> typed_dirs;  // directories whose entries are all in type_memo  //
                                               // lstat types learnt from those listings

  ~Impl() {
    for (auto& [path, d] : dirs_open) ::closedir(d);
  }

  int DirFd(const std::string& dir) const {
    auto it = dirs_open.find(dir);
    return it == dirs_open.end() ? -1 : ::dirfd(it->second);
  }

  // The in-root path of `dir` with its symlinks resolved component by component (Debian's /lib
  // is a link to usr/lib), or "" when that fails; the caller checks it against Stat(dir, true).
  std::string Canonical(const std::string& dir) {
    std::string todo = NormalizePath(dir);
    for (int hops = 0; hops < 40; ++hops) {
      std::string cur = "/";
      size_t pos = 1;
      bool restarted = false;
      while (pos < todo.size()) {
        size_t next = todo.find('/', pos);
        if (next == std::string::npos) next = todo.size();
        std::string p = JoinPath(cur, todo.substr(pos, next - pos));
        auto st = fs.Stat(p, false);
        if (!st.ok()) return "";
        if (st->type == FileType::kSymlink) {
          auto t = fs.ReadLink(p);
          if (!t.ok()) return "";
          std::string dest = (!t->empty() && t->front() == '/') ? *t : JoinPath(cur, *t);
          todo = NormalizePath(dest + todo.substr(next));
          restarted = true;
          break;
        }
        cur = p;
        pos = next + 1;
      }
      if (!restarted) return cur;
    }
    return "";
  }

  // Opens the search directory `dir` for name-by-name access when the Fs allows it.
  void OpenSearchDir(const std::string& dir, const FileInfo& st) {
    std::string canonical = Canonical(dir);
    if (canonical.empty()) return;
    auto fd = fs.OpenDirectoryFd(canonical);
    if (!fd.ok()) return;
    struct stat check {};
    if (::fstat(*fd, &check) != 0 || check.st_dev != st.dev || check.st_ino != st.ino) {
      ::close(*fd);
      return;
    }
    if (DIR* d = ::fdopendir(*fd)) {
      dirs_open[dir] = d;
    } else {
      ::close(*fd);
    }
  }

  // Opens `name` inside the open directory `parent` (a real directory, never a symlink).
  void OpenSubdir(const std::string& parent, const std::string& name) {
    int pfd = DirFd(parent);
    if (pfd < 0) return;
    int fd = ::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    if (DIR* d = ::fdopendir(fd)) {
      dirs_open[JoinPath(parent, name)] = d;
    } else {
      ::close(fd);
    }
  }

  // Lists `dir` into list_memo, with the entry types into type_memo when it is open.
  const StatusOr<std::vector<std::string>>& ListTyped(const std::string& dir) {
    auto found = list_memo.find(dir);
    if (found != list_memo.end()) return found->second;
    auto it = dirs_open.find(dir);
    if (it == dirs_open.end()) return ListDirC(dir);
    DIR* d = it->second;
    int fd = ::dirfd(d);
    std::vector<std::string> names;
    ::rewinddir(d);
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n(e->d_name);
      if (n == "." || n == "..") continue;
      if (names.size() >= kMaxDirEntries) {
        return list_memo
            .emplace(dir,
                     Status(StatusCode::kTooLarge,
                            dir + ": more than " + std::to_string(kMaxDirEntries) + " entries"))
            .first->second;
      }
      names.emplace_back(n);
      std::optional<FileType> type = TypeOfDirent(e->d_type);
      if (!type) {
        struct stat st {};
        if (::fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = FileTypeFromMode(st.st_mode);
      }
      type_memo[JoinPath(dir, n)] = *type;
    }
    if (errno != 0) return list_memo.emplace(dir, ErrnoError(errno, dir, "readdir")).first->second;
    std::sort(names.begin(), names.end());
    typed_dirs.insert(dir);
    return list_memo.emplace(dir, std::move(names)).first->second;
  }

  // lstat(2)'s file type of `path`.
  StatusOr<FileType> LType(const std::string& path) {
    auto it = type_memo.find(path);
    if (it != type_memo.end()) return it->second;
    if (typed_dirs.count(DirName(path))) return Status(StatusCode::kNotFound, "");
    const auto& st = StatC(path, false);
    if (!st.ok()) return st.status();
    return st->type;
  }

  // True when `path` is known not to exist: its directory was listed and the name is not there.
  bool KnownAbsent(const std::string& path) {
    auto it = list_memo.find(DirName(path));
    if (it == list_memo.end() || !it->second.ok()) return false;
    const auto& names = *it->second;
    return !std::binary_search(names.begin(), names.end(), BaseName(path));
  }
  static Status NotFound(const std::string& path) {
    return Status(StatusCode::kNotFound, path + ": No such file or directory");
  }
  const StatusOr<FileInfo>& StatC(const std::string& path, bool follow) {
    auto& memo = stat_memo[follow ? 1 : 0];
    auto it = memo.find(path);
    if (it != memo.end()) return it->second;
    StatusOr<FileInfo> r =
        KnownAbsent(path) ? StatusOr<FileInfo>(NotFound(path)) : fs.Stat(path, follow);
    return memo.emplace(path, std::move(r)).first->second;
  }
  const StatusOr<std::string>& ReadLinkC(const std::string& path) {
    auto it = link_memo.find(path);
    if (it != link_memo.end()) return it->second;
    if (KnownAbsent(path)) return link_memo.emplace(path, NotFound(path)).first->second;
    int fd = DirFd(DirName(path));
    if (fd < 0) return link_memo.emplace(path, fs.ReadLink(path)).first->second;
    std::string buf(4096, '\0');
    ssize_t n = ::readlinkat(fd, BaseName(path).c_str(), buf.data(), buf.size());
    if (n < 0) {
      Status err = errno == EINVAL ? Status(StatusCode::kWrongType, path + ": is not a symlink")
                                   : ErrnoError(errno, path, "readlink");
      return link_memo.emplace(path, std::move(err)).first->second;
    }
    buf.resize(static_cast<size_t>(n));
    return link_memo.emplace(path, std::move(buf)).first->second;
  }
  const StatusOr<std::vector<std::string>>& ListDirC(const std::string& path) {
    auto it = list_memo.find(path);
    if (it != list_memo.end()) return it->second;
    StatusOr<std::vector<std::string>> r =
        KnownAbsent(path) ? StatusOr<std::vector<std::string>>(NotFound(path)) : fs.ListDir(path);
    return list_memo.emplace(path, std::move(r)).first->second;
  }
  // Reads a unit file: by name in its open directory (O_NOFOLLOW: only called for what lstat saw
  // as a regular file), else through the Fs. FIFOs and devices fail without blocking.
  StatusOr<std::string> ReadUnitFile(const std::string& path) {
    int dfd = DirFd(DirName(path));
    if (dfd < 0) {
      ReadOptions opts;
      opts.max_bytes = kMaxUnitFile;
      auto content = fs.ReadFile(path, opts);
      if (!content.ok()) return content.status();
      return std::move(content->data);
    }
    int fd = ::openat(dfd, BaseName(path).c_str(),
                      O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ELOOP) {  // replaced by a symlink meanwhile: let the Fs resolve it
        ReadOptions opts;
        opts.max_bytes = kMaxUnitFile;
        auto content = fs.ReadFile(path, opts);
        if (!content.ok()) return content.status();
        return std::move(content->data);
      }
      return ErrnoError(errno, path, "open");
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      Status err = ErrnoError(errno, path, "fstat");
      ::close(fd);
      return err;
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      return Status(StatusCode::kWrongType,
                    path + ": is a " + std::string(FileTypeName(FileTypeFromMode(st.st_mode))) +
                        ", not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxUnitFile) {
      ::close(fd);
      return Status(StatusCode::kTooLarge, path + ": " + std::to_string(st.st_size) +
                                               " bytes, over the limit of " +
                                               std::to_string(kMaxUnitFile));
    }
    // One byte more than the size: a read that does not fill the buffer is the end of a regular
    // file, so a file that did not change needs a single read(2).
    std::string data(static_cast<size_t>(st.st_size) + 1, '\0');
    size_t used = 0;
    for (;;) {
      if (used == data.size()) {
        if (used > kMaxUnitFile) break;
        data.resize(std::min(used * 2, kMaxUnitFile + 1));
      }
      size_t want = data.size() - used;
      ssize_t n = ::read(fd, data.data() + used, want);
      if (n < 0) {
        if (errno == EINTR) continue;
        Status err = ErrnoError(errno, path, "read");
        ::close(fd);
        return err;
      }
      used += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < want) break;
    }
    ::close(fd);
    if (used > kMaxUnitFile) {
      return Status(StatusCode::kTooLarge,
                    path + ": over the limit of " + std::to_string(kMaxUnitFile) + " bytes");
    }
    data.resize(used);
    return data;
  }

  const LoadedFile& LoadC(const std::string& path) {
    auto it = file_memo.find(path);
    if (it != file_memo.end()) return it->second;
    LoadedFile f;
    f.path = path;
    StatusOr<std::string> content = ReadUnitFile(path);
    if (!content.ok()) {
      f.status = content.status();
    } else if (content->empty()) {
      f.empty = true;
    } else {
      f.parsed = unit_file::Parse(*content, path, errors);
    }
    // Memory stays bounded: beyond kMaxMemoBytes of unit text in total, files are kept only for
    // the current lookup (read again when another unit needs them).
    size_t bytes = content.ok() ? content->size() : 0;
    if (memo_bytes + bytes > kMaxMemoBytes) {
      lookup_files.push_back(std::move(f));
      return lookup_files.back();
    }
    memo_bytes += bytes;
    return file_memo.emplace(path, std::move(f)).first->second;
  }

  explicit Impl(const Fs& f) : fs(f) {
    std::set<std::pair<uint64_t, uint64_t>> seen;
    for (const auto& dir : SystemUnitSearchPath()) {
      const auto& st = StatC(dir, true);
      if (!st.ok()) {
        if (st.status().code() != StatusCode::kNotFound &&
            st.status().code() != StatusCode::kWrongType) {
          Report(dir, st.status().message());
        }
        continue;
      }
      if (st->type != FileType::kDirectory) continue;
      if (!seen.insert({st->dev, st->ino}).second) continue;  // lookup_paths_reduce
      search.push_back(dir);
      OpenSearchDir(dir, *st);
      index.push_back(IndexDir(dir));
    }
  }

  void Report(const std::string& path, const std::string& message) {
    if (reported.insert({path, message}).second) errors.push_back({path, std::nullopt, message});
  }

  std::vector<Link> Links(const std::string& dir, std::vector<std::string>* unit_names) {
    std::vector<Link> links;
    const auto& names = ListTyped(dir);
    if (!names.ok()) {
      Report(dir, names.status().message());
      return links;
    }
    for (const auto& n : *names) {
      std::string p = JoinPath(dir, n);
      auto type = LType(p);
      if (!type.ok()) continue;
      if (unit_names && ClassifyName(n) != NameKind::kInvalid &&
          (*type == FileType::kRegular || *type == FileType::kSymlink)) {
        unit_names->push_back(n);
      }
      if (*type != FileType::kSymlink) continue;
      const auto& target = ReadLinkC(p);
      if (!target.ok()) continue;
      std::string dest = *target;
      if (dest.empty() || dest.front() != '/') dest = JoinPath(dir, dest);
      Link l;
      l.name = n;
      l.dest = NormalizePath(dest);
      l.dest_base = BaseName(l.dest);
      l.kind = ClassifyName(n);
      if (l.kind == NameKind::kInstance) l.template_of = unit_file::TemplateOf(n);
      links.push_back(std::move(l));
    }
    return links;
  }

  DirIndex IndexDir(const std::string& dir) {
    DirIndex d;
    d.path = dir;
    d.top_links = Links(dir, &d.unit_names);
    const auto& names = ListDirC(dir);
    if (!names.ok()) return d;
    for (const auto& n : *names) {
      size_t dot = n.rfind('.');
      if (dot == std::string::npos) continue;
      std::string_view suffix = std::string_view(n).substr(dot);
      if (suffix != ".wants" && suffix != ".requires") continue;
      std::string p = JoinPath(dir, n);
      auto type = LType(p);  // DT_DIR: a symlink to a directory does not count
      if (!type.ok() || *type != FileType::kDirectory) continue;
      OpenSubdir(dir, n);
      d.wants.emplace_back(p, Links(p, nullptr));
    }
    return d;
  }

  UnitInfo* Add(const std::string& name) {
    auto& slot = ctx[name];
    if (!slot) {
      slot = std::make_unique<UnitInfo>();
      slot->name = name;
    }
    return slot.get();
  }

  // [Install] of a parsed file into `info` (install.c unit_file_load items[]).
  void ApplyInstall(UnitInfo& info, const unit_file::Parsed& parsed, const std::string& file) {
    std::string type = unit_file::TypeOf(info.name);
    bool may_alias = type == "service" || type == "socket" || type == "target" ||
                     type == "device" || type == "timer" || type == "path";
    for (const auto& a : parsed.assignments) {
      info.settings.push_back({&a, &file});
      if (a.section != "Install") continue;
      std::vector<std::string>* list = nullptr;
      if (a.key == "Alias") {
        if (!may_alias) continue;
        list = &info.aliases;
      } else if (a.key == "WantedBy") {
        list = &info.wanted_by;
      } else if (a.key == "RequiredBy") {
        list = &info.required_by;
      } else if (a.key == "Also") {
        list = &info.also;
      } else if (a.key == "DefaultInstance") {
        if (ClassifyName(info.name) == NameKind::kTemplate) {
          info.default_instance =
              a.value.empty() ? std::nullopt : std::optional<std::string>(a.value);
        }
        continue;
      } else {
        continue;
      }
      if (a.value.empty()) {
        list->clear();  // an empty assignment resets the list
        continue;
      }
      for (auto& w : unit_file::SplitWords(a.value)) list->push_back(std::move(w));
    }
  }

  // Loads a regular file's content into `info`. Returns a failure for unreadable files.
  // An empty file masks (null_or_empty()); that is seen from what is read.
  Failure LoadRegular(UnitInfo& info, const std::string& path, bool dropin) {
    const LoadedFile& file = LoadC(path);
    if (!file.status.ok()) {
      Report(path, file.status.message());
      if (file.status.code() == StatusCode::kPermissionDenied && !dropin) {
        return {Failure::kSkip, file.status.message()};
      }
      return {Failure::kFatal, file.status.message()};
    }
    if (file.empty) {
      if (!dropin) info.type = UnitInfo::Type::kMasked;
      return {};
    }
    const unit_file::Parsed& parsed = file.parsed;
    if (parsed.fatal) return {Failure::kFatal, "line too long"};
    ApplyInstall(info, parsed, file.path);
    if (!dropin) info.type = UnitInfo::Type::kRegular;
    return {};
  }

  // unit_file_load_or_readlink() for a main unit file.
  Failure LoadOrReadlink(UnitInfo& info, const std::string& path) {
    auto type = LType(path);
    if (!type.ok()) {
      StatusCode c = type.status().code();
      if (c == StatusCode::kNotFound) return {Failure::kNotFound, "No such file or directory"};
      if (c == StatusCode::kPermissionDenied || c == StatusCode::kWrongType) {
        return {Failure::kSkip, type.status().message()};  // EACCES, ENOTDIR
      }
      Report(path, type.status().message());
      return {Failure::kFatal, type.status().message()};
    }
    switch (*type) {
      case FileType::kRegular:
        return LoadRegular(info, path, false);
      case FileType::kCharDevice:
        info.type = UnitInfo::Type::kMasked;
        return {};
      case FileType::kSymlink:
        return ResolveSymlink(info, path);
      default:
        Report(path, "unit file is a " + std::string(FileTypeName(*type)) + ", not a regular file");
        return {Failure::kFatal,
                *type == FileType::kDirectory ? "Is a directory" : "not a regular file"};
    }
  }

  // unit_file_resolve_symlink(resolve_destination_target=true) plus the mask check.
  Failure ResolveSymlink(UnitInfo& info, const std::string& path) {
    const auto& target = ReadLinkC(path);
    if (!target.ok()) {
      Report(path, target.status().message());
      return {Failure::kFatal, target.status().message()};
    }
    std::string dest = *target;
    if (dest.empty() || dest.front() != '/') dest = JoinPath(DirName(path), dest);
    dest = NormalizePath(dest);
    std::string filename = BaseName(path);
    for (const auto& dir : SystemUnitSearchPath()) {
      if (!StartsWithDir(dest, dir)) continue;
      std::string rest = dest.substr(dir.size() + 1);
      if (rest.find('/') != std::string::npos) {
        return {Failure::kFatal, "Invalid cross-device link"};  // suspicious symlink: EXDEV
      }
      // unit_validate_alias_symlink_or_warn(): the same unit type; plain to plain, template to
      // template, an instance to its own instance or to a template (instance propagation).
      NameKind src = ClassifyName(filename), dst = ClassifyName(rest);
      bool kinds_ok = (src == NameKind::kPlain && dst == NameKind::kPlain) ||
                      (src == NameKind::kTemplate && dst == NameKind::kTemplate) ||
                      (src == NameKind::kInstance && dst == NameKind::kTemplate) ||
                      (src == NameKind::kInstance && dst == NameKind::kInstance &&
                       unit_file::InstanceOf(filename) == unit_file::InstanceOf(rest));
      if (dst == NameKind::kInvalid || unit_file::TypeOf(filename) != unit_file::TypeOf(rest) ||
          !kinds_ok) {
        return {Failure::kFatal, "Invalid cross-device link"};
      }
      break;
    }
    info.symlink_target = dest;
    bool masked = dest == "/dev/null";
    if (!masked) {
      const auto& st = StatC(dest, true);
      if (st.ok()) {
        masked =
            st->type == FileType::kCharDevice || (st->type == FileType::kRegular && st->size == 0);
      } else if (st.status().code() != StatusCode::kNotFound) {
        if (st.status().code() == StatusCode::kLoop) {
          return {Failure::kFatal, "Too many levels of symbolic links"};
        }
      }
    }
    info.type = masked ? UnitInfo::Type::kMasked : UnitInfo::Type::kSymlink;
    return {};
  }

  // conf_files_list_strv(".conf", dirs): one file per name, the first directory wins.
  Failure LoadDropins(UnitInfo& info, const std::string& template_name) {
    std::vector<std::string> dirs;
    for (const std::string* unit : {&std::as_const(info.name), &template_name}) {
      if (unit->empty()) continue;
      std::string dname = *unit + ".d";
      for (const auto& d : search) {
        // Most units have no drop-in directory: the search directory's listing says so.
        if (typed_dirs.count(d) && !type_memo.count(JoinPath(d, dname))) continue;
        dirs.push_back(JoinPath(d, dname));
      }
    }
    ConfFilesList<std::string> files(".conf");  // name -> path
    for (const auto& dir : dirs) {
      const auto& names = ListDirC(dir);
      if (!names.ok()) {
        StatusCode c = names.status().code();
        if (c != StatusCode::kNotFound && c != StatusCode::kWrongType) {
          Report(dir, names.status().message());
        }
        continue;
      }
      for (const auto& n : *names) {
        if (files.Considers(n)) files.Add(n, JoinPath(dir, n));
      }
    }
    for (const auto& [name, path] : files.claimed()) {
      const auto& st = StatC(path, true);
      if (!st.ok()) {
        if (st.status().code() == StatusCode::kNotFound) continue;
        Report(path, st.status().message());
        return {Failure::kFatal, st.status().message()};
      }
      if (st->type == FileType::kCharDevice) continue;  // masked drop-in
      if (st->type != FileType::kRegular) {
        Report(path, "drop-in is a " + std::string(FileTypeName(st->type)));
        continue;  // conf_files_list skips what is not a regular file
      }
      info.dropins.push_back(path);
      Failure f = LoadRegular(info, path, true);
      if (f.kind != Failure::kNone) return {Failure::kFatal, f.message};
    }
    return {};
  }

  // unit_file_search().
  Failure Search(UnitInfo& info) {
    if (info.type != UnitInfo::Type::kUnknown) return {};
    if (!info.path.empty()) return LoadOrReadlink(info, info.path);
    std::string template_name;
    if (ClassifyName(info.name) == NameKind::kInstance) {
      template_name = unit_file::TemplateOf(info.name);
    }
    bool found = false;
    for (const std::string* candidate : {&info.name, &template_name}) {
      if (found || candidate->empty()) continue;
      for (const auto& dir : search) {
        std::string path = JoinPath(dir, *candidate);
        Failure f = LoadOrReadlink(info, path);
        if (f.kind == Failure::kNone) {
          info.path = path;
          found = true;
          break;
        }
        if (f.kind == Failure::kFatal) {
          info.path = path;  // where it failed, for the error
          return f;
        }
      }
    }
    if (!found) return {Failure::kNotFound, "No such file or directory"};
    if (info.type == UnitInfo::Type::kMasked) return {};
    return LoadDropins(info, template_name);
  }

  // install_info_traverse() with SEARCH_FOLLOW_CONFIG_SYMLINKS.
  Failure Traverse(UnitInfo* start, UnitInfo** ret) {
    Failure f = Search(*start);
    if (f.kind != Failure::kNone) return f;
    UnitInfo* i = start;
    int k = 0;
    while (i->type == UnitInfo::Type::kSymlink) {
      if (++k > kFollowMax) return {Failure::kFatal, "Too many levels of symbolic links"};
      std::string bn = BaseName(i->symlink_target);
      if (bn == i->name) {
        i->path = i->symlink_target;
        i->type = UnitInfo::Type::kUnknown;
        f = LoadOrReadlink(*i, i->path);  // install_info_follow(): no drop-in search here
        if (f.kind != Failure::kNone) return f;
        continue;
      }
      if (ClassifyName(i->name) == NameKind::kInstance && ClassifyName(bn) == NameKind::kTemplate) {
        std::string buffer = unit_file::ReplaceInstance(bn, unit_file::InstanceOf(i->name));
        if (buffer == i->name) {
          i->path = i->symlink_target;
          i->type = UnitInfo::Type::kUnknown;
          f = LoadOrReadlink(*i, i->path);
          if (f.kind != Failure::kNone) return f;
          continue;
        }
        bn = buffer;
      }
      i = Add(bn);
      f = Search(*i);
      if (f.kind == Failure::kNotFound) return {Failure::kFatal, "Link has been severed"};
      if (f.kind != Failure::kNone) return f;
    }
    *ret = i;
    return {};
  }

  static bool KnownName(const UnitInfo& i, const std::string& name) {
    if (name == i.name) return true;
    if (std::find(i.aliases.begin(), i.aliases.end(), name) != i.aliases.end()) return true;
    if (i.default_instance && ClassifyName(i.name) == NameKind::kTemplate &&
        name == unit_file::ReplaceInstance(i.name, *i.default_instance)) {
      return true;
    }
    return false;
  }

  // find_symlinks_in_directory(): 1 found, 0 not. In .wants/.requires directories
  // (ignore_destination) only the link's name counts: the unit's own name, or an instance of it
  // when it is a template; elsewhere also the link's target.
  static bool InDirectory(const std::vector<Link>& links, const std::string& dir_path,
                          const UnitInfo& info, bool ignore_destination, bool match_aliases,
                          bool ignore_same_name, const std::string& config_path,
                          bool& same_name_link) {
    for (const auto& l : links) {
      bool found_dest = !ignore_destination && l.dest_base == info.name;
      bool found_path = (ignore_destination || !ignore_same_name) && l.name == info.name;
      if (!found_path && ignore_destination && l.kind == NameKind::kInstance) {
        found_dest = l.template_of == info.name;
      }
      bool b = found_path && found_dest && dir_path == config_path;
      if (b) {
        same_name_link = true;
      } else if (found_path || found_dest) {
        if (!match_aliases) return true;
        if (KnownName(info, l.name)) return true;
      }
    }
    return false;
  }

  bool FindSymlinks(const DirIndex& d, const UnitInfo& info, bool match_aliases,
                    bool ignore_same_name, bool& same_name_link) {
    for (const auto& [path, links] : d.wants) {
      if (InDirectory(links, path, info, true, match_aliases, ignore_same_name, d.path,
                      same_name_link)) {
        return true;
      }
    }
    return InDirectory(d.top_links, d.path, info, false, match_aliases, ignore_same_name, d.path,
                       same_name_link);
  }

  // find_symlinks_in_scope(): returns the state when found.
  std::optional<std::string> InScope(const UnitInfo& info, bool match_aliases) {
    bool same_config = false, same_runtime = false, enabled_runtime = false, enabled = false;
    bool ignore_same_name = false;
    for (const auto& d : index) {
      bool same_name_link = false;
      if (FindSymlinks(d, info, match_aliases, ignore_same_name, same_name_link)) {
        if (d.path == "/etc/systemd/system") return "enabled";
        if (IsRuntimeDir(d.path)) {
          enabled_runtime = true;
        } else {
          enabled = true;
        }
      } else if (same_name_link) {
        if (d.path == "/etc/systemd/system") {
          same_config = true;
        } else if (IsRuntimeDir(d.path)) {
          same_runtime = true;
        }
      }
      if (!ignore_same_name && StartsWithDir(info.path, d.path)) ignore_same_name = true;
    }
    if (enabled_runtime) return "enabled-runtime";
    if (enabled && ClassifyName(info.name) == NameKind::kInstance) return "static";
    if (same_config) return "linked";
    if (same_runtime) return "linked-runtime";
    return std::nullopt;
  }

  static bool IsRuntimePath(const std::string& path) {
    if (StartsWithDir(path, "/run")) return true;
    return false;
  }

  UnitState Lookup(const std::string& name) {
    ctx.clear();
    lookup_files.clear();
    UnitState out;
    if (ClassifyName(name) == NameKind::kInvalid) {
      out.state = "bad";
      out.error = "Invalid argument";
      return out;
    }
    UnitInfo* start = Add(name);
    UnitInfo* i = nullptr;
    Failure f = Traverse(start, &i);
    if (f.kind != Failure::kNone) {
      out.state = "bad";
      out.error = f.message;
      out.info = start->path.empty() ? nullptr : start;
      return out;
    }
    out.info = i;
    if (i->type == UnitInfo::Type::kMasked) {
      out.state = IsRuntimePath(i->path) ? "masked-runtime" : "masked";
      return out;
    }
    if (name != BaseName(i->path) && ClassifyName(i->name) != NameKind::kInstance) {
      out.state = "alias";
      return out;
    }
    std::string parent = DirName(i->path);
    if (parent == "/run/systemd/generator" || parent == "/run/systemd/generator.early" ||
        parent == "/run/systemd/generator.late") {
      out.state = "generated";
      return out;
    }
    if (parent == "/run/systemd/transient") {
      out.state = "transient";
      return out;
    }
    if (auto s = InScope(*i, true)) {
      out.state = *s;
      return out;
    }
    if (InScope(*i, false)) {
      out.state = "indirect";
    } else if (!i->aliases.empty() || !i->wanted_by.empty() || !i->required_by.empty()) {
      out.state = "disabled";
    } else if (!i->also.empty()) {
      out.state = "indirect";
    } else {
      out.state = "static";
    }
    return out;
  }
};

UnitLookup::UnitLookup(const Fs& fs) : impl_(std::make_unique<Impl>(fs)) {}
UnitLookup::~UnitLookup() = default;

const std::vector<std::string>& UnitLookup::search_path() const { return impl_->search; }

std::vector<std::string> UnitLookup::ListUnitNames() const {
  std::set<std::string> names;
  for (const auto& d : impl_->index) {
    for (const auto& n : d.unit_names) names.insert(n);
    for (const auto& [path, links] : d.wants) {
      for (const auto& l : links) {
        if (l.kind == NameKind::kInstance) names.insert(l.name);
      }
    }
  }
  return {names.begin(), names.end()};
}

UnitState UnitLookup::LookupState(const std::string& name) { return impl_->Lookup(name); }

std::vector<SectionError>& UnitLookup::errors() { return impl_->errors; }

namespace {

int64_t MonotonicMs() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Output of a finished child: its stdout, the start of its stderr, how it ended.
struct ChildResult {
  std::string out, err;
  int status = 0;
};

// Runs argv[0] (an absolute path) with `env`, reading both pipes until EOF within the bounds.
StatusOr<ChildResult> RunBounded(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& env, size_t max_out,
                                 int timeout_ms) {
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoError(errno, argv[0], "pipe");
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return ErrnoError(e, argv[0], "pipe");
  }
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  ::posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &all);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return ErrnoError(rc, argv[0], "posix_spawn");
  }
  ChildResult r;
  std::string failure;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  const int64_t deadline = MonotonicMs() + timeout_ms;
  char buf[65536];
  while (open_fds > 0 && failure.empty()) {
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      failure = "no answer within " + std::to_string(timeout_ms) + " ms";
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      failure = std::string("poll: ") + std::strerror(errno);
      break;
    }
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0) continue;
      ssize_t got = ::read(fds[k].fd, buf, sizeof(buf));
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) {
        ::close(fds[k].fd);
        fds[k].fd = -1;
        --open_fds;
        continue;
      }
      std::string& dst = k == 0 ? r.out : r.err;
      size_t cap = k == 0 ? max_out : 4096;
      if (dst.size() + static_cast<size_t>(got) > cap) {
        if (k == 0) {
          failure = "output larger than " + std::to_string(max_out) + " bytes";
          break;
        }
        dst.append(buf, cap - dst.size());  // the start of stderr is enough to say why
        continue;
      }
      dst.append(buf, static_cast<size_t>(got));
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  if (!failure.empty()) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!failure.empty()) return Status(StatusCode::kIoError, argv[0] + ": " + failure);
  r.status = status;
  return r;
}

std::string FirstLine(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  return line;
}

}  // namespace

StatusOr<std::map<std::string, ManagerUnit>> QueryManagerUnits(int timeout_ms) {
  std::string tool;
  for (const char* candidate : {"/usr/bin/systemctl", "/bin/systemctl"}) {
    if (::access(candidate, X_OK) == 0) {
      tool = candidate;
      break;
    }
  }
  if (tool.empty()) {
    return Status(StatusCode::kNotFound, "systemctl: not found in /usr/bin or /bin");
  }
  auto run = RunBounded({tool, "list-units", "--all", "--full", "--plain", "--no-legend",
                         "--no-pager", "--output=json"},
                        {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "SYSTEMD_COLORS=0",
                         "SYSTEMD_LOG_LEVEL=err"},
                        16u << 20, timeout_ms);
  if (!run.ok()) return run.status();
  if (!WIFEXITED(run->status) || WEXITSTATUS(run->status) != 0) {
    std::string how = WIFEXITED(run->status)
                          ? "exited with status " + std::to_string(WEXITSTATUS(run->status))
                          : "was killed by signal " + std::to_string(WTERMSIG(run->status));
    std::string why = FirstLine(run->err);
    return Status(StatusCode::kIoError,
                  tool + " list-units " + how + (why.empty() ? "" : ": " + why));
  }
  nlohmann::json j = nlohmann::json::parse(run->out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) {
    return Status(StatusCode::kIoError, tool + " list-units: output is not a JSON array");
  }
  std::map<std::string, ManagerUnit> units;
  for (const auto& u : j) {
    auto str = [&](const char* key) -> std::optional<std::string> {
      if (!u.is_object() || !u.contains(key) || !u[key].is_string()) return std::nullopt;
      return u[key].get<std::string>();
    };
    auto name = str("unit"), load = str("load"), active = str("active"), sub = str("sub");
    if (!name || !load || !active || !sub) {
      return Status(StatusCode::kIoError,
                    tool + " list-units: an entry lacks unit, load, active or sub");
    }
    units[*name] = {*load, *active, *sub};
  }
  return units;
}

}  // namespace tidemark::agent
