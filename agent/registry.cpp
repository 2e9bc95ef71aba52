#include "agent/registry.h"

#include "agent/sections/accounts.h"
#include "agent/sections/cron.h"
#include "agent/sections/files.h"
#include "agent/sections/login.h"
#include "agent/sections/network.h"
#include "agent/sections/packages.h"
#include "agent/sections/pam.h"
#include "agent/sections/services.h"
#include "agent/sections/ssh_keys.h"
#include "agent/sections/sshd.h"
#include "agent/sections/sudo.h"
#include "agent/sections/sweep.h"
#include "agent/sections/sysctl.h"

namespace tidemark::agent {

namespace {

template <typename C>
std::unique_ptr<SectionReader> Make() {
  return std::make_unique<C>();
}

std::unique_ptr<SectionReader> MakeSshKeys() {
  return std::make_unique<SshKeysReader>(SshdAuthorizedKeysSettings());
}

}  // namespace

const std::vector<SectionEntry>& Sections() {
  // Order matters only for reading: each section reader is independent of the others' output.
  // tests/agent/registry_test.cpp checks each name against its collector's name().
  static const std::vector<SectionEntry> sections = {
      {"accounts", Make<AccountsReader>}, {"ssh_keys", MakeSshKeys},
      {"sshd", Make<SshdReader>},         {"sudo", Make<SudoReader>},
      {"files", Make<FilesReader>},       {"sweep", Make<SweepReader>},
      {"network", Make<NetworkReader>},   {"services", Make<ServicesReader>},
      {"pam", Make<PamReader>},           {"sysctl", Make<SysctlReader>},
      {"login", Make<LoginReader>},       {"cron", Make<CronReader>},
      {"packages", Make<PackagesReader>},
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
