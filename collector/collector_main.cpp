// tidemark-collector: receives snapshots from agents over mutual TLS and stores them
// (docs/collector.md). Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 when it cannot
// start, 2 usage errors, 3 the store is corrupted (found at start or while running), 4 an
// internal error (server.h).
#include <csignal>
#include <iostream>
#include <string>
#include <vector>

#include "collector/config.h"
#include "collector/log.h"
#include "collector/server.h"
#include "collector/signals.h"

int main(int argc, char** argv) {
  using namespace tidemark::collector;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = ParseCollectorArgs(args);
  if (!parsed.ok()) {
    std::cerr << "tidemark-collector: " << parsed.status().message() << "\n"
              << "Try 'tidemark-collector --help'.\n";
    return 2;
  }
  if (parsed->help) {
    std::cout << CollectorHelp();
    return 0;
  }
  if (parsed->version) {
    std::cout << "tidemark-collector " << kCollectorVersion << "\n";
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);
  // Before any thread starts (Create starts the store's and the evaluator's): every thread
  // blocks them, and Run's signal waiter takes them (signals.h). One sent during the start
  // waits until then.
  if (auto blocked = BlockServerSignals(); !blocked.ok()) {
    Log::Error("startup_failed", {{"error", blocked.message()}});
    return 1;
  }
  // main's named edge: an exception here is a clear line and an exit code, not an abort.
  try {
    auto server = Server::Create(*parsed);
    if (!server.ok()) {
      if (server.status().code() == tidemark::StatusCode::kDataLoss) {
        // As when the running collector finds it (server.cpp): critical, exit 3.
        Log::Critical("store_corrupt", {{"db", parsed->config.db},
                                        {"error", Clip(server.status().message(), 1024)}});
        return kExitStoreCorrupt;
      }
      Log::Error("startup_failed", {{"error", server.status().message()}});
      return 1;
    }
    return (*server)->Run(/*handle_signals=*/true);
  } catch (const std::exception& e) {
    Log::Error("internal_error", {{"event", "main"}, {"error", Clip(e.what(), 1024)}});
  } catch (...) {
    Log::Error("internal_error", {{"event", "main"}, {"error", "unknown exception"}});
  }
  return kExitInternal;
}
