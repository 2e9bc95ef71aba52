// Reading the files people write (rules, baselines, the exception register) from YAML strictly:
// every error names its file and line, unknown keys are refused, and YAML's implicit typing
// never applies (a value is read in the type its key documents).
#pragma once

#include <yaml-cpp/yaml.h>

#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace tidemark::policy {

// Where an error is: "FILE:LINE: ENTRY: message" (ENTRY, e.g. "rule ID", when given).
class Where {
 public:
  Where(std::string file, const YAML::Node& node, std::string entry = "")
      : file_(std::move(file)), line_(node.Mark().line + 1), entry_(std::move(entry)) {}
  Status Error(const std::string& message) const {
    std::string at = file_ + ":" + std::to_string(line_) + ": ";
    if (!entry_.empty()) at += entry_ + ": ";
    return {StatusCode::kInvalidArgument, at + message};
  }
  Where At(const YAML::Node& node) const { return Where(file_, node, entry_); }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
  std::string entry_;
};

// Checks that `map` is a mapping with only `allowed` keys, none twice, and every `required`.
Status CheckKeys(const YAML::Node& map, const Where& where, const std::string& what,
                 const std::set<std::string>& allowed, const std::set<std::string>& required);

// Reads a text scalar exactly as written: YAML's implicit typing never applies (`no`, `0644`
// and `1` stay the text they are).
StatusOr<std::string> Text(const YAML::Node& node, const Where& where, const std::string& key);

StatusOr<std::vector<std::string>> TextList(const YAML::Node& node, const Where& where,
                                            const std::string& key);

}  // namespace tidemark::policy
