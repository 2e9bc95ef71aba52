// The login section on fixture roots: login.defs as shadow's getdef.c reads it, useradd
// defaults, the TMOUT/umask scan of the startup files, root's PATH entries and their flags, and
// bad input.
#include "agent/sections/login.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/support/collect_section.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using namespace std::string_literals;

json Collect(const testing::TempRoot& root) {
  return testing::CollectSectionJson<LoginReader>(root);
}

using testing::HasError;

const json* Find(const json& list, const std::string& key) {
  for (const auto& s : list) {
    if (s["key"] == key) return &s;
  }
  return nullptr;
}

TEST(ShellScan, AssignmentsAndUmask) {
  std::vector<std::string_view> names = {"TMOUT", "umask"};
  auto one = [&](std::string_view line) { return ScanShellLine(line, names); };
  auto s = one("TMOUT=900");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].statement, "assignment");
  EXPECT_EQ(s[0].value, "900");
  s = one("readonly TMOUT=\"600\"; export TMOUT");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].statement, "readonly");
  EXPECT_TRUE(s[0].readonly);
  EXPECT_EQ(s[0].value, "600");
  EXPECT_EQ(s[1].statement, "export");
  EXPECT_TRUE(s[1].exported);
  EXPECT_FALSE(s[1].value.has_value());
  s = one("declare -rx TMOUT=300");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_TRUE(s[0].readonly);
  EXPECT_TRUE(s[0].exported);
  s = one("if [ \"$(id -u)\" -eq 0 ]; then umask 027; fi");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].name, "umask");
  EXPECT_EQ(s[0].value, "027");
  EXPECT_TRUE(one("# TMOUT=1").empty());
  EXPECT_TRUE(one("echo TMOUT=5 umask 000").empty());
  EXPECT_TRUE(one("MYTMOUT=5").empty());
  s = one("umask");
  ASSERT_EQ(s.size(), 1u);
  EXPECT_FALSE(s[0].value.has_value());
  s = one("  TMOUT=60 readonly TMOUT   # comment TMOUT=1");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[1].statement, "readonly");
}

class LoginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
    root_.Write("/etc/group", "root:x:0:\n");
  }
  testing::TempRoot root_;
};

TEST_F(LoginTest, LoginDefsUseraddShellAndPath) {
  root_.Write("/etc/login.defs",
              "# comment\n"
              "MAIL_DIR        /var/mail\n"
              "PASS_MAX_DAYS\t99999\n"
              "PASS_MAX_DAYS   90   \n"
              "ENCRYPT_METHOD \"SHA512\"\n"
              "UMASK           022\n"
              "LONELY\n"
              "ENV_PATH PATH=/usr/local/bin\n"
              "ENV_SUPATH      PATH=/usr/local/sbin:/usr/sbin:/ww:/missing::relative\n");
  root_.Write("/etc/default/useradd", "# c\nSHELL=/bin/sh\nINACTIVE=30\n INACTIVE=1\n");
  root_.Write(
      "/etc/profile",
      "umask 022\nPATH=\"/usr/bin:$HOME/bin\"\nexport PATH\n"
      "if [ \"$(id -u)\" -eq 0 ]; then\n  PATH=\"/usr/sbin\"\nelse\n  PATH=\"/usr/games\"\nfi\n");
  root_.Write("/etc/profile.d/tmout.sh", "TMOUT=900\nreadonly TMOUT\nexport TMOUT\n");
  root_.Write("/etc/profile.d/ignored.txt", "TMOUT=1\n");
  root_.Write("/etc/bash.bashrc", "[ -z \"$PS1\" ] && return\n");
  root_.Write("/root/.bashrc", "export PATH=\"$PATH:/opt/tools\"\n");
  root_.Mkdir("/usr/local/sbin");
  root_.Mkdir("/usr/sbin");
  root_.Mkdir("/usr/bin");
  root_.Mkdir("/ww", 0777);
  root_.Chmod("/ww", 0777);
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "ok") << j["errors"].dump();

  const json& defs = j["login_defs"]["settings"];
  const json* max = Find(defs, "PASS_MAX_DAYS");
  ASSERT_NE(max, nullptr);
  EXPECT_EQ((*max)["value"], "90");
  EXPECT_EQ((*max)["source"], json({{"line", 4}}));  // the file is login_defs.path
  EXPECT_EQ((*max)["overridden"].size(), 1u);
  const json* encrypt = Find(defs, "ENCRYPT_METHOD");
  ASSERT_NE(encrypt, nullptr) << "no login.defs ENCRYPT_METHOD";
  EXPECT_EQ((*encrypt)["value"], "SHA512");
  EXPECT_EQ(Find(defs, "LONELY"), nullptr);
  const json* umask = Find(defs, "UMASK");
  ASSERT_NE(umask, nullptr) << "no login.defs UMASK";
  EXPECT_EQ((*umask)["id"], "login_defs:UMASK");

  const json& ua = j["useradd"]["settings"];
  const json* inactive = Find(ua, "INACTIVE");
  ASSERT_NE(inactive, nullptr) << "no useradd INACTIVE";
  EXPECT_EQ((*inactive)["value"], "30");
  const json* spaced = Find(ua, " INACTIVE");
  ASSERT_NE(spaced, nullptr) << "no useradd ' INACTIVE'";
  EXPECT_EQ((*spaced)["value"], "1");  // useradd matches from column 0

  std::vector<std::string> got;
  for (const auto& s : j["shell_settings"])
    got.push_back(s["name"].get<std::string>() + "/" + s["statement"].get<std::string>() + "@" +
                  s["source"]["file"].get<std::string>() + ":" +
                  std::to_string(s["source"]["line"].get<int>()));
  EXPECT_EQ(got, (std::vector<std::string>{"umask/umask@/etc/profile:1",
                                           "TMOUT/assignment@/etc/profile.d/tmout.sh:1",
                                           "TMOUT/readonly@/etc/profile.d/tmout.sh:2",
                                           "TMOUT/export@/etc/profile.d/tmout.sh:3"}));

  std::map<std::string, json> entries;
  for (auto e : j["root_path"]["entries"]) {
    if (::geteuid() != 0) {
      // Directories made by the test are owned by the test user, not root.
      json flags = json::array();
      for (const auto& f : e.value("flags", json::array())) {
        if (f != "not_root_owned") flags.push_back(f);
      }
      if (e.contains("uid")) {
        EXPECT_NE(flags.size(), e.value("flags", json::array()).size()) << e.dump();
      }
      e["flags"] = flags;
    }
    if (!e.contains("flags")) e["flags"] = json::array();  // compact: [] omitted
    entries[e["origin"].get<std::string>() + " " + e["directory"].get<std::string>()] = e;
  }
  EXPECT_EQ(entries["ENV_SUPATH /usr/sbin"]["flags"], json::array());
  EXPECT_EQ(entries["ENV_SUPATH /usr/sbin"]["mode"], "0755");
  EXPECT_EQ(entries["ENV_SUPATH /ww"]["flags"], json({"group_writable", "world_writable"}));
  EXPECT_EQ(entries["ENV_SUPATH /missing"]["flags"], json({"missing"}));
  EXPECT_EQ(entries["ENV_SUPATH "]["flags"], json({"empty"}));
  EXPECT_EQ(entries["ENV_SUPATH relative"]["flags"], json({"relative"}));
  EXPECT_EQ(entries["shell $HOME/bin"]["flags"], json({"variable"}));
  EXPECT_EQ(entries["shell /usr/sbin"]["applies_to_root"], true);
  EXPECT_EQ(entries["shell /usr/games"]["applies_to_root"], false);
  EXPECT_EQ(entries["ENV_SUPATH /usr/sbin"]["applies_to_root"], true);
  EXPECT_EQ(entries["ENV_PATH /usr/local/bin"]["applies_to_root"], false);
  EXPECT_EQ(entries["shell /opt/tools"]["flags"], json({"missing"}));
  EXPECT_EQ(entries["shell /opt/tools"]["source"], json({{"file", "/root/.bashrc"}, {"line", 1}}));
}

TEST_F(LoginTest, MissingFilesAreAbsent) {
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["login_defs"]["state"], "absent");
  EXPECT_TRUE(j["login_defs"]["settings"].is_null());
  EXPECT_EQ(j["useradd"]["state"], "absent");
  EXPECT_EQ(j["profile_d"]["state"], "absent");
}

TEST_F(LoginTest, BadInputIsNamedAndTheRestIsRead) {
  root_.Mkdir("/etc/login.defs");
  root_.Fifo("/etc/default/useradd");
  root_.Write("/etc/profile",
              "TMOUT=1\0x\n"s + "umask 077\n" + std::string(2 << 20, 'x') + "\nTMOUT=600\n");
  root_.Write("/etc/profile.d/huge.sh", std::string(10 << 20, 'y'));
  root_.Write("/etc/profile.d/bin.sh",
              "\x7f"
              "ELF\x01\x02\n\xff\xfe TMOUT=3\n"s);
  root_.Symlink("/etc/bash.bashrc", "bash.bashrc");
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "partial");
  EXPECT_EQ(j["login_defs"]["state"], "error");
  EXPECT_TRUE(j["login_defs"]["settings"].is_null());
  EXPECT_TRUE(HasError(j, "/etc/login.defs"));
  EXPECT_TRUE(HasError(j, "/etc/default/useradd"));
  EXPECT_TRUE(HasError(j, "/etc/profile", 1));
  EXPECT_TRUE(HasError(j, "/etc/profile", 3));
  EXPECT_TRUE(HasError(j, "/etc/profile.d/huge.sh"));
  EXPECT_TRUE(HasError(j, "/etc/bash.bashrc"));
  std::vector<std::string> values;
  for (const auto& s : j["shell_settings"]) values.push_back(s["value"]);
  EXPECT_EQ(values, (std::vector<std::string>{"077", "600"}));
  for (const auto& e : j["errors"]) {
    EXPECT_EQ(e["message"].get<std::string>().find("xxxxxxxx"), std::string::npos);
  }
}

}  // namespace
}  // namespace tidemark::agent
