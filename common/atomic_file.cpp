#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tidemark {
namespace {

std::string DirectoryOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

AtomicFileWriter::~AtomicFileWriter() {
  fd_.reset();
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status AtomicFileWriter::Fail(const char* what, int err) {
  fd_.reset();
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  tmp_.clear();
  return IoError(path_ + ": " + what, err);
}

Status AtomicFileWriter::Open(const std::string& path, unsigned mode) {
  path_ = path;
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0 && !S_ISREG(existing.st_mode)) {
    return {StatusCode::kWrongType, path + ": exists and is not a regular file; not replaced"};
  }
  std::string tmp = path + ".tmp.XXXXXX";
  fd_.reset(::mkostemp(tmp.data(), O_CLOEXEC));  // created 0600
  if (!fd_.valid()) return Fail("cannot create a temporary file beside it", errno);
  tmp_ = tmp;
  if (::fchmod(fd_.get(), mode) != 0) return Fail("chmod", errno);
  return Status::Ok();
}

Status AtomicFileWriter::OpenInDirectory(const std::string& dir, std::string_view temp_prefix,
                                         unsigned mode) {
  path_ = dir;
  std::string tmp = dir + "/" + std::string(temp_prefix) + "XXXXXX";
  fd_.reset(::mkostemp(tmp.data(), O_CLOEXEC));
  if (!fd_.valid()) return Fail("cannot create a file", errno);
  tmp_ = tmp;
  if (::fchmod(fd_.get(), mode) != 0) return Fail("chmod", errno);
  return Status::Ok();
}

Status AtomicFileWriter::Write(std::string_view data) { return WriteAtOffset(data, -1); }

Status AtomicFileWriter::WriteAt(uint64_t offset, std::string_view data) {
  return WriteAtOffset(data, static_cast<int64_t>(offset));
}

Status AtomicFileWriter::WriteAtOffset(std::string_view data, int64_t offset) {
  if (!fd_.valid()) return {StatusCode::kInternal, path_ + ": write to a file that is not open"};
  size_t done = 0;
  while (done < data.size()) {
    const char* from = data.data() + done;
    size_t left = data.size() - done;
    ssize_t n = offset < 0 ? ::write(fd_.get(), from, left)
                           : ::pwrite(fd_.get(), from, left, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail("write", errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status AtomicFileWriter::Commit() { return CommitAs(path_); }

Status AtomicFileWriter::CommitAs(const std::string& path) {
  if (!fd_.valid()) return {StatusCode::kInternal, path_ + ": commit of a file that is not open"};
  if (::fsync(fd_.get()) != 0) return Fail("fsync", errno);
  if (fd_.Close() != 0) return Fail("close", errno);
  if (::rename(tmp_.c_str(), path.c_str()) != 0) return Fail("rename", errno);
  tmp_.clear();
  // The rename is durable only once the directory is: without this a power cut may bring the
  // old file (or none) back although the caller was told the new one is written.
  return FsyncDirectory(DirectoryOf(path));
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  AtomicFileWriter writer;
  Status s = writer.Open(path, mode);
  if (s.ok()) s = writer.Write(data);
  if (s.ok()) s = writer.Commit();
  return s;
}

Status FsyncDirectory(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return IoError(dir + ": open directory", errno);
  if (::fsync(fd.get()) != 0) return IoError(dir + ": fsync directory", errno);
  return Status::Ok();
}

}  // namespace tidemark
