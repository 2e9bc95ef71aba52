#include "common/policy/drift.h"

#include <algorithm>
#include <set>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

// What a read of one table may hold: a state's tables are bounded by the snapshot's caps.
QueryLimits ReadLimits() {
  QueryLimits l;
  l.max_rows = 10'000'000;
  l.max_millis = 60'000;
  return l;
}

// The columns of `table` that change on their own (Column::changes_by_itself).
const std::set<std::string>& Volatile(const std::string& table) {
  static const auto* kVolatile = [] {
    auto* m = new std::map<std::string, std::set<std::string>>();
    for (const Table& t : FactTables()) {
      for (const Column& c : t.columns) {
        if (c.changes_by_itself) (*m)[t.name].insert(c.name);
      }
    }
    return m;
  }();
  static const std::set<std::string> kNone;
  auto it = kVolatile->find(table);
  return it == kVolatile->end() ? kNone : it->second;
}

// The item as the final state shows it, for the "first seen" walk: its row, or null.
const json* Find(const StateRows& s, const std::string& table, const std::string& id) {
  auto t = s.tables.find(table);
  if (t == s.tables.end()) return nullptr;
  auto r = t->second.find(id);
  return r == t->second.end() ? nullptr : &r->second;
}

bool SameAs(const StateRows& s, const Change& c) {
  if (c.table == "sections") {
    auto it = s.sections.find(c.id);
    std::string status = it == s.sections.end() ? "" : it->second;
    return status == (c.after.is_null() ? "" : c.after.value("status", ""));
  }
  const json* row = Find(s, c.table, c.id);
  if (c.after.is_null()) return row == nullptr;
  return row != nullptr && !RowsDiffer(c.table, *row, c.after, nullptr);
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded:
      return "added";
    case ChangeKind::kRemoved:
      return "removed";
    case ChangeKind::kChanged:
      return "changed";
  }
  return "changed";
}

StatusOr<StateRows> ReadState(const FactDb& db) {
  StateRows out;
  out.sections = db.section_status();
  for (const Table& t : FactTables()) {
    StatusOr<QueryResult> q = db.Query("SELECT * FROM \"" + t.name + "\"", ReadLimits());
    if (!q.ok()) return Status(q.status().code(), t.name + ": " + q.status().message());
    auto& rows = out.tables[t.name];
    size_t id_col = 0;
    for (size_t i = 0; i < q->columns.size(); ++i) {
      if (q->columns[i] == kIdColumn) id_col = i;
    }
    for (auto& row : q->rows) {
      json obj = json::object();
      for (size_t i = 0; i < q->columns.size(); ++i) obj[q->columns[i]] = std::move(row[i]);
      std::string id = obj[q->columns[id_col]].is_string()
                           ? obj[q->columns[id_col]].get<std::string>()
                           : obj[q->columns[id_col]].dump();
      std::string key = id;
      for (int n = 2; rows.count(key); ++n) key = id + "#" + std::to_string(n);
      rows.emplace(std::move(key), std::move(obj));
    }
    if (rows.empty()) out.tables.erase(t.name);
  }
  return out;
}

bool RowsDiffer(const std::string& table, const json& a, const json& b,
                std::vector<std::string>* columns) {
  const std::set<std::string>& ignored = Volatile(table);
  bool differ = false;
  for (const auto& [column, value] : a.items()) {
    if (column == kSourceFileColumn || column == kSourceLineColumn || ignored.count(column)) {
      continue;
    }
    auto other = b.find(column);
    if (other == b.end() || *other != value) {
      differ = true;
      if (columns == nullptr) return true;
      columns->push_back(column);
    }
  }
  return differ;
}

std::vector<Change> Diff(const StateRows& before, const StateRows& after) {
  std::vector<Change> out;
  std::set<std::string> sections;
  for (const auto& [name, status] : before.sections) sections.insert(name);
  for (const auto& [name, status] : after.sections) sections.insert(name);
  for (const std::string& name : sections) {
    auto b = before.sections.find(name);
    auto a = after.sections.find(name);
    if (b != before.sections.end() && a != after.sections.end() && b->second == a->second) {
      continue;
    }
    Change c;
    c.table = "sections";
    c.id = name;
    c.kind = b == before.sections.end()  ? ChangeKind::kAdded
             : a == after.sections.end() ? ChangeKind::kRemoved
                                         : ChangeKind::kChanged;
    if (b != before.sections.end()) c.before = {{"status", b->second}};
    if (a != after.sections.end()) c.after = {{"status", a->second}};
    if (c.kind == ChangeKind::kChanged) c.columns = {"status"};
    out.push_back(std::move(c));
  }
  static const std::map<std::string, json> kEmpty;
  for (const Table& t : FactTables()) {
    auto bt = before.tables.find(t.name);
    auto at = after.tables.find(t.name);
    const auto& b = bt == before.tables.end() ? kEmpty : bt->second;
    const auto& a = at == after.tables.end() ? kEmpty : at->second;
    for (const auto& [id, row] : b) {
      auto it = a.find(id);
      if (it == a.end()) {
        out.push_back({t.name, id, ChangeKind::kRemoved, row, nullptr, {}, 0});
        continue;
      }
      std::vector<std::string> columns;
      if (RowsDiffer(t.name, row, it->second, &columns)) {
        out.push_back({t.name, id, ChangeKind::kChanged, row, it->second, std::move(columns), 0});
      }
    }
    for (const auto& [id, row] : a) {
      if (!b.count(id)) out.push_back({t.name, id, ChangeKind::kAdded, nullptr, row, {}, 0});
    }
  }
  return out;
}

std::vector<Change> DriftOver(const std::vector<StateRows>& states) {
  std::vector<Change> changes = Diff(states.front(), states.back());
  for (Change& c : changes) {
    size_t first = states.size() - 1;
    while (first > 1 && SameAs(states[first - 1], c)) --first;
    c.first_state = first;
  }
  return changes;
}

bool IsBaselineFinding(const Change& c) {
  if (c.kind == ChangeKind::kRemoved && c.table != "sshd_settings") return false;
  if (c.table == "users") {
    return c.after.is_object() && c.after.value("uid", json(-1)) == json(0) &&
           (c.kind == ChangeKind::kAdded ||
            std::find(c.columns.begin(), c.columns.end(), "uid") != c.columns.end());
  }
  if (c.table == "ssh_keys") return c.after.is_object() && c.after.value("user", json()) == "root";
  return c.table == "sudo_grants" || c.table == "listeners" || c.table == "suid_files" ||
         c.table == "sshd_settings";
}

}  // namespace tidemark::policy
