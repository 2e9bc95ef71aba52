// Helpers of the row functions over items that describe files (sections files, sweep, cron):
// the section readers write modes as octal text ("0644"), the tables hold them as integers so that
// `mode & 18` works; such an item is its own source, {file: path}.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/table.h"
#include "common/status.h"

namespace tidemark::policy {

// Returns the value of octal permission text ("0644", "4755"), or nullopt when `text` is not 1 to
// 7 octal digits.
inline std::optional<int64_t> ParseOctalMode(std::string_view text) {
  if (text.empty() || text.size() > 7) return std::nullopt;
  int64_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + (c - '0');
  }
  return mode;
}

// Sets `*items` to the array `key` of a section's `data`, or to nullptr when there are no rows
// (the data or the key is missing or null: the section's status says why). Returns
// kInvalidArgument when the data is not an object or the value is not an array of objects.
inline Status SectionItems(const nlohmann::json& data, std::string_view section,
                           std::string_view key, const nlohmann::json** items) {
  *items = nullptr;
  if (data.is_null()) return Status::Ok();
  std::string where = std::string(section) + "." + std::string(key);
  if (!data.is_object()) return {StatusCode::kInvalidArgument, std::string(section) + " data"};
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return {StatusCode::kInvalidArgument, where + " is not an array"};
  for (const nlohmann::json& item : *it) {
    if (!item.is_object()) return {StatusCode::kInvalidArgument, where + " has a non-object"};
  }
  *items = &*it;
  return Status::Ok();
}

// Returns `item` (an object) with its octal `mode` text as an integer and, when it has no
// `source`, the source {file: path}; `path` is set to `path` when the item does not repeat it.
// Returns kInvalidArgument naming `where` when the mode is neither missing, null nor octal text.
inline Status FileItem(const nlohmann::json& item, const std::string& path, std::string_view where,
                       nlohmann::json& out) {
  out = item;
  if (!out.contains("path")) out["path"] = path;
  if (auto mode = item.find("mode"); mode != item.end() && !mode->is_null()) {
    std::optional<int64_t> bits =
        mode->is_string() ? ParseOctalMode(mode->get_ref<const std::string&>()) : std::nullopt;
    if (!bits) return {StatusCode::kInvalidArgument, std::string(where) + ": mode is not octal"};
    out["mode"] = *bits;
  }
  if (!out.contains("source")) out["source"] = {{"file", path}};
  return Status::Ok();
}

// Returns the string at `key` of `item`, or "" when it is missing or not a string.
inline std::string StringAt(const nlohmann::json& item, std::string_view key) {
  auto it = item.find(key);
  return it != item.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Returns a view of the string at `key` of `item` (into the item), or "" when it is missing or
// not a string.
inline std::string_view TextAt(const nlohmann::json& item, std::string_view key) {
  auto it = item.find(key);
  return it != item.end() && it->is_string() ? std::string_view(it->get_ref<const std::string&>())
                                             : std::string_view();
}

// Returns the columns of `a` followed by those of `b` (tables sharing a file's metadata columns).
inline std::vector<Column> ConcatColumns(std::vector<Column> a, const std::vector<Column>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace tidemark::policy
