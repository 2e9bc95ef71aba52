// The floor of the collector's ingest path without any network: decode (schema + content hash
// recomputed) and store (SQLite, WAL, synchronous=FULL) of N synthetic 20 KB snapshots, one
// commit per snapshot and in group commits of --batch. bench/run.sh puts the result beside the
// rate over mutual TLS (bench/loadgen.cpp) measured in the same run.
//   tidemark_bench_ingest_floor DIR [--count N] [--bytes B] [--batch K]
// Prints one JSON line per variant.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "bench/synthetic.h"
#include "collector/sqlite_store.h"
#include "common/snapshot.h"

using namespace tidemark;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

SnapshotInput Decode(const std::string& text, const std::string& id, Snapshot* holder) {
  auto s = DecodeSnapshot(text);
  if (!s.ok()) {
    std::cerr << "decode: " << s.status().ToString() << "\n";
    std::exit(1);
  }
  *holder = std::move(*s);
  return MakeSnapshotInput(holder->host.id, id, *holder, text, 1795892400);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: tidemark_bench_ingest_floor DIR [--count N] [--bytes B] [--batch K]\n";
    return 2;
  }
  std::string dir = argv[1];
  int count = 2000, batch = 32;
  size_t bytes = 20000;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--count") count = std::stoi(argv[i + 1]);
    if (a == "--bytes") bytes = std::stoul(argv[i + 1]);
    if (a == "--batch") batch = std::stoi(argv[i + 1]);
  }
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) {
    texts.push_back(bench::MakeSyntheticSnapshot("floor-" + std::to_string(i % 50), i, bytes).text);
  }
  for (int variant = 0; variant < 2; ++variant) {
    int k = variant == 0 ? 1 : batch;
    std::string db = dir + "/floor-" + std::to_string(k) + ".db";
    std::remove(db.c_str());
    auto store = SqliteStore::Open(db, {});
    if (!store.ok()) {
      std::cerr << store.status().ToString() << "\n";
      return 1;
    }
    double t0 = Now();
    for (int i = 0; i < count; i += k) {
      std::vector<Snapshot> holders(static_cast<size_t>(std::min(k, count - i)));
      std::vector<SnapshotInput> inputs;
      for (size_t j = 0; j < holders.size(); ++j) {
        int n = i + static_cast<int>(j);
        inputs.push_back(
            Decode(texts[static_cast<size_t>(n)], "floor-id-" + std::to_string(n), &holders[j]));
      }
      if (k == 1) {
        auto r = (*store)->PutSnapshot(inputs[0]);
        if (!r.ok()) return std::cerr << r.status().ToString() << "\n", 1;
      } else {
        auto r = (*store)->PutBatch(inputs);
        if (!r.ok()) return std::cerr << r.status().ToString() << "\n", 1;
      }
    }
    double secs = Now() - t0;
    std::printf(
        "{\"what\":\"floor\",\"commit\":\"%s\",\"snapshots\":%d,\"bytes\":%zu,\"seconds\":%.3f,"
        "\"rate\":%.1f}\n",
        k == 1 ? "one per snapshot" : ("batch of " + std::to_string(k)).c_str(), count,
        texts[0].size(), secs, count / secs);
  }
  return 0;
}
