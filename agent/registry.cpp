#include "agent/registry.h"

#include "agent/collectors/accounts.h"
#include "agent/collectors/cron.h"
#include "agent/collectors/files.h"
#include "agent/collectors/login.h"
#include "agent/collectors/network.h"
#include "agent/collectors/packages.h"
#include "agent/collectors/pam.h"
#include "agent/collectors/services.h"
#include "agent/collectors/ssh_keys.h"
#include "agent/collectors/sshd.h"
#include "agent/collectors/sudo.h"
#include "agent/collectors/sweep.h"
#include "agent/collectors/sysctl.h"

namespace tidemark::agent {

namespace {

template <typename C>
std::unique_ptr<SectionCollector> Make() {
  return std::make_unique<C>();
}

std::unique_ptr<SectionCollector> MakeSshKeys() {
  return std::make_unique<SshKeysCollector>(SshdAuthorizedKeysSettings());
}

}  // namespace

const std::vector<SectionEntry>& Sections() {
  // Order matters only for reading: each collector is independent of the others' output.
  // tests/agent/registry_test.cpp checks each name against its collector's name().
  static const std::vector<SectionEntry> sections = {
      {"accounts", Make<AccountsCollector>}, {"ssh_keys", MakeSshKeys},
      {"sshd", Make<SshdCollector>},         {"sudo", Make<SudoCollector>},
      {"files", Make<FilesCollector>},       {"sweep", Make<SweepCollector>},
      {"network", Make<NetworkCollector>},   {"services", Make<ServicesCollector>},
      {"pam", Make<PamCollector>},           {"sysctl", Make<SysctlCollector>},
      {"login", Make<LoginCollector>},       {"cron", Make<CronCollector>},
      {"packages", Make<PackagesCollector>},
  };
  return sections;
}

const std::vector<std::string>& SectionNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const SectionEntry& s : Sections()) n.emplace_back(s.name);
    return n;
  }();
  return names;
}

}  // namespace tidemark::agent
