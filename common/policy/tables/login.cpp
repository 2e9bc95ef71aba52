// Tables of the `login` section (docs/sections/login.md): login.defs, useradd defaults and the
// TMOUT/umask settings of the login-shell startup files.
#include <string>

#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

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
