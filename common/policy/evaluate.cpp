#include "common/policy/evaluate.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

// Returns the column index of `name` in `result`, or -1.
int ColumnIndex(const QueryResult& result, std::string_view name) {
  for (size_t i = 0; i < result.columns.size(); ++i) {
    if (result.columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

std::string AsText(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

SectionProblems ProblemsOf(const FactDb& db, const std::set<std::string>& tables) {
  std::set<std::string> absent;
  std::set<std::string> partial;
  for (const std::string& name : tables) {
    const Table* t = FindTable(name);
    if (t == nullptr) continue;  // sections, host
    auto it = db.section_status().find(t->section);
    if (it == db.section_status().end()) {
      absent.insert("section " + t->section + " is not in the snapshot");
    } else if (it->second == "partial") {
      partial.insert("section " + t->section + " is partial");
    } else if (!SectionComplete(it->second)) {
      absent.insert("section " + t->section + " is " + it->second);
    }
  }
  auto join = [](const std::set<std::string>& items) {
    std::string out;
    for (const std::string& p : items) out += (out.empty() ? "" : "; ") + p;
    return out;
  };
  return {join(absent), join(partial)};
}

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kUnknown:
      return "unknown";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

std::string SourceLocation(const std::optional<std::string>& file,
                           const std::optional<int64_t>& line) {
  if (!file) return "";
  return line ? *file + ":" + std::to_string(*line) : *file;
}

RuleResult RunRule(const FactDb& db, const SelectedRule& selected, const QueryLimits& limits) {
  const Rule& rule = *selected.rule;
  RuleResult r;
  r.rule_id = rule.id;
  r.title = rule.title;
  r.severity = rule.severity;
  FactDb::QueryParams params;
  for (const auto& [name, var] : selected.vars) params[name] = var.value;
  StatusOr<QueryResult> q = db.Query(rule.query, params, limits);
  if (!q.ok()) {
    r.outcome = Outcome::kError;
    r.message = "rule " + rule.id + ": " + q.status().message();
    return r;
  }
  int id_col = ColumnIndex(*q, "id");
  if (id_col < 0) {
    r.outcome = Outcome::kError;
    r.message = "rule " + rule.id + ": the query returns no column named id";
    return r;
  }
  int detail_col = ColumnIndex(*q, "detail");
  int file_col = ColumnIndex(*q, "source_file");
  int line_col = ColumnIndex(*q, "source_line");
  for (const auto& row : q->rows) {
    FindingItem item;
    item.id = AsText(row[static_cast<size_t>(id_col)]);
    if (detail_col >= 0) item.detail = AsText(row[static_cast<size_t>(detail_col)]);
    if (file_col >= 0 && row[static_cast<size_t>(file_col)].is_string()) {
      item.source_file = row[static_cast<size_t>(file_col)].get<std::string>();
    }
    if (line_col >= 0 && row[static_cast<size_t>(line_col)].is_number_integer()) {
      item.source_line = row[static_cast<size_t>(line_col)].get<int64_t>();
    }
    if (!item.source_file) {
      if (auto src = db.SourceOf(q->tables_read, item.id)) {
        item.source_file = src->first;
        item.source_line = src->second;
      }
    }
    r.items.push_back(std::move(item));
  }
  SectionProblems problems = ProblemsOf(db, q->tables_read);
  if (!problems.absent.empty()) {
    // A table that says nothing makes rows about absence ("no Defaults use_pty") as
    // untrustworthy as an empty answer.
    r.outcome = Outcome::kUnknown;
    r.message = problems.absent;
    if (!r.items.empty())
      r.message +=
          " (the query returned " + std::to_string(r.items.size()) + " row(s), kept as items)";
  } else if (!r.items.empty()) {
    // A violating row is a failure even in a partial section: what was read is wrong.
    r.outcome = Outcome::kFail;
  } else if (!problems.partial.empty()) {
    r.outcome = Outcome::kUnknown;
    r.message = problems.partial;
  } else {
    r.outcome = Outcome::kPass;
  }
  return r;
}

Evaluation EvaluateLoaded(const FactDb& db, const Snapshot& snapshot,
                          const std::vector<SelectedRule>& rules, const QueryLimits& limits) {
  Evaluation e;
  e.host = snapshot.host.id;
  e.collected_at = snapshot.collected_at;
  e.content_hash = db.content_hash();  // computed once, by Load
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(std::max<int64_t>(0, limits.max_total_millis));
  for (const SelectedRule& selected : rules) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      RuleResult r;
      r.rule_id = selected.rule->id;
      r.title = selected.rule->title;
      r.severity = selected.rule->severity;
      r.outcome = Outcome::kError;
      r.message = "rule " + r.rule_id + ": not run: the rules of this snapshot ran longer than " +
                  std::to_string(limits.max_total_millis) + " ms together";
      e.results.push_back(std::move(r));
      continue;
    }
    QueryLimits rule_limits = limits;
    rule_limits.max_millis = std::min(limits.max_millis, left);
    e.results.push_back(RunRule(db, selected, rule_limits));
  }
  std::sort(e.results.begin(), e.results.end(),
            [](const RuleResult& a, const RuleResult& b) { return a.rule_id < b.rule_id; });
  return e;
}

StatusOr<Evaluation> Evaluate(const Snapshot& snapshot, const PolicySet& set,
                              const QueryLimits& limits) {
  StatusOr<std::vector<SelectedRule>> rules = SelectRules(set, snapshot.host.id);
  if (!rules.ok()) return rules.status();
  StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
  if (!db.ok()) return db.status();
  if (Status s = (*db)->Load(snapshot); !s.ok()) return s;
  return EvaluateLoaded(**db, snapshot, *rules, limits);
}

int ExitCodeFor(const std::vector<RuleResult>& results, Severity fail_on) {
  bool fail = false;
  bool error = false;
  bool unknown = false;
  for (const RuleResult& r : results) {
    if (r.severity < fail_on || r.tolerated) continue;
    fail |= r.outcome == Outcome::kFail;
    error |= r.outcome == Outcome::kError;
    unknown |= r.outcome == Outcome::kUnknown;
  }
  if (fail) return 3;
  if (error) return 1;
  if (unknown) return 4;
  return 0;
}

}  // namespace tidemark::policy
