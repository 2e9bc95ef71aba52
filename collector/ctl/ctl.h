// tidemarkctl: administration of the collector and its stored snapshots. The command line is
// CLI11's (ctl.cpp); the commands live in one file per group (commands.h).
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::ctl {

// Runs `tidemarkctl ARGS...` (args exclude the program name); returns the exit code.
int RunCtl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::ctl
