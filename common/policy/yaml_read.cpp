#include "common/policy/yaml_read.h"

#include <yaml-cpp/depthguard.h>

namespace tidemark::policy {

StatusOr<YAML::Node> ParseYaml(const std::string& text, const std::string& file) {
  auto error = [&](const YAML::Mark& mark, const std::string& why) {
    return Status{StatusCode::kInvalidArgument,
                  file + ":" + std::to_string(mark.line + 1) + ": YAML error: " + why};
  };
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    return error(e.mark, "nested deeper than " + std::to_string(e.depth()) + " levels");
  } catch (const YAML::Exception& e) {
    return error(e.mark, e.msg);
  }
  if (documents.size() > 1) {
    return error(documents[1].Mark(),
                 "a second document begins here; a file holds one document (join the two, or "
                 "make a second file)");
  }
  return documents.empty() ? YAML::Node() : documents.front();
}

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
