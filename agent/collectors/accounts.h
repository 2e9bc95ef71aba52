// The `accounts` section: users, groups, password status (never the hash), derived facts.
#pragma once

#include "agent/collector.h"

namespace tidemark::agent {

class AccountsCollector final : public SectionCollector {
 public:
  std::string_view name() const override { return "accounts"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
