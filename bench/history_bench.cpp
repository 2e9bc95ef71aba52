// The exceptions' benchmark fleet (issue 11): a store of N hosts with D days of history and a
// register of N/20 exceptions, for `tidemarkctl verify-revocations`, `who` and `drift`
// (bench/exceptions.sh measures them).
//   history_bench FILE --hosts N --days D --db PATH --register OUT --now TIME
// FILE is a snapshot (this machine's sections); every host starts from it with its own host
// id. Day 0 is D days before --now; every host reports once a day at noon. Host i's story:
//   i % 10 == 0  has the vendor's account (vendor_ops) from day 0 and drops it on day D*2/3;
//   i % 10 == 5  has it from day 0 and keeps it (the leftovers);
//   otherwise    never has it.
// Every day a host reports an unchanged state as a "seen" record (the unchanged-state path),
// as the agent does; a changed state is stored. The states are then judged by the collector's
// evaluator with one rule, which writes the facts file the commands read. Exception k covers
// vendor_ops on hosts 20k .. 20k+19 (named outright); even k expired on day D/2, odd k expire
// 30 days after --now. With --approve, every host's day-0 state is approved as its baseline.
// Prints one JSON line.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "collector/evaluator.h"
#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "common/policy/rules.h"
#include "common/read_file.h"
#include "common/snapshot.h"
#include "common/time.h"

using namespace tidemark;
using json = nlohmann::json;

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "history_bench: " << message << "\n";
  std::exit(1);
}

std::string Option(const std::vector<std::string>& args, const std::string& name,
                   const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return fallback;
}

std::string ReadFile(const std::string& path) {
  StatusOr<std::string> text = ReadRegularFile(path, kMaxSnapshotFileBytes);
  if (!text.ok()) Die(text.status().ToString());
  return std::move(*text);
}

struct HostState {
  std::string text;
  std::string hash;
  Snapshot snapshot;
};

// The base snapshot as `host`, with or without the vendor's account.
HostState Make(const Snapshot& base, const std::string& host, bool vendor) {
  HostState s{"", "", base};
  s.snapshot.host.id = host;
  s.snapshot.host.hostname = host;
  if (vendor) {
    json& users = s.snapshot.sections["accounts"].data["users"];
    users.push_back({{"id", "user:vendor_ops"},
                     {"name", "vendor_ops"},
                     {"uid", 1999},
                     {"gid", 1999},
                     {"home", "/home/vendor_ops"},
                     {"shell", "/bin/bash"},
                     {"login_shell", true},
                     {"source", {{"line", 999}}}});
  }
  s.text = SerializeSnapshot(s.snapshot);
  s.hash = ContentHash(s.snapshot);
  return s;
}

// Stores `days` days of `hosts` hosts (in batches of kBatch hosts, a day's states at once):
// hosts 0, 10, 20 ... drop the vendor's account at two thirds of the days, hosts 5, 15 ...
// keep it. A changed state is put, an unchanged one offered (seen).
struct Stored {
  int64_t stored = 0;
  int64_t seen = 0;
};
Stored StoreHistory(SqliteStore& store, const Snapshot& decoded, int hosts, int days,
                    int64_t day0) {
  const int drop_day = days * 2 / 3;
  int64_t stored = 0;
  int64_t seen = 0;
  constexpr int kBatch = 500;
  for (int first = 0; first < hosts; first += kBatch) {
    int n = std::min(kBatch, hosts - first);
    std::vector<HostState> with(static_cast<size_t>(n)), without(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::string host = "host" + std::to_string(first + i);
      int k = (first + i) % 10;
      if (k == 0 || k == 5) with[static_cast<size_t>(i)] = Make(decoded, host, true);
      without[static_cast<size_t>(i)] = Make(decoded, host, false);
    }
    for (int d = 0; d < days; ++d) {
      int64_t at = day0 + int64_t{d} * 86400;
      std::vector<SnapshotInput> puts;
      std::vector<SeenInput> offers;
      for (int i = 0; i < n; ++i) {
        int k = (first + i) % 10;
        bool vendor = k == 5 || (k == 0 && d < drop_day);
        bool changed = d == 0 || (k == 0 && d == drop_day);
        const HostState& s =
            vendor ? with[static_cast<size_t>(i)] : without[static_cast<size_t>(i)];
        std::string id = "d" + std::to_string(d);
        if (changed) {
          puts.push_back(MakeSnapshotInput(s.snapshot.host.id, id, s.snapshot, s.text, at));
        } else {
          offers.push_back({s.snapshot.host.id, id, s.hash, s.snapshot.collected_at, at});
        }
      }
      if (!puts.empty()) {
        auto r = store.PutBatch(puts);
        if (!r.ok()) Die(r.status().ToString());
        stored += static_cast<int64_t>(puts.size());
      }
      if (!offers.empty()) {
        auto r = store.RecordSeenBatch(offers);
        if (!r.ok()) Die(r.status().ToString());
        for (const auto& one : *r) {
          if (!one.ok() || *one != PutResult::kSeen) Die("an offer was not recorded as seen");
        }
        seen += static_cast<int64_t>(offers.size());
      }
    }
  }
  return {stored, seen};
}

// --approve: every host's day-0 state is its approved baseline (tidemarkctl baseline approve),
// so that the report computes each host's drift since it (the hosts that dropped the vendor's
// account).
void ApproveBaselines(SqliteStore& store, int hosts, int64_t day0) {
  for (int i = 0; i < hosts; ++i) {
    std::string host = "host" + std::to_string(i);
    auto state = store.LatestState(host, day0);
    if (!state.ok()) Die(state.status().ToString());
    BaselineApproval a;
    a.host = host;
    a.snapshot_seq = state->seq;
    a.approved_by = "Migration Lead";
    a.note = "the state handed over";
    a.approved_at = day0 + 3600;
    if (Status st = store.ApproveBaseline(a); !st.ok()) Die(st.ToString());
  }
}

// Judged with one rule, as the collector would: the facts file of each host's latest state.
// Returns the seconds from the evaluator's start until it is idle.
double JudgeLatest(const std::string& db) {
  collector::Log::SetSink([](const std::string&) {});
  auto set = policy::LoadPolicyText(
      "rules:\n  - id: vendor\n    title: no vendor account\n    severity: high\n"
      "    query: SELECT id FROM users WHERE name = 'vendor_ops'\n",
      "bench.yaml");
  if (!set.ok()) Die(set.status().ToString());
  collector::Evaluator::Options options;
  options.db = db;
  options.facts = FactsPathFor(db);
  auto start = std::chrono::steady_clock::now();
  auto evaluator = collector::Evaluator::Start(
      options, std::make_shared<const policy::PolicySet>(std::move(*set)));
  if (!evaluator.ok()) Die(evaluator.status().ToString());
  if (!(*evaluator)->WaitIdle(std::chrono::hours(1))) Die("evaluation did not finish");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A register of one exception per 20 hosts, half of them expired half-way through the days.
void WriteRegister(const std::string& register_file, int hosts, int days, int64_t day0,
                   int64_t now) {
  std::ofstream reg(register_file);
  reg << "exceptions:\n";
  for (int k = 0; k * 20 < hosts; ++k) {
    int64_t expires = k % 2 == 0 ? day0 + int64_t{days / 2} * 86400 : now + 30 * 86400;
    reg << "  - id: MIG-" << k << "\n    hosts: [";
    for (int j = 0; j < 20 && k * 20 + j < hosts; ++j) {
      reg << (j ? ", " : "") << "host" << k * 20 + j;
    }
    reg << "]\n    owner: {name: Vendor Operations, email: ops@vendor.example}\n"
        << "    ticket: CHG-" << 1000 + k << "\n    expires: " << FormatRfc3339(expires) << "\n"
        << "    covers:\n      - {table: users, where: {name: vendor_ops}}\n"
        << "      - {table: sudo_grants, where: {principal: \"user:vendor_ops\"}}\n";
  }
  reg.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << "usage: history_bench FILE --hosts N --days D --db PATH --register OUT --now "
                 "TIME [--approve]\n";
    return 2;
  }
  const int hosts = std::stoi(Option(args, "--hosts", "10000"));
  const int days = std::stoi(Option(args, "--days", "30"));
  const std::string db = Option(args, "--db", "history.db");
  const std::string register_file = Option(args, "--register", "register.yaml");
  StatusOr<int64_t> now = ParseRfc3339(Option(args, "--now", "2026-12-04T00:00:00Z"));
  if (!now.ok()) Die(now.status().ToString());
  const bool approve = std::find(args.begin(), args.end(), "--approve") != args.end();
  auto decoded = DecodeSnapshot(ReadFile(args[0]));
  if (!decoded.ok()) Die(args[0] + ": " + decoded.status().ToString());
  auto store = SqliteStore::Open(db);
  if (!store.ok()) Die(store.status().ToString());
  const int64_t day0 = (*now / 86400 - days) * 86400 + 12 * 3600;
  auto seconds_since = [](std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  auto start = std::chrono::steady_clock::now();
  Stored counts = StoreHistory(**store, *decoded, hosts, days, day0);
  double store_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  if (approve) ApproveBaselines(**store, hosts, day0);
  double approve_seconds = seconds_since(start);
  store->reset();
  double judge_seconds = JudgeLatest(db);
  WriteRegister(register_file, hosts, days, day0, *now);
  struct stat st {};
  int64_t bytes = 0;
  for (const char* suffix : {"", "-wal"}) {
    if (stat((db + suffix).c_str(), &st) == 0) bytes += st.st_size;
  }
  std::cout << json{{"bench", "make_history"},
                    {"hosts", hosts},
                    {"days", days},
                    {"stored", counts.stored},
                    {"seen", counts.seen},
                    {"store_seconds", store_seconds},
                    {"approve_seconds", approve_seconds},
                    {"judge_seconds", judge_seconds},
                    {"store_bytes_per_host", bytes / hosts}}
                   .dump()
            << std::endl;
  return 0;
}
