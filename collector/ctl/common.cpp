// common.h: what the tidemarkctl commands share.
#include "collector/ctl/common.h"

#include <fnmatch.h>

#include "common/text.h"

namespace tidemark::ctl {
namespace {
constexpr size_t kMaxMessageBytes = 1024;
}  // namespace

int Usage(std::ostream& err, const std::string& message) {
  err << "tidemarkctl: " << EscapeControlBounded(message, kMaxMessageBytes)
      << "\nTry 'tidemarkctl --help'.\n";
  return 2;
}

int Fail(std::ostream& err, const std::string& message) {
  err << "tidemarkctl: " << EscapeControlBounded(message, kMaxMessageBytes) << "\n";
  return 1;
}

std::string CommandOf(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db") {
      ++i;
      continue;
    }
    if (args[i].rfind("--db=", 0) == 0) continue;
    return args[i];
  }
  return "";
}

std::vector<std::string> WithoutDb(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--db") {
      ++i;
      continue;
    }
    if (args[i].rfind("--db=", 0) == 0) continue;
    rest.push_back(args[i]);
  }
  return rest;
}

bool HostMatches(const std::vector<std::string>& globs, const std::string& host) {
  if (globs.empty()) return true;
  for (const std::string& g : globs) {
    if (fnmatch(g.c_str(), host.c_str(), 0) == 0) return true;
  }
  return false;
}

}  // namespace tidemark::ctl
