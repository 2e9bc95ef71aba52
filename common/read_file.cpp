// read_file.h: bounded reads of regular files named on a command line.
#include "common/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace tidemark {

namespace {

// Opens `path` for reading when it is a regular file of at most `max_bytes`; `*size` its size.
StatusOr<UniqueFd> OpenRegularFile(const std::string& path, uint64_t max_bytes, uint64_t* size) {
  // O_NONBLOCK: opening a FIFO never waits for a writer (it is refused below).
  int fd = ::open(path.c_str(), O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return Status(StatusCode::kNotFound, path + ": no such file");
    if (e == EACCES || e == EPERM) {
      return Status(StatusCode::kPermissionDenied, path + ": " + std::strerror(e));
    }
    return Status(StatusCode::kIoError, path + ": cannot open: " + std::strerror(e));
  }
  UniqueFd closer(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status(StatusCode::kIoError, path + ": cannot stat");
  if (!S_ISREG(st.st_mode)) {
    return Status(StatusCode::kWrongType,
                  path + (S_ISDIR(st.st_mode) ? ": is a directory" : ": not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return Status(StatusCode::kTooLarge, path + ": " + std::to_string(st.st_size) +
                                             " bytes, more than the " + std::to_string(max_bytes) +
                                             " this command reads");
  }
  *size = static_cast<uint64_t>(st.st_size);
  return closer;
}

}  // namespace

Status CheckRegularFile(const std::string& path, uint64_t max_bytes) {
  uint64_t size = 0;
  StatusOr<UniqueFd> fd = OpenRegularFile(path, max_bytes, &size);
  return fd.ok() ? Status::Ok() : fd.status();
}

StatusOr<std::string> ReadRegularFile(const std::string& path, uint64_t max_bytes) {
  uint64_t size = 0;
  StatusOr<UniqueFd> opened = OpenRegularFile(path, max_bytes, &size);
  if (!opened.ok()) return opened.status();
  int fd = opened->get();
  std::string out;
  out.reserve(static_cast<size_t>(size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status(StatusCode::kIoError, path + ": read: " + std::strerror(errno));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {  // it grew while being read
      return Status(StatusCode::kTooLarge, path + ": more than the " + std::to_string(max_bytes) +
                                               " bytes this command reads");
    }
  }
  return out;
}

}  // namespace tidemark
