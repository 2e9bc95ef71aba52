// tidemark-uplink: `tidemark-agent send|run` run here (docs/agent.md), so that the agent's
// collect path never loads libssl. It can also be run directly: tidemark-uplink send|run ...
#include <iostream>
#include <string>
#include <vector>

#include "agent/uplink/daemon.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  namespace up = tidemark::agent::uplink;
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
}
