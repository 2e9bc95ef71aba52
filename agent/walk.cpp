#include "agent/walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <utility>

namespace tidemark::agent {
namespace {

struct Excluded {
  std::string path;
  std::string reason;
};

// /proc/self/mountinfo (proc(5)): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - TYPE
// SOURCE SUPEROPTS". Returns st_dev -> filesystem type.
std::unordered_map<uint64_t, std::string> ReadMountTypes(const Fs& fs) {
  std::unordered_map<uint64_t, std::string> out;
  ReadOptions options;
  options.max_bytes = 16u << 20;
  auto content = fs.ReadFile("/proc/self/mountinfo", options);
  if (!content.ok()) return out;
  std::string_view text = content->data;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    std::vector<std::string_view> fields;
    size_t p = 0;
    while (p < line.size()) {
      size_t sp = line.find(' ', p);
      if (sp == std::string_view::npos) sp = line.size();
      if (sp > p) fields.push_back(line.substr(p, sp - p));
      p = sp + 1;
    }
    if (fields.size() < 3) continue;
    auto sep = std::find(fields.begin(), fields.end(), "-");
    if (sep == fields.end() || sep + 1 == fields.end()) continue;
    std::string_view devs = fields[2];
    size_t colon = devs.find(':');
    if (colon == std::string_view::npos) continue;
    unsigned maj = 0, min = 0;
    try {
      maj = static_cast<unsigned>(std::stoul(std::string(devs.substr(0, colon))));
      min = static_cast<unsigned>(std::stoul(std::string(devs.substr(colon + 1))));
    } catch (...) {
      continue;
    }
    out.emplace(static_cast<uint64_t>(makedev(maj, min)), std::string(*(sep + 1)));
  }
  return out;
}

std::string ErrnoText(int err) { return std::strerror(err); }

class Walker {
 public:
  Walker(const Fs& fs, const WalkOptions& options, const WalkVisitor& visit)
      : fs_(fs), options_(options), visit_(visit) {
    if (options.use_mount_table) mount_types_ = ReadMountTypes(fs);
  }

  WalkResult Run() {
    std::vector<std::string> roots;
    for (const auto& r : options_.roots) {
      std::string n = NormalizePath(r);
      if (std::find(roots.begin(), roots.end(), n) == roots.end()) roots.push_back(n);
    }
    for (const auto& p : AlwaysSkippedPaths()) excluded_.push_back({p, "pseudo_path"});
    for (const auto& e : options_.excludes) excluded_.push_back({NormalizePath(e), "excluded"});
    for (const auto& root : roots) {
      if (result_.stopped) break;
      std::vector<Excluded> saved = excluded_;
      // A root below another root is walked as its own root (once), not twice.
      for (const auto& other : roots) {
        if (other != root && IsBelow(other, root)) excluded_.push_back({other, "own_root"});
      }
      WalkRoot(root);
      excluded_ = std::move(saved);
    }
    return std::move(result_);
  }

 private:
  static bool IsBelow(std::string_view path, std::string_view dir) {
    if (dir == "/") return path.size() > 1;
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
           path[dir.size()] == '/';
  }

  const Excluded* FindExcluded(std::string_view path) const {
    for (const auto& e : excluded_) {
      if (e.path == path) return &e;
    }
    return nullptr;
  }

  bool AnyExcludedBelow(std::string_view dir) const {
    return std::any_of(excluded_.begin(), excluded_.end(),
                       [&](const Excluded& e) { return IsBelow(e.path, dir); });
  }

  void Skip(std::string path, std::string reason, std::string fs_type) {
    ++result_.skipped_count;
    if (result_.skipped.size() < options_.max_recorded) {
      result_.skipped.push_back({std::move(path), std::move(reason), std::move(fs_type)});
    }
  }

  void Error(std::string path, std::string message) {
    ++result_.error_count;
    if (result_.errors.size() < options_.max_recorded) {
      result_.errors.push_back({std::move(path), std::move(message)});
    }
  }

  std::string MountType(uint64_t dev) const {
    auto it = mount_types_.find(dev);
    return it == mount_types_.end() ? "" : it->second;
  }

  void WalkRoot(const std::string& root) {
    if (const Excluded* e = FindExcluded(root)) {
      Skip(root, e->reason, "");
      return;
    }
    auto fd = fs_.OpenDirectoryFd(root);
    if (!fd.ok()) {
      Error(root, "cannot open the walk root: " + fd.status().message());
      return;
    }
    int dir_fd = *fd;
    struct stat st {};
    if (::fstat(dir_fd, &st) != 0) {
      Error(root, "fstat: " + ErrnoText(errno));
      ::close(dir_fd);
      return;
    }
    struct statfs sfs {};
    if (::fstatfs(dir_fd, &sfs) == 0) {
      FsTypeClass c = ClassifyFsType(static_cast<int64_t>(sfs.f_type));
      std::string type = MountType(st.st_dev);
      if (type.empty()) type = c.name;
      std::string kind = FsKindByName(type);
      if (kind == "local") kind = c.kind;
      if (kind != "local") {
        Skip(root, kind + "_filesystem", type);
        ::close(dir_fd);
        return;
      }
    }
    root_dev_ = st.st_dev;
    ++result_.directories;
    std::string path = root;
    WalkDir(dir_fd, path, 0);
  }

  // Takes ownership of `fd`. `path` is the directory's path; restored before returning.
  // Entries are read with getdents64(2) into this depth's buffer: fdopendir would add an fcntl
  // and a 32 KiB allocation per directory, a tenth of the walk (README, "Agent start-up and the
  // full collection").
  void WalkDir(int fd, std::string& path, int depth) {
    if (buffers_.size() <= static_cast<size_t>(depth)) buffers_.resize(depth + 1);
    if (buffers_[depth] == nullptr) buffers_[depth] = std::make_unique<char[]>(kDirBufferBytes);
    // The array, not the vector's element: deeper calls may grow the vector.
    char* const buf = buffers_[depth].get();
    const bool check_excluded = AnyExcludedBelow(path);
    const size_t base = path.size();
    bool stop = false;
    while (!stop) {
      ssize_t n = ::getdents64(fd, buf, kDirBufferBytes);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Error(path, "readdir: " + ErrnoText(errno));
      if (n <= 0) break;
      for (ssize_t off = 0; off < n;) {
        const auto* entry = reinterpret_cast<const struct dirent64*>(buf + off);
        off += entry->d_reclen;
        if (OutOfTime(path)) {
          stop = true;
          break;
        }
        const char* name = entry->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        if (base != 1) path += '/';
        path += name;
        struct stat st {};
        if (::fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
          // Gone since readdir: it is no longer there to report (find says the same).
          if (errno != ENOENT) Error(path, "lstat: " + ErrnoText(errno));
          path.resize(base);
          continue;
        }
        const Excluded* excluded = check_excluded ? FindExcluded(path) : nullptr;
        if (excluded != nullptr) {
          Skip(path, excluded->reason, "");
          path.resize(base);
          continue;
        }
        const bool is_dir = S_ISDIR(st.st_mode);
        if (!is_dir) ++result_.files;
        visit_(WalkEntry{path, st, fd, name});
        if (is_dir) Descend(fd, name, st, path, depth + 1);
        path.resize(base);
      }
    }
    ::close(fd);
  }

  // Returns true (and records where) once the deadline has passed.
  bool OutOfTime(const std::string& path) {
    if (result_.stopped) return true;
    if (!options_.deadline || std::chrono::steady_clock::now() < *options_.deadline) return false;
    result_.stopped = true;
    result_.stopped_at = path;
    return true;
  }

  void Descend(int parent_fd, const char* name, const struct stat& st, std::string& path,
               int depth) {
    if (st.st_dev != root_dev_) {
      Skip(path, "other_device", MountType(st.st_dev));
      return;
    }
    if (depth > options_.max_depth) {
      ++result_.depth_limited;
      Error(path, "not walked: deeper than " + std::to_string(options_.max_depth) + " levels");
      return;
    }
    if (path.size() > options_.max_path_bytes) {
      ++result_.path_limited;
      Error(path,
            "not walked: path longer than " + std::to_string(options_.max_path_bytes) + " bytes");
      return;
    }
    int fd =
        ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      Error(path, "cannot open directory: " + ErrnoText(errno));
      return;
    }
    struct stat now {};
    if (::fstat(fd, &now) != 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
      Error(path, "changed while walked (device/inode differ); not entered");
      ::close(fd);
      return;
    }
    ++result_.directories;
    WalkDir(fd, path, depth);
  }

  const Fs& fs_;
  const WalkOptions& options_;
  const WalkVisitor& visit_;
  static constexpr size_t kDirBufferBytes = 32 << 10;

  std::unordered_map<uint64_t, std::string> mount_types_;
  std::vector<Excluded> excluded_;
  std::vector<std::unique_ptr<char[]>> buffers_;  // one getdents64 buffer per depth
  dev_t root_dev_ = 0;
  WalkResult result_;
};

}  // namespace

WalkResult Walk(const Fs& fs, const WalkOptions& options, const WalkVisitor& visit) {
  return Walker(fs, options, visit).Run();
}

FsTypeClass ClassifyFsType(int64_t f_type) {
  // Magic numbers: linux/magic.h and statfs(2).
  switch (static_cast<uint32_t>(f_type)) {
    case 0x9fa0:
      return {"proc", "pseudo"};
    case 0x62656572:
      return {"sysfs", "pseudo"};
    case 0x1cd1:
      return {"devpts", "pseudo"};
    case 0x27e0eb:
      return {"cgroup", "pseudo"};
    case 0x63677270:
      return {"cgroup2", "pseudo"};
    case 0x64626720:
      return {"debugfs", "pseudo"};
    case 0x74726163:
      return {"tracefs", "pseudo"};
    case 0x73636673:
      return {"securityfs", "pseudo"};
    case 0xcafe4a11:
      return {"bpf", "pseudo"};
    case 0x62656570:
      return {"configfs", "pseudo"};
    case 0x6165676c:
      return {"pstore", "pseudo"};
    case 0xde5e81e4:
      return {"efivarfs", "pseudo"};
    case 0x19800202:
      return {"mqueue", "pseudo"};
    case 0x42494e4d:
      return {"binfmt_misc", "pseudo"};
    case 0x6e736673:
      return {"nsfs", "pseudo"};
    case 0x0187:
      return {"autofs", "pseudo"};
    case 0x958458f6:
      return {"hugetlbfs", "pseudo"};
    case 0x6969:
      return {"nfs", "network"};
    case 0x517b:
      return {"smb", "network"};
    case 0xff534d42:
      return {"cifs", "network"};
    case 0xfe534d42:
      return {"smb2", "network"};
    case 0x00c36400:
      return {"ceph", "network"};
    case 0x5346414f:
      return {"afs", "network"};
    case 0x01021997:
      return {"9p", "network"};
    case 0x65735546:
      return {"fuse", "network"};
    case 0x01021994:
      return {"tmpfs", "local"};
    case 0xef53:
      return {"ext4", "local"};
    case 0x58465342:
      return {"xfs", "local"};
    case 0x9123683e:
      return {"btrfs", "local"};
    case 0x794c7630:
      return {"overlay", "local"};
    default:
      return {"", "local"};
  }
}

std::string FsKindByName(std::string_view type) {
  static const char* const kPseudo[] = {
      "proc",       "sysfs",  "devpts",    "cgroup",  "cgroup2",    "debugfs",   "tracefs",
      "securityfs", "bpf",    "configfs",  "pstore",  "efivarfs",   "mqueue",    "binfmt_misc",
      "nsfs",       "autofs", "hugetlbfs", "fusectl", "rpc_pipefs", "selinuxfs", "devtmpfs"};
  static const char* const kNetwork[] = {
      "nfs",       "nfs4",   "cifs",  "smb3", "smbfs",      "ceph",  "afs",  "9p",
      "glusterfs", "lustre", "ncpfs", "coda", "fuse.sshfs", "davfs", "gfs2", "ocfs2"};
  for (const char* t : kPseudo) {
    if (type == t) return "pseudo";
  }
  for (const char* t : kNetwork) {
    if (type == t) return "network";
  }
  if (type.rfind("fuse", 0) == 0) return "network";  // FUSE may be remote (sshfs, s3fs ...)
  return "local";
}

}  // namespace tidemark::agent
