// The tidemark-agent command line: parses arguments and wires the collect runner, the output
// file and the summary. main() only forwards argv here, so tests can run every command.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::agent {

// Exit codes of tidemark-agent.
inline constexpr int kExitOk = 0;       // snapshot written (section errors are inside it)
inline constexpr int kExitFailure = 1;  // nothing could be written
inline constexpr int kExitUsage = 2;    // usage error

// Runs `tidemark-agent ARGS...` (args exclude the program name).
int RunAgentCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::agent
