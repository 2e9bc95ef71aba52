// agent/output: standard output and error without iostreams until text is formatted.
#include "agent/output.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>
#include <string>

#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

std::string Drain(int fd) {
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  return got;
}

// Raw writes go straight to the descriptor, after whatever formatted text is still buffered:
// the order of the calls is the order of the bytes.
TEST(OutputTest, WritesAndFormattedTextKeepTheirOrderOnADescriptor) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    Output out(fds[1]);
    EXPECT_TRUE(out.Write("raw1 "));
    out << "text" << 42 << ' ';
    EXPECT_TRUE(out.Write("raw2"));
    out << " tail\n";
    EXPECT_TRUE(out.ok());
  }  // the destructor flushes the tail
  ::close(fds[1]);
  EXPECT_EQ(Drain(fds[0]), "raw1 text42 raw2 tail\n");
  ::close(fds[0]);
}

TEST(OutputTest, AFailedWriteIsReportedAndStays) {
  int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(full, 0);
  Output out(full);
  EXPECT_FALSE(out.Write("snapshot"));
  EXPECT_FALSE(out.ok());
  EXPECT_FALSE(out.Flush());
  Output text(full);
  text << std::string(10000, 'x');  // more than the buffer: written, and refused, at once
  EXPECT_FALSE(text.Flush());
  ::close(full);
}

TEST(OutputTest, ACallersStreamGetsEverything) {
  std::ostringstream s;
  {
    Output out(s);
    EXPECT_TRUE(out.Write("a"));
    out << "b" << 1;
    EXPECT_TRUE(out.Flush());
  }
  EXPECT_EQ(s.str(), "ab1");
}

}  // namespace
}  // namespace tidemark::agent
