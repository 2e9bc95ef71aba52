// The `sshd` section: the effective OpenSSH server settings of the root, as `sshd -T` of
// Debian 12's OpenSSH 9.2p1 would print them (parsers/sshd_config.h), the Match blocks with the
// settings each sets, every configuration file read, and whether sshd would start with them.
// docs/sections/sshd.md documents the fields. Also provides the ssh_keys section's per-user
// AuthorizedKeysFile/AuthorizedKeysCommand with Match User/Group applied.
#pragma once

#include "agent/section_reader.h"
#include "agent/sections/ssh_keys.h"

namespace tidemark::agent {

class SshdReader final : public SectionReader {
 public:
  std::string_view name() const override { return "sshd"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

// Returns the ssh_keys settings hook that reads the root's sshd configuration once per
// collection and evaluates it for each user (sshd -C user=NAME). Without /etc/ssh/sshd_config,
// or when sshd would not start with it, the sshd_config(5) defaults are used.
SshKeysSettingsFactory SshdAuthorizedKeysSettings();

}  // namespace tidemark::agent
