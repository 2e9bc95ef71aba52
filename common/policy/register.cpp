#include "common/policy/register.h"

#include <yaml-cpp/yaml.h>

#include <set>

#include "common/policy/tables.h"
#include "common/policy/yaml_read.h"
#include "common/read_file.h"
#include "common/time.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxRegisterBytes = 4 * 1024 * 1024;

// An instant: RFC 3339 with `Z` or an offset (no "local midnight" guessing).
StatusOr<int64_t> Instant(const YAML::Node& node, const Where& where, const std::string& key) {
  StatusOr<std::string> text = Text(node, where, key);
  if (!text.ok()) return text.status();
  StatusOr<int64_t> t = ParseRfc3339(*text);
  if (!t.ok()) {
    return where.At(node).Error("'" + key + "' must be an instant with its timezone, as " +
                                "2026-12-01T00:00:00Z or 2026-12-01T01:00:00+01:00: '" + *text +
                                "'");
  }
  return *t;
}

StatusOr<Person> ReadPerson(const YAML::Node& node, const Where& where, const std::string& key,
                            bool needs_reach) {
  if (Status s = CheckKeys(node, where.At(node), key,
                           {"name", "organisation", "email", "phone", "availability"}, {"name"});
      !s.ok()) {
    return s;
  }
  Person p;
  for (auto [field, out] : {std::pair{"name", &p.name},
                            {"organisation", &p.organisation},
                            {"email", &p.email},
                            {"phone", &p.phone},
                            {"availability", &p.availability}}) {
    if (!node[field]) continue;
    StatusOr<std::string> v = Text(node[field], where, key + "." + field);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  if (p.name.empty()) return where.At(node).Error(key + ": 'name' is empty");
  if (needs_reach && p.email.empty() && p.phone.empty()) {
    return where.At(node).Error(key + ": give at least one of 'email' and 'phone'");
  }
  return p;
}

// A `where` value in the type of `column`: text exactly as written, integers and booleans by
// value (YAML's `yes` is text, not a boolean; a boolean column takes only true/false).
StatusOr<json> WhereValue(const YAML::Node& node, const Column& column, const Where& where) {
  if (!node.IsScalar()) return where.At(node).Error("'" + column.name + "' must be one value");
  const std::string& text = node.Scalar();
  switch (column.type) {
    case ColumnType::kInteger: {
      try {
        size_t used = 0;
        long long v = std::stoll(text, &used, 10);
        if (used == text.size()) return json(v);
      } catch (const std::exception&) {
      }
      return where.At(node).Error("'" + column.name + "' is an integer column: '" + text + "'");
    }
    case ColumnType::kBoolean:
      if (text == "true" || text == "false") return json(text == "true");
      return where.At(node).Error("'" + column.name +
                                  "' is a boolean column: true or false, not '" + text + "'");
    case ColumnType::kJson:
      return where.At(node).Error("'" + column.name +
                                  "' holds JSON (a list or object): match it in a rule instead");
    default:
      return json(text);
  }
}

StatusOr<Cover> ReadCover(const YAML::Node& node, const Where& where, const PolicySet* rules) {
  Where at = where.At(node);
  Cover c;
  c.line = at.line();
  if (node.IsMap() && node["rule"]) {
    if (Status s = CheckKeys(node, at, "covers entry", {"rule"}, {"rule"}); !s.ok()) return s;
    StatusOr<std::string> id = Text(node["rule"], at, "rule");
    if (!id.ok()) return id.status();
    if (rules == nullptr || rules->FindRule(*id) == nullptr) {
      return at.Error("covers: unknown rule '" + *id + "'");
    }
    c.rule = *id;
    return c;
  }
  if (Status s = CheckKeys(node, at, "covers entry", {"table", "where"}, {"table", "where"});
      !s.ok()) {
    return s;
  }
  StatusOr<std::string> table = Text(node["table"], at, "table");
  if (!table.ok()) return table.status();
  const Table* t = FindTable(*table);
  if (t == nullptr) return at.Error("covers: unknown table '" + *table + "' (tidemarkctl tables)");
  c.table = *table;
  const YAML::Node& w = node["where"];
  if (!w.IsMap() || w.size() == 0) {
    return at.At(w).Error("covers: 'where' must map at least one column to a value");
  }
  for (const auto& kv : w) {
    std::string name = kv.first.IsScalar() ? kv.first.Scalar() : "";
    // The three columns every table starts with, then its own.
    static const Column kCommon[] = {{std::string(kIdColumn), ColumnType::kText},
                                     {std::string(kSourceFileColumn), ColumnType::kText},
                                     {std::string(kSourceLineColumn), ColumnType::kInteger}};
    const Column* column = nullptr;
    for (const Column& col : kCommon) {
      if (col.name == name) column = &col;
    }
    for (const Column& col : t->columns) {
      if (col.name == name) column = &col;
    }
    if (column == nullptr) {
      return at.At(kv.first).Error("covers: table '" + c.table + "' has no column '" + name + "'");
    }
    if (c.where.count(name)) return at.At(kv.first).Error("covers: '" + name + "' given twice");
    StatusOr<json> v = WhereValue(kv.second, *column, at);
    if (!v.ok()) return v.status();
    c.where[name] = *v;
  }
  return c;
}

StatusOr<MigrationException> ReadException(const YAML::Node& node, const std::string& file,
                                           const std::map<std::string, int64_t>& phases,
                                           const PolicySet* rules) {
  std::string id;
  if (node.IsMap() && node["id"] && node["id"].IsScalar()) id = node["id"].Scalar();
  Where entry(file, node, id.empty() ? "exception" : "exception " + id);
  if (Status s = CheckKeys(node, entry, "exception",
                           {"id", "title", "hosts", "phase", "owner", "contact", "ticket", "reason",
                            "granted", "expires", "covers"},
                           {"id", "hosts", "owner", "ticket", "expires", "covers"});
      !s.ok()) {
    return s;
  }
  MigrationException e;
  e.file = file;
  e.line = entry.line();
  e.id = id;
  if (e.id.empty()) return entry.Error("'id' must be non-empty text");
  if (node["title"]) {
    StatusOr<std::string> v = Text(node["title"], entry, "title");
    if (!v.ok()) return v.status();
    e.title = *v;
  }
  StatusOr<std::vector<std::string>> hosts = TextList(node["hosts"], entry, "hosts");
  if (!hosts.ok()) return hosts.status();
  if (hosts->empty()) return entry.At(node["hosts"]).Error("'hosts' needs at least one glob");
  e.hosts = *hosts;
  StatusOr<Person> owner = ReadPerson(node["owner"], entry, "owner", /*needs_reach=*/true);
  if (!owner.ok()) return owner.status();
  e.owner = *owner;
  if (node["contact"]) {
    StatusOr<Person> contact = ReadPerson(node["contact"], entry, "contact", false);
    if (!contact.ok()) return contact.status();
    e.contact = *contact;
  }
  for (auto [key, out] : {std::pair{"ticket", &e.ticket}, {"reason", &e.reason}}) {
    if (!node[key]) continue;
    StatusOr<std::string> v = Text(node[key], entry, key);
    if (!v.ok()) return v.status();
    *out = *v;
  }
  if (e.ticket.empty()) return entry.Error("'ticket' must be non-empty text");
  StatusOr<int64_t> expires = Instant(node["expires"], entry, "expires");
  if (!expires.ok()) return expires.status();
  e.expires = *expires;
  e.effective_expiry = e.expires;
  if (node["granted"]) {
    StatusOr<int64_t> granted = Instant(node["granted"], entry, "granted");
    if (!granted.ok()) return granted.status();
    if (*granted > e.expires)
      return entry.At(node["granted"]).Error("'granted' is after 'expires'");
    e.granted = *granted;
  }
  if (node["phase"]) {
    StatusOr<std::string> phase = Text(node["phase"], entry, "phase");
    if (!phase.ok()) return phase.status();
    auto p = phases.find(*phase);
    if (p == phases.end()) return entry.At(node["phase"]).Error("unknown phase '" + *phase + "'");
    e.phase = *phase;
    e.effective_expiry = std::min(e.expires, p->second);
  }
  const YAML::Node& covers = node["covers"];
  if (!covers.IsSequence() || covers.size() == 0) {
    return entry.At(covers).Error("'covers' needs at least one entry");
  }
  for (const auto& c : covers) {
    StatusOr<Cover> cover = ReadCover(c, entry, rules);
    if (!cover.ok()) return cover.status();
    e.covers.push_back(std::move(*cover));
  }
  return e;
}

}  // namespace

StatusOr<Register> LoadRegisterText(std::string_view yaml, const std::string& file,
                                    const PolicySet* rules) {
  StatusOr<YAML::Node> parsed = ParseYaml(std::string(yaml), file);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node& root = *parsed;
  Where where(file, root);
  if (Status s = CheckKeys(root, where, "the register", {"phases", "exceptions"}, {"exceptions"});
      !s.ok()) {
    return s;
  }
  Register reg;
  std::map<std::string, int64_t> phases;
  if (root["phases"]) {
    if (!root["phases"].IsSequence()) return where.At(root["phases"]).Error("'phases' is a list");
    for (const auto& p : root["phases"]) {
      Where at(file, p, "phase");
      if (Status s = CheckKeys(p, at, "phase", {"id", "ends"}, {"id", "ends"}); !s.ok()) return s;
      StatusOr<std::string> id = Text(p["id"], at, "id");
      if (!id.ok()) return id.status();
      StatusOr<int64_t> ends = Instant(p["ends"], at, "ends");
      if (!ends.ok()) return ends.status();
      if (!phases.emplace(*id, *ends).second) return at.Error("phase '" + *id + "' given twice");
      reg.phases.push_back({*id, *ends});
    }
  }
  if (!root["exceptions"].IsSequence()) {
    return where.At(root["exceptions"]).Error("'exceptions' is a list");
  }
  std::set<std::string> ids;
  for (const auto& node : root["exceptions"]) {
    StatusOr<MigrationException> e = ReadException(node, file, phases, rules);
    if (!e.ok()) return e.status();
    if (!ids.insert(e->id).second) {
      return Where(file, node).Error("exception id '" + e->id + "' given twice");
    }
    reg.exceptions.push_back(std::move(*e));
  }
  return reg;
}

StatusOr<Register> LoadRegister(const std::string& path, const PolicySet* rules) {
  StatusOr<std::string> text = ReadRegularFile(path, kMaxRegisterBytes);  // never a FIFO's wait
  if (!text.ok()) return text.status();
  return LoadRegisterText(*text, path, rules);
}

}  // namespace tidemark::policy
