#include "common/fs.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "tests/support/temp_root.h"

namespace tidemark {
namespace {

using testing::TempRoot;

std::unique_ptr<Fs> Open(const TempRoot& root) {
  auto fs = OpenRootFs(root.path());
  EXPECT_TRUE(fs.ok()) << fs.status().ToString();
  return std::move(fs).value();
}

TEST(RootFsTest, ReadsRegularFileWithMetadata) {
  TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0640);
  auto fs = Open(root);
  auto file = fs->ReadFile("/etc/passwd");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->data, "root:x:0:0::/root:/bin/sh\n");
  EXPECT_EQ(file->info.type, FileType::kRegular);
  EXPECT_EQ(file->info.mode, 0640u);
  EXPECT_EQ(file->info.size, 26u);
}

TEST(RootFsTest, MissingFileIsNotFoundNotEmpty) {
  TempRoot root;
  auto fs = Open(root);
  auto file = fs->ReadFile("/etc/shadow");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kNotFound);
  EXPECT_NE(file.status().message().find("/etc/shadow"), std::string::npos);
}

TEST(RootFsTest, EmptyFileIsEmptyAndOk) {
  TempRoot root;
  root.Write("/etc/empty", "");
  auto file = Open(root)->ReadFile("/etc/empty");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->data, "");
}

TEST(RootFsTest, DirectoryAndFifoAreWrongTypeWithoutBlocking) {
  TempRoot root;
  root.Mkdir("/etc/sudoers");
  root.Fifo("/etc/group");
  auto fs = Open(root);
  auto dir = fs->ReadFile("/etc/sudoers");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kWrongType);
  EXPECT_NE(dir.status().message().find("directory"), std::string::npos);
  auto fifo = fs->ReadFile("/etc/group");  // would block forever without O_NONBLOCK
  ASSERT_FALSE(fifo.ok());
  EXPECT_EQ(fifo.status().code(), StatusCode::kWrongType);
  EXPECT_NE(fifo.status().message().find("fifo"), std::string::npos);
}

TEST(RootFsTest, SizeLimitIsEnforced) {
  TempRoot root;
  root.Write("/big", std::string(10000, 'a'));
  ReadOptions options;
  options.max_bytes = 9999;
  auto file = Open(root)->ReadFile("/big", options);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kTooLarge);
  options.max_bytes = 10000;
  EXPECT_TRUE(Open(root)->ReadFile("/big", options).ok());
}

TEST(RootFsTest, ASysctlIsReadWholeInTheFirstRead) {
  // /proc/sys files report a size of 0, and an integer sysctl answers only the first read (a
  // read at an offset gets EOF): a first read of one byte gave "9" for 96367.
  auto fs = OpenRootFs("/");
  ASSERT_TRUE(fs.ok()) << fs.status().ToString();
  auto file = (*fs)->ReadFile("/proc/sys/kernel/pid_max");
  if (!file.ok() && file.status().code() == StatusCode::kNotFound) {
    GTEST_SKIP() << "no /proc/sys/kernel/pid_max here";
  }
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->info.size, 0u);
  std::ifstream in("/proc/sys/kernel/pid_max");
  std::string expected((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(file->data, expected);
  EXPECT_GT(file->data.size(), 2u);  // pid_max is at least 301
}

TEST(RootFsTest, ScanFileGivesTheFileInPiecesWithReadFilesChecks) {
  TempRoot root;
  std::string text;
  for (int i = 0; text.size() < 200000; ++i) text += "line " + std::to_string(i) + "\n";
  root.Write("/var/lib/dpkg/status", text);
  root.Mkdir("/dir");
  root.Fifo("/fifo");
  auto fs = Open(root);
  std::string seen;
  size_t pieces = 0;
  Status all = fs->ScanFile("/var/lib/dpkg/status", {}, [&](std::string_view piece) {
    EXPECT_LE(piece.size(), Fs::kScanPieceBytes);
    seen.append(piece);
    ++pieces;
    return true;
  });
  ASSERT_TRUE(all.ok()) << all.ToString();
  EXPECT_EQ(seen, text);
  EXPECT_GE(pieces, 4u);
  size_t calls = 0;  // fn returning false stops the reading
  EXPECT_TRUE(fs->ScanFile("/var/lib/dpkg/status", {}, [&](std::string_view) {
                  ++calls;
                  return false;
                }).ok());
  EXPECT_EQ(calls, 1u);
  auto none = [](std::string_view) { return true; };
  EXPECT_EQ(fs->ScanFile("/missing", {}, none).code(), StatusCode::kNotFound);
  EXPECT_EQ(fs->ScanFile("/dir", {}, none).code(), StatusCode::kWrongType);
  EXPECT_EQ(fs->ScanFile("/fifo", {}, none).code(), StatusCode::kWrongType);  // no blocking
  ReadOptions small;
  small.max_bytes = 1000;
  EXPECT_EQ(fs->ScanFile("/var/lib/dpkg/status", small, none).code(), StatusCode::kTooLarge);
}

// The default ScanFile (in-memory fakes such as the fuzzers' MemFs): ReadFile's errors, pieces
// of at most kScanPieceBytes in order, and an early stop.
TEST(FsTest, DefaultScanFileCutsWhatReadFileGives) {
  class OneFile final : public Fs {
   public:
    explicit OneFile(std::string data) : data_(std::move(data)) {}
    StatusOr<FileContent> ReadFile(std::string_view path, const ReadOptions&) const override {
      if (path != "/f") return Status(StatusCode::kNotFound, std::string(path) + ": no such file");
      FileContent c;
      c.data = data_;
      return c;
    }
    StatusOr<FileInfo> Stat(std::string_view, bool) const override {
      return Status(StatusCode::kUnavailable, "not here");
    }
    StatusOr<std::vector<std::string>> ListDir(std::string_view) const override {
      return Status(StatusCode::kUnavailable, "not here");
    }
    StatusOr<std::string> ReadLink(std::string_view) const override {
      return Status(StatusCode::kUnavailable, "not here");
    }
    const std::string& root() const override { return root_; }

   private:
    std::string data_;
    std::string root_ = "/";
  };
  std::string text(Fs::kScanPieceBytes * 2 + 10, 'x');
  OneFile fs(text);
  std::vector<size_t> sizes;
  std::string seen;
  ASSERT_TRUE(fs.ScanFile("/f", {}, [&](std::string_view piece) {
                  sizes.push_back(piece.size());
                  seen.append(piece);
                  return true;
                }).ok());
  EXPECT_EQ(seen, text);
  EXPECT_EQ(sizes, (std::vector<size_t>{Fs::kScanPieceBytes, Fs::kScanPieceBytes, 10}));
  size_t calls = 0;
  EXPECT_TRUE(fs.ScanFile("/f", {}, [&](std::string_view) {
                  ++calls;
                  return false;
                }).ok());
  EXPECT_EQ(calls, 1u);
  EXPECT_EQ(fs.ScanFile("/g", {}, [](std::string_view) { return true; }).code(),
            StatusCode::kNotFound);
}

TEST(RootFsTest, AbsoluteSymlinkIsReRootedNotFollowedToHost) {
  TempRoot root;
  root.Write("/etc/hostname", "fixture-host\n");
  root.Symlink("/link", "/etc/hostname");
  auto file = Open(root)->ReadFile("/link");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->data, "fixture-host\n");
}

TEST(RootFsTest, DotDotCannotClimbAboveRoot) {
  TempRoot root;
  root.Write("/etc/hostname", "fixture-host\n");
  root.Symlink("/a/b/c/link", "../../../../../../../../etc/hostname");
  auto file = Open(root)->ReadFile("/a/b/c/link");
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->data, "fixture-host\n");
  auto direct = Open(root)->ReadFile("/../../../etc/hostname");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->data, "fixture-host\n");
}

TEST(RootFsTest, SelfLinkIsALoop) {
  TempRoot root;
  root.Symlink("/etc/shadow", "/etc/shadow");
  auto file = Open(root)->ReadFile("/etc/shadow");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kLoop);
}

TEST(RootFsTest, NoSymlinksOptionRefusesLinks) {
  TempRoot root;
  root.Write("/target", "x");
  root.Symlink("/link", "/target");
  ReadOptions options;
  options.no_symlinks = true;
  auto file = Open(root)->ReadFile("/link", options);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kLoop);
  EXPECT_TRUE(Open(root)->ReadFile("/target", options).ok());
}

TEST(RootFsTest, StatLinkAndTargetAndReadLink) {
  TempRoot root;
  root.Write("/target", "x", 0600);
  root.Symlink("/link", "/target");
  auto fs = Open(root);
  auto link = fs->Stat("/link", false);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(link->type, FileType::kSymlink);
  auto target = fs->Stat("/link", true);
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->type, FileType::kRegular);
  EXPECT_EQ(target->mode, 0600u);
  auto text = fs->ReadLink("/link");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "/target");
  auto not_link = fs->ReadLink("/target");
  ASSERT_FALSE(not_link.ok());
  EXPECT_EQ(not_link.status().code(), StatusCode::kWrongType);
}

TEST(RootFsTest, ListDirIsSortedBytewise) {
  TempRoot root;
  root.Write("/d/b", "");
  root.Write("/d/B", "");
  root.Write("/d/a.conf", "");
  root.Write("/d/a~", "");
  auto names = Open(root)->ListDir("/d");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"B", "a.conf", "a~", "b"}));
}

TEST(RootFsTest, RelativePathIsRejected) {
  TempRoot root;
  auto file = Open(root)->ReadFile("etc/passwd");
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kInvalidArgument);
}

TEST(RootFsTest, MissingRootFails) {
  auto fs = OpenRootFs("/nonexistent/tidemark-root");
  ASSERT_FALSE(fs.ok());
  EXPECT_EQ(fs.status().code(), StatusCode::kNotFound);
}

TEST(PathTest, Helpers) {
  EXPECT_EQ(JoinPath("/etc/", "/sudoers.d"), "/etc/sudoers.d");
  EXPECT_EQ(DirName("/etc/sudoers"), "/etc");
  EXPECT_EQ(DirName("/x"), "/");
  EXPECT_EQ(DirName("/"), "/");
  EXPECT_EQ(BaseName("/etc/sudoers"), "sudoers");
  EXPECT_EQ(NormalizePath("/a/./b/../../../c//d"), "/c/d");
  EXPECT_EQ(NormalizePath("rel/x"), "/rel/x");
  EXPECT_EQ(NormalizePath(""), "/");
  EXPECT_EQ(PathComponents("/a//b/"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(PathComponents("x/../y"), (std::vector<std::string>{"x", "..", "y"}));
  EXPECT_TRUE(PathComponents("/").empty());
}

}  // namespace
}  // namespace tidemark
