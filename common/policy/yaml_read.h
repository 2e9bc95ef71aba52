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

// Parses `text`, the whole of `file`, as one YAML document; the error ("FILE:LINE: YAML error:
// ...", kInvalidArgument) says why not. A second document (after `---`) is refused, never ignored:
// rules or exceptions in it would silently not apply. Nesting deeper than yaml-cpp's limit (500
// levels in Debian 12's 0.7.0) is named as such (yaml-cpp itself says "bad file"). An empty file
// is a null node.
StatusOr<YAML::Node> ParseYaml(const std::string& text, const std::string& file);

// Checks that `map` is a mapping with only `allowed` keys, none twice, and every `required`.
Status CheckKeys(const YAML::Node& map, const Where& where, const std::string& what,
                 const std::set<std::string>& allowed, const std::set<std::string>& required);

// Reads a text scalar exactly as written: YAML's implicit typing never applies (`no`, `0644`
// and `1` stay the text they are).
StatusOr<std::string> Text(const YAML::Node& node, const Where& where, const std::string& key);

StatusOr<std::vector<std::string>> TextList(const YAML::Node& node, const Where& where,
                                            const std::string& key);

}  // namespace tidemark::policy
