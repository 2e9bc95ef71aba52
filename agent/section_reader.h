// SectionReader: the one small interface every snapshot section implements.
//
// A reader reads only through CollectContext::fs() (the audited root), fills one Section and
// never throws for host data: what it cannot read becomes a SectionError, never "empty".
// Readers run one after another on the calling thread; a context is not shared across threads.
// To add a section: one file under agent/sections/, one line in agent/registry.cpp, one build
// line in agent/CMakeLists.txt, and its test under tests/agent/.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/parsers/account_db.h"
#include "common/fs.h"
#include "common/snapshot.h"

namespace tidemark::agent {

namespace sshd {
class SshdConfig;
}

// Groups whose members the accounts section lists as privileged, unless --privileged-groups says
// otherwise: they grant root (root, sudo, wheel), read logs or secrets (adm, shadow,
// systemd-journal), raw disks (disk) or root-equivalent daemons (docker, lxd).
inline std::vector<std::string> DefaultPrivilegedGroups() {
  return {"root", "sudo", "wheel", "adm", "shadow", "disk", "docker", "lxd", "systemd-journal"};
}

// Options of one collect run that change what sections report (from the command line).
struct CollectOptions {
  std::vector<std::string> privileged_groups = DefaultPrivilegedGroups();
  // files: extra in-root paths and globs (--files-extra; stands in for an agent configuration
  // file) and sweep: walk roots and excluded subtrees (--sweep-roots, --sweep-exclude).
  std::vector<std::string> files_extra;
  std::vector<std::string> sweep_roots = {"/"};
  std::vector<std::string> sweep_excludes;
};

class CollectContext {
 public:
  // `hostname` is the audited host's own name (the root's /etc/hostname, else the live one).
  CollectContext(const Fs& fs, std::string hostname, CollectOptions options = {})
      : fs_(fs), hostname_(std::move(hostname)), options_(std::move(options)) {}

  const Fs& fs() const { return fs_; }
  const CollectOptions& options() const { return options_; }
  const std::string& hostname() const { return hostname_; }
  // Returns true when auditing the machine we run on (root "/"), false for an offline root.
  bool live() const { return fs_.root() == "/"; }

  // Returns the root's passwd and group databases, read once on first use. Their read errors
  // are in AccountDb::errors; the accounts section reports them, other sections may ignore them.
  const AccountDb& accounts() {
    if (!accounts_) accounts_ = LoadAccountDb(fs_);
    return *accounts_;
  }

  // Returns the root's sshd configuration (sshd_config, its Includes and Match blocks), read once
  // on first use: the sshd section prints it, ssh_keys asks it each user's AuthorizedKeysFile.
  // What one section asks of it never changes what the other reports
  // (tests/agent/sshd_test.cpp, SectionsSharingTheConfigurationReportAsAlone).
  std::shared_ptr<const sshd::SshdConfig> sshd_config();

 private:
  const Fs& fs_;
  std::string hostname_;
  CollectOptions options_;
  std::optional<AccountDb> accounts_;
  std::shared_ptr<const sshd::SshdConfig> sshd_config_;
};

class SectionReader {
 public:
  virtual ~SectionReader() = default;
  // Returns the section's name, as used by `collect --only` and as the snapshot key.
  virtual std::string_view name() const = 0;
  // Fills `out` (data and errors). The runner measures duration_ms and calls out.Finish().
  virtual void Collect(CollectContext& ctx, Section& out) = 0;
};

}  // namespace tidemark::agent
