// The fixture roots of the shipped baseline's tests (tests/policies/debian12_rules_test.cpp):
// a small Debian 12 server that passes every rule, made of the files each group of rules
// contributes, and per rule a case that changes files of that root so that exactly this rule
// fails with the given items. A new rule adds its files to its group's Base function and one
// Case to its group's Cases function (cases_*.cpp).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tidemark::policy::cases {

// A file of a fixture root.
struct RootFile {
  std::string content;
  unsigned mode = 0644;
  unsigned uid = 0;  // applied when the test runs as root (the case then asserts owners)
  unsigned gid = 0;
  bool directory = false;  // a directory with `mode` (content unused)
  std::string symlink;     // when set, a symlink to this target (mode and owners unused)
};

using Root = std::map<std::string, RootFile>;  // in-root path -> file

struct Case {
  std::string rule;
  // Files replaced (or added) in the base root; std::nullopt removes the file.
  std::map<std::string, std::optional<RootFile>> changes;
  std::vector<std::string> ids;  // the failing items, in the order the query returns them
  bool needs_root = false;       // the change needs chown (skipped, with a reason, otherwise)
  // The network section's listeners (a JSON array as agent/sections/network.cpp writes
  // them) in place of BaseListeners(); std::nullopt keeps the base's.
  std::optional<std::string> listeners;
};

// The base root: the union of every group's files (a path given twice is a test error).
Root BaseRoot();

// The base root with the changes of `change` applied (nullptr: the base root itself).
Root RootFor(const Case* change);

// The base file at `path`, with `extra` appended / with `from` replaced by `to` (the first
// occurrence; a missing `from` is a test failure).
RootFile With(const std::string& path, const std::string& extra);
RootFile Replace(const std::string& path, const std::string& from, const std::string& to);
// The base file at `path` with another mode / owner.
RootFile WithMode(const std::string& path, unsigned mode);
RootFile WithOwner(const std::string& path, unsigned uid, unsigned gid);

// The network section exists only on a live host (under a root it is not_applicable): the
// test adds one to every snapshot of a fixture root, with these listeners (a JSON array as
// agent/sections/network.cpp writes them) unless a case gives its own.
std::string BaseListeners();

// The sections the base root is collected with (every rule's tables must come from them).
std::vector<std::string> CollectedSections();

// Each group of rules: its base files and its cases.
Root AccountsBase();
std::vector<Case> AccountsCases();
Root SshSysctlBase();  // sshd, ssh_keys, sysctl, login, pam
std::vector<Case> SshSysctlCases();
Root SystemBase();  // files, sweep, services, packages, cron, network
std::vector<Case> SystemCases();

}  // namespace tidemark::policy::cases
