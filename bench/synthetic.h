// Synthetic snapshots for the transport benchmarks: a valid tidemark.snapshot/1 document of
// about `bytes` bytes for `host`, whose content (and hash) depends on `variant`.
#pragma once

#include <string>

#include "common/snapshot.h"

namespace tidemark::bench {

struct SyntheticSnapshot {
  std::string text;
  std::string content_hash;
  std::string collected_at;
};

inline SyntheticSnapshot MakeSyntheticSnapshot(const std::string& host, int64_t variant,
                                               size_t bytes) {
  Snapshot s;
  s.host = {host, host, "/"};
  s.collected_at = "2026-11-28T19:00:00Z";
  s.agent_version = "0.1.0-bench";
  Section& accounts = s.sections["accounts"];
  ItemArray users;
  size_t approx = 0;
  for (int i = 0; approx < bytes; ++i) {
    nlohmann::json u = {{"id", "user:u" + std::to_string(i)},
                        {"name", "u" + std::to_string(i)},
                        {"uid", 1000 + i},
                        {"shell", "/bin/bash"},
                        {"home", "/home/u" + std::to_string(i)},
                        {"source", {{"file", "/etc/passwd"}, {"line", i + 1}}}};
    approx += u.dump().size() + 1;
    users.push_back(u);
  }
  accounts.items["users"] = std::move(users);
  accounts.data["variant"] = variant;
  SyntheticSnapshot out;
  SnapshotWriter writer([&](std::string_view piece) {
    out.text.append(piece);
    return Status::Ok();
  });
  (void)writer.AddSection("accounts", accounts);
  (void)writer.Finish(s.host, s.collected_at, s.agent_version);
  out.content_hash = writer.content_hash();
  out.collected_at = s.collected_at;
  return out;
}

}  // namespace tidemark::bench
