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

std::vector<std::unique_ptr<SectionCollector>> AllCollectors() {
  std::vector<std::unique_ptr<SectionCollector>> all;
  // Order matters only for reading: each collector is independent of the others' output.
  all.push_back(std::make_unique<AccountsCollector>());
  all.push_back(std::make_unique<SshKeysCollector>(SshdAuthorizedKeysSettings()));
  all.push_back(std::make_unique<SshdCollector>());
  all.push_back(std::make_unique<SudoCollector>());
  all.push_back(std::make_unique<FilesCollector>());
  all.push_back(std::make_unique<SweepCollector>());
  all.push_back(std::make_unique<NetworkCollector>());
  all.push_back(std::make_unique<ServicesCollector>());
  all.push_back(std::make_unique<PamCollector>());
  all.push_back(std::make_unique<SysctlCollector>());
  all.push_back(std::make_unique<LoginCollector>());
  all.push_back(std::make_unique<CronCollector>());
  all.push_back(std::make_unique<PackagesCollector>());
  return all;
}

const std::vector<std::string>& SectionNames() {
  // Built once: making every collector is a few percent of a short collection's start-up.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& c : AllCollectors()) n.emplace_back(c->name());
    return n;
  }();
  return names;
}

}  // namespace tidemark::agent
