// The files collector on fixture roots: default paths, absent vs error, hashes, private keys
// never hashed, homes of login users only, symlinks in homes never hashed through, trust files,
// --files-extra paths and globs.
#include "agent/sections/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "agent/cli.h"
#include "common/sha256.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

const json* FindPath(const json& items, std::string_view path) {
  for (const auto& i : items) {
    // Files items hold the path in the id only ("file:PATH"); trust files also have `path`.
    if (i["id"] == "file:" + std::string(path) || i.value("path", "") == path) return &i;
  }
  return nullptr;
}

constexpr std::string_view kPrivateKey =
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE "
    "KEY-----\n";

// Reads a key of a compact item (docs/sections/files.md): a missing key is null, `state`
// defaults to "present" and `hash_state` to "hashed" when there is a sha256.
json Get(const json* item, const std::string& key) {
  if (item == nullptr) return json("(no item)");
  if (item->contains(key)) return (*item)[key];
  if (key == "state") return "present";
  if (key == "hash_state" && item->contains("sha256")) return "hashed";
  return nullptr;
}

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    uid_ = static_cast<uint32_t>(::geteuid());
    std::string u = std::to_string(uid_);
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\n"
                "alice:x:" +
                    u + ":" + u +
                    "::/home/alice:/bin/bash\n"
                    "daemon:x:1:1::/var/daemon:/usr/sbin/nologin\n");
    root_.Write("/etc/group", "root:x:0:\nalice:x:" + u + ":\n");
    root_.Write("/etc/shadow", "root:*:19000:0:99999:7:::\n", 0640);
    root_.Write("/etc/sudoers", "root ALL=(ALL) ALL\n", 0440);
    root_.Write("/etc/sudoers.d/admins", "%sudo ALL=(ALL) ALL\n", 0440);
    root_.Write("/etc/ssh/sshd_config", "PermitRootLogin no\n");
    root_.Write("/etc/ssh/ssh_host_ed25519_key", kPrivateKey, 0600);
    root_.Write("/etc/ssh/ssh_host_ed25519_key.pub", "ssh-ed25519 AAAA host\n");
    root_.Write("/etc/cron.daily/logrotate", "#!/bin/sh\n", 0755);
    root_.Write("/etc/pam.d/sshd", "@include common-auth\n");
    root_.Write("/etc/security/limits.d/x.conf", "* hard core 0\n");
    root_.Mkdir("/root", 0700);
    root_.Write("/root/.bashrc", "umask 022\n");
    root_.Write("/home/alice/.profile", "PATH=$PATH\n");
    root_.Write("/home/alice/.ssh/authorized_keys", "ssh-ed25519 AAAA alice\n", 0600);
    root_.Write("/home/alice/.ssh/id_ed25519", kPrivateKey, 0600);
    root_.Write("/home/alice/.ssh/id_ed25519.pub", "ssh-ed25519 AAAA alice\n");
    root_.Write("/home/alice/.rhosts", "+ +\n", 0600);
    root_.Write("/home/alice/.netrc", "machine x login y password hunter2\n", 0600);
    root_.Write("/home/alice/notes/deep.txt", "not a dot file\n");
    root_.Write("/var/daemon/.rhosts", "+ +\n");  // not a login user's home
    root_.Chmod("/home/alice", 0755);
  }

  Section Run(CollectOptions options = {}) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok()) << fs.status().message();
    CollectContext ctx(**fs, "fixture", std::move(options));
    Section section;
    FilesReader().Collect(ctx, section);
    section.Finish();
    section.Materialize();
    return section;
  }

  testing::TempRoot root_;
  uint32_t uid_ = 0;
};

TEST_F(FilesTest, DefaultPathsWithMetadataAndHashes) {
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kOk) << json(s.errors.size()).dump();
  const json& files = s.data["files"];
  const json* shadow = FindPath(files, "/etc/shadow");
  ASSERT_NE(shadow, nullptr);
  EXPECT_EQ(Get(shadow, "state"), "present");
  EXPECT_EQ(Get(shadow, "type"), "regular");
  EXPECT_EQ(Get(shadow, "mode"), "0640");
  EXPECT_EQ(Get(shadow, "category"), "account_db");
  EXPECT_EQ(Get(shadow, "sha256"), Sha256Hex("root:*:19000:0:99999:7:::\n"));
  EXPECT_EQ(Get(shadow, "hash_state"), "hashed");
  EXPECT_EQ(Get(shadow, "id"), "file:/etc/shadow");
  // Compact: the item is its own source; state "present" and hash_state "hashed" are defaults.
  EXPECT_FALSE(shadow->contains("source"));
  EXPECT_FALSE(shadow->contains("state"));
  EXPECT_FALSE(shadow->contains("hash_state"));
  EXPECT_FALSE(shadow->contains("link_target"));
  for (const char* p : {"/etc/sudoers.d/admins", "/etc/cron.daily/logrotate", "/etc/pam.d/sshd",
                        "/etc/security/limits.d/x.conf", "/root/.bashrc"}) {
    const json* f = FindPath(files, p);
    ASSERT_NE(f, nullptr) << p;
    EXPECT_EQ(Get(f, "hash_state"), "hashed") << p;
  }
  const json* dir = FindPath(files, "/etc/cron.daily");
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(Get(dir, "type"), "directory");
  EXPECT_EQ(Get(dir, "sha256"), nullptr);
  EXPECT_EQ(Get(dir, "hash_state"), "not_regular");
}

TEST_F(FilesTest, MissingDefaultPathIsAbsentNotAnError) {
  Section s = Run();
  const json* g = FindPath(s.data["files"], "/etc/gshadow");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(Get(g, "state"), "absent");
  EXPECT_EQ(Get(g, "mode"), nullptr);
  for (const auto& e : s.errors) EXPECT_NE(e.path, "/etc/gshadow");
}

TEST_F(FilesTest, UnreachablePathIsAnErrorNotAbsent) {
  std::filesystem::remove_all(root_.Host("/etc/ssh"));
  root_.Write("/etc/ssh", "a file where a directory should be\n");
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  const json* f = FindPath(s.data["files"], "/etc/ssh/sshd_config");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Get(f, "state"), "error");
  bool named = false;
  for (const auto& e : s.errors) named = named || e.path == "/etc/ssh/sshd_config";
  EXPECT_TRUE(named);
}

TEST_F(FilesTest, PrivateKeysAndSecretsAreNeverHashed) {
  root_.Write("/etc/ssh/vendor_host_key", "a key file of another name\n", 0600);
  root_.Write("/etc/ssh/vendor_ca.pub", "ssh-ed25519 AAAA vendor-ca\n", 0644);
  Section s = Run();
  const json& files = s.data["files"];
  // Any /etc/ssh/*_key is collected as a host key and never hashed, whatever it holds.
  const json* vendor = FindPath(files, "/etc/ssh/vendor_host_key");
  ASSERT_NE(vendor, nullptr);
  EXPECT_EQ(Get(vendor, "category"), "ssh_host_key");
  EXPECT_EQ(Get(vendor, "hash_state"), "private_key");
  EXPECT_EQ(Get(vendor, "sha256"), nullptr);
  EXPECT_EQ(Get(FindPath(files, "/etc/ssh/vendor_ca.pub"), "category"), "ssh_host_key");
  EXPECT_EQ(Get(FindPath(files, "/etc/ssh/vendor_ca.pub"), "hash_state"), "hashed");
  const json* host = FindPath(files, "/etc/ssh/ssh_host_ed25519_key");
  ASSERT_NE(host, nullptr);
  EXPECT_EQ(Get(host, "sha256"), nullptr);
  EXPECT_EQ(Get(host, "hash_state"), "private_key");
  EXPECT_EQ(Get(host, "mode"), "0600");
  EXPECT_EQ(Get(FindPath(files, "/etc/ssh/ssh_host_ed25519_key.pub"), "hash_state"), "hashed");
  EXPECT_EQ(Get(FindPath(files, "/home/alice/.ssh/id_ed25519"), "hash_state"), "private_key");
  EXPECT_EQ(Get(FindPath(files, "/home/alice/.ssh/id_ed25519.pub"), "hash_state"), "hashed");
  EXPECT_EQ(Get(FindPath(files, "/home/alice/.netrc"), "hash_state"), "may_hold_secrets");
  EXPECT_EQ(Get(FindPath(files, "/home/alice/.ssh/authorized_keys"), "sha256"),
            Sha256Hex("ssh-ed25519 AAAA alice\n"));
  // A key under an innocent name is recognised by its content.
  root_.Write("/etc/pam.d/innocent", kPrivateKey);
  Section t = Run();
  EXPECT_EQ(Get(FindPath(t.data["files"], "/etc/pam.d/innocent"), "hash_state"), "private_key");
  EXPECT_EQ(Get(FindPath(t.data["files"], "/etc/pam.d/innocent"), "sha256"), nullptr);
}

TEST_F(FilesTest, HomesOfLoginUsersOneLevelOnly) {
  Section s = Run();
  const json& files = s.data["files"];
  const json* home = FindPath(files, "/home/alice");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(Get(home, "user"), "alice");
  EXPECT_NE(FindPath(files, "/home/alice/.profile"), nullptr);
  EXPECT_NE(FindPath(files, "/home/alice/.ssh"), nullptr);
  EXPECT_EQ(FindPath(files, "/home/alice/notes"), nullptr);  // not a dot file
  EXPECT_EQ(FindPath(files, "/home/alice/notes/deep.txt"), nullptr);
  EXPECT_EQ(FindPath(files, "/var/daemon/.rhosts"), nullptr);  // nologin user
  EXPECT_EQ(FindPath(files, "/var/daemon"), nullptr);
}

TEST_F(FilesTest, TrustFilesAreReported) {
  root_.Write("/etc/hosts.equiv", "+\n");
  Section s = Run();
  std::set<std::string> paths;
  for (const auto& t : s.data["trust_files"]) paths.insert(t["path"].get<std::string>());
  EXPECT_EQ(paths, (std::set<std::string>{"/etc/hosts.equiv", "/home/alice/.netrc",
                                          "/home/alice/.rhosts"}));
  const json* rhosts = FindPath(s.data["trust_files"], "/home/alice/.rhosts");
  EXPECT_EQ(Get(rhosts, "user"), "alice");
  EXPECT_EQ(Get(rhosts, "name"), ".rhosts");
  EXPECT_EQ(Get(rhosts, "id"), "trust_file:/home/alice/.rhosts");
  EXPECT_EQ(Get(rhosts, "mode"), "0600");
}

TEST_F(FilesTest, UsersSymlinksNeverMakeTheAgentHashSystemFiles) {
  std::filesystem::remove(root_.Host("/home/alice/.profile"));
  root_.Symlink("/home/alice/.profile", "/etc/shadow");
  root_.Symlink("/home/alice/conf", "/etc");
  CollectOptions o;
  o.files_extra = {"/home/alice/conf/*"};
  Section s = Run(o);
  const json& files = s.data["files"];
  const json* link = FindPath(files, "/home/alice/.profile");
  ASSERT_NE(link, nullptr);
  EXPECT_EQ(Get(link, "type"), "symlink");
  EXPECT_EQ(Get(link, "link_target"), "/etc/shadow");
  EXPECT_EQ(Get(link, "sha256"), nullptr);
  const json* via = FindPath(files, "/home/alice/conf/shadow");
  ASSERT_NE(via, nullptr);                 // described (lstat through the user's link) ...
  EXPECT_EQ(Get(via, "sha256"), nullptr);  // ... but never read
  EXPECT_NE(Get(via, "hash_state"), "hashed");
  for (const auto& f : files) {
    EXPECT_FALSE(f.contains("path"));  // in the id
    if (f["id"].get<std::string>().rfind("file:/home/", 0) == 0) {
      EXPECT_NE(f.value("sha256", json()), Sha256Hex("root:*:19000:0:99999:7:::\n")) << f["id"];
    }
  }
}

TEST_F(FilesTest, SymlinkedSshDirectoryIsNotListed) {
  std::filesystem::remove_all(root_.Host("/home/alice/.ssh"));
  root_.Symlink("/home/alice/.ssh", "/etc");
  Section s = Run();
  const json* ssh = FindPath(s.data["files"], "/home/alice/.ssh");
  ASSERT_NE(ssh, nullptr);
  EXPECT_EQ(Get(ssh, "type"), "symlink");
  EXPECT_EQ(FindPath(s.data["files"], "/home/alice/.ssh/shadow"), nullptr);
}

TEST_F(FilesTest, ExtraPathsAndGlobs) {
  root_.Write("/opt/app/app.conf", "x=1\n");
  root_.Write("/opt/app/other.conf", "y=2\n");
  root_.Write("/opt/app/readme", "z\n");
  CollectOptions o;
  o.files_extra = {"/opt/app/*.conf", "/opt/missing.conf", "/opt/none/*"};
  Section s = Run(o);
  const json& files = s.data["files"];
  EXPECT_EQ(Get(FindPath(files, "/opt/app/app.conf"), "sha256"), Sha256Hex("x=1\n"));
  EXPECT_EQ(Get(FindPath(files, "/opt/app/app.conf"), "category"), "extra");
  EXPECT_NE(FindPath(files, "/opt/app/other.conf"), nullptr);
  EXPECT_EQ(FindPath(files, "/opt/app/readme"), nullptr);
  EXPECT_EQ(Get(FindPath(files, "/opt/missing.conf"), "state"), "absent");
  EXPECT_EQ(s.data["extra_patterns"].size(), 3u);
}

// A user's flood of dot files is cut at 500 per home, .ssh first, with the true count; the
// system files are all still listed.
TEST_F(FilesTest, DotFileFloodIsCappedPerHome) {
  std::string home = root_.Host("/home/alice");
  mode_t old = ::umask(0);
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(::mknod((home + "/.f" + std::to_string(i)).c_str(), S_IFREG | 0644, 0), 0);
  }
  ::umask(old);
  Section s = Run();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_EQ(s.data["truncated"]["home_entries"]["limit"], 500);
  EXPECT_GE(s.data["truncated"]["home_entries"]["total"], 3000);
  EXPECT_NE(FindPath(s.data["files"], "/home/alice/.ssh/authorized_keys"), nullptr);
  EXPECT_NE(FindPath(s.data["files"], "/etc/sudoers"), nullptr);
  EXPECT_LT(s.data["files"].size(), 600u);
  bool named = false;
  for (const auto& e : s.errors) named = named || e.path == "/home/alice";
  EXPECT_TRUE(named);
}

// A name that is not UTF-8 keeps its bytes (path_b64) and a unique id.
TEST_F(FilesTest, NamesThatAreNotUtf8) {
  root_.Write("/home/alice/.a\xff", "x");
  root_.Write("/home/alice/.a\xfe", "y");
  Section s = Run();
  std::set<std::string> raw;
  for (const auto& f : s.data["files"]) {
    if (!f.contains("path_b64")) continue;
    std::string id = f["id"].get<std::string>();
    auto bytes = Base64Decode(f["path_b64"].get<std::string>());
    ASSERT_TRUE(bytes.has_value());
    EXPECT_EQ(UnescapeHostName(id.substr(5)), *bytes);
    raw.insert(*bytes);
  }
  EXPECT_EQ(raw, (std::set<std::string>{"/home/alice/.a\xff", "/home/alice/.a\xfe"}));
}

TEST_F(FilesTest, FifoIsDescribedNeverOpened) {
  std::filesystem::remove(root_.Host("/etc/pam.d/sshd"));
  root_.Fifo("/etc/pam.d/sshd");
  root_.Fifo("/etc/login.defs");
  Section s = Run();
  EXPECT_EQ(Get(FindPath(s.data["files"], "/etc/login.defs"), "type"), "fifo");
  EXPECT_EQ(Get(FindPath(s.data["files"], "/etc/login.defs"), "hash_state"), "not_regular");
}

TEST_F(FilesTest, CommandLineOptions) {
  root_.Write("/opt/app.conf", "x\n");
  root_.Write("/srv/s", "s", 04755);
  root_.Write("/opt/o", "o", 04755);
  std::ostringstream out, err;
  int rc = RunAgentCli(
      {"collect", "--root", root_.path(), "--host-id", "fixture", "--only", "files,sweep",
       "--files-extra=/opt/app.conf", "--sweep-roots", "/srv,/opt", "--sweep-exclude", "/opt"},
      out, err);
  ASSERT_EQ(rc, kExitOk) << err.str();
  json doc = json::parse(out.str());
  EXPECT_NE(FindPath(doc["files"]["files"], "/opt/app.conf"), nullptr);
  EXPECT_EQ(doc["sweep"]["roots"], (json{"/srv", "/opt"}));
  std::set<std::string> setid;
  for (const auto& f : doc["sweep"]["setid_files"]) setid.insert(f["path"].get<std::string>());
  EXPECT_EQ(setid, (std::set<std::string>{"/srv/s"}));  // /opt is excluded, even as a root
  for (const char* bad : {"relative/path", "/ok,", ""}) {
    std::ostringstream o2, e2;
    EXPECT_EQ(RunAgentCli({"collect", "--sweep-roots", bad}, o2, e2), kExitUsage) << bad;
  }
}

TEST(FilesRulesTest, NoHashReason) {
  EXPECT_EQ(NoHashReason("/etc/ssh/ssh_host_rsa_key"), "private_key");
  EXPECT_EQ(NoHashReason("/etc/ssh/ssh_host_rsa_key.pub"), "");
  EXPECT_EQ(NoHashReason("/etc/ssh/vendor_host_key"), "private_key");  // any /etc/ssh/*_key
  EXPECT_EQ(NoHashReason("/etc/ssh/vendor_ca.pub"), "");
  EXPECT_EQ(NoHashReason("/etc/ssh/sshd_config.d/a_key"), "");  // one level only
  EXPECT_EQ(NoHashReason("/srv/app/api_key"), "");
  EXPECT_EQ(NoHashReason("/root/.ssh/backup_key_2019"), "private_key");
  EXPECT_EQ(NoHashReason("/root/.ssh/known_hosts"), "");
  EXPECT_EQ(NoHashReason("/etc/ssl/private/site.pem"), "private_key");
  EXPECT_EQ(NoHashReason("/root/.bash_history"), "may_hold_secrets");
  EXPECT_EQ(NoHashReason("/etc/passwd"), "");
}

}  // namespace
}  // namespace tidemark::agent
