// `tidemarkctl tables` and `tidemarkctl query`: the fact tables (common/policy/) as the user
// sees them: their definitions, and read-only SELECTs over the latest state of every host in
// the store or over snapshot files.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::ctl {

// Returns true when `args` (all of tidemarkctl's arguments) name a command handled here.
bool IsPolicyCommand(const std::vector<std::string>& args);

// Runs `tidemarkctl ARGS...` for a policy command; `default_db` is the store used without --db.
int RunPolicyCommand(const std::vector<std::string>& args, const std::string& default_db,
                     std::ostream& out, std::ostream& err);

// The help of each command handled here, for `tidemarkctl COMMAND --help`.
const char* PolicyCommandHelp(const std::string& command);

}  // namespace tidemark::ctl
