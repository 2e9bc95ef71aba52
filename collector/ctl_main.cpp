#include <iostream>

#include "collector/ctl.h"

int main(int argc, char** argv) {
  return tidemark::ctl::RunCtl(std::vector<std::string>(argv + 1, argv + argc), std::cout,
                               std::cerr);
}
