// The judgement's benchmarks (issue 10), in process:
//   eval FILE --policies P [--runs N] [--cpu]   evaluate one snapshot file against the policies
//       (decode + fact tables + every rule, with a FactDb and the policies reused as the
//       collector's evaluator does) beside nlohmann/json parsing the same text: median times,
//       their ratio, and snapshots per second on one core; beside them nlohmann/json's lexer
//       alone (a SAX parse whose handlers only count: the floor of any decoder built on it) and
//       SHA-256 over the text.
//       --per-rule adds the ten slowest rules (median time of each alone), for rule writers.
//   synthetic --bytes B --policies P [--runs N]   the same for the transport benchmark's
//       synthetic snapshot of B bytes (bench/synthetic.h).
//   make-store FILE --hosts N --db PATH --policies P   a store of N hosts whose latest state is
//       FILE (each labelled with its own host id), judged by the collector's evaluator (which
//       also writes the facts file), for `tidemarkctl query` over a fleet; prints the time of
//       both steps and the size per host of the store and of the facts file.
// Prints one JSON line per measurement. bench/policy.sh drives it.
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/synthetic.h"
#include "collector/evaluator.h"
#include "collector/log.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/policy/rules.h"
#include "common/sha256.h"
#include "common/snapshot.h"
#include "common/snapshot_verify.h"

using namespace tidemark;
using json = nlohmann::json;

namespace {

[[noreturn]] void Die(const std::string& message) {
  std::cerr << "policy_bench: " << message << "\n";
  std::exit(1);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die(path + ": cannot open");
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string Option(const std::vector<std::string>& args, const std::string& name,
                   const std::string& fallback) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == name) return args[i + 1];
  }
  return fallback;
}

// --cpu: the thread's CPU time instead of wall time, for comparing two builds on a machine
// that other work shares (the figures in the README are wall time on a quiet machine).
bool g_cpu_time = false;

double NowMs() {
  if (g_cpu_time) {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
  }
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// SAX handlers that only count the values: with them a parse is nlohmann/json's lexer alone.
struct CountingSax final : json::json_sax_t {
  size_t values = 0;
  bool null() override { return ++values != 0; }
  bool boolean(bool /*v*/) override { return ++values != 0; }
  bool number_integer(number_integer_t /*v*/) override { return ++values != 0; }
  bool number_unsigned(number_unsigned_t /*v*/) override { return ++values != 0; }
  bool number_float(number_float_t /*v*/, const string_t& /*s*/) override { return ++values != 0; }
  bool string(string_t& /*v*/) override { return ++values != 0; }
  bool binary(binary_t& /*v*/) override { return ++values != 0; }
  bool start_object(std::size_t /*n*/) override { return true; }
  bool key(string_t& /*k*/) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t /*n*/) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t /*at*/, const std::string& /*token*/,
                   const nlohmann::detail::exception& /*e*/) override {
    return false;
  }
};

template <typename F>
double MedianMs(int runs, F body) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    double start = NowMs();
    body();
    ms.push_back(NowMs() - start);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Parses with nlohmann/json (the peer), lexes with its lexer alone and hashes the text, then
// evaluates as the collector does, and measures the parts (decoding, loading the fact tables,
// running the rules), all seven in turn in every round,
// so that on a shared machine each round's figures see the same machine state: the ratios are
// the medians of the rounds' ratios, the times the medians of the rounds' times.
void Measure(const std::string& label, const std::string& text, const std::string& policies,
             int runs, bool per_rule) {
  auto set = policy::LoadPolicies(policies);
  if (!set.ok()) Die(set.status().ToString());
  auto db = policy::FactDb::Open();
  if (!db.ok()) Die(db.status().ToString());
  // evaluate's own FactDb, unloaded at the end of each call as the collector's evaluator does:
  // a FactDb keeps the snapshot it serves, and one shared with `load` below would free
  // evaluate's snapshot inside load's time.
  auto eval_db = policy::FactDb::Open();
  if (!eval_db.ok()) Die(eval_db.status().ToString());
  size_t failed = 0;
  auto evaluate = [&] {
    std::string hash;
    auto decoded = DecodeSnapshot(text, &hash);
    if (!decoded.ok()) Die(decoded.status().ToString());
    auto snapshot = std::make_shared<const Snapshot>(std::move(*decoded));
    auto rules = policy::SelectRules(*set, snapshot->host.id);
    if (!rules.ok()) Die(rules.status().ToString());
    if (Status s = (*eval_db)->Load(snapshot, hash); !s.ok()) Die(s.ToString());
    policy::Evaluation e = policy::EvaluateLoaded(**eval_db, *snapshot, *rules);
    failed = static_cast<size_t>(std::count_if(e.results.begin(), e.results.end(), [](auto& r) {
      return r.outcome == policy::Outcome::kFail;
    }));
    (*eval_db)->Unload();  // as the collector's evaluator, done with the snapshot
  };
  size_t parsed_keys = 0;
  auto parse = [&] { parsed_keys = json::parse(text).size(); };
  size_t lexed_values = 0;
  auto lex = [&] {
    CountingSax counter;
    if (!json::sax_parse(text, &counter)) Die("the lexer refused the text");
    lexed_values = counter.values;
  };
  auto sha = [&] { (void)Sha256(text); };  // the content hash's cost, over the whole text
  // The verifier's pass alone (no tree): the checks, the canonical form and its hash.
  auto verify = [&] {
    if (!VerifySnapshotText(text).ok()) Die("the verifier refused the text");
  };
  auto first = DecodeSnapshot(text);
  if (!first.ok()) Die(first.status().ToString());
  auto decoded = std::make_shared<const Snapshot>(std::move(*first));
  auto rules = policy::SelectRules(*set, decoded->host.id);
  if (!rules.ok()) Die(rules.status().ToString());
  std::string hash = ContentHash(*decoded);
  auto decode = [&] { (void)DecodeSnapshot(text); };
  auto load = [&] { (void)(*db)->Load(decoded, hash); };
  auto run_rules = [&] { (void)policy::EvaluateLoaded(**db, *decoded, *rules); };
  evaluate();  // warm caches, prepared statements
  parse();
  std::vector<double> parse_ms, lex_ms, sha_ms, verify_ms, eval_ms, decode_ms, load_ms, rules_ms,
      ratio, tables_ratio;
  for (auto* v : {&parse_ms, &lex_ms, &sha_ms, &verify_ms, &eval_ms, &decode_ms, &load_ms,
                  &rules_ms, &ratio, &tables_ratio}) {
    v->reserve(static_cast<size_t>(runs));
  }
  for (int i = 0; i < runs; ++i) {
    auto time = [](auto body) {
      double start = NowMs();
      body();
      return NowMs() - start;
    };
    parse_ms.push_back(time(parse));
    lex_ms.push_back(time(lex));
    sha_ms.push_back(time(sha));
    verify_ms.push_back(time(verify));
    eval_ms.push_back(time(evaluate));
    decode_ms.push_back(time(decode));
    load_ms.push_back(time(load));
    rules_ms.push_back(time(run_rules));
    ratio.push_back(eval_ms.back() / parse_ms.back());
    tables_ratio.push_back((load_ms.back() + rules_ms.back()) / parse_ms.back());
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  json line = {{"bench", "evaluate"},
               {"input", label},
               {"bytes", text.size()},
               {"rules", set->rules.size()},
               {"failed", failed},
               {"runs", runs},
               {"parse_ms", median(parse_ms)},
               {"lex_ms", median(lex_ms)},  // nlohmann/json's lexer alone (CountingSax)
               {"lexed_values", lexed_values},
               {"sha256_ms", median(sha_ms)},     // common/sha256.h over the whole text
               {"verify_ms", median(verify_ms)},  // VerifySnapshotText: decoding without a tree
               {"evaluate_ms", median(eval_ms)},
               {"decode_ms", median(decode_ms)},
               {"load_ms", median(load_ms)},
               {"rules_ms", median(rules_ms)},
               // evaluate / parse; and (load + rules) / parse: judging a decoded state
               {"ratio", median(ratio)},
               {"tables_and_rules_ratio", median(tables_ratio)},
               {"per_second", 1000.0 / median(eval_ms)},
               {"top_level_keys", parsed_keys}};
  std::cout << line.dump() << std::endl;
  if (!per_rule) return;
  std::vector<std::pair<double, std::string>> slowest;
  for (const policy::SelectedRule& rule : *rules) {
    double ms = MedianMs(runs, [&] { (void)policy::RunRule(**db, rule); });
    slowest.emplace_back(ms, rule.rule->id);
  }
  std::sort(slowest.rbegin(), slowest.rend());
  slowest.resize(std::min<size_t>(slowest.size(), 10));
  for (const auto& [ms, id] : slowest) {
    std::cout << json{{"bench", "rule"}, {"rule", id}, {"ms", ms}}.dump() << std::endl;
  }
}

int MakeStore(const std::string& file, int hosts, const std::string& db,
              const std::string& policies) {
  std::string text = ReadFile(file);
  auto decoded = DecodeSnapshot(text);
  if (!decoded.ok()) Die(file + ": " + decoded.status().ToString());
  auto store = SqliteStore::Open(db);
  if (!store.ok()) Die(store.status().ToString());
  auto start = std::chrono::steady_clock::now();
  std::vector<std::string> texts;
  std::vector<Snapshot> snapshots;
  constexpr int kBatch = 500;
  for (int first = 0; first < hosts; first += kBatch) {
    std::vector<SnapshotInput> inputs;
    texts.clear();
    snapshots.clear();
    int n = std::min(kBatch, hosts - first);
    texts.reserve(static_cast<size_t>(n));
    snapshots.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::string host = "host" + std::to_string(first + i);
      Snapshot s = *decoded;
      s.host.id = host;
      s.host.hostname = host;
      texts.push_back(SerializeSnapshot(s));
      snapshots.push_back(std::move(s));
    }
    for (int i = 0; i < n; ++i) {
      inputs.push_back(MakeSnapshotInput(snapshots[static_cast<size_t>(i)].host.id, "s1",
                                         snapshots[static_cast<size_t>(i)],
                                         texts[static_cast<size_t>(i)], 1764547200));
    }
    auto r = (*store)->PutBatch(inputs);
    if (!r.ok()) Die(r.status().ToString());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  store->reset();
  // Judged as the collector judges them (its evaluator, one thread), facts file included.
  collector::Log::SetSink([](const std::string&) {});
  auto set = policy::LoadPolicies(policies);
  if (!set.ok()) Die(set.status().ToString());
  collector::Evaluator::Options options;
  options.db = db;
  options.facts = FactsPathFor(db);
  start = std::chrono::steady_clock::now();
  auto evaluator = collector::Evaluator::Start(
      options, std::make_shared<const policy::PolicySet>(std::move(*set)));
  if (!evaluator.ok()) Die(evaluator.status().ToString());
  if (!(*evaluator)->WaitIdle(std::chrono::hours(1))) Die("evaluation did not finish");
  double judged_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int64_t judged = (*evaluator)->evaluated();
  evaluator->reset();
  auto size = [](const std::string& path) {
    struct stat st {};
    int64_t total = 0;
    for (const char* suffix : {"", "-wal"}) {
      if (stat((path + suffix).c_str(), &st) == 0) total += st.st_size;
    }
    return total;
  };
  int64_t store_bytes = size(db);
  int64_t facts_bytes = size(FactsPathFor(db));
  json line = {{"bench", "make_store"},
               {"hosts", hosts},
               {"snapshot_bytes", text.size()},
               {"store_bytes_per_host", store_bytes / hosts},
               {"facts_bytes_per_host", facts_bytes / hosts},
               {"store_seconds", seconds},
               {"judged", judged},
               {"judge_seconds", judged_seconds},
               {"judged_per_second", static_cast<double>(judged) / judged_seconds}};
  std::cout << line.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr
        << "usage: policy_bench eval FILE --policies P [--runs N] [--cpu] [--per-rule] | synthetic "
           "--bytes B --policies P [--runs N] [--cpu] | make-store FILE --hosts N --db "
           "PATH\n";
    return 2;
  }
  int runs = std::stoi(Option(args, "--runs", "21"));
  g_cpu_time = std::find(args.begin(), args.end(), "--cpu") != args.end();
  std::string policies = Option(args, "--policies", "policies");
  if (args[0] == "eval" && args.size() > 1) {
    bool per_rule = std::find(args.begin(), args.end(), "--per-rule") != args.end();
    Measure(args[1], ReadFile(args[1]), policies, runs, per_rule);
    return 0;
  }
  if (args[0] == "synthetic") {
    size_t bytes = std::stoul(Option(args, "--bytes", "20000"));
    Measure("synthetic", bench::MakeSyntheticSnapshot("bench01", 1, bytes).text, policies, runs,
            false);
    return 0;
  }
  if (args[0] == "make-store" && args.size() > 1) {
    return MakeStore(args[1], std::stoi(Option(args, "--hosts", "10000")),
                     Option(args, "--db", "fleet.db"), policies);
  }
  std::cerr << "policy_bench: unknown command\n";
  return 2;
}
