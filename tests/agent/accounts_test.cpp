// Tests of the accounts section over fixture roots: users, shells, password status, groups,
// gshadow, derived facts, nsswitch, --privileged-groups, and bad input (unreadable files,
// directories and FIFOs in place of files, binary garbage, NUL bytes, 10 MB lines).
#include "agent/sections/accounts.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <sstream>

#include "agent/cli.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using testing::TempRoot;

Section Collect(const TempRoot& root, CollectOptions options = {}) {
  auto fs = OpenRootFs(root.path());
  EXPECT_TRUE(fs.ok()) << fs.status().ToString();
  CollectContext ctx(**fs, "fixture", std::move(options));
  Section out;
  AccountsReader().Collect(ctx, out);
  out.Finish();
  out.Materialize();  // tests read the item arrays as json
  return out;
}

const json& UserNamed(const Section& s, const std::string& name) {
  for (const auto& u : s.data["users"]) {
    if (u["name"] == name) return u;
  }
  static const json kNone;
  ADD_FAILURE() << "no user " << name;
  return kNone;
}

const json& GroupNamed(const Section& s, const std::string& name) {
  for (const auto& g : s.data["groups"]) {
    if (g["name"] == name) return g;
  }
  static const json kNone;
  ADD_FAILURE() << "no group " << name;
  return kNone;
}

bool HasErrorFor(const Section& s, const std::string& path, std::optional<int64_t> line = {}) {
  for (const auto& e : s.errors) {
    if (e.path == path && (!line || e.line == line)) return true;
  }
  return false;
}

std::string ErrorsText(const Section& s) {
  std::string all;
  for (const auto& e : s.errors) {
    all += e.path + ":" + (e.line ? std::to_string(*e.line) : "-") + ": " + e.message + "\n";
  }
  return all;
}

void WriteBaseRoot(TempRoot& root) {
  root.Write("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\n"
             "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
             "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
             "bob:x:1001:1001::/home/bob:/bin/zsh\n"
             "carol:x:1002:1002::/home/carol:\n"
             "dave:x:1003:27::/home/dave:/bin/false\n"
             "toor:x:0:1004::/root:/bin/sh\n"
             "legacy:$1$abcdefgh$ijklmnopqrstuvwxyzABCD:1005:1005::/home/legacy:/bin/sh\n"
             "open::1006:1006::/home/open:/bin/sh\n"
             "lonely:x:1007:4242::/home/lonely:/bin/sh\n"
             "alice:x:1008:1000:second alice:/home/alice2:/bin/sh\n"
             "nosh:x:1009:1009::/home/nosh:/bin/sh\n");
  root.Write("/etc/group",
             "root:x:0:toor\n"
             "daemon:x:1:\n"
             "sudo:x:27:alice,bob,ghost\n"
             "alice:x:1000:\n"
             "bob:x:1001:\n"
             "carol:x:1002:\n"
             "toor:x:1004:\n"
             "legacy:x:1005:\n"
             "open:x:1006:\n"
             "shadow:x:42:carol\n"
             "docker:x:999:alice\n"
             "alice2:x:1000:bob\n"
             "nosh:x:1009:\n");
  root.Write(
      "/etc/shadow",
      "root:*:19000:0:99999:7:::\n"
      "daemon:*:19000:0:99999:7:::\n"
      "alice:$y$j9T$abcdefghijklmnop$qrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456:19500:0:"
      "99999:7:::\n"
      "bob:!$6$saltsalt$hashhashhash:19500:1:90:14:30:20000:\n"
      "carol::19500:0:99999:7:::\n"
      "dave:!:19500::::::\n"
      "toor:$2b$05$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234:19500:0:99999:7:::\n"
      "legacy:*:19500:0:99999:7:::\n"
      "open:*:19500:0:99999:7:::\n"
      "alice:!:1:2:3:4:5:6:\n"
      "ghostuser:*:19500:0:99999:7:::\n"
      "nosh:$6$sa:lt$hash:1:2\n",
      0640);
  root.Chown("/etc/shadow", 0, 42);
  root.Write("/etc/gshadow",
             "root:*::toor\n"
             "sudo:!:alice:alice,bob\n"
             "alice:$6$grpsalt$grouphash::\n"
             "bob:::\n"
             "orphan:!::\n",
             0640);
  root.Write("/etc/shells",
             "# /etc/shells: valid login shells\n/bin/sh\n/bin/bash\n"
             "/usr/sbin/nologin\n/bin/false\n");
  root.Write("/etc/nsswitch.conf",
             "passwd:         files sss\n"
             "group:          files [NOTFOUND=return] ldap\n"
             "hosts:          files dns\n");
}

TEST(AccountsTest, UsersShellsAndPasswords) {
  TempRoot root;
  WriteBaseRoot(root);
  Section s = Collect(root);
  const json& alice = UserNamed(s, "alice");
  EXPECT_EQ(alice["id"], "user:alice");
  EXPECT_EQ(alice["uid"], 1000);
  EXPECT_EQ(alice["gecos"], "Alice,,,");
  EXPECT_EQ(alice["source"], (json{{"line", 3}}));  // compact: the default file, /etc/passwd
  EXPECT_EQ(alice["login_shell"], true);
  EXPECT_EQ(alice["shell_listed"], true);
  EXPECT_EQ(alice["password_shadowed"], true);
  EXPECT_EQ(alice["password_field"], "shadowed");
  const json& pw = alice["password"];
  EXPECT_EQ(pw["status"], "hashed");
  EXPECT_EQ(pw["scheme"], "yescrypt");
  EXPECT_EQ(pw["last_change"], 19500);
  EXPECT_EQ(pw["max"], 99999);
  EXPECT_FALSE(pw.contains("inactive"));         // null: omitted
  EXPECT_EQ(pw["source"], (json{{"line", 3}}));  // compact: the default file, /etc/shadow
  // The second passwd "alice" gets its own id; getspnam finds the first shadow entry for both.
  EXPECT_EQ(s.data["users"][10]["id"], "user:alice#2");
  EXPECT_EQ(s.data["users"][10]["password"]["scheme"], "yescrypt");

  const json& bob = UserNamed(s, "bob");  // /bin/zsh is not in /etc/shells
  EXPECT_EQ(bob["shell_listed"], false);
  EXPECT_EQ(bob["login_shell"], false);
  EXPECT_EQ(bob["password"]["status"], "locked");
  EXPECT_EQ(bob["password"]["scheme"], "sha512");
  EXPECT_EQ(bob["password"]["expire"], 20000);

  const json& carol = UserNamed(s, "carol");  // empty shell = /bin/sh (passwd(5))
  EXPECT_EQ(carol["shell"], "");
  EXPECT_EQ(carol["shell_listed"], true);
  EXPECT_EQ(carol["login_shell"], true);
  EXPECT_EQ(carol["password"]["status"], "empty");
  EXPECT_FALSE(carol["password"].contains("scheme"));  // null: omitted

  const json& dave = UserNamed(s, "dave");  // /bin/false is listed but never a login
  EXPECT_EQ(dave["shell_listed"], true);
  EXPECT_EQ(dave["login_shell"], false);
  EXPECT_EQ(dave["password"]["status"], "locked");
  EXPECT_FALSE(dave["password"].contains("scheme"));  // null: omitted
  EXPECT_FALSE(dave["password"].contains("min"));     // null: omitted

  EXPECT_EQ(UserNamed(s, "daemon")["login_shell"], false);
  EXPECT_EQ(UserNamed(s, "root")["password"]["status"], "no_login");
  EXPECT_EQ(UserNamed(s, "toor")["password"]["scheme"], "bcrypt");

  // A hash in passwd itself: reported by class, the status comes from that field.
  const json& legacy = UserNamed(s, "legacy");
  EXPECT_EQ(legacy["password_shadowed"], false);
  EXPECT_EQ(legacy["password_field"], "hash_in_passwd");
  EXPECT_EQ(legacy["password"]["status"], "hashed");
  EXPECT_EQ(legacy["password"]["scheme"], "md5");
  EXPECT_EQ(legacy["password"]["source"]["file"], "/etc/passwd");
  const json& open = UserNamed(s, "open");
  EXPECT_EQ(open["password_field"], "empty");
  EXPECT_EQ(open["password"]["status"], "empty");

  EXPECT_EQ(UserNamed(s, "lonely")["password"]["status"], "no_shadow_entry");
  // nosh's only shadow line is malformed: unknown, never "empty" or "no entry".
  EXPECT_EQ(UserNamed(s, "nosh")["password"]["status"], "unknown");
  EXPECT_TRUE(HasErrorFor(s, "/etc/shadow", 12)) << ErrorsText(s);

  EXPECT_EQ(s.data["empty_passwords"], (json{"carol", "open"}));
  EXPECT_EQ(s.status, SectionStatus::kPartial);  // the malformed shadow line
}

TEST(AccountsTest, ShadowAndGshadowSummaries) {
  TempRoot root;
  WriteBaseRoot(root);
  Section s = Collect(root);
  const json& sh = s.data["shadow"];
  EXPECT_EQ(sh["present"], true);
  EXPECT_EQ(sh["readable"], true);
  EXPECT_EQ(sh["entries"], 11);
  EXPECT_EQ(sh["duplicates"], (json{"alice"}));
  EXPECT_EQ(sh["without_passwd_user"], (json{"ghostuser"}));
  EXPECT_EQ(sh["malformed_lines"], (json{12}));
  EXPECT_EQ(sh["mode"], "0640");
  if (sh["gid"] == 42) {  // chown worked (running as root)
    EXPECT_EQ(sh["group"], "shadow");
    EXPECT_EQ(s.data["shadow_group_members"], (json{"carol"}));
  }
  EXPECT_EQ(sh["world_readable"], false);

  const json& gs = s.data["gshadow"];
  EXPECT_EQ(gs["entries"], 5);
  EXPECT_EQ(gs["without_group"], (json{"orphan"}));
  const json& sudo = GroupNamed(s, "sudo");
  EXPECT_EQ(sudo["gshadow"]["status"], "present");
  EXPECT_EQ(sudo["gshadow"]["password"], "locked");
  EXPECT_EQ(sudo["gshadow"]["administrators"], (json{"alice"}));
  EXPECT_EQ(sudo["gshadow"]["members"], (json{"alice", "bob"}));
  EXPECT_EQ(sudo["gshadow"]["source"]["line"], 2);
  EXPECT_EQ(GroupNamed(s, "alice")["gshadow"]["password"], "set");
  EXPECT_EQ(GroupNamed(s, "bob")["gshadow"]["password"], "none");
  EXPECT_EQ(GroupNamed(s, "daemon")["gshadow"]["status"], "no_entry");
  // Compact: the default files (/etc/group, /etc/gshadow) and empty lists are omitted.
  EXPECT_EQ(sudo["source"], (json{{"line", 3}}));
  EXPECT_FALSE(GroupNamed(s, "bob")["gshadow"].contains("members"));
  EXPECT_EQ(GroupNamed(s, "alice2")["id"], "group:alice2");
}

TEST(AccountsTest, GroupsAndDerivedFacts) {
  TempRoot root;
  WriteBaseRoot(root);
  Section s = Collect(root);
  const json& alice = UserNamed(s, "alice");
  // primary 1000 (first group with that gid), then sudo and docker; alice2 shares gid 1000.
  EXPECT_EQ(alice["groups"], (json{{{"name", "alice"}, {"gid", 1000}, {"primary", true}},
                                   {{"name", "sudo"}, {"gid", 27}},  // primary: false omitted
                                   {{"name", "docker"}, {"gid", 999}}}));
  const json& lonely = UserNamed(s, "lonely");
  EXPECT_TRUE(lonely["groups"][0]["name"].is_null());
  EXPECT_EQ(lonely["groups"][0]["gid"], 4242);

  EXPECT_EQ(s.data["uid0"], (json{"root", "toor"}));
  EXPECT_EQ(s.data["gid0_users"], (json{"root"}));
  const json& d = s.data["duplicates"];
  EXPECT_EQ(d["uids"], (json{{{"uid", 0}, {"users", {"root", "toor"}}}}));
  EXPECT_EQ(d["gids"], (json{{{"gid", 1000}, {"groups", {"alice", "alice2"}}}}));
  EXPECT_EQ(d["user_names"], (json{"alice"}));
  EXPECT_EQ(d["group_names"], json::array());
  EXPECT_EQ(s.data["missing_primary_groups"],
            (json{{{"id", "missing_primary_group:lonely"}, {"user", "lonely"}, {"gid", 4242}}}));

  std::vector<std::string> ids;
  std::map<std::string, std::string> via;
  for (const auto& m : s.data["privileged_members"]) {
    ids.push_back(m["id"]);
    via[m["id"]] = m["via"];
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"privileged:root:root", "privileged:root:toor",
                                           "privileged:sudo:dave", "privileged:sudo:alice",
                                           "privileged:sudo:bob", "privileged:sudo:ghost",
                                           "privileged:shadow:carol", "privileged:docker:alice"}));
  EXPECT_EQ(via["privileged:root:toor"], "member");
  EXPECT_EQ(via["privileged:sudo:dave"], "primary");
  EXPECT_EQ(via["privileged:sudo:alice"], "member");
  for (const auto& m : s.data["privileged_members"]) {
    if (m["user"] == "ghost") {
      EXPECT_EQ(m["user_known"], false);
    }
  }
  EXPECT_EQ(s.data["privileged_groups"].size(), DefaultPrivilegedGroups().size());
}

TEST(AccountsTest, PrivilegedViaBothAndConfiguredList) {
  TempRoot root;
  root.Write("/etc/passwd",
             "root:x:0:0::/root:/bin/sh\nops:x:1000:50::/home/ops:/bin/sh\n"
             "dev:x:1001:1001::/home/dev:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\nstaff:x:50:ops,dev\ndev:x:1001:\nsudo:x:27:dev\n");
  CollectOptions options;
  options.privileged_groups = {"staff"};
  Section s = Collect(root, options);
  EXPECT_EQ(s.data["privileged_groups"], (json{"staff"}));
  EXPECT_EQ(s.data["privileged_members"], (json{{{"id", "privileged:staff:ops"},
                                                 {"group", "staff"},
                                                 {"gid", 50},
                                                 {"user", "ops"},
                                                 {"via", "both"},
                                                 {"user_known", true}},
                                                {{"id", "privileged:staff:dev"},
                                                 {"group", "staff"},
                                                 {"gid", 50},
                                                 {"user", "dev"},
                                                 {"via", "member"},
                                                 {"user_known", true}}}));
  // No shadow, gshadow, shells or nsswitch.conf: absent, not errors.
  EXPECT_EQ(s.status, SectionStatus::kOk) << ErrorsText(s);
  EXPECT_EQ(s.data["shadow"]["present"], false);
  EXPECT_TRUE(s.data["shadow"]["entries"].is_null());
  EXPECT_EQ(UserNamed(s, "ops")["password"]["status"], "no_shadow_entry");
  EXPECT_EQ(GroupNamed(s, "staff")["gshadow"]["status"], "no_gshadow_file");
  EXPECT_EQ(s.data["shadow_group_members"], json::array());
  EXPECT_EQ(s.data["empty_passwords"], json::array());
  // Missing /etc/shells: nothing is "listed" or not; only nologin shells refuse login.
  EXPECT_FALSE(UserNamed(s, "ops").contains("shell_listed"));  // null: omitted
  EXPECT_EQ(UserNamed(s, "ops")["login_shell"], true);
  EXPECT_EQ(s.data["shells"]["present"], false);
  EXPECT_TRUE(s.data["shells"]["entries"].is_null());
}

TEST(AccountsTest, NsswitchSourcesAndDefaults) {
  TempRoot root;
  WriteBaseRoot(root);
  Section s = Collect(root);
  const json& nss = s.data["nss"];
  EXPECT_EQ(nss["present"], true);
  EXPECT_EQ(nss["passwd"], (json{"files", "sss"}));
  EXPECT_EQ(nss["group"], (json{"files", "ldap"}));
  EXPECT_EQ(nss["raw"]["group"], "files [NOTFOUND=return] ldap");
  // glibc: shadow follows passwd, gshadow follows group when not configured.
  EXPECT_EQ(nss["shadow"], (json{"files", "sss"}));
  EXPECT_EQ(nss["defaulted"]["shadow"], "passwd");
  EXPECT_EQ(nss["gshadow"], (json{"files", "ldap"}));
  EXPECT_EQ(nss["lines"]["group"], 2);
  EXPECT_EQ(nss["not_enumerated"], (json{"sss", "ldap"}));
  EXPECT_TRUE(nss["initgroups"].is_null());

  TempRoot bare;
  bare.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  bare.Write("/etc/group", "root:x:0:\n");
  Section b = Collect(bare);
  EXPECT_EQ(b.data["nss"]["present"], false);
  EXPECT_EQ(b.data["nss"]["passwd"], (json{"files"}));
  EXPECT_EQ(b.data["nss"]["shadow"], (json{"files"}));
  EXPECT_EQ(b.data["nss"]["defaulted"]["passwd"], "glibc default");
  EXPECT_EQ(b.data["nss"]["not_enumerated"], json::array());
}

TEST(AccountsTest, NsswitchFollowsGlibcLineRules) {
  TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\n");
  root.Write("/etc/nsswitch.conf",
             "# comment\n"
             "passwd: files\n"
             "  passwd:compat # nis\n"  // later line wins; '#' is not a comment here (glibc 2.36)
             "shadow: files\n"
             "group: files [NOTFOUND=return\n");
  Section s = Collect(root);
  const json& nss = s.data["nss"];
  EXPECT_EQ(nss["passwd"], (json{"compat", "#", "nis"}));
  EXPECT_EQ(nss["lines"]["passwd"], 3);
  EXPECT_EQ(nss["shadow"], (json{"files"}));
  EXPECT_EQ(nss["group"], (json{"files"}));  // the broken line was skipped: glibc default
  EXPECT_TRUE(HasErrorFor(s, "/etc/nsswitch.conf", 5)) << ErrorsText(s);
}

TEST(AccountsTest, CompatLinesAreReportedNotEnumerated) {
  TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n+@admins::::::\n-baduser::::::\n+\n");
  root.Write("/etc/group", "root:x:0:\n+:::\n");
  root.Write("/etc/shadow", "root:*:1:0:99999:7:::\n+@admins::::::::\n");
  Section s = Collect(root);
  EXPECT_EQ(s.data["users"].size(), 1u);
  EXPECT_EQ(s.data["compat_lines"], (json{{{"id", "compat:/etc/passwd:2"},
                                           {"file", "/etc/passwd"},
                                           {"line", 2},
                                           {"kind", "include_netgroup"}},
                                          {{"id", "compat:/etc/passwd:3"},
                                           {"file", "/etc/passwd"},
                                           {"line", 3},
                                           {"kind", "exclude_name"}},
                                          {{"id", "compat:/etc/passwd:4"},
                                           {"file", "/etc/passwd"},
                                           {"line", 4},
                                           {"kind", "include_all"}},
                                          {{"id", "compat:/etc/group:2"},
                                           {"file", "/etc/group"},
                                           {"line", 2},
                                           {"kind", "include_all"}},
                                          {{"id", "compat:/etc/shadow:2"},
                                           {"file", "/etc/shadow"},
                                           {"line", 2},
                                           {"kind", "include_netgroup"}}}));
  EXPECT_EQ(s.status, SectionStatus::kOk) << ErrorsText(s);
}

TEST(AccountsTest, PasswdLineRulesOfGlibc) {
  // getent -s files passwd over exactly this file prints "spaced" and "root" only (checked on
  // Debian 12 with the file bind-mounted over /etc/passwd in a private mount namespace).
  TempRoot root;
  root.Write("/etc/passwd",
             "# comment:x:5:5::/:/bin/sh\n  spaced:x:7:7:sp:/h:/bin/sh\n\t\n"
             "root:x:0:0::/root:/bin/sh\n");
  root.Write("/etc/group", "# c:x:1:\n root:x:0:\n");
  Section s = Collect(root);
  ASSERT_EQ(s.data["users"].size(), 2u);
  EXPECT_EQ(s.data["users"][0]["name"], "spaced");
  EXPECT_EQ(s.data["users"][0]["source"]["line"], 2);
  EXPECT_EQ(s.data["users"][1]["name"], "root");
  ASSERT_EQ(s.data["groups"].size(), 1u);
  EXPECT_EQ(s.data["groups"][0]["name"], "root");
  EXPECT_EQ(s.status, SectionStatus::kOk) << ErrorsText(s);
}

// --- bad input ------------------------------------------------------------------------------

enum class Bad { kDirectory, kFifo, kChmod000Directory, kChmod000, kGarbage, kNul, kHugeLine };

bool AmRoot() { return ::geteuid() == 0; }

// Whether the file cannot be read at all (as opposed to read but unusable).
bool Unreadable(Bad how) {
  return how == Bad::kDirectory || how == Bad::kFifo || how == Bad::kChmod000Directory ||
         (how == Bad::kChmod000 && !AmRoot());
}

// Whether an error naming the file is expected. A mode-000 file is still read by root
// (CAP_DAC_OVERRIDE), and then it is fine.
bool ErrorExpected(Bad how) { return how != Bad::kChmod000 || !AmRoot(); }

std::string GoodContent(const std::string& path);

// Puts bad content at `path` (in-root) in the way `how` says.
void MakeBad(TempRoot& root, const std::string& path, Bad how) {
  switch (how) {
    case Bad::kDirectory:
      root.Mkdir(path);
      break;
    case Bad::kFifo:
      root.Fifo(path);
      break;
    case Bad::kChmod000Directory:
      // chmod 000 alone does not stop root; a 000 directory in its place fails for everyone.
      root.Mkdir(path, 0);
      break;
    case Bad::kChmod000:
      root.Write(path, GoodContent(path), 0);
      break;
    case Bad::kGarbage: {
      std::string garbage;
      uint32_t x = 12345;
      for (int i = 0; i < 200000; ++i) {
        x = x * 1103515245u + 12345u;
        garbage += static_cast<char>((x >> 16) & 0xff);
      }
      root.Write(path, garbage);
      break;
    }
    case Bad::kNul:
      root.Write(path, std::string("root\0:x:0:0::/:/bin/sh\n", 23));
      break;
    case Bad::kHugeLine:
      root.Write(path, std::string(10 << 20, 'a') + "\n");
      break;
  }
}

const std::map<std::string, std::string>& GoodFiles() {
  static const std::map<std::string, std::string> files = {
      {"/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/a:/bin/sh\n"},
      {"/etc/group", "root:x:0:\nalice:x:1000:\nsudo:x:27:alice\n"},
      {"/etc/shadow", "root:*:1:0:99999:7:::\nalice:$y$j9T$s$h:1:0:99999:7:::\n"},
      {"/etc/gshadow", "root:*::\nalice:!::\nsudo:!::alice\n"},
      {"/etc/shells", "/bin/sh\n/bin/bash\n"},
      {"/etc/nsswitch.conf", "passwd: files\ngroup: files\n"},
  };
  return files;
}

std::string GoodContent(const std::string& path) { return GoodFiles().at(path); }

void WriteGoodAccounts(TempRoot& root) {
  for (const auto& [path, content] : GoodFiles()) {
    root.Write(path, content, path == "/etc/shadow" || path == "/etc/gshadow" ? 0640 : 0644);
  }
}

class AccountsBadInputTest : public ::testing::TestWithParam<Bad> {};

TEST_P(AccountsBadInputTest, UnreadableShadowIsUnknownNeverEmpty) {
  TempRoot root;
  WriteGoodAccounts(root);
  ::unlink(root.Host("/etc/shadow").c_str());
  MakeBad(root, "/etc/shadow", GetParam());
  Section s = Collect(root);
  if (!ErrorExpected(GetParam())) {
    // Root reads a mode-000 shadow: it is used, not reported.
    EXPECT_FALSE(HasErrorFor(s, "/etc/shadow")) << ErrorsText(s);
    EXPECT_EQ(UserNamed(s, "alice")["password"]["scheme"], "yescrypt");
    return;
  }
  EXPECT_TRUE(HasErrorFor(s, "/etc/shadow")) << ErrorsText(s);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_EQ(s.data["users"].size(), 2u);  // the rest is still there
  bool unreadable = Unreadable(GetParam());
  for (const auto& u : s.data["users"]) {
    EXPECT_NE(u["password"]["status"], "empty");
    if (unreadable) {
      EXPECT_EQ(u["password"]["status"], "unknown");
    }
  }
  if (unreadable) {
    EXPECT_EQ(s.data["shadow"]["readable"], false);
    EXPECT_TRUE(s.data["shadow"]["entries"].is_null());
    EXPECT_TRUE(s.data["empty_passwords"].is_null());
  } else {
    // Readable but unusable: every line is an error; no user may look password-less.
    EXPECT_EQ(s.data["empty_passwords"], json::array());
  }
  EXPECT_EQ(GroupNamed(s, "sudo")["gshadow"]["status"], "present");
}

TEST_P(AccountsBadInputTest, EachInputFileYieldsAnErrorNamingIt) {
  for (const std::string path :
       {"/etc/passwd", "/etc/group", "/etc/gshadow", "/etc/shells", "/etc/nsswitch.conf"}) {
    SCOPED_TRACE(path);
    TempRoot root;
    WriteGoodAccounts(root);
    ::unlink(root.Host(path).c_str());
    MakeBad(root, path, GetParam());
    Section s = Collect(root);
    if (!ErrorExpected(GetParam())) {
      // Root reads a mode-000 file: it must be used, not reported.
      EXPECT_FALSE(HasErrorFor(s, path)) << ErrorsText(s);
      EXPECT_EQ(s.status, SectionStatus::kOk) << ErrorsText(s);
      continue;
    }
    EXPECT_TRUE(HasErrorFor(s, path)) << ErrorsText(s);
    EXPECT_NE(s.status, SectionStatus::kOk);
    // Bounded: garbage does not turn into one error per line.
    EXPECT_LE(s.errors.size(), 60u);
    // The other files are still used.
    if (path != "/etc/passwd") {
      EXPECT_EQ(UserNamed(s, "alice")["password"]["scheme"], "yescrypt");
    }
    if (path != "/etc/group") {
      EXPECT_EQ(GroupNamed(s, "sudo")["members"], (json{"alice"}));
    }
    bool unreadable = Unreadable(GetParam());
    if (path == "/etc/passwd" && unreadable) {
      EXPECT_EQ(s.status, SectionStatus::kError);
      EXPECT_TRUE(s.data["uid0"].is_null());
      EXPECT_TRUE(s.data["privileged_members"].is_null());
    }
    if (path == "/etc/group" && unreadable) {
      EXPECT_FALSE(UserNamed(s, "alice").contains("groups"));  // null: omitted
      EXPECT_TRUE(s.data["missing_primary_groups"].is_null());
      EXPECT_TRUE(s.data["privileged_members"].is_null());
      EXPECT_TRUE(s.data["duplicates"]["gids"].is_null());
    }
    if (path == "/etc/gshadow" && unreadable) {
      EXPECT_EQ(GroupNamed(s, "sudo")["gshadow"]["status"], "unknown");
      EXPECT_TRUE(s.data["gshadow"]["entries"].is_null());
    }
    if (path == "/etc/shells" && unreadable) {
      EXPECT_FALSE(UserNamed(s, "alice").contains("shell_listed"));  // null: omitted
      EXPECT_TRUE(s.data["shells"]["entries"].is_null());
    }
    if (path == "/etc/nsswitch.conf" && unreadable) {
      EXPECT_EQ(s.data["nss"]["readable"], false);
      EXPECT_TRUE(s.data["nss"]["passwd"].is_null());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, AccountsBadInputTest,
                         ::testing::Values(Bad::kDirectory, Bad::kFifo, Bad::kChmod000Directory,
                                           Bad::kChmod000, Bad::kGarbage, Bad::kNul,
                                           Bad::kHugeLine));

TEST(AccountsTest, ErrorsAreCappedPerFile) {
  TempRoot root;
  WriteGoodAccounts(root);
  std::string many;
  for (int i = 0; i < 500; ++i) many += "broken line " + std::to_string(i) + "\n";
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/bash\n" + many);
  Section s = Collect(root);
  EXPECT_EQ(s.data["users"].size(), 1u);
  ASSERT_EQ(s.errors.size(), 51u);
  EXPECT_EQ(s.errors.back().message, "450 more errors in this file are not listed");
}

// --- command line ---------------------------------------------------------------------------

TEST(AccountsCliTest, PrivilegedGroupsOption) {
  TempRoot root;
  WriteGoodAccounts(root);
  std::ostringstream out, err;
  int code = RunAgentCli({"collect", "--root", root.path(), "--host-id", "fixture", "--only",
                          "accounts", "--privileged-groups", "alice,sudo"},
                         out, err);
  ASSERT_EQ(code, 0) << err.str();
  json snap = json::parse(out.str());
  EXPECT_EQ(snap["accounts"]["privileged_groups"], (json{"alice", "sudo"}));
  EXPECT_EQ(snap["accounts"]["privileged_members"].size(), 2u);

  std::ostringstream out2, err2;
  ASSERT_EQ(RunAgentCli(
                {"collect", "--root", root.path(), "--host-id", "fixture", "--privileged-groups="},
                out2, err2),
            0);
  EXPECT_EQ(json::parse(out2.str())["accounts"]["privileged_members"], json::array());

  std::ostringstream out3, err3;
  EXPECT_EQ(
      RunAgentCli({"audit", "--root", root.path(), "--privileged-groups", "a,,b"}, out3, err3),
      kExitUsage);
  EXPECT_NE(err3.str().find("empty group name"), std::string::npos);

  std::ostringstream help, herr;
  RunAgentCli({"--help"}, help, herr);
  EXPECT_NE(help.str().find("--privileged-groups LIST"), std::string::npos);
  EXPECT_NE(help.str().find("systemd-journal"), std::string::npos);
}

TEST(AccountsCliTest, SummaryShowsAccounts) {
  TempRoot root;
  WriteBaseRoot(root);
  root.Write("/etc/hostname", "fixture-host\n");
  TempRoot out_dir;
  std::ostringstream out, err;
  ASSERT_EQ(RunAgentCli({"audit", "--root", root.path(), "--only", "accounts", "--output",
                         out_dir.Host("a.json")},
                        out, err),
            0)
      << err.str();
  std::string text = out.str();
  EXPECT_NE(text.find("alice (uid 1000) /bin/bash  password: hashed yescrypt"), std::string::npos)
      << text;
  EXPECT_NE(text.find("UID 0 accounts: root,toor"), std::string::npos) << text;
  EXPECT_NE(text.find("sudo: dave (primary)"), std::string::npos) << text;
}

}  // namespace
}  // namespace tidemark::agent
