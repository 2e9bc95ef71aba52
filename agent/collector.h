// SectionCollector: the one small interface every snapshot section implements.
//
// A collector reads only through CollectContext::fs() (the audited root), fills one Section and
// never throws for host data: what it cannot read becomes a SectionError, never "empty".
// Collectors run one after another on the calling thread; a context is not shared across threads.
// To add a section: one file under agent/collectors/, one line in agent/registry.cpp, one build
// line in agent/CMakeLists.txt, and its test under tests/agent/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/parsers/account_db.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

class CollectContext {
 public:
  // `hostname` is the audited host's own name (the root's /etc/hostname, else the live one).
  CollectContext(const Fs& fs, std::string hostname) : fs_(fs), hostname_(std::move(hostname)) {}

  const Fs& fs() const { return fs_; }
  const std::string& hostname() const { return hostname_; }
  // Returns true when auditing the machine we run on (root "/"), false for an offline root.
  bool live() const { return fs_.root() == "/"; }

  // Returns the root's passwd and group databases, read once on first use. Their read errors
  // are in AccountDb::errors; the accounts section reports them, other sections may ignore them.
  const AccountDb& accounts() {
    if (!accounts_) accounts_ = LoadAccountDb(fs_);
    return *accounts_;
  }

 private:
  const Fs& fs_;
  std::string hostname_;
  std::optional<AccountDb> accounts_;
};

class SectionCollector {
 public:
  virtual ~SectionCollector() = default;
  // Returns the section's name, as used by `collect --only` and as the snapshot key.
  virtual std::string_view name() const = 0;
  // Fills `out` (data and errors). The runner measures duration_ms and calls out.Finish().
  virtual void Collect(CollectContext& ctx, Section& out) = 0;
};

}  // namespace tidemark::agent
