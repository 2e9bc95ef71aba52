// The `sysctl` section: kernel parameters that matter for security. On a live host, the runtime
// value of each key in kSysctlKeys from /proc/sys; on any root, the configured values from the
// sysctl.d(5) files in systemd-sysctl's order of precedence, each with its file and line, the
// winning value per key and the assignments it overrode. docs/sections/sysctl.md has each field.
#pragma once

#include <string_view>
#include <vector>

#include "agent/section_reader.h"

namespace tidemark::agent {

// The keys whose runtime values are collected (dotted form, as `sysctl -n` takes them).
const std::vector<std::string_view>& SysctlKeys();

class SysctlReader final : public SectionReader {
 public:
  std::string_view name() const override { return "sysctl"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
