// The `accounts` section: local users (passwd), groups (group, gshadow), password status from
// shadow by class and scheme only (never a hash), login shells (shells), the NSS sources that are
// configured but not enumerated (nsswitch.conf), and the derived facts a policy checks (UID 0,
// duplicates, privileged group members, empty passwords). docs/sections/accounts.md documents
// every field.
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class AccountsReader final : public SectionReader {
 public:
  std::string_view name() const override { return "accounts"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
