#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

TEST(AtomicFileTest, CreatesWithExactModeDespiteUmask) {
  testing::TempRoot dir;
  mode_t old = ::umask(0);
  std::string path = dir.Host("out.json");
  ASSERT_TRUE(WriteFileAtomic(path, "{}\n", 0600).ok());
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(testing::ReadHostFile(path), "{}\n");
}

TEST(AtomicFileTest, ReplacesAndTightensExistingFile) {
  testing::TempRoot dir;
  dir.Write("out.json", "old", 0644);
  std::string path = dir.Host("out.json");
  ASSERT_TRUE(WriteFileAtomic(path, "new", 0600).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(testing::ReadHostFile(path), "new");
}

TEST(AtomicFileTest, RefusesToReplaceNonRegularFiles) {
  testing::TempRoot dir;
  dir.Fifo("fifo");
  dir.Write("target", "keep");
  dir.Symlink("link", dir.Host("target"));
  EXPECT_EQ(WriteFileAtomic(dir.Host("fifo"), "x").code(), StatusCode::kWrongType);
  EXPECT_EQ(WriteFileAtomic(dir.Host("link"), "x").code(), StatusCode::kWrongType);
  EXPECT_EQ(WriteFileAtomic("/dev/null", "x").code(), StatusCode::kWrongType);
  EXPECT_EQ(testing::ReadHostFile(dir.Host("target")), "keep");
}

// The spool's use: a temporary file in a directory, a header reserved and written last, the
// target named at commit; an abandoned writer leaves nothing behind.
TEST(AtomicFileTest, InADirectoryWithAHeaderWrittenLastAndNamedAtCommit) {
  testing::TempRoot dir;
  dir.Mkdir("/spool");
  std::string spool = dir.Host("spool");
  {
    AtomicFileWriter abandoned;
    ASSERT_TRUE(abandoned.OpenInDirectory(spool, ".tmp-").ok());
    ASSERT_TRUE(abandoned.Write("partial").ok());
  }
  EXPECT_TRUE(std::filesystem::is_empty(spool));
  AtomicFileWriter writer;
  ASSERT_TRUE(writer.OpenInDirectory(spool, ".tmp-", 0600).ok());
  ASSERT_TRUE(writer.Write("....body").ok());
  ASSERT_TRUE(writer.WriteAt(0, "head").ok());
  ASSERT_TRUE(writer.CommitAs(spool + "/0001.snap").ok());
  EXPECT_EQ(testing::ReadHostFile(spool + "/0001.snap"), "headbody");
  size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(spool)) {
    ++entries;
    EXPECT_EQ(e.path().filename(), "0001.snap");
  }
  EXPECT_EQ(entries, 1u);
  // Opening in a directory that does not exist names the directory.
  AtomicFileWriter missing;
  Status s = missing.OpenInDirectory(dir.Host("nope"), ".tmp-");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_NE(s.message().find(dir.Host("nope")), std::string::npos) << s.message();
}

TEST(AtomicFileTest, MissingDirectoryIsANamedError) {
  Status s = WriteFileAtomic("/nonexistent/dir/out.json", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("/nonexistent/dir/out.json"), std::string::npos);
}

TEST(AtomicFileTest, FullDiskLeavesOldFileAndNoTemporary) {
  // A real full disk: a 64 KiB tmpfs (needs root, as in CI).
  testing::TempRoot dir;
  dir.Mkdir("/small");
  if (::mount("tmpfs", dir.Host("/small").c_str(), "tmpfs", 0, "size=64k") != 0) {
    TIDEMARK_REQUIRE(false, "cannot mount a tmpfs here (needs root): " << std::strerror(errno));
  }
  std::string path = dir.Host("/small/out.json");
  ASSERT_TRUE(WriteFileAtomic(path, "old").ok());
  Status s = WriteFileAtomic(path, std::string(1 << 20, 'x'));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_EQ(testing::ReadHostFile(path), "old");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.Host("/small"))) {
    ++entries;
  }
  EXPECT_EQ(entries, 1) << "a temporary file was left behind";
  ::umount(dir.Host("/small").c_str());
}

}  // namespace
}  // namespace tidemark
