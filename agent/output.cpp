#include "agent/output.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <streambuf>

namespace tidemark::agent {
namespace {

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

// A write buffer over a descriptor: what std::cout's buffer does, without std::cout.
class Output::FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_.data(), buf_.data() + buf_.size()); }

 protected:
  int_type overflow(int_type c) override {
    if (!Drain()) return traits_type::eof();
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    *pptr() = traits_type::to_char_type(c);
    pbump(1);
    return c;
  }
  int sync() override { return Drain() ? 0 : -1; }

 private:
  bool Drain() {
    std::string_view pending(pbase(), static_cast<size_t>(pptr() - pbase()));
    setp(buf_.data(), buf_.data() + buf_.size());
    return WriteAll(fd_, pending);
  }

  int fd_;
  std::array<char, 4096> buf_{};
};

Output::Output(int fd) : fd_(fd) {}

Output::Output(std::ostream& stream) : stream_(&stream) {}

Output::~Output() { Flush(); }

bool Output::Write(std::string_view data) {
  if (fd_ < 0) {
    stream_->write(data.data(), static_cast<std::streamsize>(data.size()));
    return ok();
  }
  if (!Flush()) return false;
  if (!WriteAll(fd_, data)) failed_ = true;
  return ok();
}

bool Output::Flush() {
  if (stream_ != nullptr) stream_->flush();
  return ok();
}

bool Output::ok() const { return !failed_ && (stream_ == nullptr || stream_->good()); }

std::ostream& Output::stream() {
  if (stream_ == nullptr) {
    buf_ = std::make_unique<FdBuf>(fd_);
    owned_ = std::make_unique<std::ostream>(buf_.get());
    if (fd_ == STDERR_FILENO) owned_->setf(std::ios::unitbuf);
    stream_ = owned_.get();
  }
  return *stream_;
}

}  // namespace tidemark::agent
