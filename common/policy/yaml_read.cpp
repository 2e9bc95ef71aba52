#include "common/policy/yaml_read.h"

namespace tidemark::policy {

Status CheckKeys(const YAML::Node& map, const Where& where, const std::string& what,
                 const std::set<std::string>& allowed, const std::set<std::string>& required) {
  if (!map.IsMap()) return where.Error(what + " must be a mapping");
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) return where.At(kv.first).Error(what + ": a key must be text");
    std::string key = kv.first.Scalar();
    if (!allowed.count(key)) {
      std::string list;
      for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return where.At(kv.first).Error(what + ": unknown key '" + key + "' (known: " + list + ")");
    }
    if (!seen.insert(key).second) {
      return where.At(kv.first).Error(what + ": key '" + key + "' given twice");
    }
  }
  for (const std::string& r : required) {
    if (!seen.count(r)) return where.Error(what + ": '" + r + "' is missing");
  }
  return Status::Ok();
}

StatusOr<std::string> Text(const YAML::Node& node, const Where& where, const std::string& key) {
  if (!node.IsScalar()) return where.At(node).Error("'" + key + "' must be text");
  return node.Scalar();
}

StatusOr<std::vector<std::string>> TextList(const YAML::Node& node, const Where& where,
                                            const std::string& key) {
  if (!node.IsSequence()) return where.At(node).Error("'" + key + "' must be a list of text");
  std::vector<std::string> out;
  for (const auto& item : node) {
    if (!item.IsScalar()) return where.At(item).Error("'" + key + "' must be a list of text");
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace tidemark::policy
