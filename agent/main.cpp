#include <unistd.h>

#include <exception>
#include <string>
#include <vector>

#include "agent/cli.h"

// No <iostream> here or anywhere in the agent: std::cout would build libstdc++'s classic locale
// at start-up (agent/output.h).
int main(int argc, char** argv) {
  tidemark::agent::Output out(STDOUT_FILENO);
  tidemark::agent::Output err(STDERR_FILENO);
  // RunAgentCli catches what its commands throw; this catches what building the arguments may.
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    return tidemark::agent::RunAgentCli(args, out, err);
  } catch (const std::exception& e) {
    err << "tidemark-agent: internal error: " << e.what() << "\n";
  } catch (...) {
    err << "tidemark-agent: internal error\n";
  }
  return tidemark::agent::kExitFailure;
}
