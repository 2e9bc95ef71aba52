// Runs tidemarkctl in process (RunCtl) and keeps its exit code and output: the ctl tests' helper.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "collector/ctl/ctl.h"

namespace tidemark::ctl {

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

inline CtlRun Ctl(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  int code = RunCtl(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace tidemark::ctl
