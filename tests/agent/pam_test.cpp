// The pam section on fixture roots: the stock Debian 12 stack, pam.d(5) syntax, include and
// substack expansion with chains, include loops and missing includes as named errors, bad input
// (binary, NUL, 10 MB lines, directories, FIFOs, symlink loops), pwquality and faillock files.
#include "agent/sections/pam.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <optional>
#include <set>

#include "agent/parsers/pam.h"
#include "agent/parsers/pam_module_conf.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

class PamTest : public ::testing::Test {
 protected:
  json Run(Section* out = nullptr) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    CollectContext ctx(**fs, "h");
    PamReader c;
    Section s;
    c.Collect(ctx, s);
    s.Finish();
    s.Materialize();
    if (out) *out = s;
    return s.data;
  }
  void Debian() {
    for (const char* f :
         {"common-auth", "common-account", "common-password", "common-session",
          "common-session-noninteractive", "login", "su", "sudo", "passwd", "other", "chsh"}) {
      root_.Write(std::string("/etc/pam.d/") + f,
                  testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/pam/debian12/" + f));
    }
  }
  static std::vector<json> Of(const json& d, const std::string& service,
                              const std::string& type = "") {
    std::vector<json> out;
    for (const auto& e : d["entries"]) {
      if (e["service"] != service) continue;
      json full = Full(d, e);  // an included line's type is in `lines`
      if (type.empty() || (full.contains("type") && full["type"].get<std::string>() == type)) {
        out.push_back(full);
      }
    }
    return out;
  }
  // An entry with the content of its line: an entry reached through an include (with `chain`,
  // without `error`) finds it in `lines` as "pam_line:FILE:LINE", FILE being the chain's file.
  static json Full(const json& d, const json& e) {
    if (!e.contains("chain") || e.contains("error")) return e;
    std::string id =
        "pam_line:" + File(d, e) + ":" + std::to_string(e["source"]["line"].get<int>());
    for (const auto& l : d["lines"]) {
      if (l["id"] != id) continue;
      json full = e;
      for (const auto& [k, v] : l.items()) {
        if (k != "id" && k != "source") full[k] = v;
      }
      return full;
    }
    ADD_FAILURE() << "no line " << id;
    return e;
  }
  // The chain item an entry refers to (null when the entry is in its service's own file).
  static const json* Chain(const json& d, const json& e) {
    if (!e.contains("chain")) return nullptr;
    std::string id =
        "pam_chain:" + e["service"].get<std::string>() + ":" + e["chain"].get<std::string>();
    for (const auto& c : d["chains"]) {
      if (c["id"] == id) return &c;
    }
    ADD_FAILURE() << "no chain " << id;
    return nullptr;
  }
  // The file an entry was written in: its chain's file, else its service's file.
  static std::string File(const json& d, const json& e) {
    if (const json* c = Chain(d, e)) return (*c)["file"];
    for (const auto& svc : d["services"]) {
      if (svc["name"] == e["service"]) return svc["source"]["file"];
    }
    return "";
  }
  static json Via(const json& d, const json& e) {
    const json* c = Chain(d, e);
    return c ? (*c)["via"] : json::array();
  }
  static int Depth(const json& d, const json& e) {
    const json* c = Chain(d, e);
    if (c == nullptr) return 0;
    auto it = c->find("substack_depth");
    return it == c->end() ? 0 : it->get<int>();
  }
  static bool HasError(const Section& s, const std::string& path, int64_t line,
                       const std::string& part) {
    for (const auto& e : s.errors) {
      if (e.path == path && e.line == line && e.message.find(part) != std::string::npos) {
        return true;
      }
    }
    return false;
  }
  testing::TempRoot root_;
};

TEST_F(PamTest, StockDebianStack) {
  Debian();
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kOk) << (s.errors.empty() ? "" : s.errors[0].message);
  // login: "@include common-auth" brings common-auth's auth lines with the chain.
  auto auth = Of(d, "login", "auth");
  const json* unix_auth = nullptr;
  for (const auto& e : auth) {
    if (e["module"] == "pam_unix.so") unix_auth = &e;
  }
  ASSERT_NE(unix_auth, nullptr);
  EXPECT_EQ((*unix_auth)["control"], "[success=1 default=ignore]");
  EXPECT_EQ((*unix_auth)["actions"]["success"], "1");
  EXPECT_EQ((*unix_auth)["actions"]["default"], "ignore");
  EXPECT_EQ((*unix_auth)["flags"]["nullok"], true);
  EXPECT_EQ(File(d, *unix_auth), "/etc/pam.d/common-auth");
  json via = Via(d, *unix_auth);
  ASSERT_EQ(via.size(), 1u);
  EXPECT_EQ(via[0]["file"], "/etc/pam.d/login");
  EXPECT_EQ(via[0]["directive"], "@include");
  EXPECT_EQ((*unix_auth)["source"], json({{"line", 17}}));
  EXPECT_EQ((*unix_auth)["id"], "pam:login:auth:pam_unix.so#1");
  // su: pam_rootok first, then common-auth.
  auto su = Of(d, "su", "auth");
  ASSERT_GE(su.size(), 2u);
  EXPECT_EQ(su[0]["module"], "pam_rootok.so");
  EXPECT_EQ(su[0]["control"], "sufficient");
  // common-password: yescrypt and obscure on pam_unix.
  auto pw = Of(d, "common-password", "password");
  ASSERT_FALSE(pw.empty());
  EXPECT_EQ(pw[0]["flags"]["yescrypt"], true);
  EXPECT_EQ(pw[0]["flags"]["obscure"], true);
  // Ids are unique; every entry has a source.
  std::set<std::string> ids;
  for (const auto& e : d["entries"]) {
    EXPECT_TRUE(ids.insert(e["id"]).second) << e["id"];
    EXPECT_TRUE(e["source"]["line"].is_number());
    EXPECT_FALSE(e.contains("error")) << e["id"];
  }
  EXPECT_EQ(d["services"].size(), 11u);
  // Compact entries: defaults omitted, each include chain written once per service.
  EXPECT_EQ(su[0], json({{"id", "pam:su:auth:pam_rootok.so#1"},
                         {"service", "su"},
                         {"type", "auth"},
                         {"control", "sufficient"},
                         {"module", "pam_rootok.so"},
                         {"source", {{"line", 6}}}}));
  // An included line's content is written once, whichever services include it.
  size_t unix_lines = 0;
  for (const auto& l : d["lines"]) {
    if (l["id"] == "pam_line:/etc/pam.d/common-auth:17") {
      ++unix_lines;
      EXPECT_EQ(l["module"], "pam_unix.so");
      EXPECT_EQ(l["source"], json({{"file", "/etc/pam.d/common-auth"}, {"line", 17}}));
    }
  }
  EXPECT_EQ(unix_lines, 1u);
  EXPECT_GE(Of(d, "su", "auth").size(), 2u);
  EXPECT_FALSE(d["entries"][0].contains("chain") && d["entries"][0].contains("module"));
  std::set<std::string> chain_ids;
  for (const auto& c : d["chains"]) EXPECT_TRUE(chain_ids.insert(c["id"]).second) << c["id"];
  EXPECT_EQ(d["config"], json({"/etc/pam.d"}));
  EXPECT_EQ(d["other"], json({{"service", "other"}, {"state", "present"}}));
  EXPECT_EQ(d["pam_conf"]["state"], "absent");
}

TEST(PamParse, Syntax) {
  std::vector<SectionError> errors;
  auto lines = pam::ParseFile(
      "# comment\n"
      "AUTH [success=2 default=ignore] pam_a.so x [a b\\]c] y # trailing\n"
      "-session optional \\\n   pam_b.so arg\n"
      "account required /lib/security/pam_c.so\n"
      "bogus required pam_d.so\n"
      "auth frobnicate pam_e.so\n"
      "auth required\n"
      "auth [success=ok nonsense=1] pam_f.so\n",
      "/f", errors);
  ASSERT_EQ(lines.size(), 7u);
  EXPECT_EQ(lines[0].type, "auth");
  EXPECT_EQ(lines[0].line, 2);
  EXPECT_EQ(lines[0].control, "[success=2 default=ignore]");
  EXPECT_EQ(lines[0].arguments, (std::vector<std::string>{"x", "a b]c", "y"}));
  EXPECT_TRUE(lines[1].silent);
  EXPECT_EQ(lines[1].type, "session");
  EXPECT_EQ(lines[1].module, "pam_b.so");
  EXPECT_EQ(lines[1].line, 3);
  EXPECT_EQ(lines[2].module, "/lib/security/pam_c.so");
  EXPECT_EQ(lines[3].error, "illegal module type");
  EXPECT_EQ(lines[4].error, "unknown control flag");
  EXPECT_EQ(lines[5].error, "no module name supplied");
  EXPECT_FALSE(lines[6].error.empty());
  auto flags = pam::SecurityFlags({"nullok", "remember=5", "rounds=65536", "foo", "sha512"});
  EXPECT_EQ(flags.size(), 4u);
  EXPECT_EQ(flags["remember"], "5");
}

TEST_F(PamTest, IncludeTypesSubstackLoopsAndMissing) {
  root_.Write("/etc/pam.d/base",
              "auth required pam_base_auth.so\naccount required pam_base_acct.so\n");
  root_.Write("/etc/pam.d/svc",
              "auth include base\n"          // only auth lines
              "account substack base\n"      // only account lines, one level down
              "auth include missing-file\n"  // missing: named error
              "@include loop-a\n"
              "session required pam_s.so\n");
  root_.Write("/etc/pam.d/loop-a", "@include loop-b\n");
  root_.Write("/etc/pam.d/loop-b", "session include loop-a\n");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  auto e = Of(d, "svc");
  std::vector<std::string> modules;
  for (const auto& x : e) modules.push_back(x["module"]);
  EXPECT_EQ(modules, (std::vector<std::string>{"pam_base_auth.so", "pam_base_acct.so",
                                               "missing-file", "loop-a", "pam_s.so"}));
  EXPECT_EQ(Depth(d, e[0]), 0);
  EXPECT_EQ(Depth(d, e[1]), 1);
  EXPECT_EQ(Via(d, e[1])[0]["directive"], "substack");
  EXPECT_TRUE(e[2].contains("error"));
  EXPECT_TRUE(HasError(s, "/etc/pam.d/svc", 3, "does not exist"));
  EXPECT_TRUE(e[3].contains("error"));
  EXPECT_EQ(File(d, e[3]), "/etc/pam.d/loop-b");
  EXPECT_EQ(e[3]["chain"], "4.1");  // svc line 4 -> loop-a line 1 -> loop-b
  EXPECT_TRUE(HasError(s, "/etc/pam.d/loop-b", 1, "include loop"));
}

TEST_F(PamTest, DeepIncludeChainStopsAtSixteenLevels) {
  for (int i = 0; i < 20; ++i) {
    root_.Write("/etc/pam.d/c" + std::to_string(i), "@include c" + std::to_string(i + 1) + "\n");
  }
  root_.Write("/etc/pam.d/c20", "auth required pam_deep.so\n");
  Section s;
  json d = Run(&s);
  EXPECT_TRUE(HasError(s, "/etc/pam.d/c15", 1, "levels of includes"));
  EXPECT_TRUE(Of(d, "c0").back().contains("error"));
  EXPECT_EQ(Of(d, "c10").back()["module"], "pam_deep.so");  // 10 levels: fine
}

TEST_F(PamTest, BadInputIsNamedAndTheRestIsProduced) {
  root_.Write("/etc/pam.d/good", "auth required pam_good.so\n");
  root_.Write("/etc/pam.d/binary", std::string("\x7f"
                                               "ELF\0\0\x01\x02\nauth required pam_x.so\n",
                                               31));
  root_.Write("/etc/pam.d/huge", "auth required pam_h.so " + std::string(10 << 20, 'a') + "\n");
  root_.Mkdir("/etc/pam.d/adir");
  root_.Fifo("/etc/pam.d/fifo");
  root_.Symlink("/etc/pam.d/selfloop", "/etc/pam.d/selfloop");
  root_.Write("/etc/pam.d/inc-dir", "@include adir\n");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  EXPECT_EQ(Of(d, "good").size(), 1u);
  EXPECT_EQ(Of(d, "binary").size(), 1u);  // the NUL line skipped, the rest parsed
  EXPECT_TRUE(HasError(s, "/etc/pam.d/binary", 1, "NUL"));
  std::set<std::string> errored;
  for (const auto& svc : d["services"]) {
    if (svc["state"] == "error") errored.insert(svc["name"]);
  }
  EXPECT_TRUE(errored.count("huge"));
  EXPECT_TRUE(errored.count("adir"));
  EXPECT_TRUE(errored.count("fifo"));
  EXPECT_TRUE(errored.count("selfloop"));
  EXPECT_TRUE(Of(d, "inc-dir")[0].contains("error"));
  for (const auto& e : s.errors) EXPECT_EQ(e.message.find("aaaa"), std::string::npos);
}

// The settings items of `d` by id.
std::map<std::string, json> Settings(const json& d) {
  std::map<std::string, json> out;
  for (const auto& s : d["module_settings"]) out[s["id"]] = s;
  return out;
}

std::map<std::string, json> ModuleFiles(const json& d) {
  std::map<std::string, json> out;
  for (const auto& f : d["module_files"]) out[f["source"]["file"]] = f;
  return out;
}

TEST_F(PamTest, PwqualityDropinsFirstThenMainFile) {
  // settings.c pwquality_read_config: pwquality.conf.d/*.conf in strcmp order, then
  // pwquality.conf; the last assignment wins.
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root_.Write("/etc/security/pwquality.conf.d/10-a.conf", "minlen = 12\nenforce_for_root\n");
  root_.Write("/etc/security/pwquality.conf.d/20-b.conf", "minlen=14\n");
  root_.Write("/etc/security/pwquality.conf.d/skip.txt", "minlen=1\n");
  root_.Write("/etc/security/pwquality.conf.d/x.conf.conf", "minlen=2\n");  // first ".conf"
  root_.Write("/etc/security/pwquality.conf", "# main\nminlen = 9\ndcredit = -1\n");
  root_.Write(
      "/etc/security/faillock.conf",
      testing::ReadHostFile(std::string(TIDEMARK_FIXTURES_DIR) + "/pam/debian12/faillock.conf") +
          "deny = 4\neven_deny_root\n");
  Section sec;
  json d = Run(&sec);
  EXPECT_TRUE(sec.errors.empty());
  auto s = Settings(d);
  EXPECT_EQ(s["pam_setting:pwquality:minlen"],
            json::parse(R"({"id":"pam_setting:pwquality:minlen","module":"pwquality",
              "key":"minlen","value":"9",
              "source":{"file":"/etc/security/pwquality.conf","line":2}})"));
  EXPECT_FALSE(s["pam_setting:pwquality:enforce_for_root"].contains("value"));  // bare: null
  EXPECT_EQ(s["pam_setting:pwquality:enforce_for_root"]["source"]["file"],
            "/etc/security/pwquality.conf.d/10-a.conf");
  EXPECT_EQ(s["pam_setting:faillock:deny"]["value"], "4");
  EXPECT_TRUE(s.count("pam_setting:faillock:even_deny_root"));
  EXPECT_EQ(s.size(), 5u);  // the stock faillock.conf is all comments
  auto f = ModuleFiles(d);
  EXPECT_EQ(f.size(), 4u);  // faillock.conf, two drop-ins, pwquality.conf
  EXPECT_EQ(f["/etc/security/faillock.conf"]["state"], "present");
  EXPECT_FALSE(f.count("/etc/security/pwquality.conf.d/x.conf.conf"));
}

TEST_F(PamTest, ModuleFilesAbsentMeansDefaults) {
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  Section sec;
  json d = Run(&sec);
  EXPECT_TRUE(sec.errors.empty());
  EXPECT_TRUE(d["module_settings"].empty());
  auto f = ModuleFiles(d);
  EXPECT_EQ(f["/etc/security/faillock.conf"]["state"], "absent");
  EXPECT_EQ(f["/etc/security/pwquality.conf"]["state"], "absent");
}

TEST_F(PamTest, ModuleFileThatIsADirectoryIsAnErrorNamingIt) {
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root_.Mkdir("/etc/security/faillock.conf");
  root_.Mkdir("/etc/security/pwquality.conf.d/dir.conf");
  Section sec;
  json d = Run(&sec);
  EXPECT_EQ(sec.status, SectionStatus::kPartial);
  auto f = ModuleFiles(d);
  EXPECT_EQ(f["/etc/security/faillock.conf"]["state"], "error");
  EXPECT_EQ(f["/etc/security/pwquality.conf.d/dir.conf"]["state"], "error");
  bool named = false;
  for (const auto& e : sec.errors) named |= e.path == "/etc/security/faillock.conf";
  EXPECT_TRUE(named);
}

TEST_F(PamTest, UnreadableModuleFileIsAnErrorNotEmpty) {
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  // A mode-000 file stops everyone but root (CAP_DAC_OVERRIDE); a FIFO cannot be read as a
  // file by anyone.
  if (geteuid() == 0) {
    root_.Fifo("/etc/security/pwquality.conf");
  } else {
    root_.Write("/etc/security/pwquality.conf", "minlen = 14\n", 0000);
  }
  Section sec;
  json d = Run(&sec);
  EXPECT_EQ(ModuleFiles(d)["/etc/security/pwquality.conf"]["state"], "error");
  EXPECT_TRUE(d["module_settings"].empty());
  bool named = false;
  for (const auto& e : sec.errors) named |= e.path == "/etc/security/pwquality.conf";
  EXPECT_TRUE(named);
}

TEST_F(PamTest, PwqualityStopsAtAnUnknownKeyAndReadsNoLaterFile) {
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root_.Write("/etc/security/pwquality.conf.d/a.conf", "minlen = 14\nminlenn = 3\nmaxrepeat=3\n");
  root_.Write("/etc/security/pwquality.conf", "minlen = 20\n");
  Section sec;
  json d = Run(&sec);
  auto s = Settings(d);
  EXPECT_EQ(s["pam_setting:pwquality:minlen"]["value"], "14");
  EXPECT_FALSE(s.count("pam_setting:pwquality:maxrepeat"));
  auto f = ModuleFiles(d);
  EXPECT_EQ(f["/etc/security/pwquality.conf.d/a.conf"]["stop"]["line"], 2);
  EXPECT_EQ(f["/etc/security/pwquality.conf.d/a.conf"]["stop"]["effect"], "stopped");
  EXPECT_EQ(f["/etc/security/pwquality.conf"]["state"], "not_read");
  EXPECT_TRUE(HasError(sec, "/etc/security/pwquality.conf.d/a.conf", 2, "unknown setting"));
}

TEST_F(PamTest, FaillockRefusesAnOverlongLine) {
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root_.Write("/etc/security/faillock.conf",
              "deny = 2\n# " + std::string(2000, 'a') + "\nunlock_time = 900\n");
  Section sec;
  json d = Run(&sec);
  EXPECT_TRUE(d["module_settings"].empty());  // no setting applies: the module fails
  auto f = ModuleFiles(d)["/etc/security/faillock.conf"];
  EXPECT_EQ(f["stop"]["effect"], "rejected");
  EXPECT_EQ(f["stop"]["line"], 2);
  for (const auto& e : sec.errors) EXPECT_EQ(e.message.find("aaaa"), std::string::npos);
}

// ParseModuleConf against odd input, each case as the module's own code reads it.
std::vector<std::pair<std::string, std::optional<std::string>>> Parsed(
    const std::string& text, pam::ConfModule m = pam::ConfModule::kFaillock) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  for (const auto& s : pam::ParseModuleConf(text, m).settings) out.emplace_back(s.key, s.value);
  return out;
}

TEST(ModuleConfParser, SpacingCommentsAndFlags) {
  using V = std::vector<std::pair<std::string, std::optional<std::string>>>;
  EXPECT_EQ(Parsed("deny=3\n"), (V{{"deny", "3"}}));
  EXPECT_EQ(Parsed("\t deny \t=\t 3 \t\n"), (V{{"deny", "3"}}));
  EXPECT_EQ(Parsed("deny 3\n"), (V{{"deny", "3"}}));  // '=' is optional
  EXPECT_EQ(Parsed("deny = 3 # four\n"), (V{{"deny", "3"}}));
  EXPECT_EQ(Parsed("  # deny = 3\n\n\r\n"), V{});
  EXPECT_EQ(Parsed("even_deny_root\n"), (V{{"even_deny_root", std::nullopt}}));
  EXPECT_EQ(Parsed("even_deny_root =\n"), (V{{"even_deny_root", std::nullopt}}));
  EXPECT_EQ(Parsed("admin_group = a b\n"), (V{{"admin_group", "a b"}}));   // inner blanks kept
  EXPECT_EQ(Parsed("deny=3\ndeny=5"), (V{{"deny", "3"}, {"deny", "5"}}));  // last line, no \n
}

TEST(ModuleConfParser, FaillockIgnoresUnknownKeysAndBadNumbers) {
  auto c = pam::ParseModuleConf(
      "Deny = 1\ndeny = x\nunlock_time = 604801\nunlock_time = never\n"
      "dir = relative\ndeny = 5x\n",
      pam::ConfModule::kFaillock);
  ASSERT_EQ(c.settings.size(), 2u);
  EXPECT_EQ(c.settings[0].key, "unlock_time");
  EXPECT_EQ(c.settings[1].value, "5x");  // sscanf("%hu") reads 5
  EXPECT_EQ(c.ignored.size(), 4u);
  EXPECT_FALSE(c.stop);
}

TEST(ModuleConfParser, PwqualityKeysAreCaseInsensitiveAndIntegersStrict) {
  auto c = pam::ParseModuleConf("MinLen = 14\nminclass = 4x\nmaxrepeat = 3\n",
                                pam::ConfModule::kPwquality);
  ASSERT_EQ(c.settings.size(), 1u);
  EXPECT_EQ(c.settings[0].key, "minlen");
  ASSERT_TRUE(c.stop);
  EXPECT_EQ(c.stop->line, 2);
  EXPECT_FALSE(pam::ParseModuleConf("minlen =\n", pam::ConfModule::kPwquality).settings.size());
  EXPECT_EQ(
      pam::ParseModuleConf("enforce_for_root = 0\n", pam::ConfModule::kPwquality).settings.size(),
      1u);  // PWQ_TYPE_SET: any value sets it
}

TEST(ModuleConfParser, LineLengthAndNulBytes) {
  std::string ok(pam::kMaxModuleConfLine - 8, ' ');
  EXPECT_EQ(Parsed(ok + "deny = 4\n").size(), 1u);  // 1022 characters and the newline
  auto c = pam::ParseModuleConf(ok + " deny = 4\n", pam::ConfModule::kFaillock);
  ASSERT_TRUE(c.stop);  // 1023: the buffer is full before the newline
  EXPECT_EQ(c.stop->line, 1);
  // A NUL inside a line that is not the last: a malformed file.
  c = pam::ParseModuleConf(std::string("deny = 4\ndeny\0= 9\nunlock_time = 0\n", 34),
                           pam::ConfModule::kFaillock);
  ASSERT_TRUE(c.stop);
  EXPECT_EQ(c.stop->line, 2);
  EXPECT_TRUE(c.settings.empty());
  // A NUL first on a line: strlen is 0, the line is empty.
  c = pam::ParseModuleConf(std::string("\0deny = 9\ndeny = 4\n", 19), pam::ConfModule::kFaillock);
  EXPECT_FALSE(c.stop);
  ASSERT_EQ(c.settings.size(), 1u);
  EXPECT_EQ(c.settings[0].line, 2);
  // On the last line (no newline) the text before the NUL counts.
  c = pam::ParseModuleConf(std::string("minlen = 14\0junk", 16), pam::ConfModule::kPwquality);
  EXPECT_FALSE(c.stop);
}

TEST(ModuleConfParser, DropinNames) {
  EXPECT_TRUE(pam::IsPwqualityDropin("50-cis.conf"));
  EXPECT_TRUE(pam::IsPwqualityDropin(".conf"));
  EXPECT_FALSE(pam::IsPwqualityDropin("a.conf.bak"));
  EXPECT_FALSE(pam::IsPwqualityDropin("a.conf.conf"));
}

TEST_F(PamTest, AbsentPamDirAndPamConfIsNotApplicable) {
  root_.Write("/etc/hostname", "h\n");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kNotApplicable);
}

TEST_F(PamTest, OtherIsTheFallbackPerType) {
  // pam_dispatch.c: a module type without entries in the service's stack uses other's.
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\naccount required pam_deny.so\n");
  root_.Write("/etc/pam.d/authonly", "auth required pam_unix.so\n");
  root_.Write("/etc/pam.d/full",
              "auth required pam_unix.so\naccount required pam_unix.so\n"
              "password required pam_unix.so\nsession required pam_unix.so\n");
  json d = Run();
  std::map<std::string, json> svc;
  for (const auto& x : d["services"]) svc[x["name"]] = x;
  EXPECT_EQ(svc["authonly"]["other_fallback"], json({"account", "password", "session"}));
  EXPECT_FALSE(svc["full"].contains("other_fallback"));
  EXPECT_FALSE(svc["other"].contains("other_fallback"));  // it is the fallback itself
  EXPECT_EQ(Of(d, "other").size(), 2u);
  EXPECT_EQ(d["other"]["state"], "present");
}

TEST_F(PamTest, MissingOtherIsReported) {
  root_.Write("/etc/pam.d/login", "auth required pam_unix.so\n");
  json d = Run();
  EXPECT_EQ(d["other"], json({{"service", "other"}, {"state", "absent"}}));
}

TEST_F(PamTest, LeftoverPamConfIsIgnoredWhenPamDExists) {
  // pam_handlers.c _pam_init_handlers: /etc/pam.d is a directory, so /etc/pam.conf is not read.
  root_.Write("/etc/pam.d/other", "auth required pam_deny.so\n");
  root_.Write("/etc/pam.conf", "login auth sufficient pam_permit.so\n");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kOk);
  EXPECT_EQ(d["config"], json({"/etc/pam.d"}));
  EXPECT_EQ(d["pam_conf"],
            json({{"path", "/etc/pam.conf"}, {"state", "present"}, {"in_effect", false}}));
  EXPECT_TRUE(Of(d, "login").empty());
  for (const auto& e : d["entries"]) EXPECT_EQ(e.dump().find("pam_permit"), std::string::npos);
}

TEST_F(PamTest, PamConfOnlySystem) {
  // pam.conf(5): "service type control module-path args"; services compared case-insensitively;
  // an include target is a pam.d-format file (no service field).
  root_.Write("/etc/pam.conf",
              "# system-wide\n"                                      // 1
              "LOGIN auth requisite pam_nologin.so\n"                // 2
              "other auth required pam_deny.so\n"                    // 3
              "login auth include /etc/pam-common\n"                 // 4
              "sshd account [success=ok default=bad] pam_unix.so\n"  // 5
              "login\n"                                              // 6
              "login session required pam_limits.so conf=/x\n");     // 7
  root_.Write("/etc/pam-common", "auth required pam_unix.so nullok\nsession optional x.so\n");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kPartial);  // line 6: no module type
  EXPECT_TRUE(HasError(s, "/etc/pam.conf", 6, "empty module type"));
  EXPECT_EQ(d["config"], json({"/etc/pam.conf"}));
  EXPECT_EQ(d["pam_conf"]["in_effect"], true);
  EXPECT_EQ(d["other"]["state"], "present");
  std::vector<std::string> names;
  for (const auto& x : d["services"]) {
    names.push_back(x["name"]);
    EXPECT_EQ(x["source"]["file"], "/etc/pam.conf");
  }
  EXPECT_EQ(names, (std::vector<std::string>{"login", "other", "sshd"}));
  auto login = Of(d, "login");
  ASSERT_EQ(login.size(), 4u);
  EXPECT_EQ(login[0]["module"], "pam_nologin.so");
  EXPECT_EQ(login[0]["source"], json({{"line", 2}}));
  EXPECT_EQ(File(d, login[0]), "/etc/pam.conf");
  EXPECT_EQ(login[1]["module"], "pam_unix.so");  // auth lines of the include only
  EXPECT_EQ(File(d, login[1]), "/etc/pam-common");
  EXPECT_EQ(login[1]["flags"]["nullok"], true);
  EXPECT_EQ(Via(d, login[1])[0],
            json({{"file", "/etc/pam.conf"}, {"line", 4}, {"directive", "include"}}));
  EXPECT_TRUE(login[2].contains("error"));
  EXPECT_EQ(login[3]["module"], "pam_limits.so");
  EXPECT_EQ(login[3]["source"]["line"], 7);
  auto sshd = Of(d, "sshd");
  ASSERT_EQ(sshd.size(), 1u);
  EXPECT_EQ(sshd[0]["actions"]["default"], "bad");
  std::map<std::string, json> svc;
  for (const auto& x : d["services"]) svc[x["name"]] = x;
  EXPECT_EQ(svc["sshd"]["other_fallback"], json({"auth", "password", "session"}));
}

TEST_F(PamTest, PamDThatIsAFileMeansPamConf) {
  root_.Write("/etc/pam.d", "not a directory\n");
  root_.Write("/etc/pam.conf", "other auth required pam_deny.so\n");
  json d = Run();
  EXPECT_EQ(d["config"], json({"/etc/pam.conf"}));
  EXPECT_EQ(Of(d, "other").size(), 1u);
}

TEST_F(PamTest, VendorDirIsTheLowerLayer) {
  // pam_handlers.c _pam_open_config_file: /etc/pam.d/NAME, else /usr/lib/pam.d/NAME (Debian
  // 12's libpam 1.5.2 reads both); services and relative includes alike.
  root_.Write("/usr/lib/pam.d/polkit-1", "@include common-auth\nsession required pam_env.so\n");
  root_.Write("/usr/lib/pam.d/common-auth", "auth required pam_vendor.so\n");
  root_.Write("/usr/lib/pam.d/login", "auth required pam_vendor_login.so\n");
  root_.Write("/etc/pam.d/login", "auth required pam_etc_login.so\n");
  root_.Write("/etc/pam.conf", "login auth sufficient pam_permit.so\n");
  json d = Run();
  EXPECT_EQ(d["config"], json({"/etc/pam.d", "/usr/lib/pam.d"}));
  EXPECT_EQ(d["pam_conf"]["in_effect"], false);
  std::map<std::string, json> svc;
  for (const auto& x : d["services"]) svc[x["name"]] = x;
  EXPECT_EQ(svc["polkit-1"]["source"]["file"], "/usr/lib/pam.d/polkit-1");
  EXPECT_EQ(svc["login"]["source"]["file"], "/etc/pam.d/login");
  EXPECT_EQ(svc["login"]["overrides"], "/usr/lib/pam.d/login");
  auto login = Of(d, "login");
  ASSERT_EQ(login.size(), 1u);
  EXPECT_EQ(login[0]["module"], "pam_etc_login.so");
  auto polkit = Of(d, "polkit-1");
  ASSERT_EQ(polkit.size(), 2u);
  EXPECT_EQ(polkit[0]["module"], "pam_vendor.so");
  EXPECT_EQ(File(d, polkit[0]), "/usr/lib/pam.d/common-auth");
  // Only the vendor directory: still pam.d mode, pam.conf ignored.
  ASSERT_EQ(unlink((root_.path() + "/etc/pam.d/login").c_str()), 0);
  ASSERT_EQ(rmdir((root_.path() + "/etc/pam.d").c_str()), 0);
  d = Run();
  EXPECT_EQ(d["config"], json({"/usr/lib/pam.d"}));
  EXPECT_EQ(d["pam_conf"]["in_effect"], false);
  EXPECT_EQ(Of(d, "login")[0]["module"], "pam_vendor_login.so");
}

TEST_F(PamTest, UnreadablePamConfIsAnError) {
  root_.Mkdir("/etc/pam.conf");  // a directory where the file should be
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kError);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0].path, "/etc/pam.conf");
  EXPECT_FALSE(s.errors[0].line.has_value());
  EXPECT_EQ(d["pam_conf"]["in_effect"], true);
}

TEST(PamParse, PamConfServiceField) {
  std::vector<SectionError> errors;
  auto lines =
      pam::ParseFile("SU -auth [default=die] pam_x.so a\nsshd\n", "/etc/pam.conf", errors, true);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].service, "su");
  EXPECT_EQ(lines[0].type, "auth");
  EXPECT_TRUE(lines[0].silent);
  EXPECT_EQ(lines[0].module, "pam_x.so");
  EXPECT_EQ(lines[0].arguments, (std::vector<std::string>{"a"}));
  EXPECT_EQ(lines[1].service, "sshd");
  EXPECT_EQ(lines[1].error, "empty module type");
}

}  // namespace
}  // namespace tidemark::agent
