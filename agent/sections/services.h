// The `services` section: every systemd unit file of the root (system scope) with its
// enablement exactly as `systemctl --root=DIR is-enabled` reports it (agent/systemd_units.h),
// its ExecStart lines, User, Group, the NAMES of its Environment= variables (never values: they
// often hold secrets) and EnvironmentFile paths, each with file:line. Works under --root.
// docs/sections/services.md documents the fields.
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class ServicesReader final : public SectionReader {
 public:
  std::string_view name() const override { return "services"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
