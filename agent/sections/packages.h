// The `packages` section: the Debian packages dpkg records in /var/lib/dpkg/status, with
// version, architecture, source package and state. Installed packages and packages in any other
// recorded state (config-files, half-installed, ...) are listed apart; purged ones are counted.
// docs/sections/packages.md documents each field.
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class PackagesReader final : public SectionReader {
 public:
  std::string_view name() const override { return "packages"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
