// The agent's spool (agent/uplink/spool.h): order, bounds and the dropped counter, rejected/,
// crash leftovers, foreign and corrupt files, persistence of the counters, modes, the lock.
#include "agent/uplink/spool.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/transport/protocol.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent::uplink {
namespace {

using testing::TempRoot;
namespace fs = std::filesystem;

SpoolMeta Meta(const std::string& id, char hash_digit = 'a') {
  return {id, "sha256:" + std::string(64, hash_digit), "2026-11-28T19:00:00Z"};
}

struct Logged {
  std::vector<std::string> lines;
  LogFn fn() {
    return [this](const std::string& l) { lines.push_back(l); };
  }
  bool Has(const std::string& needle) const {
    for (const auto& l : lines) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  }
};

std::unique_ptr<Spool> MustOpen(const std::string& dir, Logged& log, SpoolLimits limits = {}) {
  auto s = Spool::Open(dir, limits, log.fn());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<std::string> Ids(Spool& spool) {
  auto entries = spool.List();
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<std::string> ids;
  if (!entries.ok()) return ids;
  for (const auto& e : *entries) ids.push_back(e.meta.snapshot_id);
  return ids;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(SpoolTest, OldestFirstAcrossReopenAndModes) {
  TempRoot root;
  std::string dir = root.Host("/var/spool");
  Logged log;
  {
    auto spool = MustOpen(dir, log);
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->AddDocument(Meta("h-1"), "{\"one\":1}\n").ok());
    ASSERT_TRUE(spool->AddDocument(Meta("h-0"), "{\"two\":2}\n").ok());
  }
  auto spool = MustOpen(dir, log);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta("a-9"), "{\"three\":3}\n").ok());
  // Order of spooling, not of ids.
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"h-1", "h-0", "a-9"}));
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  auto entries = spool->List();
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) {
    ASSERT_EQ(::stat(e.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << e.path;
  }
  auto body = spool->ReadBody((*entries)[2], 0, (*entries)[2].body_bytes);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(*body, "{\"three\":3}\n");
}

TEST(SpoolTest, CountBoundDropsOldestAndCounts) {
  TempRoot root;
  Logged log;
  auto spool = MustOpen(root.Host("/s"), log, {.max_files = 2, .max_bytes = 1 << 20});
  ASSERT_NE(spool, nullptr);
  for (const char* id : {"s-1", "s-2", "s-3", "s-4"}) {
    ASSERT_TRUE(spool->AddDocument(Meta(id), "{}\n").ok());
  }
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"s-3", "s-4"}));
  EXPECT_EQ(spool->counters().dropped, 2);
  EXPECT_TRUE(log.Has("dropped the oldest snapshot s-1"));
  EXPECT_TRUE(log.Has("dropped the oldest snapshot s-2"));
}

TEST(SpoolTest, ByteBoundKeepsTheNewestEvenWhenAloneTooLarge) {
  TempRoot root;
  Logged log;
  std::string big(8000, 'x');
  auto spool = MustOpen(root.Host("/s"), log, {.max_files = 100, .max_bytes = 5000});
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta("b-1"), "{\"a\":1}\n").ok());
  ASSERT_TRUE(spool->AddDocument(Meta("b-2"), "{\"a\":2}\n").ok());
  EXPECT_EQ(spool->counters().dropped, 0);
  ASSERT_TRUE(spool->AddDocument(Meta("b-3"), big).ok());
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"b-3"}));
  EXPECT_EQ(spool->counters().dropped, 2);
}

TEST(SpoolTest, CountersSurviveRestartAndResetOnlyWhatWasReported) {
  TempRoot root;
  std::string dir = root.Host("/s");
  Logged log;
  {
    auto spool = MustOpen(dir, log, {.max_files = 1, .max_bytes = 1 << 20});
    ASSERT_NE(spool, nullptr);
    ASSERT_TRUE(spool->AddDocument(Meta("c-1"), "{}\n").ok());
    ASSERT_TRUE(spool->AddDocument(Meta("c-2"), "{}\n").ok());
    auto entries = spool->List();
    ASSERT_TRUE(entries.ok());
    ASSERT_TRUE(spool->Reject((*entries)[0], "bad_snapshot: test").ok());
    ASSERT_TRUE(spool->SetLastAckedHash("sha256:" + std::string(64, 'b')).ok());
  }
  auto spool = MustOpen(dir, log);
  ASSERT_NE(spool, nullptr);
  EXPECT_EQ(spool->counters().dropped, 1);
  EXPECT_EQ(spool->counters().rejected, 1);
  EXPECT_EQ(spool->last_acked_hash(), "sha256:" + std::string(64, 'b'));
  SpoolCounters reported = spool->counters();
  ASSERT_TRUE(spool->AddDocument(Meta("c-3"), "{}\n").ok());
  auto entries = spool->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_TRUE(spool->Reject((*entries)[0], "identity_mismatch").ok());  // after the hello
  ASSERT_TRUE(spool->CountersReported(reported).ok());
  EXPECT_EQ(spool->counters().dropped, 0);
  EXPECT_EQ(spool->counters().rejected, 1);
  spool.reset();
  spool = MustOpen(dir, log);
  EXPECT_EQ(spool->counters().rejected, 1);
}

TEST(SpoolTest, RejectMovesToRejectedWithALogLine) {
  TempRoot root;
  std::string dir = root.Host("/s");
  Logged log;
  auto spool = MustOpen(dir, log);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta("r-1"), "{}\n").ok());
  ASSERT_TRUE(spool->AddDocument(Meta("r-2"), "{}\n").ok());
  auto entries = spool->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_TRUE(spool->Reject((*entries)[0], "frame_too_large: 70 MB").ok());
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"r-2"}));
  EXPECT_EQ(Names(dir + "/rejected"), (std::vector<std::string>{(*entries)[0].name}));
  EXPECT_EQ(spool->counters().rejected, 1);
  EXPECT_TRUE(log.Has("r-1 refused for good (frame_too_large: 70 MB)"));
}

// rejected/ counts against the spool's bounds: its oldest files go first, counted as dropped
// (issue 9, defect 6: 627 MB of rejected snapshots after 5 runs).
TEST(SpoolTest, RejectedFilesCountAgainstTheCountBoundOldestFirst) {
  TempRoot root;
  std::string dir = root.Host("/s");
  Logged log;
  auto spool = MustOpen(dir, log, {.max_files = 3, .max_bytes = 1 << 20});
  ASSERT_NE(spool, nullptr);
  for (const char* id : {"r-1", "r-2"}) ASSERT_TRUE(spool->AddDocument(Meta(id), "{}\n").ok());
  auto entries = spool->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  for (const auto& e : *entries) ASSERT_TRUE(spool->Reject(e, "bad_snapshot").ok());
  ASSERT_TRUE(spool->AddDocument(Meta("s-1"), "{}\n").ok());  // 3 in all: within the bound
  EXPECT_EQ(Names(dir + "/rejected").size(), 2u);
  EXPECT_EQ(spool->counters().dropped, 0);
  ASSERT_TRUE(spool->AddDocument(Meta("s-2"), "{}\n").ok());  // 4: the oldest rejected goes
  EXPECT_EQ(Names(dir + "/rejected"), (std::vector<std::string>{(*entries)[1].name}));
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"s-1", "s-2"}));
  EXPECT_EQ(spool->counters().dropped, 1);
  EXPECT_TRUE(
      log.Has("dropped the oldest rejected file " + dir + "/rejected/" + (*entries)[0].name));
  ASSERT_TRUE(spool->AddDocument(Meta("s-3"), "{}\n").ok());
  EXPECT_TRUE(Names(dir + "/rejected").empty());
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"s-1", "s-2", "s-3"}));
  ASSERT_TRUE(spool->AddDocument(Meta("s-4"), "{}\n").ok());  // then queued ones, oldest first
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"s-2", "s-3", "s-4"}));
  EXPECT_EQ(spool->counters().dropped, 3);
}

TEST(SpoolTest, RejectedFilesCountAgainstTheByteBound) {
  TempRoot root;
  std::string dir = root.Host("/s");
  Logged log;
  std::string big = "\"" + std::string(5000, 'x') + "\"\n";
  int64_t one = static_cast<int64_t>(big.size() + kSpoolHeaderSize);
  auto spool = MustOpen(dir, log, {.max_files = 100, .max_bytes = 2 * one + 100});
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta("r-1"), big).ok());
  auto entries = spool->List();
  ASSERT_TRUE(entries.ok());
  ASSERT_TRUE(spool->Reject((*entries)[0], "frame_too_large").ok());
  ASSERT_TRUE(spool->AddDocument(Meta("s-1"), big).ok());
  EXPECT_EQ(Names(dir + "/rejected").size(), 1u);
  ASSERT_TRUE(spool->AddDocument(Meta("s-2"), big).ok());  // 3 x one > the bound
  EXPECT_TRUE(Names(dir + "/rejected").empty());
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"s-1", "s-2"}));
  EXPECT_EQ(spool->counters().dropped, 1);
}

TEST(SpoolTest, CrashLeftoversAreRemovedAtOpen) {
  TempRoot root;
  root.Write("/s/.tmp-Ab12Cd", std::string(600, ' '), 0600);
  root.Write("/s/.tmp-state-XyZ123", "{", 0600);
  Logged log;
  auto spool = MustOpen(root.Host("/s"), log);
  ASSERT_NE(spool, nullptr);
  EXPECT_TRUE(Ids(*spool).empty());
  EXPECT_EQ(Names(root.Host("/s")), (std::vector<std::string>{".lock", "rejected"}));
  EXPECT_TRUE(log.Has("partial write"));
}

TEST(SpoolTest, AFailedWriteLeavesNothing) {
  TempRoot root;
  Logged log;
  auto spool = MustOpen(root.Host("/s"), log);
  ASSERT_NE(spool, nullptr);
  auto added = spool->Add([](const Spool::BodySink& sink) -> StatusOr<SpoolMeta> {
    EXPECT_TRUE(sink("{\"partial\":").ok());
    return Status{StatusCode::kIoError, "simulated: No space left on device"};
  });
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.status().message().find("not spooled"), std::string::npos);
  EXPECT_EQ(Names(root.Host("/s")), (std::vector<std::string>{".lock", "rejected"}));
}

TEST(SpoolTest, ForeignAndCorruptFilesAreQuarantinedNotBlocking) {
  TempRoot root;
  std::string dir = root.Host("/s");
  Logged log;
  auto spool = MustOpen(dir, log);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta("ok-1"), "{}\n").ok());
  // Sorts first: a corrupt spool file, a truncated one, a foreign file, a directory.
  root.Write("/s/00000000000000000001-junk.snap", std::string(700, '\x01'), 0600);
  root.Write("/s/00000000000000000002-short.snap", "tidemark-spool/1 {}", 0600);
  auto other_header = EncodeSpoolHeader(Meta("not-other"));
  ASSERT_TRUE(other_header.ok()) << other_header.status().ToString();
  root.Write("/s/00000000000000000003-other.snap", *other_header + "{}\n", 0600);
  root.Write("/s/notes.txt", "hello", 0644);
  root.Mkdir("/s/subdir");
  ASSERT_TRUE(spool->AddDocument(Meta("ok-2"), "{}\n").ok());
  EXPECT_EQ(Ids(*spool), (std::vector<std::string>{"ok-1", "ok-2"}));
  auto rejected = Names(dir + "/rejected");
  EXPECT_EQ(rejected.size(), 5u);
  EXPECT_EQ(spool->counters().rejected, 0);  // not refused by a collector
  EXPECT_TRUE(log.Has("notes.txt is not a spool file (unexpected name)"));
  EXPECT_TRUE(log.Has("junk.snap is not a spool file"));
  EXPECT_TRUE(log.Has("header names another snapshot id"));
}

TEST(SpoolTest, OneProcessAtATime) {
  TempRoot root;
  Logged log;
  auto first = MustOpen(root.Host("/s"), log);
  ASSERT_NE(first, nullptr);
  auto second = Spool::Open(root.Host("/s"), {}, log.fn());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(SpoolTest, TheLongestHostIdsGiveValidSnapshotIds) {
  std::string host(253, 'h');
  std::string id = protocol::NewSnapshotId(host, 1'800'000'000);
  EXPECT_TRUE(protocol::IsValidSnapshotId(id)) << id.size();
  TempRoot root;
  Logged log;
  auto spool = MustOpen(root.Host("/s"), log);
  ASSERT_NE(spool, nullptr);
  ASSERT_TRUE(spool->AddDocument(Meta(id), "{}\n").ok());
  EXPECT_EQ(Ids(*spool), std::vector<std::string>{id});
  auto bad = spool->AddDocument(Meta("bad id"), "{}\n");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
  EXPECT_EQ(bad.status().message(), "spool: invalid snapshot id; the snapshot was not spooled");
}

TEST(SpoolTest, HeaderRoundTripAndRefusals) {
  auto header = EncodeSpoolHeader(Meta("web1-20261128T190000Z-0123456789abcdef"));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->size(), kSpoolHeaderSize);
  auto meta = ParseSpoolHeader(*header);
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_EQ(meta->snapshot_id, "web1-20261128T190000Z-0123456789abcdef");
  EXPECT_EQ(meta->collected_at, "2026-11-28T19:00:00Z");
  auto blank = ParseSpoolHeader(std::string(kSpoolHeaderSize, ' '));
  EXPECT_FALSE(blank.ok());
  EXPECT_EQ(blank.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(blank.status().message(), "not a spool file: no spool magic");
  auto too_long = EncodeSpoolHeader(Meta(std::string(500, 'a')));
  EXPECT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("spool header too long for snapshot aaa"),
            std::string::npos)
      << too_long.status().message();
  SpoolMeta bad = Meta("x");
  bad.content_hash = "md5:00";
  auto bad_header = EncodeSpoolHeader(bad);
  ASSERT_TRUE(bad_header.ok()) << bad_header.status().ToString();
  auto bad_hash = ParseSpoolHeader(*bad_header);
  EXPECT_FALSE(bad_hash.ok());
  EXPECT_EQ(bad_hash.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad_hash.status().message(), "not a spool file: invalid content_hash");
}

}  // namespace
}  // namespace tidemark::agent::uplink
