// The tidemark-agent command line: parses arguments and wires the collect runner, the output
// file and the summary. main() only forwards argv here, so tests can run every command.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/output.h"

namespace tidemark::agent {

// Exit codes of tidemark-agent.
inline constexpr int kExitOk = 0;       // snapshot written (section errors are inside it)
inline constexpr int kExitFailure = 1;  // nothing could be written
inline constexpr int kExitUsage = 2;    // usage error
// audit: the snapshot was written and summarized, but a section could not be read at all
// (status error), so the audit is incomplete (the summary names the section and why).
inline constexpr int kExitIncomplete = 3;
// send, run: tidemark-uplink (which carries them out) is not installed (EX_UNAVAILABLE).
inline constexpr int kExitNoUplink = 69;

// Runs `tidemark-agent ARGS...` (args exclude the program name). Never throws: an exception is
// reported as an internal error, exit 1. main() passes Output(1) and Output(2), so that
// `collect` never makes an iostream (agent/output.h); tests pass their own streams.
int RunAgentCli(const std::vector<std::string>& args, Output& out, Output& err);
int RunAgentCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::agent
