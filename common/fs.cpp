#include "common/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/text.h"
#include "common/unique_fd.h"

namespace tidemark {
namespace {

// Directory listings larger than this are refused rather than held in memory.
constexpr size_t kMaxDirEntries = 1'000'000;

FileInfo InfoOf(const struct stat& st) {
  FileInfo info;
  info.type = FileTypeFromMode(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<uint64_t>(st.st_size);
  info.mtime = st.st_mtim.tv_sec;
  info.dev = st.st_dev;
  info.ino = st.st_ino;
  info.nlink = st.st_nlink;
  return info;
}

Status ErrnoStatus(int err, std::string_view path, std::string_view what) {
  std::string msg(path);
  msg += ": ";
  msg += what;
  msg += ": ";
  msg += std::strerror(err);
  switch (err) {
    case ENOENT:
      return {StatusCode::kNotFound, std::string(path) + ": no such file or directory"};
    case EACCES:
    case EPERM:
      return {StatusCode::kPermissionDenied, msg};
    case ELOOP:
      return {StatusCode::kLoop, std::string(path) +
                                     ": too many symlinks or a symlink where none "
                                     "is allowed"};
    case ENOTDIR:
      return {StatusCode::kWrongType, std::string(path) + ": a path component is not a directory"};
    case EISDIR:
      return {StatusCode::kWrongType, std::string(path) + ": is a directory"};
    case EXDEV:
      return {StatusCode::kEscapes, std::string(path) + ": resolution would leave the root"};
    case ENAMETOOLONG:
      return {StatusCode::kInvalidArgument, std::string(path) + ": name too long"};
    case ENOSYS:
      return {StatusCode::kUnavailable,
              "openat2(2) is not available: Linux 5.6 or later is needed"};
    default:
      return {StatusCode::kIoError, msg};
  }
}

class RootFs final : public Fs {
 public:
  RootFs(UniqueFd root_fd, std::string root)
      : root_fd_(std::move(root_fd)), root_(std::move(root)) {}

  StatusOr<FileContent> ReadFile(std::string_view path, const ReadOptions& options) const override {
    FileContent out;
    auto fd = OpenRegular(path, options, &out.info);
    if (!fd.ok()) return fd.status();
    // One byte more than fstat says: the read that finds EOF needs no larger buffer (doubling a
    // 1 MB buffer to find the end cost more than reading the file). At least a page: pseudo
    // files (/proc, /sys) report a size of 0 or 4096, and a sysctl integer is given only to
    // the first read (a read at an offset gets EOF), so that read must take it whole.
    out.data.resize(static_cast<size_t>(
        std::min<uint64_t>(std::max<uint64_t>(out.info.size + 1, 4096), options.max_bytes + 1)));
    size_t used = 0;
    // Read until EOF, never more than max_bytes + 1 (a file can grow while we read it).
    for (;;) {
      if (used == out.data.size()) {
        if (used > options.max_bytes) {
          return Status(StatusCode::kTooLarge, std::string(path) + ": grew over the limit of " +
                                                   std::to_string(options.max_bytes) + " bytes");
        }
        out.data.resize(
            std::min<uint64_t>(std::max<size_t>(used * 2, 4096), options.max_bytes + 1));
      }
      ssize_t n = ::read(fd->get(), out.data.data() + used, out.data.size() - used);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, path, "read");
      }
      if (n == 0) break;
      used += static_cast<size_t>(n);
    }
    if (used > options.max_bytes) {
      return Status(StatusCode::kTooLarge, std::string(path) + ": over the limit of " +
                                               std::to_string(options.max_bytes) + " bytes");
    }
    out.data.resize(used);
    return out;
  }

  Status ScanFile(std::string_view path, const ReadOptions& options,
                  const ScanFn& fn) const override {
    FileInfo info;
    auto fd = OpenRegular(path, options, &info);
    if (!fd.ok()) return fd.status();
    std::array<char, kScanPieceBytes> buf;
    uint64_t total = 0;
    for (;;) {
      ssize_t n = ::read(fd->get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, path, "read");
      }
      if (n == 0) return Status::Ok();
      total += static_cast<uint64_t>(n);
      if (total > options.max_bytes) {  // it grew while read
        return Status(StatusCode::kTooLarge, std::string(path) + ": grew over the limit of " +
                                                 std::to_string(options.max_bytes) + " bytes");
      }
      if (!fn(std::string_view(buf.data(), static_cast<size_t>(n)))) return Status::Ok();
    }
  }

  StatusOr<FileInfo> Stat(std::string_view path, bool follow) const override {
    auto fd = Open(path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
    if (!fd.ok()) return fd.status();
    struct stat st {};
    if (::fstatat(fd->get(), "", &st, AT_EMPTY_PATH) != 0) return ErrnoStatus(errno, path, "stat");
    return InfoOf(st);
  }

  StatusOr<std::vector<std::string>> ListDir(std::string_view path) const override {
    auto fd = Open(path, O_RDONLY | O_DIRECTORY, 0);
    if (!fd.ok()) return fd.status();
    DIR* dir = ::fdopendir(fd->get());
    if (dir == nullptr) return ErrnoStatus(errno, path, "opendir");
    fd->release();  // now owned by `dir`
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* entry = ::readdir(dir)) {
      std::string_view name(entry->d_name);
      if (name == "." || name == "..") continue;
      if (names.size() >= kMaxDirEntries) {
        ::closedir(dir);
        return Status(StatusCode::kTooLarge, std::string(path) + ": more than " +
                                                 std::to_string(kMaxDirEntries) + " entries");
      }
      names.emplace_back(name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return ErrnoStatus(err, path, "readdir");
    std::sort(names.begin(), names.end());
    return names;
  }

  StatusOr<std::string> ReadLink(std::string_view path) const override {
    auto fd = Open(path, O_PATH | O_NOFOLLOW, 0);
    if (!fd.ok()) return fd.status();
    std::string buf(4096, '\0');
    ssize_t n = ::readlinkat(fd->get(), "", buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOENT || errno == EINVAL) {
        return Status(StatusCode::kWrongType, std::string(path) + ": is not a symlink");
      }
      return ErrnoStatus(errno, path, "readlink");
    }
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

  const std::string& root() const override { return root_; }

  StatusOr<int> OpenDirectoryFd(std::string_view path) const override {
    auto fd = Open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    if (!fd.ok()) return fd.status();
    return fd->release();
  }

 private:
  // Opens `path` for reading: a regular file within options.max_bytes (fstat into `info`),
  // blocking reads.
  StatusOr<UniqueFd> OpenRegular(std::string_view path, const ReadOptions& options,
                                 FileInfo* info) const {
    uint64_t resolve = options.no_symlinks ? RESOLVE_NO_SYMLINKS : 0;
    // O_NONBLOCK: opening a FIFO must not wait for a writer; the type check below rejects it.
    auto fd = Open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY, resolve);
    if (!fd.ok()) return fd.status();
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, path, "fstat");
    *info = InfoOf(st);
    if (info->type != FileType::kRegular) {
      return Status(StatusCode::kWrongType, std::string(path) + ": is a " +
                                                std::string(FileTypeName(info->type)) +
                                                ", not a regular file");
    }
    if (info->size > options.max_bytes) {
      return Status(StatusCode::kTooLarge, std::string(path) + ": " + std::to_string(info->size) +
                                               " bytes, over the limit of " +
                                               std::to_string(options.max_bytes));
    }
    int flags = ::fcntl(fd->get(), F_GETFL);
    if (flags >= 0) ::fcntl(fd->get(), F_SETFL, flags & ~O_NONBLOCK);
    return fd;
  }

  StatusOr<UniqueFd> Open(std::string_view path, int flags, uint64_t resolve) const {
    if (path.empty() || path.front() != '/') {
      return Status(StatusCode::kInvalidArgument,
                    std::string("path must be absolute inside the root: ") + std::string(path));
    }
    if (path.find('\0') != std::string_view::npos) {
      return Status(StatusCode::kInvalidArgument, "path contains a NUL byte");
    }
    std::string rel(path.substr(1));
    if (rel.empty()) rel = ".";
    struct open_how how {};
    how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | resolve;
    // RESOLVE_IN_ROOT may fail with EAGAIN when a concurrent rename races the lookup.
    for (int attempt = 0; attempt < 8; ++attempt) {
      long fd = ::syscall(SYS_openat2, root_fd_.get(), rel.c_str(), &how, sizeof(how));
      if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      if (errno != EAGAIN && errno != EINTR) return ErrnoStatus(errno, path, "open");
    }
    return Status(StatusCode::kIoError, std::string(path) + ": lookup kept racing with renames");
  }

  UniqueFd root_fd_;
  std::string root_;
};

}  // namespace

Status Fs::ScanFile(std::string_view path, const ReadOptions& options, const ScanFn& fn) const {
  auto content = ReadFile(path, options);
  if (!content.ok()) return content.status();
  std::string_view rest = content->data;
  while (!rest.empty()) {
    std::string_view piece = rest.substr(0, kScanPieceBytes);
    rest.remove_prefix(piece.size());
    if (!fn(piece)) break;
  }
  return Status::Ok();
}

StatusOr<int> Fs::OpenDirectoryFd(std::string_view path) const {
  return Status(StatusCode::kUnavailable,
                std::string(path) + ": this Fs cannot open directories for a walk");
}

FileType FileTypeFromMode(uint32_t mode) {
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  if (S_ISFIFO(mode)) return FileType::kFifo;
  if (S_ISSOCK(mode)) return FileType::kSocket;
  if (S_ISCHR(mode)) return FileType::kCharDevice;
  if (S_ISBLK(mode)) return FileType::kBlockDevice;
  return FileType::kRegular;
}

std::string_view FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "regular";
    case FileType::kDirectory:
      return "directory";
    case FileType::kSymlink:
      return "symlink";
    case FileType::kFifo:
      return "fifo";
    case FileType::kSocket:
      return "socket";
    case FileType::kCharDevice:
      return "char_device";
    case FileType::kBlockDevice:
      return "block_device";
  }
  return "unknown";
}

StatusOr<std::unique_ptr<Fs>> OpenRootFs(const std::string& root_dir) {
  int fd = ::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, root_dir, "open root");
  std::unique_ptr<Fs> fs = std::make_unique<RootFs>(UniqueFd(fd), root_dir);
  // Probe once so that a kernel without openat2 fails here, clearly, not on every read.
  auto probe = fs->Stat("/", true);
  if (!probe.ok()) return probe.status();
  return fs;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  while (!out.empty() && out.back() == '/') out.pop_back();
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  out += '/';
  out += name;
  return out;
}

std::string DirName(std::string_view path) {
  std::string norm = NormalizePath(path);
  size_t slash = norm.rfind('/');
  if (slash == 0 || slash == std::string::npos) return "/";
  return norm.substr(0, slash);
}

std::string BaseName(std::string_view path) {
  std::string norm = NormalizePath(path);
  size_t slash = norm.rfind('/');
  return slash == std::string::npos ? norm : norm.substr(slash + 1);
}

std::vector<std::string> PathComponents(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    std::string_view part = path.substr(pos, next - pos);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    pos = next + 1;
  }
  std::string out;
  for (auto part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string EscapeHostName(std::string_view name) {
  if (name.find('\\') == std::string_view::npos && IsValidUtf8(name)) return std::string(name);
  std::string out;
  out.reserve(name.size() + 8);
  for (size_t i = 0; i < name.size();) {
    if (name[i] == '\\') {
      out += "\\\\";
      ++i;
      continue;
    }
    size_t len = Utf8SequenceLength(name, i);
    if (len == 0) {
      auto b = static_cast<unsigned char>(name[i]);
      out += "\\x";
      out += kHexDigits[b >> 4];
      out += kHexDigits[b & 15];
      ++i;
      continue;
    }
    out.append(name.substr(i, len));
    i += len;
  }
  return out;
}

std::optional<std::string> UnescapeHostName(std::string_view escaped) {
  if (!IsValidUtf8(escaped)) return std::nullopt;
  if (escaped.find('\\') == std::string_view::npos) return std::string(escaped);
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] != '\\') {
      out += escaped[i];
      continue;
    }
    if (i + 1 < escaped.size() && escaped[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (i + 3 < escaped.size() && escaped[i + 1] == 'x' && HexValue(escaped[i + 2]) >= 0 &&
               HexValue(escaped[i + 3]) >= 0) {
      out += static_cast<char>(HexValue(escaped[i + 2]) * 16 + HexValue(escaped[i + 3]));
      i += 3;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(data[i]) << 16) |
                 (static_cast<unsigned char>(data[i + 1]) << 8) |
                 static_cast<unsigned char>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kBase64Alphabet[(v >> shift) & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    const char* p = std::strchr(kBase64Alphabet, c);
    return c != '\0' && p != nullptr ? static_cast<int>(p - kBase64Alphabet) : -1;
  };
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    int pad = 0;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        ++pad;
        v <<= 6;
        continue;
      }
      int d = value(c);
      if (d < 0 || pad > 0) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

}  // namespace tidemark
