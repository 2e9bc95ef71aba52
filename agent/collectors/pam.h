// The `pam` section: every service file in /etc/pam.d expanded into its effective stack of
// (service, type, control, module, arguments) entries, following "@include" and the include /
// substack controls (parsers/pam.h), each with file:line and the chain it came through; plus
// pwquality.conf(.d) and faillock.conf settings. docs/sections/pam.md documents the fields.
#pragma once

#include "agent/collector.h"

namespace tidemark::agent {

class PamCollector final : public SectionCollector {
 public:
  std::string_view name() const override { return "pam"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
