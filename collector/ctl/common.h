// What the tidemarkctl commands share: their error lines (usage: exit 2, failure: exit 1, text
// escaped and bounded), the global --db option, and host globs.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::ctl {

// "tidemarkctl: MESSAGE" and a hint to --help on `err`; returns 2.
int Usage(std::ostream& err, const std::string& message);
// "tidemarkctl: MESSAGE" on `err`; returns 1.
int Fail(std::ostream& err, const std::string& message);

// The command: the first argument that is not --db FILE / --db=FILE.
std::string CommandOf(const std::vector<std::string>& args);
// Returns `args` without --db FILE / --db=FILE (commands that read no store accept and ignore
// the global option); the command stays first.
std::vector<std::string> WithoutDb(const std::vector<std::string>& args);

// True when `globs` is empty or one of them (fnmatch) matches `host`.
bool HostMatches(const std::vector<std::string>& globs, const std::string& host);

}  // namespace tidemark::ctl
