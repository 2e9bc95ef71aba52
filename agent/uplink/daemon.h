// `tidemark-agent send` and `tidemark-agent run` (docs/agent.md): collect this host into the
// spool and send the spool to the collector, once (send) or at an interval with jitter,
// reconnecting with bounded exponential backoff, until SIGTERM (run). Options are the keys of a
// `key = value` file (--config) and flags of the same names.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace tidemark::agent::uplink {

// Exit codes of send (and of run when it cannot start).
inline constexpr int kExitSent = 0;     // every spooled snapshot acknowledged
inline constexpr int kExitRefused = 1;  // refused by the collector (certificate, permanent error)
inline constexpr int kExitUsage = 2;    // usage or configuration error; nothing collected
inline constexpr int kExitLocal = 74;   // this run's snapshot could not be collected or spooled
inline constexpr int kExitQueued = 75;  // left in the spool (collector unreachable, transient)

// args[0] is "send" or "run".
int RunUplinkCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The help text of send and run.
void PrintUplinkUsage(std::ostream& out);

}  // namespace tidemark::agent::uplink
