#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tidemark {

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status AtomicFileWriter::Fail(const char* what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  return {StatusCode::kIoError, path_ + ": " + what + ": " + std::strerror(err)};
}

Status AtomicFileWriter::Open(const std::string& path, unsigned mode) {
  path_ = path;
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    return {StatusCode::kWrongType, path + ": exists and is not a regular file; not replaced"};
  }
  std::string tmp = path + ".tmp.XXXXXX";
  fd_ = ::mkostemp(tmp.data(), O_CLOEXEC);  // created 0600
  if (fd_ < 0) return Fail("cannot create a temporary file beside it", errno);
  tmp_ = tmp;
  if (::fchmod(fd_, mode) != 0) return Fail("chmod", errno);
  return Status::Ok();
}

Status AtomicFileWriter::Write(std::string_view data) {
  if (fd_ < 0) return {StatusCode::kInternal, path_ + ": write to a file that is not open"};
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail("write", errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() {
  if (fd_ < 0) return {StatusCode::kInternal, path_ + ": commit of a file that is not open"};
  if (::fsync(fd_) != 0) return Fail("fsync", errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return Fail("close", errno);
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return Fail("rename", errno);
  tmp_.clear();
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  AtomicFileWriter writer;
  Status s = writer.Open(path, mode);
  if (s.ok()) s = writer.Write(data);
  if (s.ok()) s = writer.Commit();
  return s;
}

}  // namespace tidemark
