// The `cron` section: scheduled jobs as Debian's cron would run them. /etc/crontab and
// /etc/cron.d (system format), user crontabs in /var/spool/cron/crontabs, which files in
// /etc/cron.{hourly,daily,weekly,monthly} run-parts would run, and cron/at allow and deny files.
// Secrets on command lines and in variables are masked (docs/sections/cron.md, "Masking").
#pragma once

#include "agent/section_reader.h"

namespace tidemark::agent {

class CronReader final : public SectionReader {
 public:
  std::string_view name() const override { return "cron"; }
  void Collect(CollectContext& ctx, Section& out) override;
};

}  // namespace tidemark::agent
