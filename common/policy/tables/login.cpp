// Tables of the `login` section (docs/sections/login.md): login.defs, useradd defaults and the
// TMOUT/umask settings of the login-shell startup files.
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// A value as shadow's getlong() reads a number (lib/getlong.c: strtol with base 0, so `010` is
// 8 and `0x10` 16; the whole value or nothing): its getdef_long/getdef_num fall back to the key's
// default for anything else (`30x`), where SQLite's CAST would read 30.
std::optional<int64_t> ShadowNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long n = std::strtoll(text.c_str(), &end, 0);
  if (errno == ERANGE || end == text.c_str() || *end != '\0') return std::nullopt;
  return n;
}

// Adds the settings of one key=value file (`login_defs` or `useradd`): the last line of each
// key, its file the enclosing object's `path` (the compact form writes only the line).
Status FileSettings(const json& data, const char* key, const char* origin, ItemSink& sink) {
  if (!data.contains(key) || data[key].is_null()) return Status::Ok();
  const json& file = data[key];
  if (!file.is_object()) {
    return {StatusCode::kInvalidArgument, std::string("login.") + key + " is not an object"};
  }
  // Null: the file is absent or unreadable; its `state` and the section's errors say which.
  if (!file.contains("settings") || file["settings"].is_null()) return Status::Ok();
  const json& settings = file["settings"];
  if (!settings.is_array()) {
    return {StatusCode::kInvalidArgument,
            std::string("login.") + key + ".settings is not an array"};
  }
  json path = file.contains("path") ? file["path"] : json();
  for (const json& s : settings) {
    if (!s.is_object()) {
      return {StatusCode::kInvalidArgument,
              std::string("login.") + key + ".settings has a non-object"};
    }
    json row = s;
    row["origin"] = origin;
    if (auto v = s.find("value"); v != s.end() && v->is_string()) {
      if (auto n = ShadowNumber(v->get_ref<const std::string&>())) row["number"] = *n;
    }
    json source = s.contains("source") && s["source"].is_object() ? s["source"] : json::object();
    if (!path.is_null() && !source.contains("file")) source["file"] = path;
    row["source"] = std::move(source);
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

// login_settings: the effective keys of login.defs and of useradd's defaults (one row per key,
// the last line wins), then every TMOUT and umask statement of the startup files (one row per
// statement: which one runs last depends on the shell).
Status LoginSettings(const json& data, ItemSink& sink) {
  if (!data.is_object()) return {StatusCode::kInvalidArgument, "login data is not an object"};
  if (Status s = FileSettings(data, "login_defs", "login.defs", sink); !s.ok()) return s;
  if (Status s = FileSettings(data, "useradd", "useradd", sink); !s.ok()) return s;
  auto shell = data.find("shell_settings");
  if (shell == data.end() || shell->is_null()) return Status::Ok();
  if (!shell->is_array()) {
    return {StatusCode::kInvalidArgument, "login.shell_settings is not an array"};
  }
  for (const json& s : *shell) {
    if (!s.is_object()) {
      return {StatusCode::kInvalidArgument, "login.shell_settings has a non-object"};
    }
    json row = s;
    row.erase("name");
    row["key"] = s.contains("name") ? s["name"] : json();
    row["origin"] = "shell";
    row["overridden"] = nullptr;  // not a file of keys: every statement is a row
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

}  // namespace

void AddLoginTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "login_settings",
      .section = "login",
      .meaning =
          "Login and account defaults: one row per effective key of `/etc/login.defs` (origin "
          "`login.defs`, as shadow's getdef.c reads it: the last line of a key wins) and of "
          "`/etc/default/useradd` (origin `useradd`, the keys `useradd -D` uses: `INACTIVE`, "
          "`SHELL`, ...), then one row per `TMOUT` or `umask` statement in `/etc/profile`, "
          "`/etc/profile.d/*.sh` and `/etc/bash.bashrc` (origin `shell`, key `TMOUT` or "
          "`umask`). The source is the line that sets the value.",
      .rows = LoginSettings,
      .columns =
          {
              {"key", T::kText,
               "the key as written (`PASS_MAX_DAYS`, `UMASK`, `INACTIVE`), or `TMOUT`/`umask`"},
              {"value", T::kText,
               "the value as the program reads it (quotes removed); NULL for a shell statement "
               "that sets none (`export TMOUT`, `umask` alone)"},
              {"number", T::kInteger,
               "the value as shadow reads a number (strtol, base 0: `010` is 8, `0x10` 16; the "
               "whole value): NULL when it is none (`30x`; shadow then uses the key's default, "
               "e.g. -1, no limit, for PASS_MAX_DAYS) and for shell rows"},
              {"origin", T::kText, "`login.defs`, `useradd` or `shell`"},
              {"overridden", T::kJson,
               "earlier lines of the same key in the file, `[{value, source: {line}}]`; NULL for "
               "shell statements"},
              {"statement", T::kText,
               "for shell rows: `assignment`, `readonly`, `export`, `declare`, `typeset`, `local` "
               "or `umask`"},
              {"readonly", T::kBoolean, "for shell rows: the variable is made read-only"},
              {"exported", T::kBoolean, "for shell rows: the variable is exported"},
          },
      .compact = {CompactKind::kLoginSetting}});
}

}  // namespace tidemark::policy
