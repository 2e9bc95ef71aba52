#include <exception>
#include <iostream>

#include "collector/ctl/ctl.h"

int main(int argc, char** argv) {
  // RunCtl catches what its commands throw; this catches what building the arguments may.
  try {
    return tidemark::ctl::RunCtl(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                                 std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "tidemarkctl: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "tidemarkctl: internal error\n";
  }
  return 1;
}
