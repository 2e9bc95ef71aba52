#include "common/policy/rules.h"

#include <fnmatch.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "common/policy/fact_db.h"
#include "common/policy/yaml_read.h"
#include "common/read_file.h"
#include "common/sha256.h"
#include "common/snapshot.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

constexpr size_t kMaxPolicyFileBytes = 4 * 1024 * 1024;

bool IsId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

bool IsVarName(std::string_view name) {
  if (name.empty() || name.size() > 64 || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<VarType> ParseVarType(std::string_view name) {
  if (name == "text") return VarType::kText;
  if (name == "integer") return VarType::kInteger;
  if (name == "boolean") return VarType::kBoolean;
  if (name == "list") return VarType::kList;
  return std::nullopt;
}

// Reads a variable value in its declared type. Integers are decimal without a leading zero (a
// mode written 0644 would be read as 644 by some and 420 by others: refused); booleans are
// exactly `true` or `false` (YAML 1.1's yes/no/on/off are refused); lists hold text.
StatusOr<json> VarValue(VarType type, const YAML::Node& node, const Where& where,
                        const std::string& name) {
  if (type == VarType::kList) {
    StatusOr<std::vector<std::string>> list = TextList(node, where, name);
    if (!list.ok()) return list.status();
    return json(*list);
  }
  if (!node.IsScalar()) return where.At(node).Error("variable '" + name + "' must be a scalar");
  const std::string& text = node.Scalar();
  switch (type) {
    case VarType::kText:
      return json(text);
    case VarType::kBoolean:
      if (text == "true") return json(true);
      if (text == "false") return json(false);
      return where.At(node).Error("variable '" + name + "' is boolean: write true or false, not '" +
                                  text + "'");
    case VarType::kInteger: {
      std::string_view digits = text;
      if (!digits.empty() && digits[0] == '-') digits.remove_prefix(1);
      bool ok =
          !digits.empty() && digits.size() <= 18 &&
          std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
          (digits.size() == 1 || digits[0] != '0');
      if (!ok) {
        return where.At(node).Error("variable '" + name + "' is an integer: write it in decimal " +
                                    "without a leading zero, not '" + text + "'");
      }
      return json(std::stoll(text));
    }
    case VarType::kList:
      break;
  }
  return where.Error("unreachable variable type");
}

// Reads `value` as text (a baseline override) into the type of `var`.
StatusOr<json> OverrideValue(const RuleVar& var, const std::string& text, const std::string& name) {
  YAML::Node node;
  try {
    node = var.type == VarType::kList ? YAML::Load(text) : YAML::Node(text);
  } catch (const YAML::Exception& e) {
    return Status{StatusCode::kInvalidArgument, "variable '" + name + "': " + e.what()};
  }
  return VarValue(var.type, node, Where("baseline", node), name);
}

Status LoadRule(const YAML::Node& node, const std::string& file, const FactDb& db, PolicySet& set) {
  Where where(file, node);
  if (Status s = CheckKeys(
          node, where, "a rule",
          {"id", "title", "severity", "rationale", "remediation", "references", "vars", "query"},
          {"id", "title", "severity", "query"});
      !s.ok()) {
    return s;
  }
  Rule rule;
  StatusOr<std::string> id = Text(node["id"], where, "id");
  if (!id.ok()) return id.status();
  if (!IsId(*id)) {
    return where.At(node["id"]).Error("rule id '" + *id + "': 1 to 128 of a-z 0-9 - _ .");
  }
  rule.id = *id;
  rule.file = file;
  rule.line = node["id"].Mark().line + 1;
  Where at(file, node, "rule " + rule.id);
  for (auto [key, field] : {std::pair{"title", &rule.title},
                            {"rationale", &rule.rationale},
                            {"remediation", &rule.remediation},
                            {"query", &rule.query}}) {
    if (!node[key]) continue;
    StatusOr<std::string> v = Text(node[key], at, key);
    if (!v.ok()) return v.status();
    *field = *v;
  }
  StatusOr<std::string> severity = Text(node["severity"], at, "severity");
  if (!severity.ok()) return severity.status();
  std::optional<Severity> sev = ParseSeverity(*severity);
  if (!sev) {
    return at.At(node["severity"])
        .Error("unknown severity '" + *severity + "' (critical, high, medium, low, info)");
  }
  rule.severity = *sev;
  if (const YAML::Node refs = node["references"]) {
    if (!refs.IsMap()) return at.At(refs).Error("'references' must be a mapping");
    for (const auto& kv : refs) {
      StatusOr<std::string> value = Text(kv.second, at, "references." + kv.first.Scalar());
      if (!value.ok()) return value.status();
      if (!rule.references.emplace(kv.first.Scalar(), *value).second) {
        return at.At(kv.first).Error("reference '" + kv.first.Scalar() + "' given twice");
      }
    }
  }
  if (const YAML::Node vars = node["vars"]) {
    if (!vars.IsMap()) return at.At(vars).Error("'vars' must be a mapping");
    for (const auto& kv : vars) {
      std::string name = kv.first.Scalar();
      if (!IsVarName(name)) {
        return at.At(kv.first).Error("variable name '" + name + "': a-z 0-9 _, not starting " +
                                     "with a digit");
      }
      if (Status s = CheckKeys(kv.second, at.At(kv.second), "variable '" + name + "'",
                               {"type", "default", "description"}, {"type", "default"});
          !s.ok()) {
        return s;
      }
      RuleVar var;
      StatusOr<std::string> type = Text(kv.second["type"], at, "type");
      if (!type.ok()) return type.status();
      std::optional<VarType> t = ParseVarType(*type);
      if (!t) {
        return at.At(kv.second["type"])
            .Error("variable '" + name + "': unknown type '" + *type +
                   "' (text, integer, boolean, list)");
      }
      var.type = *t;
      StatusOr<json> value = VarValue(var.type, kv.second["default"], at, name);
      if (!value.ok()) return value.status();
      var.value = *value;
      if (kv.second["description"]) {
        StatusOr<std::string> d = Text(kv.second["description"], at, "description");
        if (!d.ok()) return d.status();
        var.description = *d;
      }
      if (!rule.vars.emplace(name, std::move(var)).second) {
        return at.At(kv.first).Error("variable '" + name + "' given twice");
      }
    }
  }
  // The query: one SELECT over known tables and columns, every parameter a declared variable.
  StatusOr<std::vector<std::string>> params = db.CheckQuery(rule.query);
  if (!params.ok()) return at.At(node["query"]).Error("query: " + params.status().message());
  for (const std::string& p : *params) {
    if (!rule.vars.count(p)) {
      return at.At(node["query"]).Error("query: parameter :" + p + " is not a declared variable");
    }
  }
  if (set.FindRule(rule.id) != nullptr) {
    const Rule* first = set.FindRule(rule.id);
    return at.Error("duplicate rule id (first defined at " + first->file + ":" +
                    std::to_string(first->line) + ")");
  }
  set.rules.push_back(std::move(rule));
  return Status::Ok();
}

Status LoadBaseline(const YAML::Node& node, const std::string& file, PolicySet& set) {
  Where where(file, node);
  if (Status s = CheckKeys(node, where, "a baseline", {"id", "title", "hosts", "rules", "vars"},
                           {"id", "hosts", "rules"});
      !s.ok()) {
    return s;
  }
  Baseline b;
  StatusOr<std::string> id = Text(node["id"], where, "id");
  if (!id.ok()) return id.status();
  if (!IsId(*id)) return where.Error("baseline id '" + *id + "': 1 to 128 of a-z 0-9 - _ .");
  b.id = *id;
  b.file = file;
  b.line = node["id"].Mark().line + 1;
  Where at(file, node, "baseline " + b.id);
  if (node["title"]) {
    StatusOr<std::string> t = Text(node["title"], at, "title");
    if (!t.ok()) return t.status();
    b.title = *t;
  }
  StatusOr<std::vector<std::string>> hosts = TextList(node["hosts"], at, "hosts");
  if (!hosts.ok()) return hosts.status();
  StatusOr<std::vector<std::string>> rules = TextList(node["rules"], at, "rules");
  if (!rules.ok()) return rules.status();
  if (hosts->empty()) return at.Error("'hosts' is empty: name at least one host-id glob");
  if (rules->empty()) return at.Error("'rules' is empty: name at least one rule id or glob");
  b.hosts = *hosts;
  b.rules = *rules;
  if (const YAML::Node vars = node["vars"]) {
    if (!vars.IsMap()) return at.At(vars).Error("'vars' must be a mapping");
    for (const auto& kv : vars) {
      std::string value;
      if (kv.second.IsScalar()) {
        value = kv.second.Scalar();
      } else if (kv.second.IsSequence()) {
        YAML::Emitter e;
        e << YAML::Flow << kv.second;
        value = e.c_str();
      } else {
        return at.At(kv.second).Error("override '" + kv.first.Scalar() +
                                      "' must be a scalar or list");
      }
      if (!b.vars.emplace(kv.first.Scalar(), value).second) {
        return at.At(kv.first).Error("override '" + kv.first.Scalar() + "' given twice");
      }
    }
  }
  for (const Baseline& other : set.baselines) {
    if (other.id == b.id) {
      return at.Error("duplicate baseline id (first defined at " + other.file + ":" +
                      std::to_string(other.line) + ")");
    }
  }
  set.baselines.push_back(std::move(b));
  return Status::Ok();
}

Status LoadInto(std::string_view text, const std::string& file, const FactDb& db, PolicySet& set) {
  StatusOr<YAML::Node> parsed = ParseYaml(std::string(text), file);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node& doc = *parsed;
  if (!doc || doc.IsNull()) return Status::Ok();  // an empty file
  Where where(file, doc);
  if (Status s = CheckKeys(doc, where, "a policy file", {"rules", "baselines"}, {}); !s.ok()) {
    return s;
  }
  if (const YAML::Node rules = doc["rules"]) {
    if (!rules.IsSequence()) return where.At(rules).Error("'rules' must be a list of rules");
    for (const auto& r : rules) {
      if (Status s = LoadRule(r, file, db, set); !s.ok()) return s;
    }
  }
  if (const YAML::Node baselines = doc["baselines"]) {
    if (!baselines.IsSequence()) {
      return where.At(baselines).Error("'baselines' must be a list of baselines");
    }
    for (const auto& b : baselines) {
      if (Status s = LoadBaseline(b, file, set); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

// Every baseline's rule patterns must select something, and its overrides must name variables
// of the rules it selects, in their types.
Status CheckBaselines(const PolicySet& set) {
  for (const Baseline& b : set.baselines) {
    for (const std::string& pattern : b.rules) {
      bool any = std::any_of(set.rules.begin(), set.rules.end(), [&](const Rule& r) {
        return fnmatch(pattern.c_str(), r.id.c_str(), 0) == 0;
      });
      if (!any) {
        return {StatusCode::kInvalidArgument, b.file + ":" + std::to_string(b.line) +
                                                  ": baseline " + b.id + ": '" + pattern +
                                                  "' selects no rule"};
      }
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<SelectedRule>> ApplyBaseline(const PolicySet& set, const Baseline& b) {
  std::vector<SelectedRule> out;
  std::set<std::string> used;
  for (const Rule& r : set.rules) {
    bool selected = std::any_of(b.rules.begin(), b.rules.end(), [&](const std::string& p) {
      return fnmatch(p.c_str(), r.id.c_str(), 0) == 0;
    });
    if (!selected) continue;
    SelectedRule s{&r, r.vars};
    for (auto& [name, var] : s.vars) {
      for (const std::string& key : {r.id + "." + name, name}) {
        auto it = b.vars.find(key);
        if (it == b.vars.end()) continue;
        StatusOr<json> v = OverrideValue(var, it->second, key);
        if (!v.ok()) {
          return Status{StatusCode::kInvalidArgument, b.file + ":" + std::to_string(b.line) +
                                                          ": baseline " + b.id + ": " +
                                                          v.status().message()};
        }
        var.value = *v;
        used.insert(key);
        break;
      }
    }
    out.push_back(std::move(s));
  }
  for (const auto& [key, value] : b.vars) {
    if (!used.count(key)) {
      return Status{StatusCode::kInvalidArgument,
                    b.file + ":" + std::to_string(b.line) + ": baseline " + b.id + ": override '" +
                        key + "' names no variable of the rules it selects"};
    }
  }
  return out;
}

// Sorts the rules and checks every baseline against them (patterns, overrides).
Status Finish(PolicySet& set) {
  std::sort(set.rules.begin(), set.rules.end(),
            [](const Rule& a, const Rule& b) { return a.id < b.id; });
  if (Status s = CheckBaselines(set); !s.ok()) return s;
  for (const Baseline& b : set.baselines) {
    if (StatusOr<std::vector<SelectedRule>> r = ApplyBaseline(set, b); !r.ok()) return r.status();
  }
  return Status::Ok();
}

}  // namespace

std::string_view SeverityName(Severity severity) {
  switch (severity) {
    case Severity::kInfo:
      return "info";
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "medium";
}

std::optional<Severity> ParseSeverity(std::string_view name) {
  for (Severity s :
       {Severity::kInfo, Severity::kLow, Severity::kMedium, Severity::kHigh, Severity::kCritical}) {
    if (SeverityName(s) == name) return s;
  }
  return std::nullopt;
}

const Rule* PolicySet::FindRule(std::string_view id) const {
  for (const Rule& r : rules) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

StatusOr<std::vector<SelectedRule>> SelectRules(const PolicySet& set, const std::string& host_id) {
  if (set.baselines.empty()) {
    std::vector<SelectedRule> all;
    for (const Rule& r : set.rules) all.push_back({&r, r.vars});
    return all;
  }
  std::vector<SelectedRule> out;
  std::set<std::string> have;
  for (const Baseline& b : set.baselines) {
    bool applies = std::any_of(b.hosts.begin(), b.hosts.end(), [&](const std::string& g) {
      return fnmatch(g.c_str(), host_id.c_str(), 0) == 0;
    });
    if (!applies) continue;
    StatusOr<std::vector<SelectedRule>> rules = ApplyBaseline(set, b);
    if (!rules.ok()) return rules.status();
    for (SelectedRule& r : *rules) {
      if (have.insert(r.rule->id).second) out.push_back(std::move(r));
    }
  }
  return out;
}

StatusOr<PolicySet> LoadPolicyText(std::string_view yaml, const std::string& file) {
  StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
  if (!db.ok()) return db.status();
  PolicySet set;
  if (Status s = LoadInto(yaml, file, **db, set); !s.ok()) return s;
  if (Status s = Finish(set); !s.ok()) return s;
  return set;
}

StatusOr<PolicySet> LoadPolicies(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string ext = entry.path().extension().string();
      if ((ext == ".yaml" || ext == ".yml") && entry.is_regular_file(ec)) {
        files.push_back(entry.path().string());
      }
    }
    if (ec) return Status{StatusCode::kIoError, path + ": cannot list: " + ec.message()};
    std::sort(files.begin(), files.end());
    if (files.empty()) return Status{StatusCode::kNotFound, path + ": no *.yaml policy files"};
  } else {
    files.push_back(path);
  }
  StatusOr<std::unique_ptr<FactDb>> db = FactDb::Open();
  if (!db.ok()) return db.status();
  PolicySet set;
  for (const std::string& file : files) {
    // Only a regular file: a FIFO in its place would stall the collector's reload.
    StatusOr<std::string> text = ReadRegularFile(file, kMaxPolicyFileBytes);
    if (!text.ok()) return text.status();
    if (Status s = LoadInto(*text, file, **db, set); !s.ok()) return s;
  }
  if (Status s = Finish(set); !s.ok()) return s;
  return set;
}

std::string PolicyHash(const PolicySet& set) {
  auto vars = [](const std::map<std::string, RuleVar>& v) {
    json out = json::object();
    for (const auto& [name, var] : v) {
      out[name] = {static_cast<int>(var.type), var.value};
    }
    return out;
  };
  json doc = {{"format", 1}, {"rules", json::array()}, {"baselines", json::array()}};
  for (const Rule& r : set.rules) {
    doc["rules"].push_back({r.id, r.title, SeverityName(r.severity), r.rationale, r.remediation,
                            r.references, vars(r.vars), r.query});
  }
  for (const Baseline& b : set.baselines) {
    doc["baselines"].push_back({b.id, b.title, b.hosts, b.rules, b.vars});
  }
  return "sha256:" + Sha256Hex(doc.dump(-1, ' ', false, json::error_handler_t::replace));
}

}  // namespace tidemark::policy
