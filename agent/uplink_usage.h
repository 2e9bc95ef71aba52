// What tidemark-agent knows of tidemark-uplink, the program that carries out `tidemark-agent
// send` and `run` (agent/uplink/, docs/agent.md): their help text, exit codes and the spool's
// default bounds. They live here, not in agent/uplink/, so that the agent's command line shows
// them without including the uplink (which builds on the agent, never the other way round) and
// without linking the TLS client.
#pragma once

#include <cstdint>
#include <ostream>
#include <string_view>

namespace tidemark::agent::uplink {

// Exit codes of send (and of run when it cannot start).
inline constexpr int kExitSent = 0;     // every spooled snapshot acknowledged
inline constexpr int kExitRefused = 1;  // refused by the collector (certificate, permanent error)
inline constexpr int kExitUsage = 2;    // usage or configuration error; nothing collected
inline constexpr int kExitLocal = 74;   // this run's snapshot could not be collected or spooled
inline constexpr int kExitQueued = 75;  // left in the spool (collector unreachable, transient)

// The spool's defaults (agent/uplink/spool.h).
inline constexpr std::string_view kDefaultSpoolDir = "/var/lib/tidemark/spool";
inline constexpr int64_t kDefaultSpoolMaxFiles = 1000;
inline constexpr int64_t kDefaultSpoolMaxBytes = int64_t{256} << 20;

// The help text of send and run.
void PrintUplinkUsage(std::ostream& out);

}  // namespace tidemark::agent::uplink
