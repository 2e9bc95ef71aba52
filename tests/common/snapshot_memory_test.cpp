// The collector's memory bound per byte of snapshot in flight (issue 9, defect 3;
// docs/collector.md "Memory per snapshot"): verifying a snapshot body takes at most 4x the
// body's size, the body included, whatever its shape. This binary replaces the global
// operator new/delete to count live and peak heap bytes, so it is a test binary of its own.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <string>

#include "common/snapshot.h"
#include "common/snapshot_verify.h"

namespace {

std::atomic<size_t> g_live{0};
std::atomic<size_t> g_peak{0};
// Each block carries its size in front, aligned for any type.
constexpr size_t kHeader = alignof(std::max_align_t);

void* Allocate(size_t n) {
  void* p = std::malloc(n + kHeader);  // NOLINT(cppcoreguidelines-no-malloc): the allocator
  if (p == nullptr) throw std::bad_alloc();
  *static_cast<size_t*>(p) = n;
  size_t live = g_live.fetch_add(n) + n;
  size_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return static_cast<char*>(p) + kHeader;
}

void Release(void* p) noexcept {
  if (p == nullptr) return;
  char* base = static_cast<char*>(p) - kHeader;
  g_live.fetch_sub(*reinterpret_cast<size_t*>(base));
  std::free(base);  // NOLINT(cppcoreguidelines-no-malloc)
}

}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return Allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  try {
    return Allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { Release(p); }
void operator delete(void* p, size_t) noexcept { Release(p); }
void operator delete[](void* p, size_t) noexcept { Release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Release(p); }

namespace tidemark {
namespace {

using nlohmann::json;

// A valid snapshot of about `bytes` bytes shaped like a large host's: users, files and
// packages as item arrays, with nested objects and errors.
std::string RealisticSnapshot(size_t bytes) {
  std::string out;
  out.reserve(bytes + (1u << 20));
  SnapshotWriter writer([&](std::string_view piece) {
    out.append(piece);
    return Status::Ok();
  });
  size_t per_section = bytes / 3;
  for (const char* name : {"accounts", "files", "packages"}) {
    Section s;
    ItemArray items;
    for (int i = 0; items.text().size() < per_section; ++i) {
      std::string n = std::to_string(i);
      items.push_back({{"id", std::string(name) + ":item" + n},
                       {"path", "/srv/data/" + n + "/file.conf"},
                       {"mode", "0644"},
                       {"uid", 1000 + i},
                       {"flags", json::array({"a", "b"})},
                       {"source", {{"file", "/etc/passwd"}, {"line", i + 1}}}});
    }
    s.items["items"] = std::move(items);
    s.AddError("/etc/x", 3, "could not parse");
    s.Finish();
    EXPECT_TRUE(writer.AddSection(name, s).ok());
  }
  EXPECT_TRUE(writer.Finish({"big-host", "big-host", "/"}, "2026-11-28T19:00:00Z", "0.1.0").ok());
  return out;
}

// A valid document shaped against the verifier: nesting at the depth limit with the longest
// keys allowed at every level, and strings at the string limit, padded to about `bytes`.
std::string HostileSnapshot(size_t bytes) {
  Snapshot s;
  s.host = {"big-host", "big-host", "/"};
  s.collected_at = "2026-11-28T19:00:00Z";
  Section& section = s.sections["deep"];
  json deep = json::array({std::string((1u << 20) - 1, 's')});
  for (int level = 0; level < 60; ++level) {
    deep = {{std::string(64u << 10, static_cast<char>('a' + level % 26)), std::move(deep)}};
  }
  section.data["deep"] = std::move(deep);
  json filler = json::array();
  for (size_t size = 0; size < bytes; size += (1u << 20) + 3) {
    filler.push_back(std::string((1u << 20) - 1, 'f'));
  }
  section.data["filler"] = std::move(filler);
  return SerializeSnapshot(s);
}

struct Measured {
  double ratio;  // (body + peak extra heap) / body
  double seconds;
  bool ok;
};

template <typename F>
Measured Measure(const std::string& body, F&& run) {
  size_t before = g_live.load();
  g_peak.store(before);
  auto start = std::chrono::steady_clock::now();
  bool ok = run();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t extra = g_peak.load() - before;
  return {static_cast<double>(body.size() + extra) / static_cast<double>(body.size()), seconds, ok};
}

TEST(SnapshotMemoryTest, VerifyingTakesAtMostFourTimesTheBody) {
  std::string body = RealisticSnapshot(24u << 20);
  ASSERT_GT(body.size(), 20u << 20);
  std::string hash;
  Measured m = Measure(body, [&] {
    auto v = VerifySnapshotText(body);
    if (v.ok()) hash = v->content_hash;
    return v.ok();
  });
  ASSERT_TRUE(m.ok);
  std::printf("VerifySnapshotText: %zu byte body, peak %.2fx the body, %.2f s\n", body.size(),
              m.ratio, m.seconds);
  RecordProperty("verify_ratio", std::to_string(m.ratio));
  EXPECT_LE(m.ratio, 4.0);
  // The hash is the one the tree computes (checked on a smaller body below, where the tree
  // fits in memory comfortably).
  EXPECT_EQ(hash.substr(0, 7), "sha256:");
}

TEST(SnapshotMemoryTest, HostileShapesStayWithinTheBound) {
  std::string body = HostileSnapshot(20u << 20);
  ASSERT_GT(body.size(), 20u << 20);
  Measured m = Measure(body, [&] { return VerifySnapshotText(body).ok(); });
  ASSERT_TRUE(m.ok);
  std::printf("VerifySnapshotText (hostile shape): %zu bytes, peak %.2fx, %.2f s\n", body.size(),
              m.ratio, m.seconds);
  EXPECT_LE(m.ratio, 4.0);
}

TEST(SnapshotMemoryTest, TheTreePathTheCollectorNoLongerUsesTakesFarMore) {
  // What the collector did before: a JSON tree of the whole body, then the canonical text to
  // hash (DecodeSnapshot + MakeSnapshotInput). Shown on a smaller body; the ratio does not
  // depend on the size.
  std::string body = RealisticSnapshot(4u << 20);
  std::string tree_hash, streamed_hash;
  Measured tree = Measure(body, [&] {
    auto s = DecodeSnapshot(body);
    if (s.ok()) tree_hash = ContentHash(*s);
    return s.ok();
  });
  Measured streamed = Measure(body, [&] {
    auto v = VerifySnapshotText(body);
    if (v.ok()) streamed_hash = v->content_hash;
    return v.ok();
  });
  ASSERT_TRUE(tree.ok && streamed.ok);
  EXPECT_EQ(tree_hash, streamed_hash);
  std::printf("tree path: peak %.1fx the body, %.2f s; streaming: %.2fx, %.2f s\n", tree.ratio,
              tree.seconds, streamed.ratio, streamed.seconds);
  EXPECT_GT(tree.ratio, 4.0 * streamed.ratio);
}

}  // namespace
}  // namespace tidemark
