// `tidemarkctl findings`: what the collector's evaluator stored (collector/evaluator.h) — the
// failing, unknown and error results of every host's current state, or its state at a time.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::ctl {

extern const char* const kFindingsHelp;

// Runs `tidemarkctl [--db FILE] findings ...` (`args` as given to tidemarkctl).
int RunFindings(const std::vector<std::string>& args, const std::string& default_db,
                std::ostream& out, std::ostream& err);

}  // namespace tidemark::ctl
