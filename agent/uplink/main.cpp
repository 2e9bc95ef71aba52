// tidemark-uplink: `tidemark-agent send|run` run here (docs/agent.md), so that the agent's
// collect path never loads libssl. It can also be run directly: tidemark-uplink send|run ...
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "agent/uplink/daemon.h"
#include "common/text.h"

int main(int argc, char** argv) {
  namespace up = tidemark::agent::uplink;
  // The named edge: an exception (a bug, a library) is a clear error and exit 1, never an abort
  // that would leave a daemon restarting in a loop without a word.
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    for (const auto& a : args) {
      if (a == "-h" || a == "--help") {
        up::PrintUplinkUsage(std::cout);
        return 0;
      }
    }
    if (args.empty() || (args[0] != "send" && args[0] != "run")) {
      std::cerr << "Usage: tidemark-uplink send|run [OPTIONS]; see --help\n";
      return up::kExitUsage;
    }
    return up::RunUplinkCommand(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "tidemark-agent: internal error: "
              << tidemark::EscapeControlBounded(e.what(), 1024) << "\n";
  } catch (...) {
    std::cerr << "tidemark-agent: internal error: unknown exception\n";
  }
  return up::kExitRefused;
}
