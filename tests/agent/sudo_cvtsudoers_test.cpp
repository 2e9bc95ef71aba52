// Compares the sudo section with the real sudo 1.9 (label "tool"): for every fixture under
// tests/fixtures/sudoers/, the grants and Defaults tidemark collects must equal what
// `cvtsudoers -e -f json` prints for the same files, and `visudo -c` must accept the fixture.
// For the parse-error fixtures, visudo must reject them at exactly the lines tidemark reports.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/sections/sudo.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using testing::HaveProgram;
using testing::RunCommand;
using testing::TempRoot;

constexpr const char* kHost = "testhost";

std::string FixtureDir(const std::string& name) {
  return std::string(TIDEMARK_FIXTURES_DIR) + "/sudoers/" + name;
}

std::string Quote(const std::string& s) { return testing::ShellQuote(s); }

// Copies a fixture tree into `dest`; when `rebase` is set, absolute include paths are rewritten
// to point into `dest` (cvtsudoers follows includes on the real filesystem).
void CopyFixture(const std::string& src, const std::string& dest, bool rebase) {
  stdfs::copy(src, dest, stdfs::copy_options::recursive | stdfs::copy_options::overwrite_existing);
  if (!rebase) return;
  static const std::regex kInclude(R"(^([@#]include(dir)?[ \t]+"?)/)");
  for (const auto& e : stdfs::recursive_directory_iterator(dest)) {
    if (!e.is_regular_file()) continue;
    std::string text = testing::ReadHostFile(e.path().string());
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line))
      out += std::regex_replace(line, kInclude, "$1" + dest + "/") + "\n";
    std::ofstream(e.path(), std::ios::trunc) << out;
  }
}

// cvtsudoers 1.9.13 prints runchroot/runcwd and the SELinux role/type as bare "key": value
// pairs inside arrays, which is not JSON; wrap them into objects.
std::string FixCvtsudoersJson(const std::string& text) {
  static const std::regex kBare(R"(^(\s*)\"(runchroot|runcwd|role|type)\": (.*?)(,?)$)");
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line))
    out += std::regex_replace(line, kBare, "$1{ \"$2\": $3 }$4") + "\n";
  return out;
}

std::string Negate(const json& o, const std::string& s) {
  return o.value("negated", false) ? "!" + s : s;
}

std::string IdText(const json& v) {
  return v.is_string() ? v.get<std::string>() : std::to_string(v.get<long long>());
}

// cvtsudoers member object -> tidemark's principal/host/command strings. `ctx` is "user",
// "group" (a runas group list), "host" or "command".
std::string MapMember(const json& o, const std::string& ctx) {
  if (o.contains("command")) {
    return Negate(o, o["command"].get<std::string>());
  }
  for (const auto& [k, v] : o.items()) {
    if (k == "negated" || k == "sha224" || k == "sha256" || k == "sha384" || k == "sha512")
      continue;
    std::string s = IdText(v);
    std::string r;
    if (ctx == "host") {
      r = k == "netgroup" ? "+" + s : s;
    } else if (s == "ALL" && (k == "username" || k == "usergroup" || k == "hostname")) {
      r = "ALL";
    } else if (ctx == "group" && (k == "username" || k == "usergroup")) {
      r = s.size() > 1 && s[0] == '#' ? "gid:" + s.substr(1) : "group:" + s;
    } else if (ctx == "group" && (k == "userid" || k == "usergid")) {
      r = "gid:" + s;
    } else if (k == "username") {
      r = "user:" + s;
    } else if (k == "userid") {
      r = "uid:" + s;
    } else if (k == "usergroup") {
      r = "group:" + s;
    } else if (k == "usergid") {
      r = "gid:" + s;
    } else {
      r = k + ":" + s;  // netgroup, nonunixgroup, nonunixgid
    }
    return Negate(o, r);
  }
  return "?";
}

std::string Digests(const json& o) {
  std::vector<std::string> d;
  for (const char* alg : {"sha224", "sha256", "sha384", "sha512"}) {
    if (o.contains(alg)) d.push_back(std::string(alg) + ":" + o[alg].get<std::string>());
  }
  std::sort(d.begin(), d.end());
  std::string s;
  for (const auto& x : d) s += x + ";";
  return s;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::string Row(const std::string& principal, const std::string& host, const std::string& users,
                const std::string& groups, const std::string& command, const std::string& digests,
                const json& tags, const json& options) {
  return principal + " | " + host + " | (" + users + " : " + groups + ") | " + command + " | " +
         digests + " | " + tags.dump() + " | " + options.dump();
}

std::string Key(const std::string& principal, const std::string& host, const std::string& users,
                const std::string& groups, const std::string& command) {
  return principal + " | " + host + " | (" + users + " : " + groups + ") | " + command;
}

// The flat grant list of cvtsudoers -e -f json.
//
// cvtsudoers merges adjacent Cmnd_Specs whose tags do not "change" (a tag left unset counts as
// unchanged) and prints the first one's tags for all of them. So for "ALL, /bin/x" it shows the
// SETENV implied by ALL on /bin/x too, although gram.y does not carry an implied SETENV over
// (and "/bin/x, ALL" hides it on ALL). In a merged group holding ALL, SETENV is therefore not
// comparable; those grants' keys go to `ambiguous_setenv` and SETENV is left out on both sides.
std::vector<std::string> CvtsudoersGrants(const json& doc,
                                          std::set<std::string>& ambiguous_setenv) {
  std::vector<std::string> rows;
  for (const auto& us : doc.value("User_Specs", json::array())) {
    std::vector<std::string> users, hosts;
    for (const auto& m : us["User_List"]) users.push_back(MapMember(m, "user"));
    for (const auto& m : us["Host_List"]) hosts.push_back(MapMember(m, "host"));
    for (const auto& cs : us["Cmnd_Specs"]) {
      std::vector<std::string> ru, rg;
      if (!cs.contains("runasusers") && !cs.contains("runasgroups")) ru.push_back("user:root");
      for (const auto& m : cs.value("runasusers", json::array())) {
        if (m.value("username", json()) == "") continue;  // MYSELF: "()"
        ru.push_back(MapMember(m, "user"));
      }
      for (const auto& m : cs.value("runasgroups", json::array()))
        rg.push_back(MapMember(m, "group"));
      json tags = json::object();
      json options = json::object();
      for (const auto& opt : cs.value("Options", json::array())) {
        for (const auto& [k, v] : opt.items()) {
          if (k == "authenticate") tags["nopasswd"] = !v.get<bool>();
          if (k == "noexec" || k == "intercept" || k == "setenv" || k == "log_input" ||
              k == "log_output") {
            tags[k] = v.get<bool>();
          }
          if (k == "send_mail") tags["mail"] = v.get<bool>();
          if (k == "sudoedit_follow") tags["follow"] = v.get<bool>();
          if (k == "runcwd") options["cwd"] = v;
          if (k == "runchroot") options["chroot"] = v;
        }
      }
      for (const auto& opt : cs.value("SELinux_Spec", json::array())) {
        for (const auto& [k, v] : opt.items()) options[k] = v;
      }
      bool ambiguous = false;
      if (cs["Commands"].size() > 1) {
        for (const auto& c : cs["Commands"]) ambiguous |= MapMember(c, "command") == "ALL";
      }
      json shown = tags;
      if (ambiguous) shown.erase("setenv");
      for (const auto& u : users) {
        for (const auto& h : hosts) {
          for (const auto& c : cs["Commands"]) {
            std::string cmd = MapMember(c, "command");
            if (ambiguous) ambiguous_setenv.insert(Key(u, h, Join(ru), Join(rg), cmd));
            rows.push_back(Row(u, h, Join(ru), Join(rg), cmd, Digests(c), shown, options));
          }
        }
      }
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::vector<std::string> TidemarkGrants(const json& data,
                                        const std::set<std::string>& ambiguous_setenv) {
  std::vector<std::string> rows;
  for (const auto& g : data["grants"]) {
    std::vector<std::string> d;
    for (const auto& x : g.value("digests", json::array())) {
      d.push_back(x["algorithm"].get<std::string>() + ":" + x["value"].get<std::string>());
    }
    std::sort(d.begin(), d.end());
    std::string digests;
    for (const auto& x : d) digests += x + ";";
    json options = json::object();
    for (const char* k : {"cwd", "chroot", "role", "type"}) {
      if (g.contains("options") && g["options"].contains(k)) options[k] = g["options"][k];
    }
    json tags = g["tags"];
    if (ambiguous_setenv.count(Key(g["principal"], g["host"], Join(g["runas_users"]),
                                   Join(g["runas_groups"]), g["command"])) != 0) {
      tags.erase("setenv");
    }
    rows.push_back(Row(g["principal"], g["host"], Join(g["runas_users"]), Join(g["runas_groups"]),
                       g["command"], digests, tags, options));
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

std::string CollapseSpaces(const std::string& s) {
  std::istringstream in(s);
  std::string w, out;
  while (in >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::vector<std::string> CvtsudoersDefaults(const json& doc) {
  std::vector<std::string> rows;
  for (const auto& d : doc.value("Defaults", json::array())) {
    std::vector<std::string> binding;
    for (const auto& m : d.value("Binding", json::array())) {
      binding.push_back(
          MapMember(m, m.contains("hostname") || m.contains("networkaddr") ? "host" : "user"));
    }
    for (const auto& opt : d["Options"]) {
      std::string s;
      if (opt.contains("operation")) {
        std::string op = opt["operation"] == "list_add"      ? "+="
                         : opt["operation"] == "list_remove" ? "-="
                                                             : "=";
        for (const auto& [k, v] : opt.items()) {
          if (k == "operation") continue;
          std::vector<std::string> words;
          for (const auto& w : v) words.push_back(w);
          std::string joined;
          for (const auto& w : words) joined += (joined.empty() ? "" : " ") + w;
          s = k + op + joined;
        }
      } else {
        for (const auto& [k, v] : opt.items()) {
          s = v.is_boolean() ? (v.get<bool>() ? k : "!" + k)
                             : k + "=" + CollapseSpaces(v.get<std::string>());
        }
      }
      rows.push_back(Join(binding) + " | " + s);
    }
  }
  return rows;
}

std::vector<std::string> TidemarkDefaults(const json& data) {
  std::vector<std::string> rows;
  for (const auto& d : data["defaults"]) {
    std::vector<std::string> binding;
    for (const auto& b : d["binding"]) binding.push_back(b);
    std::string name = d["name"];
    std::string s = d["negated"].get<bool>() ? "!" + name : name;
    if (!d["operator"].is_null())
      s = name + d["operator"].get<std::string>() + CollapseSpaces(d["value"]);
    rows.push_back(Join(binding) + " | " + s);
  }
  return rows;
}

Section CollectRoot(const std::string& root) {
  auto fs = OpenRootFs(root);
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, kHost);
  Section out;
  SudoReader().Collect(ctx, out);
  out.Finish();
  out.Materialize();
  return out;
}

const std::vector<std::string> kFixtures = {
    "aliases",  "commands", "debian_stock", "defaults", "includes", "multispec",
    "negation", "options",  "principals",   "runas",    "tags",     "upstream_example"};

TEST(SudoCvtsudoersTest, EveryFixtureIsListed) {
  std::set<std::string> on_disk;
  for (const auto& e : stdfs::directory_iterator(std::string(TIDEMARK_FIXTURES_DIR) + "/sudoers")) {
    on_disk.insert(e.path().filename().string());
  }
  EXPECT_EQ(on_disk, std::set<std::string>(kFixtures.begin(), kFixtures.end()));
}

class FixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FixtureTest, GrantsAndDefaultsMatchCvtsudoers) {
  if (!HaveProgram("cvtsudoers") || !HaveProgram("visudo")) {
    TIDEMARK_REQUIRE(false, "cvtsudoers/visudo not installed (Debian package sudo)");
  }
  TempRoot root;
  CopyFixture(FixtureDir(GetParam()), root.path(), false);
  TempRoot tool;
  CopyFixture(FixtureDir(GetParam()), tool.path(), true);
  std::string main = tool.path() + "/etc/sudoers";

  std::string out, err;
  ASSERT_EQ(RunCommand("visudo -c -f " + Quote(main), &out, &err), 0) << out << err;
  ASSERT_EQ(RunCommand("cvtsudoers -e -f json " + Quote(main), &out, &err), 0) << err;
  json doc = json::parse(FixCvtsudoersJson(out));

  Section s = CollectRoot(root.path());
  EXPECT_EQ(s.status, SectionStatus::kOk);
  for (const auto& e : s.errors)
    ADD_FAILURE() << e.path << ":" << e.line.value_or(0) << ": " << e.message;

  std::set<std::string> ambiguous;
  std::vector<std::string> want = CvtsudoersGrants(doc, ambiguous);
  std::vector<std::string> got = TidemarkGrants(s.data, ambiguous);
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(got, want);
  EXPECT_EQ(TidemarkDefaults(s.data), CvtsudoersDefaults(doc));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureTest, ::testing::ValuesIn(kFixtures),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

// The parse-error fixtures: visudo rejects them, at the same lines tidemark reports.
TEST(SudoCvtsudoersTest, ParseErrorsAtTheLinesVisudoReports) {
  TIDEMARK_REQUIRE(HaveProgram("visudo"), "visudo not installed (Debian package sudo)");
  std::string dir = std::string(TIDEMARK_FIXTURES_DIR) + "/sudoers_errors";
  size_t n = 0;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    ++n;
    SCOPED_TRACE(e.path().string());
    TempRoot root;
    root.Write("/etc/sudoers", testing::ReadHostFile(e.path().string()));
    std::string out, err;
    EXPECT_NE(RunCommand("visudo -c -f " + Quote(root.Host("/etc/sudoers")), &out, &err), 0);
    std::set<int64_t> visudo_lines;
    static const std::regex kLine(R"(:([0-9]+):[0-9]+: )");
    std::string all = out + err;
    for (auto it = std::sregex_iterator(all.begin(), all.end(), kLine);
         it != std::sregex_iterator(); ++it) {
      visudo_lines.insert(std::stoll((*it)[1]));
    }
    Section s = CollectRoot(root.path());
    std::set<int64_t> ours;
    for (const auto& err2 : s.errors) {
      EXPECT_EQ(err2.path, "/etc/sudoers");
      ours.insert(err2.line.value_or(0));
    }
    EXPECT_FALSE(visudo_lines.empty());
    EXPECT_EQ(ours, visudo_lines);
    EXPECT_EQ(s.status, SectionStatus::kPartial);
  }
  EXPECT_GT(n, 0u);
}

}  // namespace
}  // namespace tidemark::agent
