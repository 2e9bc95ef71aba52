// The services section against systemctl: for a fixture root covering every is-enabled state
// (and broken inputs), and for this machine's own root, each unit's state must be exactly what
// `systemctl --root=DIR is-enabled UNIT` prints; where systemctl fails, the unit must be "bad".
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "agent/parsers/unit_file.h"
#include "agent/sections/services.h"
#include "tests/support/collect_section.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

json Collect(const std::string& root) {
  return tidemark::testing::CollectSectionJsonAt<ServicesReader>(root);
}

std::string Quote(const std::string& s) { return testing::ShellQuote(s); }

// Compares every collected unit with systemctl; returns the number of units compared.
size_t CompareWithSystemctl(const std::string& root, const json& data) {
  size_t n = 0;
  for (const auto& u : data["units"]) {
    std::string name = u["id"].get<std::string>().substr(5);  // "unit:NAME"
    std::string out, err;
    int rc = testing::RunCommand(
        "systemctl --root=" + Quote(root) + " is-enabled -- " + Quote(name), &out, &err);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    SCOPED_TRACE(name + " systemctl rc=" + std::to_string(rc) + " out=" + out + " err=" + err);
    if (out.empty()) {
      EXPECT_NE(rc, 0);
      EXPECT_EQ(u["state"], "bad");
    } else {
      EXPECT_EQ(u["state"], out);
    }
    ++n;
  }
  return n;
}

class ServicesSystemctl : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(testing::HaveProgram("systemctl"), "systemctl (systemd) not installed");
  }
  void Unit(const std::string& path, const std::string& text) { root_.Write(path, text); }
  testing::TempRoot root_;
};

constexpr const char* kL = "/lib/systemd/system/";
constexpr const char* kE = "/etc/systemd/system/";
constexpr const char* kR = "/run/systemd/system/";
const std::string kSvc = "[Service]\nExecStart=/bin/true\n";
const std::string kWanted = kSvc + "[Install]\nWantedBy=multi-user.target\n";

TEST_F(ServicesSystemctl, EveryStateOnAFixtureRoot) {
  std::string L = kL, E = kE, R = kR;
  Unit(L + "static.service", kSvc);
  Unit(L + "disabled.service", kWanted);
  Unit(L + "enabled.service", kWanted + "Alias=enabled-alias.service\n");
  root_.Symlink(E + "multi-user.target.wants/enabled.service", L + "enabled.service");
  root_.Symlink(E + "enabled-alias.service", L + "enabled.service");
  Unit(L + "unlinked-alias.service", kWanted + "Alias=ua2.service\n");
  root_.Symlink(E + "ua2.service", L + "unlinked-alias.service");  // enabled via Alias= link
  Unit(L + "enabled-rt.service", kWanted);
  root_.Symlink(R + "multi-user.target.wants/enabled-rt.service", L + "enabled-rt.service");
  Unit(L + "required.service", kSvc + "[Install]\nRequiredBy=basic.target\n");
  root_.Symlink(E + "basic.target.requires/required.service", L + "required.service");
  Unit(L + "masked.service", kWanted);
  root_.Symlink(E + "masked.service", "/dev/null");
  root_.Symlink(R + "masked-rt.service", "/dev/null");
  Unit(L + "empty-masked.service", "");
  Unit("/opt/linked.service", kWanted);
  root_.Symlink(E + "linked.service", "/opt/linked.service");
  Unit("/opt/linked-rt.service", kSvc);
  root_.Symlink(R + "linked-rt.service", "/opt/linked-rt.service");
  Unit(L + "also.service", kSvc + "[Install]\nAlso=disabled.service\n");
  Unit(L + "used-by-name.service", kSvc);
  root_.Symlink(E + "multi-user.target.wants/other-name.service", L + "used-by-name.service");
  Unit("/run/systemd/generator/gen.service", kSvc);
  Unit("/run/systemd/generator.late/gen-late.service", kSvc);
  Unit("/run/systemd/transient/tr.service", kSvc);
  Unit(L + "tmpl@.service", kSvc + "[Install]\nWantedBy=multi-user.target\n");
  root_.Symlink(E + "multi-user.target.wants/tmpl@a.service", L + "tmpl@.service");
  Unit(L + "defi@.service", kSvc + "[Install]\nWantedBy=multi-user.target\nDefaultInstance=x\n");
  root_.Symlink(E + "multi-user.target.wants/defi@x.service", L + "defi@.service");
  Unit(L + "vendor@.service", kSvc);
  root_.Symlink(L + "multi-user.target.wants/vendor@one.service", "../vendor@.service");
  Unit(L + "vendor-wanted.service", kSvc);
  root_.Symlink(L + "multi-user.target.wants/vendor-wanted.service", "../vendor-wanted.service");
  root_.Symlink(L + "vendor-alias.service", "enabled.service");
  root_.Symlink(E + "dangling.service", "/opt/nothing.service");
  root_.Symlink(E + "alias-to-missing.service", L + "missing.service");
  root_.Symlink(E + "loop1.service", "loop2.service");
  root_.Symlink(E + "loop2.service", "loop1.service");
  root_.Symlink(E + "wrong-suffix.service", L + "basic.target");
  Unit(L + "basic.target", "[Unit]\nDescription=b\n");
  Unit(L + "dropin.service", kSvc);
  Unit(L + "dropin.service.d/install.conf", "[Install]\nWantedBy=multi-user.target\n");
  Unit(L + "reset.service", kWanted);
  Unit(E + "reset.service.d/x.conf", "[Install]\nWantedBy=\n");
  Unit("/usr/local/lib/systemd/system/local.service", kWanted);
  Unit("/usr/lib/systemd/system/usrlib.service", kWanted);
  root_.Symlink(E + "multi-user.target.wants/usrlib.service",
                "/usr/lib/systemd/system/usrlib.service");
  Unit(E + "etc-regular.service", kWanted);
  root_.Mkdir(E + "dir.service");  // a directory where a unit file should be
  Unit(L + "dir.service", kWanted);
  Unit(L + "binary.service", std::string("\x7f"
                                         "ELF\x01\x02\0\0garbage\n[Install]\nWantedBy=a.target\n",
                                         44));
  Unit(L + "long.service", "[Service]\nExecStart=/bin/" + std::string(11 << 20, 'a') + "\n");
  Unit(L + "cont.service",
       "[Service]\nExecStart=/bin/echo \\\n  a\n[Install]\nWantedBy=\\\n# c\n a.target\n");
  Unit(L + "sock.socket", "[Socket]\nListenStream=1\n[Install]\nWantedBy=sockets.target\n");
  root_.Symlink(E + "sockets.target.wants/sock.socket", L + "sock.socket");
  Unit(L + "m.mount", "[Mount]\nWhat=/a\nWhere=/m\n[Install]\nAlias=m2.mount\n");

  json d = Collect(root_.path());
  std::set<std::string> states;
  for (const auto& u : d["units"]) states.insert(u["state"]);
  for (const char* s :
       {"enabled", "enabled-runtime", "linked", "linked-runtime", "alias", "masked",
        "masked-runtime", "static", "indirect", "disabled", "generated", "transient", "bad"}) {
    EXPECT_TRUE(states.count(s)) << "fixture lacks state " << s;
  }
  EXPECT_GE(CompareWithSystemctl(root_.path(), d), 40u);
}

TEST_F(ServicesSystemctl, AliasesTemplatesAndInstances) {
  std::string L = kL, E = kE, R = kR;
  Unit(L + "a.service", kSvc + "[Install]\nAlias=a2.service\nWantedBy=m.target\n");
  root_.Symlink(E + "m.target.wants/a2.service", L + "a.service");  // enabled by its Alias=
  Unit(L + "t@.service", kSvc + "[Install]\nWantedBy=m.target\nDefaultInstance=d\n");
  root_.Symlink(E + "m.target.wants/t@d.service", L + "t@.service");
  root_.Symlink(E + "t@x.service", L + "t@.service");  // instance -> template
  Unit("/opt/lt@.service", kSvc + "[Install]\nWantedBy=m.target\n");
  root_.Symlink(E + "lt@.service", "/opt/lt@.service");  // linked template
  root_.Symlink(L + "t2@.service", "t@.service");        // template alias
  root_.Symlink(L + "inst@y.service", "t@.service");
  Unit(L + "rq.service", kSvc + "[Install]\nRequiredBy=m.target\n");
  root_.Symlink(R + "m.target.requires/rq.service", L + "rq.service");
  Unit(L + "shadowed.service", kWanted);
  Unit(E + "shadowed.service", kSvc);  // /etc overrides /lib
  Unit(R + "rt.service", kWanted);
  root_.Symlink(E + "rt.service", L + "rt.service");  // dangling: systemctl fails
  Unit(L + "mnt.mount", "[Mount]\nWhat=a\nWhere=/b\n[Install]\nWantedBy=m.target\nAlias=x.mount\n");
  Unit(L + "tm.timer", "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n");
  root_.Symlink(E + "timers.target.wants/tm.timer", L + "tm.timer");
  Unit(L + "sp.service", kWanted);
  root_.Symlink(E + "m.target.wants/sub/sp.service", L + "sp.service");  // not a .wants dir
  root_.Symlink(E + "wrongname@.service", L + "a.service");
  Unit(L + "ed.service", kSvc);
  Unit(L + "ed.service.d/x.conf", "[Install]\nWantedBy=m.target\n");
  Unit(L + "p.service", kSvc);
  Unit(L + "u@.service", kSvc);
  root_.Symlink(L + "i@a.service", "p.service");    // instance -> plain: refused
  root_.Symlink(L + "j@a.service", "t@b.service");  // other instance: refused
  root_.Symlink(L + "k@a.service", "t@a.service");  // same instance
  root_.Symlink(L + "pl.service", "t@a.service");   // plain -> instance: refused
  root_.Symlink(L + "pt.service", "t@.service");    // plain -> template: refused
  root_.Symlink(L + "tt@.service", "u@.service");   // template -> template
  root_.Symlink(E + "m.target.wants/tt@z.service", L + "tt@.service");
  json d = Collect(root_.path());
  EXPECT_GE(CompareWithSystemctl(root_.path(), d), 24u);
}

TEST_F(ServicesSystemctl, ThisMachineRoot) {
  json d = Collect("/");
  EXPECT_GT(CompareWithSystemctl("/", d), 0u);
}

// Active states against a real, private systemd: tests/support/private_systemd.sh boots
// /lib/systemd/system as PID 1 of new namespaces with the units below as the only unit files;
// the agent runs inside those namespaces (a live host whose systemd answers) and each unit's
// active/sub state must equal what `systemctl show` says; ExecStart must equal the argv systemd
// built (which checks the specifier expansion too). Every process started is killed at the end.
class ServicesLiveManager : public ::testing::Test {
 protected:
  void SetUp() override {
    TIDEMARK_REQUIRE(::geteuid() == 0, "booting a private systemd needs root");
    for (const char* tool : {"systemctl", "unshare", "nsenter"}) {
      TIDEMARK_REQUIRE(testing::HaveProgram(tool), tool << " not installed");
    }
    TIDEMARK_REQUIRE(::access("/lib/systemd/systemd", X_OK) == 0, "no /lib/systemd/systemd");
    const std::string lib = "/lib/", unit = "[Unit]\nDefaultDependencies=no\n";
    root_.Write(lib + "tidemark-test.target", "[Unit]\nDescription=t\n");
    root_.Write(lib + "run-me.service", unit +
                                            "[Service]\nExecStart=/bin/sleep 600\n"
                                            "[Install]\nWantedBy=tidemark-test.target\n");
    root_.Write(lib + "fail-me.service", unit + "[Service]\nType=oneshot\nExecStart=/bin/false\n");
    root_.Write(lib + "done.service", unit +
                                          "[Service]\nType=oneshot\nRemainAfterExit=yes\n"
                                          "ExecStart=/bin/true\n");
    root_.Write(lib + "idle.service", unit + "[Service]\nExecStart=/bin/sleep 700\n");
    root_.Write(lib + "sl@.service", unit + "[Service]\nExecStart=/bin/sleep %i\n");
    for (const char* wanted : {"run-me.service", "fail-me.service", "done.service"}) {
      root_.Symlink(std::string("/etc/tidemark-test.target.wants/") + wanted,
                    std::string("/usr/lib/systemd/system/") + wanted);
    }
    root_.Symlink("/etc/tidemark-test.target.wants/sl@601.service",
                  "/usr/lib/systemd/system/sl@.service");
    script_ = std::string(TIDEMARK_FIXTURES_DIR) + "/../support/private_systemd.sh";
    std::string out, err;
    if (testing::RunCommand("timeout 60 " + Quote(script_) + " start " + Quote(root_.path()), &out,
                            &err) != 0) {
      TIDEMARK_REQUIRE(false, "cannot boot a private systemd here: " << err);
    }
    pid_ = std::stoi(out);
  }
  void TearDown() override {
    if (pid_ <= 0) return;
    std::string out, err;
    EXPECT_EQ(testing::RunCommand("timeout 60 " + Quote(script_) + " stop " + Quote(root_.path()),
                                  &out, &err),
              0)
        << err;
    // The manager and everything it started are gone (bounded wait).
    for (int i = 0; i < 100 && ::kill(pid_, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_NE(::kill(pid_, 0), 0) << "the private systemd is still running";
  }
  // Runs a command inside the private systemd's mount and PID namespaces.
  int Inside(const std::string& command, std::string* out) {
    std::string err;
    return testing::RunCommand("nsenter -t " + std::to_string(pid_) + " -m -p -- " + command, out,
                               &err);
  }
  testing::TempRoot root_;
  std::string script_;
  int pid_ = 0;
};

TEST_F(ServicesLiveManager, ActiveStatesAndExecStartEqualSystemctl) {
  std::string text;
  ASSERT_EQ(Inside(Quote(TIDEMARK_AGENT_BIN) + " collect --only services", &text), 0);
  json d = json::parse(text)["services"];
  EXPECT_EQ(d["manager"]["running"], true);
  ASSERT_EQ(d["manager"]["active_state_collected"], true) << d["manager"].dump();
  std::map<std::string, json> by_name;
  for (const auto& u : d["units"]) by_name[u["id"].get<std::string>().substr(5)] = u;
  for (const char* name : {"run-me.service", "fail-me.service", "done.service", "idle.service",
                           "sl@601.service", "tidemark-test.target"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
  }
  const std::set<std::string> ours = {"run-me.service", "fail-me.service", "done.service",
                                      "idle.service",   "sl@601.service",  "sl@.service"};
  size_t compared = 0;
  for (const auto& [name, u] : by_name) {
    if (unit_file::ClassifyName(name) == unit_file::NameKind::kTemplate) {
      EXPECT_FALSE(u.contains("active_state")) << name;  // a template is never loaded
      continue;
    }
    std::string out;
    ASSERT_EQ(
        Inside("systemctl show -p ActiveState -p SubState -p ExecStart -- " + Quote(name), &out), 0)
        << name << ": " << out;
    std::map<std::string, std::string> prop;
    for (const auto& line : testing::Lines(out)) {
      size_t eq = line.find('=');
      if (eq != std::string::npos) prop[line.substr(0, eq)] = line.substr(eq + 1);
    }
    SCOPED_TRACE(name + ": " + out);
    // A unit the manager has not loaded is inactive/dead; the agent then leaves the keys out.
    EXPECT_EQ(u.value("active_state", "inactive"), prop["ActiveState"]);
    EXPECT_EQ(u.value("sub_state", "dead"), prop["SubState"]);
    // ExecStart={ path=... ; argv[]=ARGS ; ... }: the argv systemd built from the unit file.
    const std::string& exec = prop["ExecStart"];
    size_t a = exec.find("argv[]=");
    if (ours.count(name) && a != std::string::npos && u.contains("exec_start")) {
      size_t e = exec.find(" ;", a);
      EXPECT_EQ(u["exec_start"][0]["command"], exec.substr(a + 7, e - a - 7));
    }
    ++compared;
  }
  EXPECT_GE(compared, 6u);
  EXPECT_EQ(by_name["run-me.service"]["active_state"], "active");
  EXPECT_EQ(by_name["run-me.service"]["sub_state"], "running");
  EXPECT_EQ(by_name["fail-me.service"]["active_state"], "failed");
  EXPECT_EQ(by_name["done.service"]["sub_state"], "exited");
  EXPECT_FALSE(by_name["idle.service"].contains("active_state"));
  EXPECT_EQ(by_name["sl@601.service"]["exec_start"][0]["command"], "/bin/sleep 601");
  EXPECT_GT(d["manager"]["loaded_without_unit_file"], 0);  // -.slice, init.scope, ...
}

}  // namespace
}  // namespace tidemark::agent
