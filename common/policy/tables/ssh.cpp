// Tables of the `ssh_keys` and `sshd` sections (docs/sections/ssh_keys.md, sshd.md): every
// authorized public key, sshd's effective global settings, and what each Match block sets.
#include <cctype>
#include <string>

#include "common/policy/tables.h"
#include "common/sshd_argv.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// sshd_settings: one row per line `sshd -T` prints. `effective` maps a keyword to its string
// value, or (repeating keywords: port, hostkey, acceptenv, ...) to the list of its lines; an
// empty list prints nothing, so it gives no row.
Status SshdSettings(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "sshd data is not an object"};
  auto effective = data.find("effective");
  // Null: sshd would not start or there is no sshd_config; the section's status says which.
  if (effective == data.end() || effective->is_null()) return Status::Ok();
  if (!effective->is_object()) {
    return {StatusCode::kInvalidArgument, "sshd.effective is not an object"};
  }
  for (const auto& [keyword, value] : effective->items()) {
    if (value.is_string()) {
      sink.Add({{"id", "sshd_setting:" + keyword},
                {"keyword", keyword},
                {"value", value},
                {"position", 1},
                {"repeating", false}});
      continue;
    }
    if (!value.is_array()) {
      return {StatusCode::kInvalidArgument, "sshd.effective." + keyword + " is not a string"};
    }
    int position = 0;
    for (const json& v : value) {
      ++position;
      sink.Add({{"id", "sshd_setting:" + keyword + "#" + std::to_string(position)},
                {"keyword", keyword},
                {"value", v},
                {"position", position},
                {"repeating", true}});
    }
  }
  return Status::Ok();
}

// The Match criteria split as sshd's match_cfg_line() reads them (misc.c strdelim(): blanks,
// one '=' or double quotes delimit words; a word starting with '#' ends the line), as
// [{criterion (lowercase), patterns: [the comma-separated patterns] or null}].
json MatchConditions(const std::string& criteria) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < criteria.size()) {
    char c = criteria[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '=') {
      ++i;
      continue;
    }
    std::string word;
    if (c == '"') {
      size_t end = criteria.find('"', i + 1);
      if (end == std::string::npos) end = criteria.size();
      word = criteria.substr(i + 1, end - i - 1);
      i = end + 1;
    } else {
      size_t end = criteria.find_first_of(" \t\r\n=\"", i);
      if (end == std::string::npos) end = criteria.size();
      word = criteria.substr(i, end - i);
      i = end;
    }
    if (!word.empty() && word[0] == '#') break;
    words.push_back(std::move(word));
  }
  json out = json::array();
  for (size_t w = 0; w < words.size(); ++w) {
    std::string criterion = words[w];
    for (char& ch : criterion) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    json patterns = nullptr;
    if (criterion != "all" && w + 1 < words.size()) {
      patterns = json::array();
      const std::string& list = words[++w];
      size_t start = 0;
      while (true) {
        size_t comma = list.find(',', start);
        patterns.push_back(list.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
    }
    out.push_back({{"criterion", criterion}, {"patterns", patterns}});
  }
  return out;
}

// sshd_match_blocks: one row per setting of each Match block (a block that sets nothing: one
// row with keyword NULL), so that `WHERE keyword = 'permitrootlogin'` finds every block that
// changes it.
Status SshdMatchBlocks(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "sshd data is not an object"};
  auto blocks = data.find("match_blocks");
  if (blocks == data.end() || blocks->is_null()) return Status::Ok();
  if (!blocks->is_array()) {
    return {StatusCode::kInvalidArgument, "sshd.match_blocks is not an array"};
  }
  for (const json& b : *blocks) {
    if (!b.is_object()) {
      return {StatusCode::kInvalidArgument, "sshd.match_blocks has a non-object"};
    }
    json block = {{"block_id", b.contains("id") ? b["id"] : json()},
                  {"criteria", b.contains("criteria") ? b["criteria"] : json()},
                  {"block_file", nullptr},
                  {"block_line", nullptr}};
    if (auto c = b.find("criteria"); c != b.end() && c->is_string()) {
      block["conditions"] = MatchConditions(c->get<std::string>());
    }
    if (auto src = b.find("source"); src != b.end() && src->is_object()) {
      if (auto f = src->find("file"); f != src->end()) block["block_file"] = *f;
      if (auto l = src->find("line"); l != src->end()) block["block_line"] = *l;
    }
    std::string block_id =
        b.contains("id") && b["id"].is_string() ? b["id"].get<std::string>() : "";
    auto settings = b.find("settings");
    if (settings != b.end() && !settings->is_null() && !settings->is_array()) {
      return {StatusCode::kInvalidArgument, "sshd.match_blocks[].settings is not an array"};
    }
    if (settings == b.end() || settings->is_null() || settings->empty()) {
      json row = block;
      row["id"] = block_id;
      if (auto src = b.find("source"); src != b.end()) row["source"] = *src;
      sink.Add(std::move(row));
      continue;
    }
    int position = 0;
    for (const json& s : *settings) {
      if (!s.is_object()) {
        return {StatusCode::kInvalidArgument, "sshd.match_blocks[].settings has a non-object"};
      }
      json row = block;
      row["id"] = block_id + "#" + std::to_string(++position);
      row["position"] = position;
      row["keyword"] = s.contains("keyword") ? s["keyword"] : json();
      row["value"] = s.contains("value") ? s["value"] : json();
      if (auto v = s.find("value"); v != s.end() && v->is_string()) {
        std::vector<std::string> args;
        if (SshdArgvSplit(v->get_ref<const std::string&>(), &args)) row["arguments"] = args;
      }
      if (auto src = s.find("source"); src != s.end()) row["source"] = *src;
      sink.Add(std::move(row));
    }
  }
  return Status::Ok();
}

// sshd_user_settings: one row per line of each item of `user_settings` (a repeating keyword's
// list gives a row per element; an empty list, where the global setting has lines, one row with
// value NULL).
Status SshdUserSettings(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "sshd data is not an object"};
  auto items = data.find("user_settings");
  if (items == data.end() || items->is_null()) return Status::Ok();
  if (!items->is_array()) {
    return {StatusCode::kInvalidArgument, "sshd.user_settings is not an array"};
  }
  for (const json& item : *items) {
    auto value = item.is_object() ? item.find("value") : item.end();
    auto id = item.is_object() ? item.find("id") : item.end();
    if (!item.is_object() || value == item.end() || id == item.end() || !id->is_string()) {
      return {StatusCode::kInvalidArgument, "sshd.user_settings has an item without id or value"};
    }
    Overlay row;  // beside the item, not a copy of it
    if (value->is_string()) {
      row.Set("position", CellValue::Integer(1));
      row.Set("repeating", CellValue::Boolean(false));
      sink.AddOverlaid(item, row);
      continue;
    }
    if (!value->is_array()) {
      return {StatusCode::kInvalidArgument, "sshd.user_settings[].value is not a string"};
    }
    row.Set("repeating", CellValue::Boolean(true));
    if (value->empty()) {
      row.Set("value", CellValue());
      row.Set("position", CellValue());
      sink.AddOverlaid(item, row);
    }
    int64_t position = 0;
    for (const json& v : *value) {
      ++position;
      row.Set("value", v);
      row.Set("position", CellValue::Integer(position));
      row.Set("id", sink.Keep(id->get<std::string>() + "#" + std::to_string(position)));
      sink.AddOverlaid(item, row);
    }
  }
  return Status::Ok();
}

}  // namespace

void AddSshTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "ssh_keys",
      .section = "ssh_keys",
      .meaning = "Every public key in the authorized-keys files sshd would read for each user of "
                 "`/etc/passwd` (the effective `AuthorizedKeysFile`, Match User/Group applied), "
                 "in user, file and line order. The source is the key's file and line.",
      .items = "/keys",
      .columns = {
          {"user", T::kText, "the account the file authorizes"},
          {"file", T::kText, "the authorized-keys file (the expanded path, not a symlink target)"},
          {"type", T::kText,
           "the key type of the blob (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`, "
           "`*-cert-v01@openssh.com`, ...)"},
          {"bits", T::kInteger, "the key size as `ssh-keygen -l` prints it"},
          {"fingerprint", T::kText,
           "`SHA256:...` exactly as `ssh-keygen -lf` prints it (a certificate: its key's)"},
          {"comment", T::kText, "the text after the key; `\"\"` when none"},
          {"options", T::kJson,
           "the key options, name -> `true` or value(s) (`from`, `command`, `restrict`, ...); "
           "`{}` when none"},
          {"certificate", T::kJson,
           "for a certificate: type, serial, key id, principals, validity, CA fingerprint "
           "(signature not verified); NULL for a plain key"},
      }});
  out.push_back(Table{
      .name = "sshd_settings",
      .section = "sshd",
      .meaning = "sshd's effective global settings: one row per line `sshd -T` prints without a "
                 "connection context (global lines and `Match All` blocks, defaults included); a "
                 "repeating keyword (`port`, `hostkey`, `acceptenv`, `allowusers`, ...) has one "
                 "row per line. Empty when sshd would not start or has no configuration (see "
                 "`sections`). `sshd -T` does not say which line set a value: source_file and "
                 "source_line are NULL.",
      .rows = SshdSettings,
      .columns = {
          {"keyword", T::kText, "the keyword, lowercase, as `sshd -T` prints it"},
          {"value", T::kText, "the value as `sshd -T` prints it"},
          {"position", T::kInteger, "the line's position among the keyword's lines, from 1"},
          {"repeating", T::kBoolean, "the keyword may print several lines"},
      }});
  out.push_back(Table{
      .name = "sshd_user_settings",
      .section = "sshd",
      .meaning = "The settings that differ for a user of `/etc/passwd` from sshd's global ones "
                 "(`sshd_settings`), as `sshd -T -C user=USER` prints them: Match User and "
                 "Group blocks applied; blocks on Host, Address, LocalAddress, LocalPort or "
                 "RDomain never match, since no connection is given. A keyword a user has no "
                 "row for has its global value. One row per printed line (a repeating keyword: "
                 "one per line; emptied for the user: one row with value NULL). Empty when no "
                 "Match block exists. source_file and source_line are NULL.",
      .rows = SshdUserSettings,
      .columns = {
          {"user", T::kText, "the user name"},
          {"keyword", T::kText, "the keyword, lowercase, as `sshd -T` prints it"},
          {"value", T::kText, "the value for this user as `sshd -T -C user=USER` prints it"},
          {"position", T::kInteger, "the line's position among the keyword's lines, from 1"},
          {"repeating", T::kBoolean, "the keyword may print several lines"},
      }});
  out.push_back(Table{
      .name = "sshd_match_blocks",
      .section = "sshd",
      .meaning = "What each `Match` block of sshd_config and its includes sets: one row per "
                 "setting of a block, in reading order (a block that sets nothing: one row with "
                 "keyword NULL). The source is the setting's line (for an empty block, the Match "
                 "line); whether a block applies depends on the connection.",
      .rows = SshdMatchBlocks,
      .columns = {
          {"block_id", T::kText, "the block's id `sshd_match:FILE:LINE`"},
          {"criteria", T::kText, "the text after `Match`, as written"},
          {"conditions", T::kJson,
           "the criteria split as sshd reads them: `[{criterion, patterns}]`, criterion "
           "lowercase (`user`, `group`, `address`, `all`, ...), patterns the comma-separated "
           "list (NULL for `all`)"},
          {"keyword", T::kText, "the keyword set, lowercase as written"},
          {"value", T::kText, "its arguments as written"},
          {"arguments", T::kJson,
           "the arguments as sshd reads them (quotes and escapes resolved, a `#` word ends "
           "them): `[\"yes\"]` for `\"yes\"`; NULL for an unterminated quote (sshd refuses the "
           "line)"},
          {"position", T::kInteger, "the setting's position within the block, from 1"},
          {"block_file", T::kText, "the file of the Match line"},
          {"block_line", T::kInteger, "the line of the Match line"},
      }});
}

}  // namespace tidemark::policy
