// The sweep collector and the walker on fixture roots: SUID/SGID files and their hashes,
// world-writable files and directories, unowned files, symlinks (never followed), FIFOs (never
// opened), excludes, roots, depth bound, device boundaries, dpkg ownership (merged /usr,
// diversions) and unreadable inputs.
#include "agent/sections/sweep.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "agent/bounded_items.h"
#include "agent/walk.h"
#include "common/sha256.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

std::set<std::string> Paths(const json& items) {
  std::set<std::string> out;
  for (const auto& i : items) out.insert(i["path"].get<std::string>());
  return out;
}

const json* FindPath(const json& items, std::string_view path) {
  for (const auto& i : items) {
    if (i["path"] == path) return &i;
  }
  return nullptr;
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    root_.Write("/etc/group", "root:x:0:\nalice:x:1000:\n");
    gid_ = static_cast<uint32_t>(::getegid());
    uid_ = static_cast<uint32_t>(::geteuid());
  }

  Section Run(CollectOptions options = {}, SweepLimits limits = {}) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok()) << fs.status().message();
    CollectContext ctx(**fs, "fixture", std::move(options));
    Section section;
    SweepReader(limits).Collect(ctx, section);
    section.Finish();
    section.Materialize();
    return section;
  }

  // Is the running user in the fixture's passwd/group (else everything is "unowned")?
  bool OwnedByFixture() const { return uid_ == 0 && gid_ == 0; }

  testing::TempRoot root_;
  uint32_t uid_ = 0, gid_ = 0;
};

TEST_F(SweepTest, ReportsSetIdFilesWithStreamedHashes) {
  std::string big(3 * 65536 + 17, 'x');  // more than one read buffer
  root_.Write("/usr/bin/suid", "suid-binary", 04755);
  root_.Write("/usr/bin/sgid", big, 02711);
  root_.Write("/usr/bin/both", "both", 06755);
  root_.Write("/usr/bin/plain", "plain", 0755);
  root_.Mkdir("/srv/sgid-dir", 02775);  // a directory is not a SUID/SGID *file*
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kOk) << s.data.dump();
  const json& items = s.data["setid_files"];
  EXPECT_EQ(Paths(items),
            (std::set<std::string>{"/usr/bin/both", "/usr/bin/sgid", "/usr/bin/suid"}));
  const json* suid = FindPath(items, "/usr/bin/suid");
  ASSERT_NE(suid, nullptr);
  EXPECT_EQ((*suid)["mode"], "4755");
  EXPECT_EQ((*suid)["setuid"], true);
  EXPECT_EQ((*suid)["setgid"], false);
  EXPECT_EQ((*suid)["sha256"], Sha256Hex("suid-binary"));
  EXPECT_EQ((*suid)["size"], 11);
  EXPECT_EQ((*suid)["id"], "sweep:setid:/usr/bin/suid");
  EXPECT_FALSE(suid->contains("source"));   // compact: the item is its own source
  EXPECT_EQ((*suid)["packages"], nullptr);  // no dpkg database in this root
  EXPECT_EQ(s.data["dpkg"]["state"], "absent");
  const json* sgid = FindPath(items, "/usr/bin/sgid");
  ASSERT_NE(sgid, nullptr) << "no item for /usr/bin/sgid";
  EXPECT_EQ((*sgid)["sha256"], Sha256Hex(big));
  const json* both = FindPath(items, "/usr/bin/both");
  ASSERT_NE(both, nullptr) << "no item for /usr/bin/both";
  EXPECT_EQ((*both)["setuid"], true);
  EXPECT_EQ((*both)["setgid"], true);
  EXPECT_EQ(s.data["counts"]["setid_files"], 3);
}

TEST_F(SweepTest, WorldWritableFilesAndDirectoriesWithoutSticky) {
  root_.Write("/data/ww", "x", 0666);
  root_.Write("/data/ok", "x", 0664);
  root_.Mkdir("/data/open", 0777);
  root_.Mkdir("/data/tmp", 01777);  // sticky: what /tmp is meant to be
  root_.Fifo("/data/pipe");
  root_.Chmod("/data/pipe", 0666);          // a FIFO is reported by metadata, never opened
  root_.Symlink("/data/link", "/data/ok");  // a symlink's 0777 is not world-writable
  Section s = Run();
  EXPECT_EQ(Paths(s.data["world_writable_files"]),
            (std::set<std::string>{"/data/pipe", "/data/ww"}));
  const json* pipe_item = FindPath(s.data["world_writable_files"], "/data/pipe");
  ASSERT_NE(pipe_item, nullptr) << "no world-writable item for /data/pipe";
  EXPECT_EQ((*pipe_item)["type"], "fifo");
  const json* ww = FindPath(s.data["world_writable_files"], "/data/ww");
  ASSERT_NE(ww, nullptr) << "no world-writable item for /data/ww";
  EXPECT_EQ((*ww)["mode"], "0666");
  EXPECT_EQ(Paths(s.data["world_writable_dirs"]), (std::set<std::string>{"/data/open"}));
  const json* open_dir = FindPath(s.data["world_writable_dirs"], "/data/open");
  ASSERT_NE(open_dir, nullptr) << "no world-writable directory item for /data/open";
  EXPECT_EQ((*open_dir)["id"], "sweep:world_writable_dir:/data/open");
}

TEST_F(SweepTest, UnownedFiles) {
  TIDEMARK_REQUIRE(OwnedByFixture(), "needs root to create files owned by unused ids");
  root_.Write("/data/nouser", "x");
  root_.Write("/data/nogroup", "x");
  root_.Write("/data/alice", "x");
  root_.Symlink("/data/lnk", "/data/alice");
  ASSERT_TRUE(root_.Chown("/data/nouser", 4242, 0));
  ASSERT_TRUE(root_.Chown("/data/nogroup", 1000, 4343));
  ASSERT_TRUE(root_.Chown("/data/alice", 1000, 1000));
  ASSERT_TRUE(root_.Chown("/data/lnk", 4242, 4242));  // lchown: the link itself
  Section s = Run();
  const json& items = s.data["unowned_files"];
  EXPECT_EQ(Paths(items), (std::set<std::string>{"/data/lnk", "/data/nogroup", "/data/nouser"}));
  const json* nouser_item = FindPath(items, "/data/nouser");
  ASSERT_NE(nouser_item, nullptr) << "no unowned item for /data/nouser";
  const json& nouser = *nouser_item;
  EXPECT_EQ(nouser["no_user"], true);
  EXPECT_EQ(nouser["no_group"], false);
  EXPECT_EQ(nouser["uid"], 4242);
  EXPECT_EQ(nouser["owner"], nullptr);
  EXPECT_EQ(nouser["group"], "root");
  const json* nogroup_item = FindPath(items, "/data/nogroup");
  ASSERT_NE(nogroup_item, nullptr) << "no unowned item for /data/nogroup";
  const json& nogroup = *nogroup_item;
  EXPECT_EQ(nogroup["no_user"], false);
  EXPECT_EQ(nogroup["no_group"], true);
  EXPECT_EQ(nogroup["owner"], "alice");
  const json* lnk = FindPath(items, "/data/lnk");
  ASSERT_NE(lnk, nullptr) << "no unowned item for /data/lnk";
  EXPECT_EQ((*lnk)["type"], "symlink");
}

TEST_F(SweepTest, SymlinksAreNeverFollowed) {
  root_.Write("/real/suid", "s", 04755);
  root_.Mkdir("/real/open", 0777);
  root_.Symlink("/links/to-real", "/real");
  root_.Symlink("/links/to-root", "/");
  root_.Symlink("/links/dotdot", "../..");
  root_.Symlink("/links/a", "b");
  root_.Symlink("/links/b", "a");  // a loop
  root_.Symlink("/links/suid", "/real/suid");
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kOk) << s.data.dump();
  EXPECT_EQ(Paths(s.data["setid_files"]), (std::set<std::string>{"/real/suid"}));
  EXPECT_EQ(Paths(s.data["world_writable_dirs"]), (std::set<std::string>{"/real/open"}));
}

TEST_F(SweepTest, ExcludesRootsAndPseudoPaths) {
  root_.Write("/a/suid", "s", 04755);
  root_.Write("/b/suid", "s", 04755);
  root_.Write("/b/inner/suid", "s", 04755);
  root_.Write("/proc/suid", "s", 04755);  // under --root a /proc directory is still not walked
  CollectOptions o;
  o.sweep_excludes = {"/b/inner"};
  Section s = Run(o);
  EXPECT_EQ(Paths(s.data["setid_files"]), (std::set<std::string>{"/a/suid", "/b/suid"}));
  std::set<std::string> skipped;
  for (const auto& k : s.data["skipped"]) {
    skipped.insert(k["path"].get<std::string>() + "=" + k["reason"].get<std::string>());
  }
  EXPECT_TRUE(skipped.count("/b/inner=excluded")) << s.data["skipped"].dump();
  EXPECT_TRUE(skipped.count("/proc=pseudo_path")) << s.data["skipped"].dump();

  CollectOptions roots;
  roots.sweep_roots = {"/b", "/a", "/b/inner", "/b/"};  // nested and repeated roots: walked once
  Section r = Run(roots);
  EXPECT_EQ(r.data["setid_files"].size(), 3u) << r.data["setid_files"].dump();
  EXPECT_EQ(Paths(r.data["setid_files"]),
            (std::set<std::string>{"/a/suid", "/b/inner/suid", "/b/suid"}));
}

TEST_F(SweepTest, MissingRootIsAnError) {
  CollectOptions o;
  o.sweep_roots = {"/nonexistent"};
  Section s = Run(o);
  EXPECT_EQ(s.status, SectionStatus::kError);
  ASSERT_FALSE(s.errors.empty());
  EXPECT_EQ(s.errors[0].path, "/nonexistent");
}

TEST_F(SweepTest, RootThatIsASymlinkIsNotFollowed) {
  root_.Write("/real/suid", "s", 04755);
  root_.Symlink("/viaLink", "/real");
  CollectOptions o;
  o.sweep_roots = {"/viaLink"};
  Section s = Run(o);
  EXPECT_EQ(s.status, SectionStatus::kError);
  EXPECT_TRUE(s.data["setid_files"].empty());
}

TEST_F(SweepTest, UnreadablePasswdDisablesTheUnownedCheckWithAnError) {
  root_.Write("/etc/passwd", "", 0644);
  std::filesystem::remove(root_.Host("/etc/passwd"));
  root_.Mkdir("/etc/passwd");  // a directory where the file should be
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_EQ(s.data["unowned_checked"]["user"], false);
  bool named = false;
  for (const auto& e : s.errors) named = named || e.path == "/etc/passwd";
  EXPECT_TRUE(named);
  for (const auto& i : s.data["unowned_files"]) EXPECT_EQ(i["no_user"], false);
}

// Creates `n` empty files named PREFIX0..PREFIX(n-1) with exactly `mode` in the host directory
// `dir`, one mknod(2) each.
void CreateFiles(const std::string& dir, const std::string& prefix, size_t n, mode_t mode) {
  std::filesystem::create_directories(dir);
  mode_t old = ::umask(0);
  for (size_t i = 0; i < n; ++i) {
    std::string p = dir + "/" + prefix + std::to_string(i);
    ASSERT_EQ(::mknod(p.c_str(), S_IFREG | mode, 0), 0) << p;
  }
  ::umask(old);
}

// Any user may set the SUID bit on a file of their own: a 64 GiB sparse one must not be read.
TEST_F(SweepTest, HugeSparseSetIdFileIsNotHashed) {
  root_.Write("/home/alice/big", "", 04755);
  ASSERT_EQ(::truncate(root_.Host("/home/alice/big").c_str(), 64ll << 30), 0);
  root_.Write("/usr/bin/su", "su-binary", 04755);
  auto start = std::chrono::steady_clock::now();
  Section s = Run();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(5));
  const json* big = FindPath(s.data["setid_files"], "/home/alice/big");
  ASSERT_NE(big, nullptr);
  EXPECT_TRUE((*big)["sha256"].is_null());
  EXPECT_EQ((*big)["not_hashed"], "not hashed: larger than 16777216 bytes");
  EXPECT_EQ((*big)["size"], 64ull << 30);
  const json* su = FindPath(s.data["setid_files"], "/usr/bin/su");
  ASSERT_NE(su, nullptr) << "no setid item for /usr/bin/su";
  EXPECT_EQ((*su)["sha256"], Sha256Hex("su-binary"));
}

TEST_F(SweepTest, HashingBudgetIsSharedAndRootsFilesComeFirst) {
  std::string mib(1u << 20, 'x');
  root_.Write("/usr/bin/a", mib, 04755);
  root_.Write("/usr/bin/b", mib, 04755);
  root_.Write("/usr/bin/c", mib, 04755);
  SweepLimits limits;
  limits.hash_budget_bytes = (2u << 20) + 100;  // two of the three
  Section s = Run({}, limits);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  int hashed = 0, over_budget = 0;
  for (const auto& i : s.data["setid_files"]) {
    if (i["sha256"].is_string()) ++hashed;
    if (i["not_hashed"].is_string() &&
        i["not_hashed"].get<std::string>().find("hashing budget") != std::string::npos) {
      ++over_budget;
    }
  }
  EXPECT_EQ(hashed, 2);
  EXPECT_EQ(over_budget, 1);
}

TEST_F(SweepTest, TimeBudgetStopsTheWalkAndSaysWhere) {
  CreateFiles(root_.Host("/srv/many"), "f", 100, 0666);
  SweepLimits limits;
  limits.time_budget = std::chrono::milliseconds(0);
  Section s = Run({}, limits);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  ASSERT_TRUE(s.data["stopped_at"].is_string()) << s.data.dump();
  bool said = false;
  for (const auto& e : s.errors) {
    said = said || e.message.find("time budget of 0 ms ran out") != std::string::npos;
  }
  EXPECT_TRUE(said);
  EXPECT_LT(s.data["world_writable_files"].size(), 100u);
}

// 100,000 world-writable files (2.8 s to create as any user) must not make the snapshot
// undeliverable: the list is cut at its cap, with the true count.
TEST_F(SweepTest, WorldWritableFloodIsCappedWithTheTrueCount) {
  CreateFiles(root_.Host("/tmp/flood"), "f", 100000, 0666);
  Section s = Run();
  SweepLimits limits;
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_LE(s.data["world_writable_files"].size(), limits.max_items);
  EXPECT_GT(s.data["world_writable_files"].size(), 0u);
  EXPECT_EQ(s.data["truncated"]["world_writable_files"]["total"], 100000);
  EXPECT_EQ(s.data["truncated"]["world_writable_files"]["limit"], limits.max_items);
  EXPECT_EQ(s.data["counts"]["world_writable_files"], 100000);
  EXPECT_LT(EncodeSection(s).dump().size(), 2u << 20);
}

TEST_F(SweepTest, RootsWorldWritableFilesAreKeptBeforeAUsersFlood) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "chown to another user needs root");
  CreateFiles(root_.Host("/tmp/flood"), "f", 50, 0666);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(root_.Chown("/tmp/flood/f" + std::to_string(i), 1000, 1000));
  }
  root_.Write("/etc/root-ww", "", 0666);
  SweepLimits limits;
  limits.max_items = 10;
  Section s = Run({}, limits);
  EXPECT_EQ(s.data["world_writable_files"].size(), 10u);
  EXPECT_NE(FindPath(s.data["world_writable_files"], "/etc/root-ww"), nullptr);
  EXPECT_EQ(s.data["truncated"]["world_writable_files"]["total"], 51);
}

// Two names that differ only in an invalid byte stay two items with two ids, and the bytes come
// back from path_b64; a valid name that looks like an escape is a third, different item.
TEST_F(SweepTest, NamesThatAreNotUtf8AreLosslessAndUnique) {
  root_.Write(std::string("/tmp/a\xff"), "", 0666);
  root_.Write(std::string("/tmp/a\xfe"), "", 0666);
  root_.Write("/tmp/a\\xff", "", 0666);  // valid UTF-8 with a backslash
  Section s = Run();
  const json& items = s.data["world_writable_files"];
  ASSERT_EQ(items.size(), 3u) << items.dump();
  std::set<std::string> ids, raw;
  for (const auto& i : items) {
    ids.insert(i["id"].get<std::string>());
    std::string path = i["path"].get<std::string>();
    EXPECT_TRUE(IsValidUtf8(path));
    auto bytes = UnescapeHostName(path);
    ASSERT_TRUE(bytes.has_value()) << path;
    if (i.contains("path_b64")) {
      EXPECT_EQ(Base64Decode(i["path_b64"].get<std::string>()), *bytes);
    } else {
      EXPECT_TRUE(IsValidUtf8(*bytes));
    }
    raw.insert(*bytes);
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(raw, (std::set<std::string>{"/tmp/a\xff", "/tmp/a\xfe", "/tmp/a\\xff"}));
  EXPECT_NE(FindPath(items, "/tmp/a\\xff"), nullptr);
  EXPECT_NE(FindPath(items, "/tmp/a\\\\xff"), nullptr);
  // The section's text is valid UTF-8: nothing was replaced by U+FFFD.
  EXPECT_EQ(EncodeSection(s).dump().find("\xef\xbf\xbd"), std::string::npos);
}

// A list cut by its byte bound says how many it kept: it said "20000 of 1 items kept" (the item
// limit) for a crontab entry over the byte bound.
TEST(BoundedItemsTest, ACutByBytesReportsWhatWasKept) {
  BoundedItems list(20000, 100);
  EXPECT_TRUE(list.Add(json{{"id", std::string(40, 'a')}}));
  EXPECT_FALSE(list.Add(json{{"id", std::string(80, 'b')}}));
  EXPECT_EQ(list.Take().size(), 1u);
  Section out;
  list.Report(out, "entries");
  EXPECT_EQ(out.data["truncated"]["entries"]["limit"], 1);
  EXPECT_EQ(out.data["truncated"]["entries"]["total"], 2);
  EXPECT_EQ(out.data["truncated"]["entries"]["max_bytes"], 100);
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].message, "list 'entries' truncated: 1 of 2 items kept");
}

TEST(HostNameTest, EscapedFormRoundTripsAndIsInjective) {
  const std::vector<std::string> names = {"plain",
                                          "a\xff",
                                          "a\xfe",
                                          "a\\xff",
                                          "a\\\\xff",
                                          "caf\xc3\xa9",
                                          "\xc3",
                                          "\xed\xa0\x80",
                                          "new\nline",
                                          "\\",
                                          std::string("n\0ul", 4)};
  std::set<std::string> escaped;
  for (const auto& n : names) {
    std::string e = EscapeHostName(n);
    EXPECT_TRUE(IsValidUtf8(e)) << e;
    EXPECT_EQ(UnescapeHostName(e), n) << e;
    escaped.insert(e);
    EXPECT_EQ(Base64Decode(Base64Encode(n)), n);
  }
  EXPECT_EQ(escaped.size(), names.size());
  EXPECT_EQ(EscapeHostName("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(EscapeHostName("a\xff"), "a\\xff");
  EXPECT_EQ(EscapeHostName("a\\b"), "a\\\\b");
  EXPECT_EQ(Base64Encode("a\xff"), "Yf8=");
  EXPECT_EQ(Base64Decode("Yf8"), std::nullopt);
  EXPECT_EQ(UnescapeHostName("a\\q"), std::nullopt);
}

TEST(WalkTest, DepthIsBoundedAndReported) {
  testing::TempRoot root;
  root.Write("/a/b/c/d/e/deep-suid", "s", 04755);
  root.Write("/a/b/shallow-suid", "s", 04755);
  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  WalkOptions o;
  o.max_depth = 3;
  std::set<std::string> seen;
  WalkResult r = Walk(**fs, o, [&](const WalkEntry& e) { seen.insert(e.path); });
  EXPECT_TRUE(seen.count("/a/b/shallow-suid"));
  EXPECT_TRUE(seen.count("/a/b/c/d"));  // seen, not entered
  EXPECT_FALSE(seen.count("/a/b/c/d/e"));
  EXPECT_EQ(r.depth_limited, 1u);
  EXPECT_EQ(r.error_count, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].path, "/a/b/c/d");
}

// As root, drop to nobody in a child process: the walker must record the directory it cannot
// open as an error entry and go on.
TEST(WalkTest, PermissionDeniedDirectoryAsAnUnprivilegedUser) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "needs root to switch to an unprivileged uid");
  testing::TempRoot root;
  root.Write("/locked/inner", "");
  root.Write("/open/file", "");
  root.Chmod("/locked", 0700);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) _exit(2);
    auto fs = OpenRootFs(root.path());
    if (!fs.ok()) _exit(3);
    std::set<std::string> seen;
    WalkResult r = Walk(**fs, {}, [&](const WalkEntry& e) { seen.insert(e.path); });
    bool ok = r.error_count == 1 && r.errors.size() == 1 && r.errors[0].path == "/locked" &&
              r.errors[0].message.find("Permission denied") != std::string::npos &&
              seen.count("/open/file") == 1 && seen.count("/locked") == 1 &&
              seen.count("/locked/inner") == 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2/3: could not drop privileges or open the root";
}

TEST(WalkTest, ErrorListIsCappedButCounted) {
  testing::TempRoot root;
  for (int i = 0; i < 5; ++i) root.Write("/d" + std::to_string(i) + "/x/y", "");
  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  WalkOptions o;
  o.max_depth = 1;
  o.max_recorded = 2;
  WalkResult r = Walk(**fs, o, [](const WalkEntry&) {});
  EXPECT_EQ(r.error_count, 5u);
  EXPECT_EQ(r.errors.size(), 2u);
}

TEST(WalkTest, StaysOnTheRootsDevice) {
  TIDEMARK_REQUIRE(::geteuid() == 0, "mounting a tmpfs needs root");
  testing::TempRoot root;
  root.Write("/mnt/inner/x", "");
  root.Write("/top", "");
  if (::mount("tidemark-test", root.Host("/mnt/inner").c_str(), "tmpfs", 0, "size=64k") != 0) {
    TIDEMARK_REQUIRE(false, "cannot mount a tmpfs here (no CAP_SYS_ADMIN in this sandbox?)");
  }
  { std::ofstream(root.Host("/mnt/inner/on-tmpfs")) << "x"; }
  auto fs = OpenRootFs(root.path());
  ASSERT_TRUE(fs.ok());
  std::set<std::string> seen;
  WalkResult r = Walk(**fs, {}, [&](const WalkEntry& e) { seen.insert(e.path); });
  ::umount(root.Host("/mnt/inner").c_str());
  EXPECT_TRUE(seen.count("/mnt/inner"));  // the mount point itself, as find -xdev
  EXPECT_FALSE(seen.count("/mnt/inner/on-tmpfs"));
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].path, "/mnt/inner");
  EXPECT_EQ(r.skipped[0].reason, "other_device");
}

TEST(WalkTest, ClassifiesPseudoAndNetworkFilesystems) {
  EXPECT_EQ(ClassifyFsType(0x9fa0).kind, "pseudo");   // proc
  EXPECT_EQ(ClassifyFsType(0x6969).kind, "network");  // nfs
  EXPECT_EQ(ClassifyFsType(0xef53).kind, "local");    // ext4
  EXPECT_EQ(FsKindByName("nfs4"), "network");
  EXPECT_EQ(FsKindByName("fuse.sshfs"), "network");
  EXPECT_EQ(FsKindByName("cgroup2"), "pseudo");
  EXPECT_EQ(FsKindByName("xfs"), "local");
}

// dpkg's database, as Debian 12 lays it out: /bin is a symlink to usr/bin, the .list files name
// /bin/su, the walk finds /usr/bin/su.
class DpkgTest : public SweepTest {
 protected:
  void SetUp() override {
    SweepTest::SetUp();
    root_.Symlink("/bin", "usr/bin");
    root_.Symlink("/sbin", "/usr/sbin");
    root_.Mkdir("/lib64");  // not merged here: /lib64 and /usr/lib64 stay apart
    root_.Write("/usr/bin/su", "su", 04755);
    root_.Write("/usr/bin/passwd", "passwd", 04755);
    root_.Write("/usr/sbin/unix_chkpwd", "chk", 02755);
    root_.Write("/usr/bin/perf", "wrapper", 04755);       // diversion "from": the diverter's
    root_.Write("/usr/bin/perf.distrib", "real", 04755);  // diversion "to": the lister's
    root_.Write("/usr/bin/mine", "local", 04755);         // locally diverted
    root_.Write("/usr/lib64/x/helper", "h", 04755);
    root_.Write("/opt/stray", "stray", 04755);
    root_.Write("/var/lib/dpkg/info/util-linux.list", "/.\n/bin\n/bin/su\n/usr/bin/other\n");
    root_.Write("/var/lib/dpkg/info/passwd.list", "/usr/bin/passwd\n/usr/bin/mine\n");
    root_.Write("/var/lib/dpkg/info/libpam-modules-bin.list", "/sbin/unix_chkpwd");  // no final \n
    root_.Write("/var/lib/dpkg/info/perf-real.list", "/usr/bin/perf\n");
    root_.Write("/var/lib/dpkg/info/perf-wrapper.list", "/usr/bin/perf\n");
    root_.Write("/var/lib/dpkg/info/libx:amd64.list", "/lib64/x/helper\n");
    root_.Write("/var/lib/dpkg/info/util-linux.md5sums", "/usr/bin/passwd\n");  // not a list
    root_.Write("/var/lib/dpkg/diversions",
                "/usr/bin/perf\n/usr/bin/perf.distrib\nperf-wrapper\n"
                "/usr/bin/mine\n/usr/bin/mine.orig\n:\n");
  }
};

TEST_F(DpkgTest, MergedUsrAndDiversions) {
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kOk) << s.data.dump();
  EXPECT_EQ(s.data["dpkg"]["state"], "present");
  EXPECT_EQ(s.data["dpkg"]["merged_usr"], (json{"bin", "sbin"}));
  const json& items = s.data["setid_files"];
  auto pkgs = [&](std::string_view path) {
    const json* item = FindPath(items, path);
    EXPECT_NE(item, nullptr) << "no setid item for " << path;
    return item != nullptr ? (*item)["packages"] : json("(no item)");
  };
  EXPECT_EQ(pkgs("/usr/bin/su"), (json{"util-linux"}));
  const json* su = FindPath(items, "/usr/bin/su");
  ASSERT_NE(su, nullptr) << "no setid item for /usr/bin/su";
  EXPECT_EQ((*su)["dpkg_path"], "/bin/su");
  EXPECT_EQ(pkgs("/usr/bin/passwd"), (json{"passwd"}));
  EXPECT_EQ(pkgs("/usr/sbin/unix_chkpwd"), (json{"libpam-modules-bin"}));
  const json* chkpwd = FindPath(items, "/usr/sbin/unix_chkpwd");
  ASSERT_NE(chkpwd, nullptr) << "no setid item for /usr/sbin/unix_chkpwd";
  EXPECT_EQ((*chkpwd)["dpkg_path"], "/sbin/unix_chkpwd");
  EXPECT_EQ(pkgs("/usr/bin/perf"), (json{"perf-wrapper"}));
  EXPECT_EQ(pkgs("/usr/bin/perf.distrib"), (json{"perf-real"}));
  const json* distrib = FindPath(items, "/usr/bin/perf.distrib");
  ASSERT_NE(distrib, nullptr) << "no setid item for /usr/bin/perf.distrib";
  const json& div = (*distrib)["diversion"];
  EXPECT_EQ(div["from"], "/usr/bin/perf");
  EXPECT_EQ(div["by"], "perf-wrapper");
  EXPECT_EQ(div["local"], false);
  EXPECT_EQ(pkgs("/usr/bin/mine"), json::array());  // the admin's file, not passwd's
  const json* mine = FindPath(items, "/usr/bin/mine");
  ASSERT_NE(mine, nullptr) << "no setid item for /usr/bin/mine";
  EXPECT_EQ((*mine)["diversion"]["local"], true);
  EXPECT_EQ(pkgs("/usr/lib64/x/helper"), json::array());  // /lib64 is not merged here
  EXPECT_EQ(pkgs("/opt/stray"), json::array());
}

TEST(MergedUsrTest, Aliases) {
  std::vector<std::string> merged = {"bin", "sbin", "lib"};
  EXPECT_EQ(MergedUsrAlias("/usr/bin/su", merged), "/bin/su");
  EXPECT_EQ(MergedUsrAlias("/bin/su", merged), "/usr/bin/su");
  EXPECT_EQ(MergedUsrAlias("/usr/lib/x/y", merged), "/lib/x/y");
  EXPECT_EQ(MergedUsrAlias("/usr/lib64/y", merged), std::nullopt);
  EXPECT_EQ(MergedUsrAlias("/usr/binx/y", merged), std::nullopt);
  EXPECT_EQ(MergedUsrAlias("/usr/bin", merged), std::nullopt);
}

TEST_F(DpkgTest, UnreadableListIsANamedErrorAndTheRestIsStillUsed) {
  std::filesystem::remove(root_.Host("/var/lib/dpkg/info/passwd.list"));
  root_.Mkdir("/var/lib/dpkg/info/passwd.list");  // a directory where a list should be
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  bool named = false;
  for (const auto& e : s.errors) named = named || e.path == "/var/lib/dpkg/info/passwd.list";
  EXPECT_TRUE(named);
  const json* su = FindPath(s.data["setid_files"], "/usr/bin/su");
  ASSERT_NE(su, nullptr) << "no setid item for /usr/bin/su";
  EXPECT_EQ((*su)["packages"], (json{"util-linux"}));
}

}  // namespace
}  // namespace tidemark::agent
