// File metadata as every section reports it: octal mode, type, owner and group by id and name;
// host names (paths, user names) in their lossless escaped form (docs/snapshot.md, "Names that
// are not UTF-8").
#pragma once

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent/parsers/account_db.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

// Returns the permission bits as four octal digits ("0640"; setuid/setgid/sticky included).
inline std::string ModeOctal(uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", mode & 07777);
  return buf;
}

// Returns the host name `raw` in its lossless escaped form (EscapeHostName), for ids and fields.
inline std::string HostName(std::string_view raw) { return EscapeHostName(raw); }

// Sets j[key] to the escaped form of the host name `raw`, and j[key + "_b64"] to its bytes in
// base64 when `raw` is not valid UTF-8.
inline void SetHostName(nlohmann::json& j, const std::string& key, std::string_view raw) {
  j[key] = EscapeHostName(raw);
  if (!IsValidUtf8(raw)) j[key + "_b64"] = Base64Encode(raw);
}

// Returns the user name of `u` (escaped), or null.
inline nlohmann::json UserNameJson(const PasswdEntry* u) {
  return u ? nlohmann::json(EscapeHostName(u->name)) : nlohmann::json(nullptr);
}

// Rewrites every error of `section` so that its path and message are valid UTF-8 without loss:
// paths in their escaped form (EscapeHostName). Section readers of host names call it once, last.
inline void EscapeErrorNames(Section& section) {
  for (auto& e : section.errors) {
    e.path = EscapeHostName(e.path);
    e.message = EscapeHostName(e.message);
  }
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
  j["owner"] = UserNameJson(u);
  j["gid"] = info->gid;
  const GroupEntry* g = db.FindGroupById(info->gid);
  j["group"] = g ? nlohmann::json(EscapeHostName(g->name)) : nlohmann::json(nullptr);
}

}  // namespace tidemark::agent
