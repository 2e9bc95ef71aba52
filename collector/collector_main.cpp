// tidemark-collector: receives snapshots from agents over mutual TLS and stores them.
// The network server and the store arrive with the transport work; until then this program only
// answers --help and --version, and says plainly that it cannot serve yet.
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  std::string arg = argc > 1 ? argv[1] : "";
  if (arg == "--version") {
    std::cout << "tidemark-collector 0.1.0\n";
    return 0;
  }
  std::ostream& out = (arg == "-h" || arg == "--help") ? std::cout : std::cerr;
  out << "Usage: tidemark-collector --config FILE\n"
         "\n"
         "Receives snapshots from tidemark-agent over mutual TLS and stores them.\n"
         "This build has no server yet: agents write snapshots with `tidemark-agent collect`,\n"
         "and `tidemarkctl verify FILE` checks them.\n";
  return (arg == "-h" || arg == "--help") ? 0 : 2;
}
