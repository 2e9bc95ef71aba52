// The `pam` section: every service of /etc/pam.d and /usr/lib/pam.d (or, without them,
// /etc/pam.conf) expanded into its effective stack of (service, type, control, module,
// arguments) entries, following "@include" and the include / substack controls (parsers/pam.h),
// each with file:line and the chain it came through; whether pam.conf is in effect, the `other`
// fallback; plus pwquality.conf(.d) and faillock.conf settings. docs/sections/pam.md documents
// the fields.
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class PamReader final : public SectionReader {
 public:
  std::string_view name() const override { return "pam"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
