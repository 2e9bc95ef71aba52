// The base root assembled from every group's files, and the helpers cases use to change it.
#include <gtest/gtest.h>

#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

Root BaseRoot() {
  Root root;
  for (const Root& part : {AccountsBase(), SshSysctlBase(), SystemBase()}) {
    for (const auto& [path, file] : part) {
      EXPECT_TRUE(root.emplace(path, file).second) << path << " is in two groups' base files";
    }
  }
  return root;
}

Root RootFor(const Case* change) {
  Root files = BaseRoot();
  if (change == nullptr) return files;
  for (const auto& [path, file] : change->changes) {
    if (file) {
      files[path] = *file;
    } else {
      files.erase(path);
    }
  }
  return files;
}

namespace {
RootFile BaseFile(const std::string& path) {
  Root root = BaseRoot();
  auto it = root.find(path);
  EXPECT_NE(it, root.end()) << path << " is not a base file";
  return it == root.end() ? RootFile{} : it->second;
}
}  // namespace

RootFile With(const std::string& path, const std::string& extra) {
  RootFile f = BaseFile(path);
  f.content += extra;
  return f;
}

RootFile Replace(const std::string& path, const std::string& from, const std::string& to) {
  RootFile f = BaseFile(path);
  size_t at = f.content.find(from);
  EXPECT_NE(at, std::string::npos) << path << ": no '" << from << "'";
  if (at != std::string::npos) f.content.replace(at, from.size(), to);
  return f;
}

RootFile WithMode(const std::string& path, unsigned mode) {
  RootFile f = BaseFile(path);
  f.mode = mode;
  return f;
}

RootFile WithOwner(const std::string& path, unsigned uid, unsigned gid) {
  RootFile f = BaseFile(path);
  f.uid = uid;
  f.gid = gid;
  return f;
}

std::vector<std::string> CollectedSections() {
  // Every section a shipped rule reads, but not the network (a fixture root has none).
  return {"accounts", "sudo",  "sshd",  "ssh_keys", "sysctl",   "login",
          "pam",      "files", "sweep", "services", "packages", "cron"};
}

}  // namespace tidemark::policy::cases
