// Issue 11's scenario end to end: a host root during the cut-over (a vendor account in `sudo`
// with a NOPASSWD grant through aliases in sudoers.d, the vendor's key in root's
// authorized_keys, PasswordAuthentication yes in an sshd_config.d drop-in, ip_forward=1 in
// sysctl.d) and the same root after a partial clean-up, sent by the real agent over mutual TLS
// to the real collector; a register with an exception for each. The statuses are asserted
// exactly — one revoked, one leftover, one active, and unverified on a second host whose only
// snapshot predates the expiry — and are the same offline (`tidemarkctl evaluate --register`
// on snapshot files, at the collector's receive times). `who` for the vendor's user and key
// before and after, `drift` between the two states.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/uplink/daemon.h"
#include "common/time.h"
#include "tests/collector/collector_fixture.h"
#include "tests/support/require.h"

namespace tidemark::testing {
namespace {

using json = nlohmann::json;

class ExceptionsE2eTest : public CollectorFixture {
 protected:
  // The cut-over root of `host`; `cleaned`: the vendor's account, grant and key removed (the
  // sshd drop-in and the sysctl setting stay).
  static void WriteRoot(TempRoot& root, const std::string& host, const std::string& key,
                        bool cleaned) {
    root.Write("/etc/hostname", host + "\n");
    std::string passwd = "root:x:0:0:root:/root:/bin/bash\n";
    if (!cleaned) passwd += "vendor_ops:x:1001:1001:Vendor:/home/vendor_ops:/bin/bash\n";
    root.Write("/etc/passwd", passwd);
    root.Write("/etc/group", cleaned ? "root:x:0:\nsudo:x:27:\n"
                                     : "root:x:0:\nsudo:x:27:vendor_ops\nvendor_ops:x:1001:\n");
    root.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n", 0440);
    root.Mkdir("/etc/sudoers.d");
    if (!cleaned) {
      root.Write("/etc/sudoers.d/vendor",
                 "User_Alias VENDOR = vendor_ops\nCmnd_Alias EVERYTHING = ALL\n"
                 "VENDOR ALL=(ALL) NOPASSWD: EVERYTHING\n",
                 0440);
    }
    root.Mkdir("/root/.ssh", 0700);
    root.Write("/root/.ssh/authorized_keys", cleaned ? "" : key, 0600);
    root.Mkdir("/etc/ssh/sshd_config.d");
    root.Write("/etc/ssh/sshd_config",
               "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n");
    root.Write("/etc/ssh/sshd_config.d/10-migration.conf", "PasswordAuthentication yes\n");
    root.Mkdir("/etc/sysctl.d");
    root.Write("/etc/sysctl.d/90-migration.conf", "net.ipv4.ip_forward = 1\n");
  }

  static constexpr const char* kOnly = " --only accounts,sudo,ssh_keys,sshd,sysctl";

  // Sends `root` as the host of `cert` over mutual TLS; fails the test otherwise.
  void Send(const CertFiles& cert, const TempRoot& root, const std::string& spool) {
    std::string out, err;
    int code =
        RunCommand("timeout 60 " + std::string(TIDEMARK_AGENT_BIN) +
                       " send --collector 127.0.0.1:" + std::to_string(proc_.port()) + " --ca " +
                       ShellQuote(pki_.ca_file()) + " --cert " + ShellQuote(cert.cert) + " --key " +
                       ShellQuote(cert.key) + " --spool " + ShellQuote(spool) + kOnly + " --root " +
                       ShellQuote(root.path()),
                   &out, &err);
    ASSERT_EQ(code, agent::uplink::kExitSent) << err << proc_.Log();
  }

  // Collects `root` into a snapshot file, as `send` would collect it.
  std::string CollectFile(const TempRoot& root, const std::string& name) {
    std::string file = dir_.Host("/" + name + ".json");
    std::string out, err;
    int code = RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect" + kOnly + " --root " +
                              ShellQuote(root.path()) + " --output " + ShellQuote(file),
                          &out, &err);
    EXPECT_EQ(code, 0) << err;
    return file;
  }

  // The collector's receive time of each stored state of `host`, in order.
  std::vector<std::string> ReceiveTimes(const std::string& host) {
    std::string out;
    EXPECT_EQ(Ctl("history " + host + " --format json", &out), 0) << out;
    std::vector<std::string> times;
    json j = json::parse(out, nullptr, false);
    if (j.is_discarded()) return times;
    for (const json& e : j["history"]) times.push_back(e["received_at"].get<std::string>());
    return times;
  }

  // exception/host -> status, from the JSON of `exceptions` or `evaluate --register`.
  static std::map<std::string, std::string> Statuses(const json& verdicts) {
    std::map<std::string, std::string> out;
    for (const json& v : verdicts) {
      out[v["exception"].get<std::string>() + "/" + v["host"].get<std::string>()] =
          v["status"].get<std::string>();
    }
    return out;
  }
};

void WaitUntil(int64_t t) {
  while (static_cast<int64_t>(std::time(nullptr)) < t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Long on purpose: one migration told in order (cut-over, expiry, one host cleaned, one not),
// judged through the collector and offline, then `who` and drift over the same states.
TEST_F(ExceptionsE2eTest, StatusesThroughTheCollectorAndOfflineAgree) {
  TIDEMARK_REQUIRE(HaveProgram("ssh-keygen"), "ssh-keygen not installed (openssh-client)");
  // The vendor's key, as ssh-keygen writes it.
  std::string key_file = dir_.Host("/vendor_key");
  std::string out;
  ASSERT_EQ(
      RunCommand("ssh-keygen -q -t ed25519 -N '' -C vendor@example.org -f " + ShellQuote(key_file),
                 &out),
      0)
      << out;
  std::string key;
  std::getline(std::ifstream(key_file + ".pub"), key);
  key += "\n";
  ASSERT_EQ(RunCommand("ssh-keygen -lf " + ShellQuote(key_file + ".pub"), &out), 0);
  std::string fingerprint =
      out.substr(out.find("SHA256:"), out.find(' ', out.find("SHA256:")) - out.find("SHA256:"));

  TempRoot web_cutover, web_cleaned, db_cutover;
  WriteRoot(web_cutover, "web01", key, false);
  WriteRoot(web_cleaned, "web01", key, true);
  WriteRoot(db_cutover, "db01", key, false);
  CertFiles web = pki_.Agent("web01");
  CertFiles db = pki_.Agent("db01");
  StartCollector();

  // During the cut-over both hosts report; the exceptions expire after that; web01 reports
  // its cleaned state after the expiry, db01 never again.
  Send(web, web_cutover, dir_.Host("/spool-web"));
  Send(db, db_cutover, dir_.Host("/spool-db"));
  const int64_t during = static_cast<int64_t>(std::time(nullptr));
  const int64_t expiry = during + 1;
  WaitUntil(expiry + 1);
  Send(web, web_cleaned, dir_.Host("/spool-web"));
  const int64_t now = static_cast<int64_t>(std::time(nullptr)) + 5;

  std::string reg = dir_.Host("/register.yaml");
  std::ofstream(reg) << "exceptions:\n"
                     << "  - id: MIG-1\n    title: vendor operations as root through sudo\n"
                     << "    hosts: [web01, db01]\n    ticket: CHG-1\n"
                     << "    owner: {name: Jane Roe, email: jane.roe@example.org}\n"
                     << "    expires: " << FormatRfc3339(expiry) << "\n    covers:\n"
                     << "      - {table: users, where: {name: vendor_ops}}\n"
                     << "      - {table: group_members, where: {group: sudo, user: vendor_ops}}\n"
                     << "      - {table: sudo_grants, where: {principal: \"user:vendor_ops\", "
                        "nopasswd: true}}\n"
                     << "      - {table: ssh_keys, where: {user: root, fingerprint: \""
                     << fingerprint << "\"}}\n"
                     << "  - id: MIG-2\n    hosts: [web01]\n    ticket: CHG-2\n"
                     << "    owner: {name: Jane Roe, phone: \"+49 30 1\"}\n"
                     << "    expires: " << FormatRfc3339(expiry) << "\n    covers:\n"
                     << "      - {table: sshd_settings, where: {keyword: passwordauthentication, "
                        "value: \"yes\"}}\n"
                     << "  - id: MIG-3\n    hosts: [web01]\n    ticket: CHG-3\n"
                     << "    owner: {name: Jane Roe, phone: \"+49 30 1\"}\n"
                     << "    expires: " << FormatRfc3339(expiry + 30 * 86400) << "\n"
                     << "    covers:\n"
                     << "      - {table: sysctl, where: {key: net.ipv4.ip_forward, configured: "
                        "\"1\"}}\n";

  // Through the collector.
  ASSERT_EQ(Ctl("exceptions --register " + ShellQuote(reg) + " --now " + FormatRfc3339(now) +
                    " --format json",
                &out),
            0)
      << out;
  json j = json::parse(out.substr(out.find('{')));
  const std::map<std::string, std::string> expected = {{"MIG-1/web01", "revoked"},
                                                       {"MIG-1/db01", "unverified"},
                                                       {"MIG-2/web01", "leftover"},
                                                       {"MIG-3/web01", "active"}};
  EXPECT_EQ(Statuses(j["verdicts"]), expected) << out;
  for (const json& v : j["verdicts"]) {
    if (v["status"] == "leftover") {
      EXPECT_EQ(v["items"][0]["id"], "sshd_setting:passwordauthentication");
      EXPECT_EQ(v["ticket"], "CHG-2");
    }
    if (v["host"] == "db01") {  // its cut-over state, with the vendor's four items
      EXPECT_EQ(v["items"].size(), 4u) << v.dump();
    }
  }
  EXPECT_EQ(Ctl("verify-revocations --register " + ShellQuote(reg) + " --now " + FormatRfc3339(now),
                &out),
            5)
      << out;

  // Offline, at the collector's receive times: the same statuses per host.
  std::vector<std::string> web_times = ReceiveTimes("web01");
  std::vector<std::string> db_times = ReceiveTimes("db01");
  ASSERT_EQ(web_times.size(), 2u);
  ASSERT_EQ(db_times.size(), 1u);
  std::string policies = dir_.Host("/policies.yaml");
  std::ofstream(policies) << "rules:\n  - id: sudo-nopasswd\n    title: t\n    severity: high\n"
                             "    query: SELECT id FROM sudo_grants WHERE nopasswd\n";
  std::map<std::string, std::string> offline;
  for (const auto& [root, name, received] :
       {std::tuple{&web_cleaned, "web01", web_times[1]}, {&db_cutover, "db01", db_times[0]}}) {
    std::string file = CollectFile(*root, name);
    std::string eval_out;
    RunCommand(std::string(TIDEMARK_CTL_BIN) + " evaluate --snapshot " + ShellQuote(file) +
                   " --policies " + ShellQuote(policies) + " --register " + ShellQuote(reg) +
                   " --now " + FormatRfc3339(now) + " --received-at " + received + " --format json",
               &eval_out);
    json e = json::parse(eval_out, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << eval_out;
    for (const auto& [k, v] : Statuses(e["exceptions"]["verdicts"])) offline[k] = v;
  }
  EXPECT_EQ(offline, expected);

  // who: the vendor's user and key, during the cut-over and now.
  std::string at_during = " --at " + FormatRfc3339(during) + " --format json";
  ASSERT_EQ(Ctl("who vendor_ops" + at_during, &out), 3) << out;
  j = json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["summary"]["hosts_with_access"], 2);
  ASSERT_EQ(Ctl("who vendor_ops --format json", &out), 3) << out;
  j = json::parse(out.substr(out.find('{')));
  EXPECT_EQ(j["summary"]["hosts_with_access"], 1);  // db01 still has it
  for (const json& h : j["hosts"]) {
    if (h["host"] != "db01") continue;
    std::string ways = h["access"].dump();
    EXPECT_NE(ways.find("user:vendor_ops on ALL as ALL: ALL (NOPASSWD)"), std::string::npos)
        << ways;
    EXPECT_NE(ways.find("/etc/sudoers.d/vendor"), std::string::npos);
  }
  ASSERT_EQ(Ctl("who " + fingerprint + at_during, &out), 3) << out;
  EXPECT_EQ(json::parse(out.substr(out.find('{')))["summary"]["hosts_with_access"], 2);
  ASSERT_EQ(Ctl("who " + fingerprint + " --host web01", &out), 0) << out;  // gone from web01

  // drift between web01's two states: the vendor's items removed, nothing else.
  ASSERT_EQ(Ctl("drift web01 --format json", &out), 3) << out;
  j = json::parse(out.substr(out.find('{')));
  std::map<std::string, std::string> changes;
  for (const json& c : j["changes"]) {
    changes[c["table"].get<std::string>() + " " + c["id"].get<std::string>()] =
        c["change"].get<std::string>();
  }
  EXPECT_EQ(changes["users user:vendor_ops"], "removed") << out;
  EXPECT_EQ(changes["sudo_grants sudo:user:vendor_ops@ALL=(ALL)ALL"], "removed") << out;
  EXPECT_EQ(changes["ssh_keys ssh_key:root:" + fingerprint + ":/root/.ssh/authorized_keys"],
            "removed")
      << out;
  EXPECT_EQ(changes.count("sshd_settings sshd_setting:passwordauthentication"), 0u);
  EXPECT_EQ(changes.count("sysctl sysctl:net.ipv4.ip_forward"), 0u);
}

}  // namespace
}  // namespace tidemark::testing
