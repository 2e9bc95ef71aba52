// Standard output and standard error of tidemark-agent's commands, without iostreams until text
// has to be formatted. libstdc++'s first stream (std::cout included, made at start-up by any
// file that includes <iostream>) builds the classic locale and its facets: about half a
// millisecond, a tenth of a short collection (README, "Agent start-up"). `collect` writes its
// snapshot with Write() straight to the descriptor and makes no stream unless it has an error
// to print; --version likewise.
#pragma once

#include <memory>
#include <ostream>
#include <string_view>

namespace tidemark::agent {

class Output {
 public:
  // The process's descriptor (1 or 2); standard error is written through at once (unit
  // buffered, as std::cerr is).
  explicit Output(int fd);
  // A stream of the caller's (tests: an ostringstream); everything goes to it.
  explicit Output(std::ostream& stream);
  ~Output();  // flushes
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  // Writes `data` as it is, after whatever stream() holds; false when it could not be written
  // (then and after: ok() is false).
  bool Write(std::string_view data);
  // Flushes stream(), if made; returns ok().
  bool Flush();
  // False once a write failed.
  bool ok() const;

  // The stream for formatted text, made on first use.
  std::ostream& stream();
  template <typename T>
  std::ostream& operator<<(const T& value) {
    return stream() << value;
  }

 private:
  class FdBuf;
  int fd_ = -1;
  std::ostream* stream_ = nullptr;  // the caller's, or owned_
  std::unique_ptr<FdBuf> buf_;
  std::unique_ptr<std::ostream> owned_;
  bool failed_ = false;
};

}  // namespace tidemark::agent
