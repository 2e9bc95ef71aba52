// `tidemark-agent send` and `tidemark-agent run` (docs/agent.md): collect this host into the
// spool and send the spool to the collector, once (send) or at an interval with jitter,
// reconnecting with bounded exponential backoff, until SIGTERM (run). Options are the keys of a
// `key = value` file (--config) and flags of the same names.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "agent/uplink_usage.h"  // exit codes, PrintUplinkUsage

namespace tidemark::agent::uplink {

// args[0] is "send" or "run".
int RunUplinkCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace tidemark::agent::uplink
