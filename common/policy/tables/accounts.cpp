// Tables of the `accounts` section (docs/sections/accounts.md): users, groups, effective group
// membership and the members of privileged groups.
#include "common/policy/tables.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// group_members: one row per (group, user) of each user's effective groups (the primary group
// first, then every group whose member list names the user): what `id -Gn USER` shows from the
// files.
Status GroupMembers(const json& data, ItemSink& sink) {
  const json* users = data.is_object() && data.contains("users") ? &data["users"] : nullptr;
  if (users == nullptr || users->is_null()) return Status::Ok();
  if (!users->is_array()) return {StatusCode::kInvalidArgument, "accounts.users is not an array"};
  for (const json& u : *users) {
    if (!u.is_object()) return {StatusCode::kInvalidArgument, "accounts.users has a non-object"};
    auto groups = u.find("groups");
    if (groups == u.end() || groups->is_null()) continue;
    if (!groups->is_array()) {
      return {StatusCode::kInvalidArgument, "accounts.users[].groups is not an array"};
    }
    for (const json& g : *groups) {
      if (!g.is_object()) {
        return {StatusCode::kInvalidArgument, "accounts.users[].groups has a non-object"};
      }
      json row = {{"user", u.value("name", json())},
                  {"uid", u.value("uid", json())},
                  {"group", g.value("name", json())},
                  {"gid", g.value("gid", json())},
                  {"primary", ValueOrDefault(g, CompactKind::kUserGroup, "primary")}};
      if (auto src = u.find("source"); src != u.end()) row["source"] = *src;
      std::string group = g.contains("name") && g["name"].is_string()
                              ? g["name"].get<std::string>()
                              : "gid:" + g.value("gid", json()).dump();
      std::string user = u.contains("id") && u["id"].is_string() ? u["id"].get<std::string>() : "";
      row["id"] = "group_member:" + group + ":" + user;
      sink.Add(std::move(row));
    }
  }
  return Status::Ok();
}

}  // namespace

void AddAccountsTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "users",
      .section = "accounts",
      .meaning = "Local users from `/etc/passwd` in file order, with the class of their password "
                 "(never the hash) from `/etc/shadow`.",
      .items = "/users",
      .default_source_file = "/etc/passwd",
      .columns = {
          {"name", T::kText, "the user name"},
          {"uid", T::kInteger, "the user id"},
          {"gid", T::kInteger, "the primary group id"},
          {"gecos", T::kText, "the GECOS field"},
          {"home", T::kText, "the home directory as written"},
          {"shell", T::kText, "the shell as written (`\"\"` means /bin/sh)"},
          {"login_shell", T::kBoolean,
           "the shell permits login (listed in /etc/shells and not a nologin shell)"},
          {"shell_listed", T::kBoolean,
           "the shell is an entry of /etc/shells; NULL when "
           "/etc/shells is missing or unreadable"},
          {"password_field", T::kText,
           "class of passwd field 2: `shadowed`, `empty`, `hash_in_passwd`", "/password_field"},
          {"password_status", T::kText,
           "`hashed`, `locked`, `no_login`, `empty` (no password at all), `no_shadow_entry`, "
           "`unknown` (shadow unreadable)",
           "/password/status"},
          {"password_scheme", T::kText, "the crypt scheme (`yescrypt`, `sha512`, ...)",
           "/password/scheme"},
          {"password_last_change", T::kInteger, "shadow field 3 (days since 1970-01-01)",
           "/password/last_change"},
          {"password_min_days", T::kInteger, "shadow field 4", "/password/min"},
          {"password_max_days", T::kInteger, "shadow field 5", "/password/max"},
          {"password_warn_days", T::kInteger, "shadow field 6", "/password/warn"},
          {"password_inactive_days", T::kInteger, "shadow field 7", "/password/inactive"},
          {"account_expire", T::kInteger, "shadow field 8 (days since 1970-01-01)",
           "/password/expire"},
          {"groups", T::kJson, "effective groups `[{name, gid, primary}]`, primary first"},
      }});
  out.push_back(
      Table{.name = "groups",
            .section = "accounts",
            .meaning = "Local groups from `/etc/group` in file order.",
            .items = "/groups",
            .default_source_file = "/etc/group",
            .columns =
                {
                    {"name", T::kText, "the group name"},
                    {"gid", T::kInteger, "the group id"},
                    {"members", T::kJson, "the member list of /etc/group"},
                    {"gshadow_status", T::kText,
                     "`present`, `no_entry`, `no_gshadow_file`, `unknown`", "/gshadow/status"},
                    {"gshadow_password", T::kText,
                     "`none`, `locked` or `set` (newgrp accepts a password from non-members)",
                     "/gshadow/password"},
                },
            .compact = {CompactKind::kGroup}});
  out.push_back(Table{
      .name = "group_members",
      .section = "accounts",
      .meaning = "Effective group membership: one row per user and each of its groups, the "
                 "primary group included (what `id -Gn USER` shows from the files). The source "
                 "is the user's passwd line.",
      .rows = GroupMembers,
      .default_source_file = "/etc/passwd",
      .columns =
          {
              {"group", T::kText, "the group name; NULL when no group has the primary gid"},
              {"gid", T::kInteger, "the group id"},
              {"user", T::kText, "the user name"},
              {"uid", T::kInteger, "the user id"},
              {"primary", T::kBoolean, "the group is the user's primary group"},
          },
      .compact = {CompactKind::kUserGroup}});
  out.push_back(Table{
      .name = "privileged_members",
      .section = "accounts",
      .meaning = "Members of the privileged groups (`--privileged-groups`, default root, sudo, "
                 "wheel, adm, shadow, disk, docker, lxd, systemd-journal) that exist.",
      .items = "/privileged_members",
      .columns = {
          {"group", T::kText, "the privileged group"},
          {"gid", T::kInteger, "its gid"},
          {"user", T::kText, "the member"},
          {"via", T::kText, "`primary`, `member` or `both`"},
          {"user_known", T::kBoolean, "the member has a passwd entry"},
      }});
}

}  // namespace tidemark::policy
