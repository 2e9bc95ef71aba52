#include "collector/ctl.h"

#include <fstream>
#include <sstream>

#include "common/snapshot.h"

namespace tidemark::ctl {
namespace {

void PrintUsage(std::ostream& out) {
  out << "Usage: tidemarkctl COMMAND [ARGS]\n"
         "\n"
         "Commands:\n"
         "  verify FILE...   decode each snapshot, check its schema version and content hash;\n"
         "                   prints 'FILE: ok HOST HASH' or 'FILE: ERROR'\n"
         "  canonical FILE   print the canonical form of a snapshot's sections (what is hashed)\n"
         "\n"
         "Exit codes: 0 all good, 1 a snapshot was rejected, 2 usage error.\n";
}

bool ReadWhole(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buf;
  buf << in.rdbuf();
  text = buf.str();
  return true;
}

}  // namespace

int RunCtl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    PrintUsage(err);
    return 2;
  }
  const std::string& command = args[0];
  if (command == "-h" || command == "--help" || command == "help") {
    PrintUsage(out);
    return 0;
  }
  if ((command == "verify" && args.size() >= 2) || (command == "canonical" && args.size() == 2)) {
    int rc = 0;
    for (size_t i = 1; i < args.size(); ++i) {
      std::string text;
      if (!ReadWhole(args[i], text)) {
        err << args[i] << ": cannot open\n";
        rc = 1;
        continue;
      }
      auto snapshot = DecodeSnapshot(text);
      if (!snapshot.ok()) {
        err << args[i] << ": " << snapshot.status().message() << "\n";
        rc = 1;
        continue;
      }
      if (command == "canonical") {
        out << CanonicalSections(*snapshot) << "\n";
      } else {
        out << args[i] << ": ok " << snapshot->host.id << " " << ContentHash(*snapshot) << "\n";
      }
    }
    return rc;
  }
  err << "tidemarkctl: unknown command or wrong arguments: '" << command
      << "'\nTry 'tidemarkctl --help'.\n";
  return 2;
}

}  // namespace tidemark::ctl
