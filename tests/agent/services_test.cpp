// The services section on fixture roots: unit file syntax, settings with their file:line,
// Environment= names without values, drop-ins, and bad input (FIFOs, directories, loops, NUL
// bytes, huge lines) giving named errors while the rest is still produced.
#include "agent/sections/services.h"

#include <gtest/gtest.h>

#include "agent/parsers/unit_file.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

TEST(UnitFileParse, SectionsContinuationsComments) {
  std::vector<SectionError> errors;
  auto p = unit_file::Parse(
      "# c\n[Service]\nExecStart=/bin/a \\\n# inside\n  b\n; semi\n  User = bob  \nnokey\n", "/f",
      errors);
  ASSERT_EQ(p.assignments.size(), 2u);
  EXPECT_EQ(p.assignments[0].key, "ExecStart");
  EXPECT_EQ(p.assignments[0].value, "/bin/a    b");
  EXPECT_EQ(p.assignments[0].line, 3);
  EXPECT_EQ(p.assignments[1].value, "bob");
  EXPECT_EQ(p.assignments[1].line, 7);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 8);
}

TEST(UnitFileParse, NulAndHugeLines) {
  std::vector<SectionError> errors;
  auto p = unit_file::Parse(std::string("[Install]\nWantedBy=a\0b\nAlias=x.service\n", 37), "/f",
                            errors);
  ASSERT_EQ(p.assignments.size(), 1u);
  EXPECT_EQ(errors.size(), 1u);
  errors.clear();
  auto q =
      unit_file::Parse("[Service]\nExecStart=" + std::string(2 << 20, 'x') + "\n", "/f", errors);
  EXPECT_TRUE(q.fatal);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message.find("xxxx"), std::string::npos);
}

TEST(UnitFileNames, Kinds) {
  using unit_file::NameKind;
  EXPECT_EQ(unit_file::ClassifyName("a.service"), NameKind::kPlain);
  EXPECT_EQ(unit_file::ClassifyName("a@.service"), NameKind::kTemplate);
  EXPECT_EQ(unit_file::ClassifyName("a@b.service"), NameKind::kInstance);
  EXPECT_EQ(unit_file::ClassifyName("a.conf"), NameKind::kInvalid);
  EXPECT_EQ(unit_file::ClassifyName("a b.service"), NameKind::kInvalid);
  EXPECT_EQ(unit_file::ClassifyName("@a.service"), NameKind::kInvalid);
  EXPECT_EQ(unit_file::TemplateOf("getty@tty1.service"), "getty@.service");
  EXPECT_EQ(unit_file::SplitWords("A=1 \"B=two words\" C='x y'"),
            (std::vector<std::string>{"A=1", "B=two words", "C=x y"}));
}

TEST(UnitFileSpecifiers, NameSpecifiersOfSystemdUnit5) {
  // systemd.unit(5) "Specifiers"; the unescaping is checked against systemd-escape below.
  const std::string v = "%n|%N|%p|%P|%i|%I|100%%|%h|%u|%";
  EXPECT_EQ(unit_file::ExpandSpecifiers(v, "web@a-b\\x2dc.service"),
            "web@a-b\\x2dc.service|web@a-b\\x2dc|web|web|a-b\\x2dc|a/b-c|100%|%h|%u|%");
  EXPECT_EQ(unit_file::ExpandSpecifiers(v, "my-db.service"),
            "my-db.service|my-db|my-db|my/db|||100%|%h|%u|%");
  EXPECT_EQ(unit_file::ExpandSpecifiers("%%i", "a@b.service"), "%i");
  bool expanded = true;
  EXPECT_EQ(unit_file::ExpandSpecifiers("/bin/true", "a@b.service", &expanded), "/bin/true");
  EXPECT_FALSE(expanded);
  EXPECT_EQ(unit_file::Unescape("x\\x2"), std::nullopt);
  EXPECT_EQ(unit_file::Unescape("x\\y41"), std::nullopt);
  TIDEMARK_REQUIRE(testing::HaveProgram("systemd-escape"), "systemd-escape is not installed");
  for (const char* escaped : {"a-b\\x2dc", "dev-disk-by\\x2duuid-1234", "x\\x20y\\x5c", "-"}) {
    std::string out, err;
    ASSERT_EQ(testing::RunCommand("systemd-escape --unescape -- " + testing::ShellQuote(escaped),
                                  &out, &err),
              0)
        << err;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    EXPECT_EQ(unit_file::Unescape(escaped), out) << escaped;
  }
}

class ServicesFixture : public ::testing::Test {
 protected:
  json Run(Section* out = nullptr) {
    auto fs = OpenRootFs(root_.path());
    EXPECT_TRUE(fs.ok());
    CollectContext ctx(**fs, "h");
    ServicesReader c;
    Section s;
    c.Collect(ctx, s);
    s.Finish();
    s.Materialize();
    text_ = s.data.dump();
    for (const auto& e : s.errors) text_ += e.message;
    if (out) *out = s;
    return s.data;
  }
  static const json* Find(const json& d, const std::string& name) {
    for (const auto& u : d["units"]) {
      if (u["id"] == "unit:" + name) return &u;
    }
    return nullptr;
  }
  // The unit's file, expanded by the compact rule: no `source` means UNIT_DIR/NAME.
  static std::string SourceFile(const json& d, const json& u) {
    if (u.contains("source")) return u["source"]["file"];
    return d["unit_dir"].get<std::string>() + "/" + u["id"].get<std::string>().substr(5);
  }
  testing::TempRoot root_;
  std::string text_;
};

TEST_F(ServicesFixture, SettingsWithSourcesAndNoEnvironmentValues) {
  root_.Write("/lib/systemd/system/web.service",
              "[Unit]\nDescription=w\n[Service]\nUser=www\nGroup=www\n"
              "Environment=API_TOKEN=s3cr3t-value \"DB_PASS=hunter2 x\"\n"
              "EnvironmentFile=-/etc/default/web\nExecStart=/usr/bin/web --a\n"
              "[Install]\nWantedBy=multi-user.target\n");
  root_.Write("/etc/systemd/system/web.service.d/override.conf",
              "[Service]\nExecStart=\nExecStart=/usr/bin/web --b\nUser=web2\n");
  root_.Symlink("/etc/systemd/system/multi-user.target.wants/web.service",
                "/lib/systemd/system/web.service");
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kOk);
  const json* u = Find(d, "web.service");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ((*u)["id"], "unit:web.service");
  EXPECT_EQ((*u)["state"], "enabled");
  EXPECT_EQ(SourceFile(d, *u), "/lib/systemd/system/web.service");
  EXPECT_EQ((*u)["install"]["wanted_by"], json::array({"multi-user.target"}));
  ASSERT_EQ((*u)["exec_start"].size(), 1u);  // the drop-in reset the list
  EXPECT_EQ((*u)["exec_start"][0]["command"], "/usr/bin/web --b");
  EXPECT_EQ((*u)["exec_start"][0]["source"]["file"],
            "/etc/systemd/system/web.service.d/override.conf");
  EXPECT_EQ((*u)["exec_start"][0]["source"]["line"], 3);
  EXPECT_EQ((*u)["user"]["value"], "web2");
  EXPECT_EQ((*u)["group"]["value"], "www");
  EXPECT_EQ((*u)["group"]["source"]["line"], 5);
  ASSERT_EQ((*u)["environment"].size(), 2u);
  EXPECT_EQ((*u)["environment"][0]["name"], "API_TOKEN");
  EXPECT_EQ((*u)["environment"][1]["name"], "DB_PASS");
  EXPECT_EQ((*u)["environment_files"][0]["path"], "/etc/default/web");
  EXPECT_EQ((*u)["environment_files"][0]["optional"], true);
  EXPECT_EQ((*u)["dropins"][0], "/etc/systemd/system/web.service.d/override.conf");
  // Defaults are left out: a setting from the unit's own file does not repeat the file name,
  // `masked` and `optional` only appear when true, `state_error` only for "bad".
  EXPECT_FALSE((*u)["group"]["source"].contains("file"));
  EXPECT_EQ((*u)["user"]["source"]["file"], "/etc/systemd/system/web.service.d/override.conf");
  EXPECT_FALSE((*u)["exec_start"][0].contains("masked"));
  EXPECT_FALSE((*u).contains("state_error"));
  EXPECT_EQ(text_.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(text_.find("hunter2"), std::string::npos);
  EXPECT_EQ(d["manager"]["active_state_collected"], false);
}

// systemd reads drop-ins with conf_files_list_strv(".conf"), which skips hidden names
// (dirent_is_file_with_suffix(), systemd 252 src/basic/dirent-util.c): an editor's or a
// package's ".name.conf" beside the real drop-in changes nothing. The same rule as sysctl.d's.
TEST_F(ServicesFixture, HiddenDropInsAreNotRead) {
  root_.Write("/lib/systemd/system/web.service", "[Service]\nUser=www\nExecStart=/usr/bin/web\n");
  root_.Write("/etc/systemd/system/web.service.d/.override.conf", "[Service]\nUser=root\n");
  root_.Write("/etc/systemd/system/web.service.d/limits.conf", "[Service]\nGroup=web\n");
  Section s;
  json d = Run(&s);
  const json* u = Find(d, "web.service");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ((*u)["user"]["value"], "www");
  EXPECT_EQ((*u)["group"]["value"], "web");
  EXPECT_EQ((*u)["dropins"], json::array({"/etc/systemd/system/web.service.d/limits.conf"}));
}

TEST_F(ServicesFixture, DefaultValuedKeysAreLeftOut) {
  root_.Write("/lib/systemd/system/bare.service", "[Service]\nType=oneshot\n");
  root_.Write("/lib/systemd/system/env.service",
              "[Service]\nEnvironmentFile=/etc/default/env\nUser=\n");
  root_.Write("/lib/systemd/system/bare.target", "[Unit]\nDescription=t\n");
  json d = Run();
  const json* bare = Find(d, "bare.service");
  ASSERT_NE(bare, nullptr);
  for (const char* key : {"exec_start", "user", "group", "environment", "environment_files",
                          "install", "dropins", "state_error", "alias_of"}) {
    EXPECT_FALSE(bare->contains(key)) << key;
  }
  EXPECT_EQ((*bare)["id"], "unit:bare.service");
  // The id holds the name (and so the type); the file UNIT_DIR/NAME is the default source.
  EXPECT_EQ(d["unit_dir"], "/lib/systemd/system");
  for (const char* key : {"name", "type", "source"}) EXPECT_FALSE(bare->contains(key)) << key;
  EXPECT_EQ(SourceFile(d, *bare), "/lib/systemd/system/bare.service");
  const json* env = Find(d, "env.service");
  ASSERT_NE(env, nullptr);
  EXPECT_FALSE(env->contains("user"));  // an empty User= resets to the default
  EXPECT_FALSE((*env)["environment_files"][0].contains("optional"));
  EXPECT_EQ((*env)["environment_files"][0]["source"], json({{"line", 2}}));
  const json* target = Find(d, "bare.target");
  ASSERT_NE(target, nullptr) << "no unit bare.target";
  EXPECT_FALSE(target->contains("exec_start"));
}

TEST_F(ServicesFixture, SourceNamedOnlyWhenNotUnitDirSlashName) {
  root_.Write("/lib/systemd/system/real.service", "[Service]\nExecStart=/bin/real\n");
  root_.Symlink("/lib/systemd/system/other.service", "real.service");  // an alias
  root_.Write("/etc/systemd/system/local.service", "[Service]\nExecStart=/bin/local\n");
  json d = Run();
  EXPECT_EQ(d["unit_dir"], "/lib/systemd/system");
  const json* real = Find(d, "real.service");
  ASSERT_NE(real, nullptr) << "no unit real.service";
  EXPECT_FALSE(real->contains("source"));
  // An alias names its target's file, a unit elsewhere its own; a unit is its file: no line.
  const json* other = Find(d, "other.service");
  ASSERT_NE(other, nullptr) << "no unit other.service";
  EXPECT_EQ((*other)["state"], "alias");
  EXPECT_EQ((*other)["source"], json({{"file", "/lib/systemd/system/real.service"}}));
  const json* local = Find(d, "local.service");
  ASSERT_NE(local, nullptr) << "no unit local.service";
  EXPECT_EQ((*local)["source"], json({{"file", "/etc/systemd/system/local.service"}}));
}

TEST_F(ServicesFixture, InstancesExpandNameSpecifiers) {
  root_.Write("/lib/systemd/system/pg@.service",
              "[Service]\nUser=%i\nGroup=grp-%p\nEnvironmentFile=-/etc/pg/%I.env\n"
              "ExecStart=/usr/bin/pg --cluster %I --unit %n --home %h --pct 5%%\n"
              "[Install]\nWantedBy=multi-user.target\n");
  root_.Symlink("/etc/systemd/system/multi-user.target.wants/pg@main\\x2d15.service",
                "/lib/systemd/system/pg@.service");
  json d = Run();
  const json* inst = Find(d, "pg@main\\x2d15.service");
  ASSERT_NE(inst, nullptr);
  EXPECT_EQ((*inst)["exec_start"][0]["command"],
            "/usr/bin/pg --cluster main-15 --unit pg@main\\x2d15.service --home %h --pct 5%");
  EXPECT_EQ((*inst)["user"]["value"], "main\\x2d15");
  EXPECT_EQ((*inst)["group"]["value"], "grp-pg");
  EXPECT_EQ((*inst)["environment_files"][0]["path"], "/etc/pg/main-15.env");
  // The template itself is never loaded by systemd: kept as written.
  const json* tmpl = Find(d, "pg@.service");
  ASSERT_NE(tmpl, nullptr);
  EXPECT_EQ((*tmpl)["user"]["value"], "%i");
}

TEST_F(ServicesFixture, LargeUnitFilesBeyondTheMemoAreReadAgain) {
  // More unit text than the parsed-file memo keeps (4 MiB): files beyond it are parsed per
  // lookup, with the same result.
  std::string pad;
  for (int i = 0; i < 30000; ++i)
    pad += "# padding line of a large unit file..........................................\n";
  root_.Write("/lib/systemd/system/a.service", "[Service]\n" + pad + "ExecStart=/bin/a\n");
  root_.Write("/lib/systemd/system/big@.service", "[Service]\n" + pad + "ExecStart=/bin/b %i\n");
  root_.Symlink("/etc/systemd/system/multi-user.target.wants/big@x.service",
                "/lib/systemd/system/big@.service");
  root_.Symlink("/etc/systemd/system/multi-user.target.wants/big@y.service",
                "/lib/systemd/system/big@.service");
  json d = Run();
  for (const auto& [unit, command] :
       std::vector<std::pair<std::string, std::string>>{{"a.service", "/bin/a"},
                                                        {"big@x.service", "/bin/b x"},
                                                        {"big@y.service", "/bin/b y"},
                                                        {"big@.service", "/bin/b %i"}}) {
    const json* u = Find(d, unit);
    ASSERT_NE(u, nullptr) << "no unit " << unit;
    EXPECT_EQ((*u)["exec_start"][0]["command"], command) << unit;
  }
}

TEST_F(ServicesFixture, SecretsInExecStartAreMasked) {
  root_.Write("/lib/systemd/system/backup.service",
              "[Service]\nExecStart=/usr/bin/dump --password=Zq9-hunter --host db\n"
              "ExecStart=/usr/bin/curl https://svc:Pw0rd-42@example.invalid/x\n");
  json d = Run();
  const json* u = Find(d, "backup.service");
  ASSERT_NE(u, nullptr);
  ASSERT_EQ((*u)["exec_start"].size(), 2u);
  EXPECT_EQ((*u)["exec_start"][0]["command"], "/usr/bin/dump --password=*** --host db");
  EXPECT_EQ((*u)["exec_start"][0]["masked"], true);
  EXPECT_EQ((*u)["exec_start"][1]["masked"], true);
  EXPECT_EQ(text_.find("Zq9-hunter"), std::string::npos);
  EXPECT_EQ(text_.find("Pw0rd-42"), std::string::npos);
}

TEST_F(ServicesFixture, BadInputIsNamedAndTheRestIsProduced) {
  root_.Write("/lib/systemd/system/good.service", "[Service]\nExecStart=/bin/true\n");
  root_.Write("/lib/systemd/system/fifo.service", "[Service]\nExecStart=/bin/true\n");
  root_.Fifo("/etc/systemd/system/fifo.service");  // would block a naive open()
  root_.Write("/lib/systemd/system/dir.service", "[Service]\nExecStart=/bin/true\n");
  root_.Mkdir("/etc/systemd/system/dir.service");
  root_.Symlink("/etc/systemd/system/loop1.service", "loop2.service");
  root_.Symlink("/etc/systemd/system/loop2.service", "loop1.service");
  root_.Write("/lib/systemd/system/huge.service",
              "[Service]\nExecStart=/bin/" + std::string(10 << 20, 'a') + "\n");
  root_.Write("/lib/systemd/system/nul.service",
              std::string("[Service]\nExecStart=/bin/x\0y\nUser=u\n", 36));
  root_.Symlink("/run/systemd/system", "/run/systemd/system");  // a loop as a search directory
  Section s;
  json d = Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kPartial);
  const json* good = Find(d, "good.service");
  ASSERT_NE(good, nullptr) << "no unit good.service";
  EXPECT_EQ((*good)["state"], "static");
  for (const char* bad : {"fifo.service", "dir.service", "loop1.service", "huge.service"}) {
    const json* u = Find(d, bad);
    ASSERT_NE(u, nullptr) << bad;
    EXPECT_EQ((*u)["state"], "bad") << bad;
    EXPECT_TRUE((*u).contains("state_error")) << bad;
    EXPECT_NE(SourceFile(d, *u), "") << bad;
  }
  const json* nul = Find(d, "nul.service");
  ASSERT_NE(nul, nullptr) << "no unit nul.service";
  EXPECT_EQ((*nul)["state"], "static");
  EXPECT_EQ((*nul)["user"]["value"], "u");
  bool named = false;
  for (const auto& e : s.errors) {
    if (e.path == "/lib/systemd/system/nul.service" && e.line == 2) named = true;
  }
  EXPECT_TRUE(named);
  EXPECT_EQ(text_.find("aaaaaaaa"), std::string::npos);
}

TEST_F(ServicesFixture, NoUnitDirectoriesIsNotApplicable) {
  root_.Write("/etc/hostname", "h\n");
  Section s;
  Run(&s);
  EXPECT_EQ(s.status, SectionStatus::kNotApplicable);
}

}  // namespace
}  // namespace tidemark::agent
