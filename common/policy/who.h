// "Where can this identity still get in?" (tidemarkctl who, docs/exceptions.md "who"): on one
// host's state (a loaded FactDb), every way an identity has in: accounts with that name and
// whether they can log in, group memberships (privileged ones marked), sudo grants that apply
// to the user (directly, through a group, uid or gid, through ALL), authorized keys with that
// fingerprint or comment in any user's file, keys that open the account, cron jobs and services
// running as it. What could not be read is said, never taken for "no access".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/policy/fact_db.h"
#include "common/status.h"

namespace tidemark::policy {

// What `who` looks for: a user name, a group (`group:NAME`), or a key (`SHA256:...` as
// ssh-keygen -lf prints it; a plain name also finds keys whose comment is NAME or NAME@...).
struct Identity {
  enum class Kind { kUser, kGroup, kKey };
  Kind kind = Kind::kUser;
  std::string name;  // the user, group or fingerprint, without the `group:` prefix
};

// Parses IDENTITY; kInvalidArgument names what is wrong (empty, a control character).
StatusOr<Identity> ParseIdentity(std::string_view text);

// One way in.
struct Access {
  std::string kind;         // account, group, sudo, key, cron, service, sshd
  std::string id;           // the fact row's id
  std::string detail;       // one line a person reads ("uid 1001, login shell /bin/bash, ...")
  bool privileged = false;  // a privileged group, uid 0, a sudo grant, a key into root
  std::optional<std::string> source_file;
  std::optional<int64_t> source_line;
};

struct WhoResult {
  std::vector<Access> access;
  // The sections a finding would come from that are missing or incomplete in this state
  // ("section sudo is partial"): absence there is not proof.
  std::vector<std::string> incomplete;
};

// Looks for `who` in the state loaded in `db`.
StatusOr<WhoResult> FindAccess(const FactDb& db, const Identity& who);

}  // namespace tidemark::policy
