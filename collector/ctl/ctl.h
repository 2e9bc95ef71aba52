// tidemarkctl: administration of the collector and its stored snapshots.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/status.h"

namespace tidemark::ctl {

// Runs `tidemarkctl ARGS...` (args exclude the program name); returns the exit code.
int RunCtl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Parses an --at TIME: RFC 3339, or a date YYYY-MM-DD meaning the start of that day in UTC.
// Returns seconds since the epoch.
StatusOr<int64_t> ParseAt(const std::string& text);

}  // namespace tidemark::ctl
