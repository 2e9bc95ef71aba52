// The `sudo` section: who may run what through sudo, as sudo 1.9 reads /etc/sudoers and its
// includes (sudoers(5)). Emits one grant per (principal, host, runas, command) after alias
// expansion, every Defaults entry, every file read and every include directory seen.
// docs/sections/sudo.md documents each field.
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class SudoReader final : public SectionReader {
 public:
  std::string_view name() const override { return "sudo"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
