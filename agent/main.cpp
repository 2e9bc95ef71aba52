#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "agent/cli.h"

int main(int argc, char** argv) {
  // RunAgentCli catches what its commands throw; this catches what building the arguments may.
  try {
    std::vector<std::string> args(argv + 1, argv + argc);
    return tidemark::agent::RunAgentCli(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "tidemark-agent: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "tidemark-agent: internal error\n";
  }
  return tidemark::agent::kExitFailure;
}
