// tidemark-judge: evaluates a snapshot file against rules and baselines (common/policy/), the
// same command as `tidemarkctl evaluate`. `tidemark-agent audit` runs it, as `send` runs
// tidemark-uplink, so that `collect` never links SQLite and the policy engine.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "common/policy/evaluate_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return tidemark::policy::RunEvaluateCommand(args, "tidemark-judge", std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "tidemark-judge: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "tidemark-judge: internal error\n";
  }
  return 1;
}
