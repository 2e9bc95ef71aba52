// The ssh_keys collector on fixture roots: users, files, keys, states, errors, expansion.
#include "agent/sections/ssh_keys.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

std::string FixtureKey(std::string_view type) {
  std::istringstream in(
      testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/ssh_keys/authorized_keys"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(std::string(type) + " ", 0) == 0)
      return line.substr(0, line.find(' ', type.size() + 1));
  }
  ADD_FAILURE() << "no " << type << " key in the fixture";
  return "";
}

class SshKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    as_root_ = ::geteuid() == 0;
    uid_ = as_root_ ? 1000 : static_cast<uint32_t>(::geteuid());
    gid_ = as_root_ ? 1000 : static_cast<uint32_t>(::getegid());
    std::string u = std::to_string(uid_), g = std::to_string(gid_);
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\n"
                "alice:x:" +
                    u + ":" + g +
                    "::/home/alice:/bin/bash\n"
                    "bob:x:" +
                    std::to_string(uid_ + 1) + ":" + g +
                    "::/home/bob:/bin/sh\n"
                    "ghost:x:4000:4000::/home/ghost:/bin/sh\n");
    root_.Write("/etc/group", "root:x:0:\nstaff:x:" + g + ":\n");
    root_.Mkdir("/root", 0700);
    MakeHome("/home/alice", uid_);
    MakeHome("/home/bob", uid_ + 1);
    root_.Chmod("/home/bob/.ssh", 0711);  // searchable by bob even when not chowned to him
  }
  void MakeHome(const std::string& home, uint32_t uid) {
    root_.Mkdir(home + "/.ssh", 0700);
    root_.Chmod(home, 0755);
    if (as_root_) {
      ASSERT_TRUE(root_.Chown(home, uid, gid_));
      ASSERT_TRUE(root_.Chown(home + "/.ssh", uid, gid_));
    }
  }
  void WriteKeys(const std::string& path, std::string_view content, uint32_t uid,
                 unsigned mode = 0600) {
    root_.Write(path, content, mode);
    if (as_root_) {
      ASSERT_TRUE(root_.Chown(path, uid, gid_));
    }
  }
  Section Collect(SshKeysReader collector = SshKeysReader()) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    CollectContext ctx(**fs, "fixture");
    Section s;
    collector.Collect(ctx, s);
    s.Finish();
    s.Materialize();  // tests read the item arrays as json
    return s;
  }
  static const json& User(const Section& s, const std::string& name) {
    for (const auto& u : s.data["users"]) {
      if (u["user"] == name) return u;
    }
    static const json kNone;
    ADD_FAILURE() << "no user " << name;
    return kNone;
  }

  bool as_root_ = false;
  uint32_t uid_ = 0, gid_ = 0;
  testing::TempRoot root_;
};

TEST_F(SshKeysTest, KeysUsersAndFiles) {
  std::string ed = FixtureKey("ssh-ed25519"), rsa = FixtureKey("ssh-rsa");
  WriteKeys("/home/alice/.ssh/authorized_keys",
            "# alice's keys\n\n" + ed + " alice@laptop\nrestrict,command=\"uptime\" " + rsa +
                " monitor\n",
            uid_);
  WriteKeys("/home/alice/.ssh/authorized_keys2", ed + " again\n", uid_, 0640);
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kOk) << (s.errors.empty() ? "" : s.errors[0].message);
  ASSERT_EQ(s.data["keys"].size(), 3u);
  const json& k0 = s.data["keys"][0];
  EXPECT_EQ(k0["user"], "alice");
  EXPECT_EQ(k0["file"], "/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(k0["line"], 3);
  EXPECT_EQ(k0["type"], "ssh-ed25519");
  EXPECT_EQ(k0["bits"], 256);
  EXPECT_EQ(k0["comment"], "alice@laptop");
  EXPECT_EQ(k0["source"], json({{"file", "/home/alice/.ssh/authorized_keys"}, {"line", 3}}));
  EXPECT_EQ(k0["id"], "ssh_key:alice:" + k0["fingerprint"].get<std::string>() +
                          ":/home/alice/.ssh/authorized_keys");
  const json& k1 = s.data["keys"][1];
  EXPECT_EQ(k1["options"], json({{"restrict", true}, {"command", "uptime"}}));
  EXPECT_EQ(k1["type"], "ssh-rsa");
  // The same key in the second file has its own id.
  const json& k2 = s.data["keys"][2];
  EXPECT_EQ(k2["fingerprint"], k0["fingerprint"]);
  EXPECT_NE(k2["id"], k0["id"]);

  const json& alice = User(s, "alice");
  EXPECT_EQ(alice.value("home_state", std::string("present")), "present");
  EXPECT_EQ(alice.value("incomplete", false), false);
  EXPECT_EQ(alice["uid"], uid_);
  EXPECT_EQ(alice["source"], json({{"line", 2}}));  // the default file: /etc/passwd
  EXPECT_FALSE(alice.contains("home_state"));       // compact: "present" is the default
  EXPECT_FALSE(alice["files"][0].contains("source"));
  ASSERT_EQ(alice["files"].size(), 2u);
  const json& f0 = alice["files"][0];
  EXPECT_EQ(f0["state"], "present");
  EXPECT_EQ(f0["mode"], "0600");
  EXPECT_EQ(f0["uid"], uid_);
  EXPECT_EQ(f0.value("key_count", json()), 2);
  EXPECT_EQ(f0["strict_modes"]["ok"], true);
  EXPECT_EQ(f0.value("flags", json::array()), json::array());
  EXPECT_EQ(alice["files"][1]["mode"], "0640");
  if (as_root_) {
    EXPECT_EQ(f0["owner"], "alice");
    EXPECT_EQ(f0["group"], "staff");
  }
  // bob: both files absent, not an error; ghost: no home at all.
  const json& bob = User(s, "bob");
  EXPECT_EQ(bob["files"][0]["state"], "absent");
  EXPECT_EQ(bob["files"][0].value("key_count", json()), nullptr);
  EXPECT_EQ(bob["files"][1]["id"], "ssh_key_file:bob:/home/bob/.ssh/authorized_keys2");
  EXPECT_FALSE(bob["files"][1].contains("path"));  // in the id
  const json& ghost = User(s, "ghost");
  EXPECT_EQ(ghost.value("home_state", std::string("present")), "absent");
  EXPECT_EQ(ghost["files"][0]["state"], "absent");
  EXPECT_EQ(ghost.value("incomplete", false), false);
}

TEST_F(SshKeysTest, SymlinkToShadowIsNotRead) {
  const std::string kShadow = "root:$y$j9T$PRIVATEHASHMATERIAL$:19000:0:99999:7:::\n";
  root_.Write("/etc/shadow", kShadow, as_root_ ? 0640 : 0000);
  root_.Symlink("/home/alice/.ssh/authorized_keys", "/etc/shadow");
  Section s = Collect();
  std::string dump = EncodeSection(s).dump();
  EXPECT_EQ(dump.find("PRIVATEHASHMATERIAL"), std::string::npos);
  const json& f = User(s, "alice")["files"][0];
  EXPECT_EQ(f["state"], "unreadable_by_owner");
  EXPECT_EQ(f["resolved_path"], "/etc/shadow");
  EXPECT_EQ(f.value("via_symlink", false), true);
  EXPECT_EQ(f.value("key_count", json()), nullptr);
  EXPECT_EQ(s.status, SectionStatus::kOk);  // sshd could not read it either: a fact, not an error
}

TEST_F(SshKeysTest, PrivateKeyPastedIntoAuthorizedKeys) {
  const std::string kBody = "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0PRIVATEBYTES0xyz";
  WriteKeys("/home/alice/.ssh/authorized_keys",
            FixtureKey("ssh-ed25519") + " ok\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + kBody +
                "\n-----END OPENSSH PRIVATE KEY-----\n",
            uid_);
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  std::string dump = EncodeSection(s).dump();
  EXPECT_EQ(dump.find("PRIVATEBYTES"), std::string::npos);
  EXPECT_EQ(dump.find(kBody.substr(0, 24)), std::string::npos);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].path, "/home/alice/.ssh/authorized_keys");
  EXPECT_EQ(s.errors[0].line, 2);
  const json& f = User(s, "alice")["files"][0];
  EXPECT_EQ(f.value("key_count", json()), 1);
  EXPECT_TRUE(f.value("flags", json::array()).get<std::set<std::string>>().count("private_key"));
}

TEST_F(SshKeysTest, HugeLineAndNulBytesAndGarbage) {
  WriteKeys("/home/alice/.ssh/authorized_keys", std::string(10u << 20, 'A') + "\n", uid_);
  WriteKeys("/home/alice/.ssh/authorized_keys2",
            std::string("\0\x01\x02garbage\0\n", 12) + FixtureKey("ssh-ed25519") + " fine\n", uid_);
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  const json& alice = User(s, "alice");
  EXPECT_EQ(alice["files"][0]["state"], "error");
  EXPECT_EQ(alice.value("incomplete", false), true);  // sshd would read a 10 MB file; we did not
  EXPECT_EQ(alice["files"][1]["state"], "present");
  EXPECT_EQ(alice["files"][1].value("key_count", json()), 1);
  bool nul_reported = false;
  for (const auto& e : s.errors) {
    if (e.path == "/home/alice/.ssh/authorized_keys2" && e.line == 1 &&
        e.message.find("NUL") != std::string::npos) {
      nul_reported = true;
    }
    EXPECT_EQ(e.message.find("garbage"), std::string::npos);
  }
  EXPECT_TRUE(nul_reported);
}

TEST_F(SshKeysTest, FifoAndDirectoryInPlaceOfTheFile) {
  root_.Fifo("/home/alice/.ssh/authorized_keys");
  root_.Mkdir("/home/alice/.ssh/authorized_keys2");
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  const json& alice = User(s, "alice");
  EXPECT_EQ(alice["files"][0]["state"], "error");
  EXPECT_EQ(alice["files"][0]["type"], "fifo");
  EXPECT_EQ(alice["files"][1]["state"], "error");
  EXPECT_EQ(alice.value("incomplete", false), false);  // sshd refuses non-regular files too
  ASSERT_EQ(s.errors.size(), 2u);
  EXPECT_EQ(s.errors[0].path, "/home/alice/.ssh/authorized_keys");
}

TEST_F(SshKeysTest, WritableAndForeignFilesAreFlagged) {
  WriteKeys("/home/alice/.ssh/authorized_keys", FixtureKey("ssh-ed25519") + " k\n", uid_, 0620);
  root_.Chmod("/home/alice/.ssh", 0707);
  if (as_root_) {
    WriteKeys("/home/alice/.ssh/authorized_keys2", FixtureKey("ssh-ed25519") + " k\n", 3000, 0644);
  }
  Section s = Collect();
  const json& f = User(s, "alice")["files"][0];
  EXPECT_EQ(f["state"], "present");
  EXPECT_EQ(f["strict_modes"]["ok"], false);
  EXPECT_EQ(f.value("flags", json::array()), json({"dir_world_writable", "group_writable"}));
  if (as_root_) {
    const json& g = User(s, "alice")["files"][1];
    EXPECT_EQ(g.value("flags", json::array()), json({"dir_world_writable", "foreign_owner"}));
    EXPECT_EQ(g.value("owner", json()), nullptr);  // uid 3000 is in no passwd entry
  }
}

TEST_F(SshKeysTest, AuthorizedKeysCommandMakesTheUserIncomplete) {
  SshKeysReader collector([](const PasswdEntry& u) {
    AuthorizedKeysSettings s;
    s.files = {"/etc/ssh/authorized_keys/%u", "none"};
    if (u.name == "alice") s.command = "/usr/bin/sss_ssh_authorizedkeys";
    if (u.name == "bob") s.command = "none";
    return s;
  });
  root_.Write("/etc/ssh/authorized_keys/alice", FixtureKey("ssh-ed25519") + " central\n", 0644);
  Section s = Collect(std::move(collector));
  EXPECT_EQ(s.status, SectionStatus::kOk);
  const json& alice = User(s, "alice");
  EXPECT_EQ(alice.value("incomplete", false), true);
  EXPECT_NE(alice["incomplete_reason"].get<std::string>().find("AuthorizedKeysCommand"),
            std::string::npos);
  ASSERT_EQ(alice["files"].size(), 1u);
  EXPECT_EQ(alice["files"][0]["id"], "ssh_key_file:alice:/etc/ssh/authorized_keys/alice");
  EXPECT_EQ(alice["files"][0].value("key_count", json()), 1);
  EXPECT_EQ(User(s, "bob").value("incomplete", false), false);
}

TEST_F(SshKeysTest, UnreadablePasswdIsASectionError) {
  ::unlink(root_.Host("/etc/passwd").c_str());
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kError);
  EXPECT_EQ(s.data["users"], json::array());
}

// A user may write thousands of keys into their own file: at most 1,000 per user are listed,
// with the true count, and the other users' keys are all there.
TEST_F(SshKeysTest, KeysPerUserAreCappedWithTheTrueCount) {
  std::string key = FixtureKey("ssh-ed25519");
  std::string many;
  for (int i = 0; i < 1500; ++i) many += key + " k" + std::to_string(i) + "\n";
  WriteKeys("/home/alice/.ssh/authorized_keys", many, uid_);
  WriteKeys("/home/bob/.ssh/authorized_keys", key + " bob\n", uid_ + 1);
  Section s = Collect();
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  size_t alice = 0, bob = 0;
  for (const auto& k : s.data["keys"]) {
    if (k["user"] == "alice") ++alice;
    if (k["user"] == "bob") ++bob;
  }
  EXPECT_EQ(alice, 1000u);
  EXPECT_EQ(bob, 1u);
  EXPECT_EQ(s.data["truncated"]["keys_per_user"]["total"], 1500);
  EXPECT_EQ(s.data["truncated"]["keys"]["total"], 1501);
  EXPECT_EQ(s.data["counts"]["keys"], 1501);
}

// A user name that is not UTF-8 is carried losslessly (escaped form plus user_b64).
TEST_F(SshKeysTest, UserNamesThatAreNotUtf8) {
  root_.Write("/etc/passwd", "al\xffice:x:" + std::to_string(uid_) + ":" + std::to_string(gid_) +
                                 "::/home/alice:/bin/bash\n");
  WriteKeys("/home/alice/.ssh/authorized_keys", FixtureKey("ssh-ed25519") + " c\n", uid_);
  Section s = Collect();
  ASSERT_EQ(s.data["keys"].size(), 1u);
  const json& k = s.data["keys"][0];
  EXPECT_EQ(k["user"], "al\\xffice");
  EXPECT_EQ(Base64Decode(k["user_b64"].get<std::string>()), "al\xffice");
  EXPECT_EQ(k["id"].get<std::string>().rfind("ssh_key:al\\xffice:", 0), 0u);
}

TEST(ExpandAuthorizedKeysFilesTest, TokensRelativePathsAndNone) {
  PasswdEntry u;
  u.name = "alice";
  u.uid = 1234;
  u.home = "/home/alice";
  auto files = ExpandAuthorizedKeysFiles(
      {".ssh/authorized_keys", "%h/.ssh/k_%u", "/etc/ssh/keys/%U", "/x/100%%/%u", "NONE", "rel/%u"},
      u);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(*files, (std::vector<std::string>{"/home/alice/.ssh/authorized_keys",
                                              "/home/alice/.ssh/k_alice", "/etc/ssh/keys/1234",
                                              "/x/100%/alice", "/home/alice/rel/alice"}));
  auto unknown_token = ExpandAuthorizedKeysFiles({"%d/keys"}, u);
  EXPECT_FALSE(unknown_token.ok());
  EXPECT_EQ(unknown_token.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown_token.status().message().find("unknown token %d"), std::string::npos)
      << unknown_token.status().message();
  auto lone_percent = ExpandAuthorizedKeysFiles({"keys%"}, u);
  EXPECT_FALSE(lone_percent.ok());
  EXPECT_EQ(lone_percent.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(lone_percent.status().message().find("ends in a lone '%'"), std::string::npos)
      << lone_percent.status().message();
  auto none = ExpandAuthorizedKeysFiles({"none"}, u);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // The default of sshd_config(5).
  EXPECT_EQ(AuthorizedKeysSettings{}.files,
            (std::vector<std::string>{".ssh/authorized_keys", ".ssh/authorized_keys2"}));
}

}  // namespace
}  // namespace tidemark::agent
