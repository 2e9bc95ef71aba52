// Reading user-controlled files as their owner could, and the StrictModes judgement.
// As root the fixture owner is uid 1000 and the fixture files are chowned to it; otherwise the
// owner is the uid running the test (which owns the fixture files).
#include "agent/user_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

struct Ids {
  uint32_t uid;
  uint32_t gid;
  bool as_root;
};

Ids TestIds() {
  if (::geteuid() == 0) return {1000, 1000, true};
  return {static_cast<uint32_t>(::geteuid()), static_cast<uint32_t>(::getegid()), false};
}

class UserFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ids_ = TestIds();
    owner_ = {"alice", ids_.uid, {ids_.gid}, "/home/alice"};
    root_.Mkdir("/home/alice/.ssh", 0700);
    root_.Chmod("/home/alice", 0755);
    Own("/home/alice");
    Own("/home/alice/.ssh");
    auto fs = OpenRootFs(root_.path());
    ASSERT_TRUE(fs.ok());
    fs_ = std::move(*fs);
  }
  // Makes `path` belong to the fixture owner (a no-op when not root: it already does).
  void Own(std::string_view path) {
    if (ids_.as_root) {
      ASSERT_TRUE(root_.Chown(path, ids_.uid, ids_.gid));
    }
  }
  void WriteOwned(std::string_view path, std::string_view content, unsigned mode = 0600) {
    root_.Write(path, content, mode);
    Own(path);
  }
  UserFile Read(std::string_view path) { return ReadAsOwner(*fs_, path, owner_); }

  Ids ids_{};
  FileOwner owner_;
  testing::TempRoot root_;
  std::unique_ptr<Fs> fs_;
};

TEST_F(UserFilesTest, PresentFileIsReadAndStrictModesAcceptsIt) {
  WriteOwned("/home/alice/.ssh/authorized_keys", "content\n");
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kPresent) << f.reason;
  EXPECT_EQ(f.data, "content\n");
  EXPECT_FALSE(f.via_symlink);
  EXPECT_EQ(f.resolved_path, "/home/alice/.ssh/authorized_keys");
  EXPECT_TRUE(f.strict_modes.empty()) << f.strict_modes[0].path << " " << f.strict_modes[0].problem;
  ASSERT_TRUE(f.info);
  EXPECT_EQ(f.info->mode, 0600u);
}

TEST_F(UserFilesTest, MissingFileOrHomeIsAbsent) {
  EXPECT_EQ(Read("/home/alice/.ssh/authorized_keys").state, UserFileState::kAbsent);
  EXPECT_EQ(Read("/home/nobody/.ssh/authorized_keys").state, UserFileState::kAbsent);
}

TEST_F(UserFilesTest, SymlinkToShadowIsUnreadableAndNeverRead) {
  const std::string kShadow = "root:$6$saltsalt$HASHEDPASSWORDBYTES:19000:0:99999:7:::\n";
  root_.Write("/etc/shadow", kShadow, ids_.as_root ? 0640 : 0000);
  root_.Symlink("/home/alice/.ssh/authorized_keys", "/etc/shadow");
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kUnreadableByOwner) << f.reason;
  EXPECT_TRUE(f.via_symlink);
  EXPECT_EQ(f.resolved_path, "/etc/shadow");
  EXPECT_TRUE(f.data.empty());
  EXPECT_EQ(f.reason.find("HASHED"), std::string::npos);
  // Root may read anything: the same link for a uid-0 owner is followed (StrictModes accepts a
  // root-owned 0640 file under root-owned directories only when running as root).
  if (ids_.as_root) {
    FileOwner root_owner{"root", 0, {0}, "/root"};
    UserFile r = ReadAsOwner(*fs_, "/home/alice/.ssh/authorized_keys", root_owner);
    EXPECT_NE(r.state, UserFileState::kUnreadableByOwner);
  }
}

TEST_F(UserFilesTest, SymlinkWithinHomeIsFollowed) {
  WriteOwned("/home/alice/keys/main", "k\n");
  root_.Chmod("/home/alice/keys", 0700);
  Own("/home/alice/keys");
  root_.Symlink("/home/alice/.ssh/authorized_keys", "../keys/./main");
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kPresent) << f.reason;
  EXPECT_TRUE(f.via_symlink);
  EXPECT_EQ(f.resolved_path, "/home/alice/keys/main");
  EXPECT_EQ(f.data, "k\n");
}

TEST_F(UserFilesTest, LinksEscapingTheRootAreReRooted) {
  WriteOwned("/home/alice/real", "inside\n");
  // Absolute target: "/" is the audited root. Relative target climbing above the root stops at
  // the root. Neither reaches the machine's own files.
  root_.Symlink("/home/alice/.ssh/authorized_keys", "/home/alice/real");
  root_.Symlink("/home/alice/.ssh/authorized_keys2", "../../../../../../../home/alice/real");
  for (const char* p : {"/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/authorized_keys2"}) {
    UserFile f = Read(p);
    EXPECT_EQ(f.state, UserFileState::kPresent) << p << ": " << f.reason;
    EXPECT_EQ(f.resolved_path, "/home/alice/real");
    EXPECT_EQ(f.data, "inside\n");
  }
  root_.Symlink("/home/alice/.ssh/escape", "../../../../../../../../etc/hostname");
  UserFile e = Read("/home/alice/.ssh/escape");
  EXPECT_EQ(e.state, UserFileState::kAbsent) << e.reason;  // the fixture has no /etc/hostname
}

TEST_F(UserFilesTest, WritableFileAndDirectoryAreFlagged) {
  WriteOwned("/home/alice/.ssh/authorized_keys", "k\n", 0666);
  root_.Chmod("/home/alice/.ssh", 0770);
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kPresent);  // a plain file is read; its problems reported
  std::vector<StrictModesProblem> expected = {
      {"/home/alice/.ssh/authorized_keys", "group_writable"},
      {"/home/alice/.ssh/authorized_keys", "world_writable"},
      {"/home/alice/.ssh", "group_writable"},
  };
  EXPECT_EQ(f.strict_modes, expected);
}

TEST_F(UserFilesTest, WalkStopsAtHomeElseGoesToTheRoot) {
  root_.Chmod("/home", 0777);  // above the home: not judged for files under the home
  WriteOwned("/home/alice/.ssh/authorized_keys", "k\n");
  EXPECT_TRUE(Read("/home/alice/.ssh/authorized_keys").strict_modes.empty());
  // A file outside the home is judged up to "/".
  root_.Write("/etc/ssh/keys/alice", "k\n", 0644);
  root_.Chmod("/etc/ssh/keys", 0777);
  UserFile f = Read("/etc/ssh/keys/alice");
  EXPECT_EQ(f.state, UserFileState::kPresent) << f.reason;
  std::vector<StrictModesProblem> expected = {{"/etc/ssh/keys", "group_writable"},
                                              {"/etc/ssh/keys", "world_writable"}};
  EXPECT_EQ(f.strict_modes, expected);
}

TEST_F(UserFilesTest, ForeignOwnerIsFlaggedAndSymlinkToItNotFollowed) {
  TIDEMARK_REQUIRE(ids_.as_root, "needs root to chown a fixture file to another uid");
  root_.Write("/home/alice/.ssh/authorized_keys", "k\n", 0644);
  ASSERT_TRUE(root_.Chown("/home/alice/.ssh/authorized_keys", 2000, 2000));
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kPresent);
  ASSERT_EQ(f.strict_modes.size(), 1u);
  EXPECT_EQ(f.strict_modes[0].problem, "foreign_owner");
  // Bob's world-readable key file reached by alice's symlink: StrictModes refuses the target.
  root_.Write("/home/bob/.ssh/authorized_keys", "bob's keys\n", 0644);
  ASSERT_TRUE(root_.Chown("/home/bob/.ssh/authorized_keys", 2000, 2000));
  root_.Symlink("/home/alice/.ssh/authorized_keys2", "/home/bob/.ssh/authorized_keys");
  UserFile l = Read("/home/alice/.ssh/authorized_keys2");
  EXPECT_EQ(l.state, UserFileState::kUnsafeSymlink) << l.reason;
  EXPECT_TRUE(l.data.empty());
}

TEST_F(UserFilesTest, UnsearchableDirectoryMeansUnreadable) {
  WriteOwned("/home/alice/.ssh/authorized_keys", "k\n");
  root_.Chmod("/home/alice/.ssh", 0600);  // no x for the owner
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kUnreadableByOwner) << f.reason;
  EXPECT_TRUE(f.data.empty());
}

TEST_F(UserFilesTest, GroupMembershipGrantsAccess) {
  TIDEMARK_REQUIRE(ids_.as_root, "needs root to chown a fixture file to another uid");
  root_.Write("/home/alice/.ssh/authorized_keys", "k\n", 0640);
  ASSERT_TRUE(root_.Chown("/home/alice/.ssh/authorized_keys", 0, 4242));
  EXPECT_EQ(Read("/home/alice/.ssh/authorized_keys").state, UserFileState::kUnreadableByOwner);
  owner_.gids.push_back(4242);
  EXPECT_EQ(Read("/home/alice/.ssh/authorized_keys").state, UserFileState::kPresent);
}

TEST_F(UserFilesTest, FifoAndDirectoryAreErrorsWithoutBlocking) {
  root_.Fifo("/home/alice/.ssh/authorized_keys");
  Own("/home/alice/.ssh/authorized_keys");
  root_.Mkdir("/home/alice/.ssh/authorized_keys2", 0700);
  Own("/home/alice/.ssh/authorized_keys2");
  // A blocking open of the FIFO would hang here (ctest's timeout ends it as a failure).
  UserFile fifo = Read("/home/alice/.ssh/authorized_keys");
  UserFile dir = Read("/home/alice/.ssh/authorized_keys2");
  EXPECT_EQ(fifo.state, UserFileState::kError);
  EXPECT_NE(fifo.reason.find("fifo"), std::string::npos) << fifo.reason;
  EXPECT_EQ(dir.state, UserFileState::kError);
  EXPECT_NE(dir.reason.find("directory"), std::string::npos) << dir.reason;
  ASSERT_FALSE(fifo.strict_modes.empty());
  EXPECT_EQ(fifo.strict_modes[0].problem, "not_regular_file");
}

TEST_F(UserFilesTest, SymlinkLoopsAndNotADirectory) {
  root_.Symlink("/home/alice/.ssh/authorized_keys", "loop2");
  root_.Symlink("/home/alice/.ssh/loop2", "authorized_keys");
  UserFile loop = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(loop.state, UserFileState::kError);
  EXPECT_EQ(loop.error_code, StatusCode::kLoop);
  WriteOwned("/home/alice/file", "x");
  UserFile notdir = Read("/home/alice/file/authorized_keys");
  EXPECT_EQ(notdir.state, UserFileState::kError);
  EXPECT_EQ(notdir.error_code, StatusCode::kWrongType);
}

TEST_F(UserFilesTest, ProtectedSymlinksInStickyDirectories) {
  TIDEMARK_REQUIRE(ids_.as_root, "needs root to chown a fixture symlink to another uid");
  root_.Mkdir("/tmp", 01777);
  WriteOwned("/home/alice/real", "k\n");
  root_.Symlink("/tmp/link", "/home/alice/real");
  ASSERT_TRUE(root_.Chown("/tmp/link", 2000, 2000));  // neither alice's nor the directory owner's
  root_.Symlink("/home/alice/.ssh/authorized_keys", "/tmp/link");
  EXPECT_EQ(Read("/home/alice/.ssh/authorized_keys").state, UserFileState::kUnreadableByOwner);
}

TEST_F(UserFilesTest, LargeFileIsAnErrorAndNotRead) {
  WriteOwned("/home/alice/.ssh/authorized_keys", std::string(2u << 20, 'a'));
  UserFile f = Read("/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(f.state, UserFileState::kError);
  EXPECT_EQ(f.error_code, StatusCode::kTooLarge);
  EXPECT_TRUE(f.data.empty());
}

// StatMemoFs: the ssh_keys section reads every user's files through it. The same answers as
// the Fs it wraps, each path (and follow) asked of that Fs once, errors included.
TEST_F(UserFilesTest, StatMemoAnswersAsTheFsButAsksItOncePerPath) {
  WriteOwned("/home/alice/.ssh/authorized_keys", "key\n");
  ASSERT_EQ(::symlink("authorized_keys", (root_.path() + "/home/alice/.ssh/k2").c_str()), 0);
  StatMemoFs memo(*fs_);
  for (const char* path : {"/home/alice/.ssh/authorized_keys", "/home/alice/.ssh/k2",
                           "/home/alice/.ssh/authorized_keys2", "/home/bob/.ssh/x"}) {
    UserFile plain = ReadAsOwner(*fs_, path, owner_);
    UserFile memoized = ReadAsOwner(memo, path, owner_);
    EXPECT_EQ(memoized.state, plain.state) << path;
    EXPECT_EQ(memoized.reason, plain.reason) << path;
    EXPECT_EQ(memoized.data, plain.data) << path;
    EXPECT_EQ(memoized.resolved_path, plain.resolved_path) << path;
    EXPECT_EQ(memoized.strict_modes, plain.strict_modes) << path;
  }
  size_t forwarded = memo.forwarded_stats();
  EXPECT_GT(forwarded, 0u);
  // "/", "/home", "/home/alice", ".ssh", the files, "/home/bob" and the StrictModes walk: each
  // asked once though every ReadAsOwner resolves the home and the path from "/".
  EXPECT_LE(forwarded, 14u);
  EXPECT_EQ(ReadAsOwner(memo, "/home/alice/.ssh/k2", owner_).state, UserFileState::kPresent);
  EXPECT_EQ(memo.forwarded_stats(), forwarded);  // all answered from memory
  // Follow and no-follow are separate answers.
  auto link = memo.Stat("/home/alice/.ssh/k2", /*follow=*/false);
  auto target = memo.Stat("/home/alice/.ssh/k2", /*follow=*/true);
  ASSERT_TRUE(link.ok() && target.ok());
  EXPECT_EQ(link->type, FileType::kSymlink);
  EXPECT_EQ(target->type, FileType::kRegular);
  // An error is an answer too, kept with its code.
  auto missing = memo.Stat("/nowhere", false);
  size_t after_missing = memo.forwarded_stats();
  auto again = memo.Stat("/nowhere", false);
  EXPECT_EQ(memo.forwarded_stats(), after_missing);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(again.status().message(), missing.status().message());
}

TEST_F(UserFilesTest, StatMemoStartsAgainEmptyBeyondItsBound) {
  StatMemoFs memo(*fs_);
  auto p0 = memo.Stat("/p0", false);
  ASSERT_FALSE(p0.ok());
  EXPECT_EQ(p0.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(p0.status().message(), "/p0: no such file or directory");
  for (size_t i = 1; i < StatMemoFs::kMaxEntries; ++i)
    (void)memo.Stat("/p" + std::to_string(i), false);
  EXPECT_EQ(memo.forwarded_stats(), StatMemoFs::kMaxEntries);
  (void)memo.Stat("/p0", false);  // still kept
  EXPECT_EQ(memo.forwarded_stats(), StatMemoFs::kMaxEntries);
  (void)memo.Stat("/one-more", false);  // full: forgets everything, then keeps this one
  (void)memo.Stat("/p0", false);
  EXPECT_EQ(memo.forwarded_stats(), StatMemoFs::kMaxEntries + 2);
}

TEST(UserFilesPermissionTest, ModeClasses) {
  FileOwner alice{"alice", 1000, {1000, 50}, "/home/alice"};
  FileInfo info;
  info.uid = 1000;
  info.gid = 50;
  info.mode = 0077;  // the owner class applies alone, even though group/other may read
  EXPECT_FALSE(OwnerMayRead(info, alice));
  info.uid = 0;
  EXPECT_TRUE(OwnerMayRead(info, alice));  // group 50 class
  info.mode = 0704;
  EXPECT_FALSE(OwnerMayRead(info, alice));  // group class has nothing; other is not consulted
  info.gid = 7;
  EXPECT_TRUE(OwnerMayRead(info, alice));
  info.mode = 0;
  EXPECT_FALSE(OwnerMaySearch(info, alice));
  EXPECT_TRUE(OwnerMaySearch(info, FileOwner{"root", 0, {0}, "/root"}));
}

}  // namespace
}  // namespace tidemark::agent
