// Unit tests (hermetic, fixture roots) for the sudoers parser and the sudo section.
// Expected values follow sudoers(5) and sudo 1.9.13's gram.y/toke.l; the cases whose output the
// real tool can decide are also checked against cvtsudoers in sudo_cvtsudoers_test.cpp.
#include "agent/parsers/sudoers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/parsers/sudoers_regex.h"
#include "agent/sections/sudo.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using testing::TempRoot;

struct Result {
  Section section;
  json grants() const { return section.data.value("grants", json::array()); }
};

Result Collect(const TempRoot& root, const std::string& host = "web1.example.com") {
  auto fs = OpenRootFs(root.path());
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, host);
  Result r;
  SudoReader().Collect(ctx, r.section);
  r.section.Finish();
  r.section.Materialize();
  return r;
}

Result CollectText(const std::string& sudoers) {
  TempRoot root;
  root.Write("/etc/sudoers", sudoers, 0440);
  return Collect(root);
}

// principal host (users : groups) command, one string per grant.
std::vector<std::string> Brief(const json& grants) {
  std::vector<std::string> out;
  for (const auto& g : grants) {
    std::string users, groups;
    for (const auto& u : g["runas_users"])
      users += (users.empty() ? "" : ",") + u.get<std::string>();
    for (const auto& x : g["runas_groups"])
      groups += (groups.empty() ? "" : ",") + x.get<std::string>();
    out.push_back(g["principal"].get<std::string>() + " " + g["host"].get<std::string>() + " (" +
                  users + (groups.empty() ? "" : " : " + groups) + ") " +
                  g["command"].get<std::string>());
  }
  return out;
}

std::vector<int64_t> ErrorLines(const Section& s) {
  std::vector<int64_t> lines;
  for (const auto& e : s.errors) lines.push_back(e.line.value_or(0));
  return lines;
}

using V = std::vector<std::string>;

// A string literal with embedded NUL bytes, all of it.
template <size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// ---- section envelope ---------------------------------------------------------------------

TEST(SudoSectionTest, MissingSudoersIsNotApplicable) {
  TempRoot root;
  root.Write("/etc/hostname", "x\n");
  Result r = Collect(root);
  EXPECT_EQ(r.section.status, SectionStatus::kNotApplicable);
  EXPECT_EQ(r.section.data["configured"], false);
  EXPECT_EQ(r.section.data["sudo_installed"], false);
  root.Write("/usr/bin/sudo", "binary", 04755);
  r = Collect(root);
  EXPECT_EQ(r.section.status, SectionStatus::kNotApplicable);
  EXPECT_EQ(r.section.data["sudo_installed"], true);
}

TEST(SudoSectionTest, UnreadableOrWrongTypeSudoersIsAnError) {
  TempRoot dir_root;
  dir_root.Mkdir("/etc/sudoers");
  Result r = Collect(dir_root);
  EXPECT_EQ(r.section.status, SectionStatus::kError);
  ASSERT_EQ(r.section.errors.size(), 1u);
  EXPECT_EQ(r.section.errors[0].path, "/etc/sudoers");

  TempRoot fifo_root;
  fifo_root.Fifo("/etc/sudoers");
  r = Collect(fifo_root);  // must not block
  EXPECT_EQ(r.section.status, SectionStatus::kError);
}

TEST(SudoSectionTest, GrantFormatAndFiles) {
  TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\nsudo:x:27:alice\n");
  root.Write("/etc/sudoers", "alice ALL = (root) NOPASSWD: /usr/bin/apt update\n", 0440);
  Result r = Collect(root);
  EXPECT_EQ(r.section.status, SectionStatus::kOk);
  ASSERT_EQ(r.grants().size(), 1u);
  json g = r.grants()[0];
  EXPECT_EQ(g["id"], "sudo:user:alice@ALL=(user:root)/usr/bin/apt update");
  EXPECT_EQ(g["principal"], "user:alice");
  EXPECT_EQ(g["host"], "ALL");
  EXPECT_EQ(g["runas_users"], json({"user:root"}));
  EXPECT_EQ(g["runas_groups"], json::array());
  EXPECT_EQ(g["runas_default"], false);
  EXPECT_EQ(g["command"], "/usr/bin/apt update");
  EXPECT_EQ(g["nopasswd"], true);
  EXPECT_EQ(g["nopasswd_reason"], "tag");
  EXPECT_EQ(g["tags"], json({{"nopasswd", true}}));
  EXPECT_EQ(g["source"], json({{"file", "/etc/sudoers"}, {"line", 1}}));
  json f = r.section.data["files"][0];
  EXPECT_EQ(f["path"], "/etc/sudoers");
  EXPECT_EQ(f["mode"], "0440");
  EXPECT_EQ(f["uid"], 0);
  EXPECT_EQ(f["owner"], "root");
  EXPECT_EQ(f["group"], "root");
  EXPECT_EQ(f["size"], 49);
  EXPECT_EQ(f["included_from"], nullptr);
}

// ---- lexical rules ------------------------------------------------------------------------

TEST(SudoersParseTest, CommentsContinuationsAndUids) {
  Result r = CollectText(
      "# comment\n"
      "#123 ALL = /bin/uid   # trailing comment\n"
      "  #include is a comment when indented\n"
      "alice \\\n"
      "   ALL = /bin/a, \\\n"
      "         /bin/b\n"
      "#-1 ALL = /bin/neg\n");
  EXPECT_TRUE(r.section.errors.empty());
  EXPECT_EQ(Brief(r.grants()),
            (V{"uid:123 ALL (user:root) /bin/uid", "user:alice ALL (user:root) /bin/a",
               "user:alice ALL (user:root) /bin/b", "user:#-1 ALL (user:root) /bin/neg"}));
  EXPECT_EQ(r.grants()[2]["source"]["line"], 6);  // the line of the command token
}

TEST(SudoersParseTest, PrincipalForms) {
  Result r = CollectText(
      "%admins, %#27, %:Domain\\ Users, %:#512, +netops, \"quoted name\", \\x41b, ALL ALL = "
      "/bin/x\n"
      "!bob, !!carol, !!!dave ALL = /bin/y\n");
  EXPECT_TRUE(r.section.errors.empty());
  std::vector<std::string> principals;
  for (const auto& g : r.grants()) principals.push_back(g["principal"]);
  EXPECT_EQ(principals, (V{"group:admins", "gid:27", "nonunixgroup:Domain Users", "nonunixgid:512",
                           "netgroup:netops", "user:quoted name", "user:Ab", "ALL", "!user:bob",
                           "user:carol", "!user:dave"}));
}

TEST(SudoersParseTest, RunasForms) {
  Result r = CollectText(
      "a ALL = /bin/default\n"
      "b ALL = (op) /bin/user\n"
      "c ALL = (op:wheel) /bin/both\n"
      "d ALL = (:wheel) /bin/group\n"
      "e ALL = () /bin/self\n"
      "f ALL = (#0, %adm : #27, ALL) /bin/ids\n");
  EXPECT_TRUE(r.section.errors.empty());
  EXPECT_EQ(
      Brief(r.grants()),
      (V{"user:a ALL (user:root) /bin/default", "user:b ALL (user:op) /bin/user",
         "user:c ALL (user:op : group:wheel) /bin/both", "user:d ALL ( : group:wheel) /bin/group",
         "user:e ALL () /bin/self", "user:f ALL (uid:0,group:adm : gid:27,ALL) /bin/ids"}));
  EXPECT_EQ(r.grants()[0]["runas_default"], true);
}

TEST(SudoersParseTest, TagsAndRunasCarryOver) {
  Result r = CollectText(
      "a ALL = (op) NOPASSWD: NOEXEC: /bin/1, /bin/2, PASSWD: /bin/3, (root) EXEC: /bin/4\n"
      "b ALL = ALL, /bin/x, SETENV: /bin/y, /bin/z\n");
  auto g = r.grants();
  ASSERT_EQ(g.size(), 8u);
  EXPECT_EQ(g[1]["runas_users"], json({"user:op"}));
  EXPECT_EQ(g[1]["tags"], json({{"nopasswd", true}, {"noexec", true}}));
  EXPECT_EQ(g[2]["tags"], json({{"nopasswd", false}, {"noexec", true}}));
  EXPECT_EQ(g[3]["runas_users"], json({"user:root"}));
  EXPECT_EQ(g[3]["tags"], json({{"nopasswd", false}, {"noexec", false}}));
  // gram.y: ALL implies SETENV, but an implied SETENV is not carried to the next command.
  EXPECT_EQ(g[4]["tags"], json({{"setenv", true}}));
  EXPECT_EQ(g[5]["tags"], json::object());
  EXPECT_EQ(g[7]["tags"], json({{"setenv", true}}));
}

TEST(SudoersParseTest, EveryTag) {
  Result r = CollectText(
      "a ALL = NOPASSWD: NOEXEC: SETENV: LOG_INPUT: LOG_OUTPUT: MAIL: FOLLOW: INTERCEPT: /bin/on\n"
      "b ALL = PASSWD: EXEC: NOSETENV: NOLOG_INPUT: NOLOG_OUTPUT: NOMAIL: NOFOLLOW: NOINTERCEPT: "
      "/bin/off\n");
  ASSERT_EQ(r.grants().size(), 2u);
  json on = {{"nopasswd", true},   {"noexec", true}, {"setenv", true}, {"log_input", true},
             {"log_output", true}, {"mail", true},   {"follow", true}, {"intercept", true}};
  EXPECT_EQ(r.grants()[0]["tags"], on);
  json off = on;
  for (auto& [k, v] : off.items()) v = false;
  EXPECT_EQ(r.grants()[1]["tags"], off);
}

TEST(SudoersParseTest, OptionSpecsAndTheirCarryOver) {
  Result r = CollectText(
      "a ALL = CWD=/tmp CHROOT=/srv ROLE=r_r TYPE=t_t TIMEOUT=1h2m3s NOTBEFORE=2024010112Z "
      "NOTAFTER=20301231235959-0100 /bin/a, /bin/b, TIMEOUT=90 /bin/c\n");
  EXPECT_TRUE(r.section.errors.empty());
  auto g = r.grants();
  ASSERT_EQ(g.size(), 3u);
  json want = {{"cwd", "/tmp"},
               {"chroot", "/srv"},
               {"role", "r_r"},
               {"type", "t_t"},
               {"timeout", 3723},
               {"notbefore", "20240101120000Z"},
               {"notafter", "20310101005959Z"}};
  EXPECT_EQ(g[0]["options"], want);
  EXPECT_EQ(g[1]["options"], want);
  want["timeout"] = 90;
  EXPECT_EQ(g[2]["options"], want);
}

TEST(SudoersParseTest, CommandForms) {
  Result r = CollectText(
      "a ALL = /bin/ls -l *, /usr/bin/more \"\", /bin/echo a\\,b c\\:d e\\=f \\* \\[, /usr/sbin/\n"
      "b ALL = sudoedit /etc/hosts, list, ^/usr/sbin/(user|group)add$, /usr/bin/passwd ^[a-z]+$\n"
      "c ALL = sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef /bin/d, "
      "!/bin/rm\n");
  EXPECT_TRUE(r.section.errors.empty()) << r.section.errors[0].message;
  std::vector<std::string> cmds;
  for (const auto& g : r.grants()) cmds.push_back(g["command"]);
  EXPECT_EQ(cmds, (V{"/bin/ls -l *", "/usr/bin/more \"\"", "/bin/echo a,b c:d e=f \\* \\[",
                     "/usr/sbin/", "sudoedit /etc/hosts", "list", "^/usr/sbin/(user|group)add$",
                     "/usr/bin/passwd ^[a-z]+$", "/bin/d", "!/bin/rm"}));
  EXPECT_EQ(
      r.grants()[8]["digests"],
      json::parse(
          R"([{"algorithm":"sha256","value":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}])"));
}

// A regular expression argument whose backslash neither continues the line nor quotes a
// character: at the end of the file, or before a lone \r. visudo -c calls both a syntax error;
// the parser once stopped making progress there (found by the sudoers fuzz target).
TEST(SudoersParseTest, ARegexEndingInALoneBackslashIsAnErrorNotAStall) {
  for (const char* text : {"a ALL = /usr/bin/passwd ^[a-z]\\",
                           "a ALL = /usr/bin/passwd ^[a-z]\\\rx$\nb ALL = /bin/ls\n"}) {
    Result r = CollectText(text);
    ASSERT_FALSE(r.section.errors.empty()) << text;
    EXPECT_EQ(r.section.errors[0].message.find("unterminated regular expression"), 0u)
        << r.section.errors[0].message;
  }
}

// glibc's regcomp copies a repeated sub-expression once per repetition: a command regex with
// "0" and 115 '+' (a sudoers fuzz input) took the section past 8 GB. sudo refuses a repetition
// operator after another before compiling, and so does the parser; a regex that passes sudo's
// check but would make more than kMaxRegexNodes copies ("^/((y{1,100}){1,100}){1,100}$" takes
// visudo -c 1.1 GB) is not compiled, reported, and its grant kept. Argument regexes are not
// compiled at all (neither does sudo while parsing). tests/fixtures/sudoers_errors/regex.sudoers
// checks the lines of the refusals against visudo.
TEST(SudoBoundsTest, CostlyCommandRegexesAreNeverCompiled) {
  Result r = CollectText("a ALL = ^/usr/bin/x0" + std::string(115, '+') + "1$\n" +
                         "b ALL = ^/usr/bin/((y{1,100}){1,100}){1,100}$\n" +
                         "c ALL = /bin/ls ^((z{1,100}){1,100}){1,100}$\n");
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
  ASSERT_EQ(r.section.errors.size(), 2u);
  EXPECT_EQ(r.section.errors[0].line, 1);
  EXPECT_EQ(r.section.errors[0].message,
            "invalid regular expression: Invalid preceding regular expression");
  EXPECT_EQ(r.section.errors[1].line, 2);
  EXPECT_EQ(r.section.errors[1].message,
            "regular expression not checked: its repetitions would make 1000011 copies (more "
            "than 10000); sudo may refuse this entry");
  EXPECT_EQ(Brief(r.grants()), V({"user:b ALL (user:root) ^/usr/bin/((y{1,100}){1,100}){1,100}$",
                                  "user:c ALL (user:root) /bin/ls ^((z{1,100}){1,100}){1,100}$"}));
}

// Each regex within kMaxRegexNodes, but together over the tree's kMaxRegexCopiesTotal: the ones
// past it are not compiled (32 MiB of such lines would have kept the agent compiling for hours).
TEST(SudoBoundsTest, CommandRegexesShareOneBudgetPerSudoersTree) {
  std::string text;
  for (int i = 1; i <= 110; ++i) text += "u" + std::to_string(i) + " ALL = ^/a(b{1,98}){1,100}$\n";
  ASSERT_EQ(sudoers::RegexCopies("^/a(b{1,98}){1,100}$"), 9804u);  // 101 fit in 1,000,000
  Result r = CollectText(text);
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
  EXPECT_EQ(ErrorLines(r.section),
            std::vector<int64_t>({102, 103, 104, 105, 106, 107, 108, 109, 110}));
  EXPECT_EQ(r.section.errors[0].message,
            "regular expression not checked: the command regexes before it used up the 1000000 "
            "copies allowed for one sudoers tree; sudo may refuse this entry");
  EXPECT_EQ(r.grants().size(), 110u);
}

TEST(SudoersRegexTest, CopiesAreEstimatedFromTheRepetitionsAroundEachAtom) {
  using sudoers::RegexCopies;
  EXPECT_EQ(RegexCopies("^/usr/bin/ls$"), 13u);
  EXPECT_EQ(RegexCopies("a{1,100}"), 100u);
  EXPECT_EQ(RegexCopies("a{7}b{3,}c{,4}d{0}"), 7u + 4u + 4u + 1u);
  EXPECT_EQ(RegexCopies("(a{1,100}){1,100}"), 10000u);
  EXPECT_EQ(RegexCopies("(a|bc)+"), 6u);
  EXPECT_EQ(RegexCopies("[]a-z[:alpha:]()]{3}\\({2}"), 3u + 2u);
  EXPECT_EQ(RegexCopies("a{x}"), 4u);       // not a bound: '{' is an atom
  EXPECT_EQ(RegexCopies("a{99999}b"), 2u);  // glibc refuses the bound before copying
  EXPECT_EQ(RegexCopies("((((a"), 1u);      // unclosed groups still end
  EXPECT_EQ(RegexCopies("x" + std::string(70, '+')), UINT64_MAX);
}

TEST(SudoersParseTest, SeveralPrivilegesPerEntry) {
  Result r = CollectText("alice web = /bin/a : db = (pg) /bin/b\n");
  EXPECT_EQ(Brief(r.grants()),
            (V{"user:alice web (user:root) /bin/a", "user:alice db (user:pg) /bin/b"}));
}

// ---- aliases ------------------------------------------------------------------------------

TEST(SudoersAliasTest, AllKindsNestedAndNegated) {
  Result r = CollectText(
      "User_Alias ADM = alice, %wheel : OPS = carol, !dave, ADM\n"
      "Runas_Alias DBA = postgres, #26\n"
      "Host_Alias DB = db1, 10.0.0.0/8, !db3\n"
      "Cmnd_Alias NEG = /bin/a, !/bin/b\n"
      "Cmd_Alias BOTH = NEG, /bin/c\n"
      "!OPS DB = (DBA) !BOTH\n");
  EXPECT_TRUE(r.section.errors.empty());
  auto g = r.grants();
  // 4 users x 3 hosts x 3 commands; "!ALIAS" flips each member's negation (cvtsudoers -e).
  ASSERT_EQ(g.size(), 36u);
  EXPECT_EQ(Brief({g[0], g[1], g[2]}), (V{"!user:carol db1 (user:postgres,uid:26) !/bin/a",
                                          "!user:carol db1 (user:postgres,uid:26) /bin/b",
                                          "!user:carol db1 (user:postgres,uid:26) !/bin/c"}));
  EXPECT_EQ(g[9]["principal"], "user:dave");
  EXPECT_EQ(g[8]["host"], "!db3");
  EXPECT_EQ(g[27]["principal"], "!group:wheel");
}

TEST(SudoersAliasTest, DefinedAfterUseAndSeparateNamespaces) {
  Result r = CollectText(
      "X ALL = X\n"
      "User_Alias X = alice\n"
      "Cmnd_Alias X = /bin/x\n");
  EXPECT_TRUE(r.section.errors.empty());
  EXPECT_EQ(Brief(r.grants()), (V{"user:alice ALL (user:root) /bin/x"}));
}

TEST(SudoersAliasTest, CycleIsAnErrorNotAHang) {
  Result r = CollectText(
      "User_Alias A = B, x\n"
      "User_Alias B = A, y\n"
      "User_Alias C = C\n"
      "A, B, C ALL = /bin/z\n");
  // cvtsudoers -e stops at the alias being expanded: A -> {y, x}, B -> {x, y}.
  EXPECT_EQ(Brief(r.grants()),
            (V{"user:y ALL (user:root) /bin/z", "user:x ALL (user:root) /bin/z",
               "user:x ALL (user:root) /bin/z", "user:y ALL (user:root) /bin/z"}));
  ASSERT_GE(r.section.errors.size(), 2u);
  for (const auto& e : r.section.errors)
    EXPECT_NE(e.message.find("cycle in User_Alias"), std::string::npos);
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
}

TEST(SudoersAliasTest, UndefinedAndDuplicate) {
  Result r = CollectText(
      "User_Alias A = a\n"
      "User_Alias A = b : B = c\n"
      "A, B, NOPE ALL = /bin/x\n");
  EXPECT_EQ(Brief(r.grants()), (V{"user:a ALL (user:root) /bin/x"}));
  ASSERT_EQ(r.section.errors.size(), 3u);
  EXPECT_EQ(r.section.errors[0].line, 2);
  EXPECT_EQ(r.section.errors[0].message, "Alias \"A\" already defined");
  EXPECT_NE(r.section.errors[1].message.find("\"B\" referenced but not defined"),
            std::string::npos);
}

// ---- Defaults -----------------------------------------------------------------------------

TEST(SudoersDefaultsTest, EntriesAndBindings) {
  Result r = CollectText(
      "User_Alias OPS = carol\n"
      "Defaults env_reset, !lecture, passwd_tries=5, env_keep += \"A B\", env_keep-=C\n"
      "Defaults:OPS, %wheel timestamp_timeout=0\n"
      "Defaults@db1 log_output\n"
      "Defaults>root !set_logname\n"
      "Defaults!/usr/bin/less noexec\n");
  EXPECT_TRUE(r.section.errors.empty());
  json d = r.section.data["defaults"];
  ASSERT_EQ(d.size(), 9u);
  EXPECT_EQ(d[0]["type"], "global");
  EXPECT_EQ(d[1]["name"], "lecture");
  EXPECT_EQ(d[1]["negated"], true);
  EXPECT_EQ(d[2]["value"], "5");
  EXPECT_EQ(d[3]["operator"], "+=");
  EXPECT_EQ(d[3]["value"], "A B");
  EXPECT_EQ(d[4]["operator"], "-=");
  EXPECT_EQ(d[5]["type"], "user");
  EXPECT_EQ(d[5]["binding"], json({"user:carol", "group:wheel"}));
  EXPECT_EQ(d[6]["type"], "host");
  EXPECT_EQ(d[7]["type"], "runas");
  EXPECT_EQ(d[8]["type"], "command");
  EXPECT_EQ(d[8]["binding"], json({"/usr/bin/less"}));
  EXPECT_EQ(d[8]["source"]["line"], 6);
}

TEST(SudoersDefaultsTest, AuthenticateFoldsIntoNopasswd) {
  TempRoot root;
  root.Write(
      "/etc/passwd",
      "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/h:/bin/sh\nbob:x:1001:27::/h:/bin/sh\n");
  root.Write("/etc/group", "root:x:0:\nsudo:x:27:alice\n");
  root.Write("/etc/sudoers",
             "Defaults:%sudo !authenticate\n"
             "Defaults!/usr/bin/id authenticate\n"
             "Defaults@web1 !authenticate\n"
             "Defaults@db9 authenticate\n"
             "Defaults>operator authenticate\n"
             "alice ALL = /bin/a, /usr/bin/id, PASSWD: /bin/b\n"
             "bob ALL = /bin/c\n"
             "%sudo ALL = (operator) /bin/d\n"
             "%other ALL = /bin/e\n",
             0440);
  Result r = Collect(root, "web1.example.com");
  EXPECT_TRUE(r.section.errors.empty());
  auto g = r.grants();
  ASSERT_EQ(g.size(), 6u);
  EXPECT_EQ(g[0]["nopasswd"], true);  // alice is in sudo (member list)
  EXPECT_EQ(g[0]["nopasswd_reason"], "defaults");
  EXPECT_EQ(g[0]["nopasswd_source"]["line"], 1);
  EXPECT_EQ(g[1]["nopasswd"], false);  // command Defaults apply last
  EXPECT_EQ(g[2]["nopasswd"], false);  // explicit PASSWD wins
  EXPECT_EQ(g[2]["nopasswd_reason"], "tag");
  EXPECT_EQ(g[3]["nopasswd"], true);   // bob: primary group 27
  EXPECT_EQ(g[4]["nopasswd"], false);  // runas operator
  EXPECT_EQ(g[5]["nopasswd"], true);   // Defaults@web1 (this host)
  // On another host, only the group binding helps, and only alice/bob.
  Result other = Collect(root, "db9");
  EXPECT_EQ(other.grants()[5]["nopasswd"], false);
  EXPECT_EQ(other.grants()[5]["nopasswd_reason"], "defaults");
}

TEST(SudoersDefaultsTest, PartialBindingIsReportedAsConditional) {
  TempRoot root;
  root.Write("/etc/group", "admins:x:50:alice,bob\n");
  root.Write("/etc/sudoers", "Defaults:alice !authenticate\n%admins ALL = /bin/x\n", 0440);
  Result r = Collect(root);
  json g = r.grants()[0];
  EXPECT_EQ(g["nopasswd"], false);
  EXPECT_EQ(g["nopasswd_conditional"], json::parse(R"([{"file":"/etc/sudoers","line":1}])"));
}

// ---- includes -----------------------------------------------------------------------------

TEST(SudoersIncludeTest, RelativePathsIncludedirOrderAndHostname) {
  TempRoot root;
  root.Write("/etc/sudoers",
             "a ALL = /bin/a\n@include sub/one\n@includedir /etc/sudoers.d\n#include "
             "/etc/sudoers.%h\nz ALL = /bin/z\n",
             0440);
  root.Write("/etc/sub/one", "b ALL = /bin/b\n#include two\n", 0440);
  root.Write("/etc/sub/two", "c ALL = /bin/c\n", 0440);
  root.Write("/etc/sudoers.d/20", "e ALL = /bin/e\n", 0440);
  root.Write("/etc/sudoers.d/10", "d ALL = /bin/d\n", 0440);
  root.Write("/etc/sudoers.d/x.conf", "no ALL = ALL\n", 0440);
  root.Write("/etc/sudoers.d/backup~", "no ALL = ALL\n", 0440);
  root.Mkdir("/etc/sudoers.d/subdir");
  root.Fifo("/etc/sudoers.d/fifo");
  root.Write("/etc/sudoers.web1", "f ALL = /bin/f\n", 0440);
  Result r = Collect(root, "web1.example.com");
  EXPECT_TRUE(r.section.errors.empty()) << r.section.errors[0].message;
  std::vector<std::string> principals;
  for (const auto& g : r.grants()) principals.push_back(g["principal"]);
  EXPECT_EQ(principals, (V{"user:a", "user:b", "user:c", "user:d", "user:e", "user:f", "user:z"}));
  json files = r.section.data["files"];
  ASSERT_EQ(files.size(), 6u);
  EXPECT_EQ(files[1]["path"], "/etc/sub/one");
  EXPECT_EQ(files[1]["via"], "include");
  EXPECT_EQ(files[1]["included_from"], json({{"file", "/etc/sudoers"}, {"line", 2}}));
  EXPECT_EQ(files[2]["path"], "/etc/sub/two");
  EXPECT_EQ(files[3]["via"], "includedir");
  json dir = r.section.data["includedirs"][0];
  EXPECT_EQ(dir["path"], "/etc/sudoers.d");
  EXPECT_EQ(dir["files"], json({"/etc/sudoers.d/10", "/etc/sudoers.d/20"}));
  EXPECT_EQ(dir["skipped"], json({"backup~", "fifo", "subdir", "x.conf"}));
}

TEST(SudoersIncludeTest, MissingIncludedirIsFineMissingIncludeIsAnError) {
  TempRoot root;
  root.Write("/etc/sudoers", "@includedir /etc/nope.d\n@include /etc/nope\na ALL = /bin/a\n", 0440);
  Result r = Collect(root);
  EXPECT_EQ(r.section.data["includedirs"][0]["status"], "missing");
  ASSERT_EQ(r.section.errors.size(), 1u);
  EXPECT_EQ(r.section.errors[0].path, "/etc/sudoers");
  EXPECT_EQ(r.section.errors[0].line, 2);
  EXPECT_NE(r.section.errors[0].message.find("/etc/nope"), std::string::npos);
  EXPECT_EQ(r.grants().size(), 1u);
}

TEST(SudoersIncludeTest, LoopsAndSelfIncludeAreErrors) {
  TempRoot root;
  root.Write("/etc/sudoers", "a ALL = /bin/a\n@include /etc/sudoers\n@include /etc/l1\n", 0440);
  root.Write("/etc/l1", "b ALL = /bin/b\n@include l2\n", 0440);
  root.Write("/etc/l2", "c ALL = /bin/c\n@include /etc/../etc/l1\n", 0440);
  Result r = Collect(root);
  EXPECT_EQ(r.grants().size(), 3u);
  ASSERT_EQ(r.section.errors.size(), 2u);
  EXPECT_EQ(r.section.errors[0].line, 2);
  EXPECT_NE(r.section.errors[0].message.find("include loop"), std::string::npos);
  EXPECT_EQ(r.section.errors[1].path, "/etc/l2");
}

TEST(SudoersIncludeTest, DepthIsCappedLikeSudo) {
  TempRoot root;
  root.Write("/etc/sudoers", "@include /etc/f1\n", 0440);
  for (int i = 1; i <= 150; ++i) {
    root.Write(
        "/etc/f" + std::to_string(i),
        "u" + std::to_string(i) + " ALL = /bin/x\n@include /etc/f" + std::to_string(i + 1) + "\n");
  }
  root.Write("/etc/f151", "end ALL = /bin/end\n");
  Result r = Collect(root);
  // /etc/sudoers is depth 0; sudo 1.9.13 refuses an include from depth 144 (f144).
  EXPECT_EQ(r.grants().size(), 144u);
  ASSERT_EQ(r.section.errors.size(), 1u);
  EXPECT_EQ(r.section.errors[0].path, "/etc/f144");
  EXPECT_NE(r.section.errors[0].message.find("too many levels of includes"), std::string::npos);
}

TEST(SudoersIncludeTest, FifoDirectoryAndUnreadableIncludes) {
  TempRoot root;
  root.Write("/etc/sudoers",
             "@include /etc/fifo\n@include /etc/dir\n@include /etc/big\na ALL = /bin/a\n", 0440);
  root.Fifo("/etc/fifo");
  root.Mkdir("/etc/dir");
  root.Write("/etc/big", std::string(40u << 20, 'a'));  // over the read bound
  Result r = Collect(root);
  EXPECT_EQ(r.grants().size(), 1u);
  EXPECT_EQ(ErrorLines(r.section), (std::vector<int64_t>{1, 2, 3}));
}

// ---- bad input ----------------------------------------------------------------------------

TEST(SudoersBadInputTest, SyntaxErrorsSkipTheEntryAndNeverQuoteIt) {
  Result r = CollectText(
      "good1 ALL = /bin/a\n"
      "bad ALL = (secretvalue /bin/b\n"
      "good2 ALL = /bin/c\n"
      "bad2 ALL = \\\n  relative/secret\n"
      "good3 ALL = /bin/d\n");
  EXPECT_EQ(Brief(r.grants()),
            (V{"user:good1 ALL (user:root) /bin/a", "user:good2 ALL (user:root) /bin/c",
               "user:good3 ALL (user:root) /bin/d"}));
  EXPECT_EQ(ErrorLines(r.section), (std::vector<int64_t>{2, 5}));
  for (const auto& e : r.section.errors) EXPECT_EQ(e.message.find("secret"), std::string::npos);
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
}

TEST(SudoersBadInputTest, BinaryGarbageAndNulBytes) {
  std::string garbage;
  for (int i = 0; i < 20000; ++i) garbage.push_back(static_cast<char>((i * 7919) % 256));
  Result r = CollectText("a ALL = /bin/a\n" + garbage +
                         Bytes("\nz ALL = /bin/z\nb ALL = /bin/\0b\nc ALL = /bin/c\n"));
  EXPECT_FALSE(r.section.errors.empty());
  EXPECT_LE(r.section.errors.size(), 51u);  // capped per file
  std::vector<std::string> principals;
  for (const auto& g : r.grants()) principals.push_back(g["principal"]);
  EXPECT_EQ(principals.front(), "user:a");
  EXPECT_EQ(principals.back(), "user:c");
}

TEST(SudoersBadInputTest, NulByteIsReported) {
  Result r = CollectText(Bytes("a ALL = /bin/a\nb ALL = /bin/b\0x\nc ALL = /bin/c\n"));
  ASSERT_FALSE(r.section.errors.empty());
  EXPECT_EQ(r.section.errors[0].line, 2);
  EXPECT_EQ(Brief(r.grants()),
            (V{"user:a ALL (user:root) /bin/a", "user:c ALL (user:root) /bin/c"}));
}

TEST(SudoersBadInputTest, TenMegabyteLine) {
  std::string big = "x ALL = /bin/" + std::string(10u << 20, 'a') + "\n";
  std::string bad = "y ALL = (" + std::string(10u << 20, 'b') + "\n";
  // Its cost is measured by bench/, not asserted here (shared, noisy machines).
  Result r = CollectText("a ALL = /bin/a\n" + big + bad + "z ALL = /bin/z\n");
  // The 10 MB grant is read whole; its command (and the id that holds it) is written cut to the
  // 1 MiB a decoder accepts for a string, and the section says so: before 2026-12-06 it was
  // written whole, and the collector refused the host's whole snapshot.
  ASSERT_EQ(r.grants().size(), 3u);
  std::string command = r.grants()[1]["command"].get<std::string>();
  EXPECT_LE(command.size(), 1u << 20);
  EXPECT_EQ(command.substr(0, 6), "/bin/a");
  EXPECT_EQ(command.substr(command.size() - 19), "…(10485765 bytes)");
  EXPECT_EQ(r.grants()[2]["command"], "/bin/z");
  EXPECT_FALSE(r.section.data.contains("truncated"));
  EXPECT_EQ(ErrorLines(r.section), (std::vector<int64_t>{3, 0}));
  EXPECT_LT(r.section.errors[0].message.size(), 200u);
  EXPECT_NE(r.section.errors[1].message.find("longer than 1048576 bytes of UTF-8 cut"),
            std::string::npos)
      << r.section.errors[1].message;
}

// The cap on grant text (16 MiB, docs/sections/sudo.md "Bounds") with grants each under the
// 1 MiB string limit: 12 commands of 900,000 bytes, each written twice (command and id), 1.8 MB
// of JSON a grant: the tenth crosses 16 MiB and is the last kept.
TEST(SudoersBadInputTest, GrantTextIsCappedAndTheCutCounted) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "u ALL = /bin/" + std::string(900000, 'c') + "\n";
  Result r = CollectText(text);
  size_t kept = r.grants().size();
  EXPECT_GE(kept, 9u);
  EXPECT_LT(kept, 12u);
  EXPECT_EQ(r.section.data["truncated"]["grants"], json({{"limit", kept}, {"total", 12}}));
}

TEST(SudoersScaleTest, FiveHundredFilesWithAliases) {
  TempRoot root;
  std::string main = "User_Alias BASE = root\n@includedir /etc/sudoers.d\n";
  root.Write("/etc/sudoers", main, 0440);
  for (int i = 0; i < 500; ++i) {
    std::string n = std::to_string(i);
    std::string prev = i == 0 ? "BASE" : "U" + std::to_string(i - 1);
    root.Write("/etc/sudoers.d/f" + std::string(4 - n.size(), '0') + n,
               "User_Alias U" + n + " = user" + n + ", " + prev + "\n" + "Cmnd_Alias C" + n +
                   " = /bin/c" + n + ", /usr/bin/d" + n + " -x\n" + "Host_Alias H" + n + " = host" +
                   n + ", 10.0." + std::to_string(i % 250) + ".0/24\n" + "Defaults:U" + n +
                   " !lecture\n" + "user" + n + " H" + n + " = (root) NOPASSWD: C" + n + "\n",
               0440);
  }
  root.Write("/etc/sudoers.d/zz", "U499 ALL = /bin/deep\n", 0440);
  Result r = Collect(root);
  EXPECT_TRUE(r.section.errors.empty());
  EXPECT_EQ(r.section.data["files"].size(), 502u);
  // 500 x 2 hosts x 2 commands, plus the 501 members of the deepest nested alias.
  EXPECT_EQ(r.grants().size(), 2000u + 501u);
}

TEST(SudoersTimeTest, TimeoutAndGentime) {
  using sudoers::NormalizeGentime;
  using sudoers::ParseTimeout;
  EXPECT_EQ(ParseTimeout("7d8h30m10s"), 7 * 86400 + 8 * 3600 + 30 * 60 + 10);
  EXPECT_EQ(ParseTimeout("600"), 600);
  EXPECT_EQ(ParseTimeout("8H30M"), 8 * 3600 + 30 * 60);
  EXPECT_FALSE(ParseTimeout("12m2w1d"));
  EXPECT_FALSE(ParseTimeout("30s10m"));
  EXPECT_FALSE(ParseTimeout("1d2d"));
  EXPECT_EQ(NormalizeGentime("20170214083000Z"), "20170214083000Z");
  EXPECT_EQ(NormalizeGentime("2017021408Z"), "20170214080000Z");
  EXPECT_EQ(NormalizeGentime("20160315220000-0500"), "20160316030000Z");
  EXPECT_FALSE(NormalizeGentime("2017"));
  EXPECT_FALSE(NormalizeGentime("20171314000000Z"));
  // A leap second, a day carried over a year's end, and years written as strftime's %Y writes
  // them (no padding): the text sudo's own conversion gives.
  EXPECT_EQ(NormalizeGentime("20161231235960Z"), "20170101000000Z");
  EXPECT_EQ(NormalizeGentime("19991231230000-0130"), "20000101003000Z");
  EXPECT_EQ(NormalizeGentime("09990101000000Z"), "9990101000000Z");
  EXPECT_EQ(NormalizeGentime("00000101000000+0100"), "-11231230000Z");
}

// ---- bounds (docs/sections/sudo.md "Bounds") ------------------------------------------------

namespace bounds {

TEST(SudoBoundsTest, GrantsBeyondTheCapAreTruncatedWithTheTrueTotal) {
  std::string s = "User_Alias U = u0";
  for (int i = 1; i < 200; ++i) s += ",u" + std::to_string(i);
  s += "\nCmnd_Alias C = /bin/c0";
  for (int i = 1; i < 200; ++i) s += ",/bin/c" + std::to_string(i);
  s += "\nU ALL = (root) C\n";
  Result r = CollectText(s);
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
  EXPECT_EQ(r.grants().size(), 20000u);
  EXPECT_EQ(r.section.data["truncated"]["grants"], json({{"limit", 20000}, {"total", 40000}}));
}

TEST(SudoBoundsTest, NestedAliasesAreCutAtTheListCapWithAnErrorNamingTheAlias) {
  std::string s = "User_Alias A0 = a,b,c,d\n";
  for (int i = 1; i < 10; ++i) {
    std::string p = "A" + std::to_string(i - 1);
    s += "User_Alias A" + std::to_string(i) + " = " + p + "," + p + "," + p + "," + p + "\n";
  }
  s += "A9 ALL = /bin/x\n";
  Result r = CollectText(s);
  EXPECT_EQ(r.section.status, SectionStatus::kPartial);
  bool named = false;
  for (const auto& e : r.section.errors) {
    if (e.path == "/etc/sudoers" && e.line == 7 &&
        e.message == "User_Alias \"A6\" expands to more than 10000 members; the rest are left out")
      named = true;
  }
  EXPECT_TRUE(named) << r.section.errors.size();
  EXPECT_EQ(r.grants().size(), 10000u);
}

TEST(SudoBoundsTest, AliasesNestedDeeperThanTheCapAreLeftOutWithAnError) {
  std::string s = "Cmnd_Alias C0 = /bin/x\n";
  for (int i = 1; i <= 1010; ++i) {
    s += "Cmnd_Alias C" + std::to_string(i) + " = C" + std::to_string(i - 1) + "\n";
  }
  s += "u ALL = C1010\nv ALL = C10\n";
  Result r = CollectText(s);
  EXPECT_EQ(Brief(r.grants()), V({"user:v ALL (user:root) /bin/x"}));
  bool named = false;
  for (const auto& e : r.section.errors) {
    if (e.message.find("nested more than 1000 aliases deep") != std::string::npos) named = true;
  }
  EXPECT_TRUE(named);
}

TEST(SudoBoundsTest, IncludesBeyondTheFileCapAreReportedOnce) {
  TempRoot root;
  std::string main;
  for (int i = 0; i < 1100; ++i) main += "@include /etc/sudoers.d/x\n";
  root.Write("/etc/sudoers", main, 0440);
  root.Write("/etc/sudoers.d/x", "u ALL = /bin/x\n", 0440);
  Result r = Collect(root);
  EXPECT_EQ(r.section.data["files"].size(), 1000u);
  size_t cut = 0;
  for (const auto& e : r.section.errors) {
    if (e.message.find("more than 1000 sudoers files") != std::string::npos) {
      ++cut;
      EXPECT_EQ(e.line, 1000);
    }
  }
  EXPECT_EQ(cut, 1u);
}

}  // namespace bounds
}  // namespace
}  // namespace tidemark::agent
