// The `ssh_keys` section: every authorized_keys file sshd would read for every passwd user,
// read only as that user could (agent/user_files.h), and every key in it (parsers/
// authorized_keys.h) with type, bits, fingerprint, comment and options. docs/sections/ssh_keys.md
// documents the fields. The AuthorizedKeysFile/AuthorizedKeysCommand in effect per user come from
// a settings hook (sshd defaults until an `sshd` section computes them with Match applied).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/parsers/account_db.h"
#include "agent/section_reader.h"

namespace tidemark::agent {

// What sshd_config says about authorized keys for one user.
struct AuthorizedKeysSettings {
  // AuthorizedKeysFile patterns; sshd_config(5) default.
  std::vector<std::string> files = {".ssh/authorized_keys", ".ssh/authorized_keys2"};
  // AuthorizedKeysCommand; nullopt or "none" when unset.
  std::optional<std::string> command;
  // Why the files above may not be all sshd would read for the user (e.g. a Match block that
  // depends on the connection); each makes the user's key set incomplete.
  std::vector<std::string> incomplete_reasons;
};

using AuthorizedKeysSettingsFn = std::function<AuthorizedKeysSettings(const PasswdEntry&)>;

// Makes the per-user hook once per collection (e.g. after reading sshd_config once).
struct SshKeysSettingsFactory {
  std::function<AuthorizedKeysSettingsFn(CollectContext&)> make;
};

// Expands AuthorizedKeysFile patterns for `user` as sshd does (auth2-pubkey.c
// expand_authorized_keys, sshd_config(5) TOKENS): %% -> %, %h -> home, %u -> user name,
// %U -> numeric uid; any other token is an error (sshd refuses to start); a result that is not
// absolute is taken relative to the home directory; "none" (any case) entries are skipped.
StatusOr<std::vector<std::string>> ExpandAuthorizedKeysFiles(
    const std::vector<std::string>& patterns, const PasswdEntry& user);

class SshKeysReader final : public SectionReader {
 public:
  SshKeysReader();
  explicit SshKeysReader(AuthorizedKeysSettingsFn settings);
  explicit SshKeysReader(SshKeysSettingsFactory factory);
  std::string_view name() const override { return "ssh_keys"; }
  void Collect(CollectContext& ctx, Section& out) override;

 private:
  AuthorizedKeysSettingsFn settings_;
  SshKeysSettingsFactory factory_;
};

}  // namespace tidemark::agent
