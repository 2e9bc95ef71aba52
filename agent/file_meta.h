// File metadata as every section reports it: octal mode, type, owner and group by id and name.
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/parsers/account_db.h"
#include "common/fs.h"

namespace tidemark::agent {

// Returns the permission bits as four octal digits ("0640"; setuid/setgid/sticky included).
inline std::string ModeOctal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
  return buf;
}

// Adds type, mode, uid, owner, gid, group (names from `db`, null when unknown) to `j`; nulls when
// `info` is empty.
inline void AddFileMeta(nlohmann::json& j, const std::optional<FileInfo>& info,
                        const AccountDb& db) {
  if (!info) {
    for (const char* k : {"type", "mode", "uid", "owner", "gid", "group"}) j[k] = nullptr;
    return;
  }
  j["type"] = FileTypeName(info->type);
  j["mode"] = ModeOctal(info->mode);
  j["uid"] = info->uid;
  const PasswdEntry* u = db.FindUserById(info->uid);
  j["owner"] = u ? nlohmann::json(u->name) : nlohmann::json(nullptr);
  j["gid"] = info->gid;
  const GroupEntry* g = db.FindGroupById(info->gid);
  j["group"] = g ? nlohmann::json(g->name) : nlohmann::json(nullptr);
}

}  // namespace tidemark::agent
