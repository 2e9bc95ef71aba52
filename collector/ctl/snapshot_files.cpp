// `tidemarkctl verify` and `canonical` (commands.h): snapshot files, checked and shown without
// a store.
#include <memory>

#include "collector/ctl/commands.h"
#include "common/read_file.h"
#include "common/snapshot.h"

namespace tidemark::ctl {
namespace {

// Reads and decodes each file; prints its canonical sections or "FILE: ok HOST HASH". A bad
// file is reported on `err` and the others are still read.
int VerifyFiles(const std::vector<std::string>& files, bool canonical, CtlContext& ctx) {
  int rc = 0;
  for (const std::string& file : files) {
    StatusOr<std::string> read = ReadRegularFile(file, kMaxSnapshotFileBytes);
    if (!read.ok()) {
      ctx.err << Safe(read.status().message(), kMaxMessageBytes) << "\n";
      rc = 1;
      continue;
    }
    auto snapshot = DecodeSnapshot(*read);  // never throws: a bad file is an error
    if (!snapshot.ok()) {
      ctx.err << Safe(file, kMaxMessageBytes) << ": "
              << Safe(snapshot.status().message(), kMaxMessageBytes) << "\n";
      rc = 1;
      continue;
    }
    if (canonical) {
      ctx.out << CanonicalSections(*snapshot) << "\n";
    } else {
      ctx.out << Safe(file, kMaxMessageBytes) << ": ok " << Safe(snapshot->host.id, kMaxFieldBytes)
              << " " << ContentHash(*snapshot) << "\n";
    }
  }
  return rc;
}

}  // namespace

void AddSnapshotFileCommands(CLI::App& app, CtlContext& ctx) {
  CLI::App* verify = app.add_subcommand(
      "verify", "decode each snapshot, check its schema version and content hash");
  verify->group("Snapshot files");
  verify->footer(
      "Decodes each snapshot file, checks its schema version and content hash; prints\n"
      "'FILE: ok HOST HASH' per good file and 'FILE: ERROR' on standard error per bad one.\n"
      "Exit codes: 0 all good, 1 at least one file is not a valid snapshot, 2 usage.\n");
  auto files = std::make_shared<std::vector<std::string>>();
  verify->add_option("FILE", *files, "snapshot files")->required();
  verify->callback([&ctx, files] { ctx.rc = VerifyFiles(*files, /*canonical=*/false, ctx); });

  CLI::App* canonical = app.add_subcommand(
      "canonical", "print the canonical form of a snapshot's sections (what is hashed)");
  canonical->group("Snapshot files");
  canonical->footer(
      "Prints the canonical form of a snapshot's sections (what its content hash covers).\n"
      "Exit codes: 0 printed, 1 not a valid snapshot, 2 usage.\n");
  auto file = std::make_shared<std::string>();
  canonical->add_option("FILE", *file, "a snapshot file")->required();
  canonical->callback([&ctx, file] { ctx.rc = VerifyFiles({*file}, /*canonical=*/true, ctx); });
}

}  // namespace tidemark::ctl
