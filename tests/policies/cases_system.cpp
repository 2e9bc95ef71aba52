// The fixtures of the rules over the files, sweep, services, packages, cron and network tables.
#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

namespace {

constexpr unsigned kShadowGid = 42;  // AccountsBase's /etc/group
constexpr unsigned kDaemonGid = 1;

RootFile Dir(unsigned mode) {
  RootFile f;
  f.mode = mode;
  f.directory = true;
  return f;
}

RootFile Link(const std::string& target) {
  RootFile f;
  f.symlink = target;
  return f;
}

std::string Package(const std::string& name, const std::string& version) {
  return "Package: " + name +
         "\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: " +
         version + "\n\n";
}

std::string Unit(const std::string& description, const std::string& exec,
                 const std::string& wanted_by) {
  return "[Unit]\nDescription=" + description + "\n\n[Service]\nExecStart=" + exec +
         "\n\n[Install]\nWantedBy=" + wanted_by + "\n";
}

std::string Listener(const std::string& proto, const std::string& address, int port,
                     const std::string& process, const std::string& unit) {
  bool v6 = address.find(':') != std::string::npos;
  std::string endpoint = (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  std::string scope = address == "0.0.0.0" || address == "::"             ? "any"
                      : address.rfind("127.", 0) == 0 || address == "::1" ? "loopback"
                                                                          : "address";
  return R"({"id":"listen:)" + proto + ":" + endpoint + R"(","proto":")" + proto +
         R"(","family":")" + (v6 ? "ipv6" : "ipv4") + R"(","address":")" + address +
         R"(","port":)" + std::to_string(port) + R"(,"endpoint":")" + endpoint +
         (v6 ? R"(","v6only":true)" : R"(")") + R"(,"scope":")" + scope +
         R"(","sockets":1,"socket_owners":[{"uid":0,"user":"root"}],"owner_state":"found",)" +
         R"("processes":[{"name":")" + process + R"(","uid":0,"user":"root","unit":")" + unit +
         R"("}],"units":[")" + unit + R"("],"source":{"file":"sock_diag:)" + proto +
         (v6 ? "6" : "4") + R"("}})";
}

const char* const kTimesyncdWants =
    "/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service";
const char* const kCronWants = "/etc/systemd/system/multi-user.target.wants/cron.service";

}  // namespace

Root SystemBase() {
  return {
      // Account databases besides AccountsBase's /etc/passwd, /etc/group, /etc/shadow: the
      // backups shadow's tools leave and /etc/gshadow, as Debian 12 sets them.
      {"/etc/passwd-", {"root:x:0:0:root:/root:/bin/bash\n", 0644}},
      {"/etc/group-", {"root:x:0:\n", 0644}},
      {"/etc/shadow-", {"root:!:19000:0:99999:7:::\n", 0640, 0, kShadowGid}},
      {"/etc/gshadow",
       {"root:*::\ndaemon:*::\nshadow:*::\nsudo:*::\nnogroup:*::\nalice:!::\n", 0640, 0,
        kShadowGid}},
      {"/etc/gshadow-", {"root:*::\n", 0640, 0, kShadowGid}},
      {"/etc/security/opasswd", {"", 0600}},
      {"/etc/sudoers.d/README", {"# Files in this directory are read by sudo.\n", 0440}},
      // SSH host keys (sshd_config itself belongs to the sshd rules' fixtures).
      {"/etc/ssh/ssh_host_ed25519_key",
       {"-----BEGIN OPENSSH PRIVATE KEY-----\nfixture\n-----END OPENSSH PRIVATE KEY-----\n", 0600}},
      {"/etc/ssh/ssh_host_ed25519_key.pub",
       {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureFixtureFixtureFixtureFixtureFixture01 "
        "root@testhost\n",
        0644}},
      // cron, hardened as CIS 2.4.1 wants it, and at.
      {"/etc/crontab",
       {"SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin\n"
        "17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
        0600}},
      {"/etc/cron.hourly", Dir(0700)},
      {"/etc/cron.daily", Dir(0700)},
      {"/etc/cron.weekly", Dir(0700)},
      {"/etc/cron.monthly", Dir(0700)},
      {"/etc/cron.d", Dir(0700)},
      {"/etc/cron.allow", {"root\n", 0640}},
      {"/etc/at.allow", {"root\n", 0640, 0, kDaemonGid}},
      // Packages: cron, at and a time daemon; no legacy servers or clients.
      {"/var/lib/dpkg/status",
       {Package("at", "3.2.5-1+b1") + Package("cron", "3.0pl1-162") +
            Package("openssh-server", "1:9.2p1-2+deb12u3") + Package("sudo", "1.9.13p3-1+deb12u1") +
            Package("systemd-timesyncd", "252.31-1~deb12u1"),
        0644}},
      // Units: cron and systemd-timesyncd enabled, avahi-daemon installed but disabled.
      {"/lib/systemd/system/cron.service",
       {Unit("Regular background program processing daemon", "/usr/sbin/cron -f",
             "multi-user.target"),
        0644}},
      {kCronWants, Link("/lib/systemd/system/cron.service")},
      {"/lib/systemd/system/systemd-timesyncd.service",
       {Unit("Network Time Synchronization", "!!/lib/systemd/systemd-timesyncd", "sysinit.target"),
        0644}},
      {kTimesyncdWants, Link("/lib/systemd/system/systemd-timesyncd.service")},
      {"/lib/systemd/system/avahi-daemon.service",
       {Unit("Avahi mDNS/DNS-SD Stack", "/usr/sbin/avahi-daemon -s", "multi-user.target"), 0644}},
  };
}

std::string BaseListeners() {
  return "[" + Listener("tcp", "0.0.0.0", 22, "sshd", "ssh.service") + "," +
         Listener("tcp", "127.0.0.1", 25, "exim4", "exim4.service") + "," +
         Listener("tcp", "::", 22, "sshd", "ssh.service") + "]";
}

// Long, and kept whole: a table of cases, one initializer per rule, read top to bottom.
std::vector<Case> SystemCases() {
  Case network{"network-listeners-any-address", {}, {"listen:tcp:0.0.0.0:111"}};
  network.listeners = "[" + Listener("tcp", "0.0.0.0", 22, "sshd", "ssh.service") + "," +
                      Listener("tcp", "0.0.0.0", 111, "rpcbind", "rpcbind.service") + "," +
                      Listener("tcp", "127.0.0.1", 25, "exim4", "exim4.service") + "]";
  return {
      {"files-etc-passwd-permissions",
       {{"/etc/passwd", WithMode("/etc/passwd", 0664)}},
       {"file:/etc/passwd"}},
      {"files-etc-passwd-backup-permissions",
       {{"/etc/passwd-", WithOwner("/etc/passwd-", 1000, 0)}},
       {"file:/etc/passwd-"},
       true},
      {"files-etc-group-permissions",
       {{"/etc/group", WithMode("/etc/group", 0664)}},
       {"file:/etc/group"}},
      {"files-etc-group-backup-permissions",
       {{"/etc/group-", WithOwner("/etc/group-", 0, 1000)}},
       {"file:/etc/group-"},
       true},
      {"files-etc-shadow-permissions",
       {{"/etc/shadow", WithMode("/etc/shadow", 0644)}},
       {"file:/etc/shadow"}},
      {"files-etc-shadow-backup-permissions",
       {{"/etc/shadow-", WithOwner("/etc/shadow-", 0, 1000)}},
       {"file:/etc/shadow-"},
       true},
      {"files-etc-gshadow-permissions", {{"/etc/gshadow", std::nullopt}}, {"file:/etc/gshadow"}},
      {"files-etc-gshadow-backup-permissions",
       {{"/etc/gshadow-", WithMode("/etc/gshadow-", 0660)}},
       {"file:/etc/gshadow-"}},
      {"files-security-opasswd-permissions",
       {{"/etc/security/opasswd", WithMode("/etc/security/opasswd", 0644)}},
       {"file:/etc/security/opasswd"}},
      {"files-etc-shells-permissions",
       {{"/etc/shells", WithMode("/etc/shells", 0666)}},
       {"file:/etc/shells"}},
      {"files-sudoers-permissions",
       {{"/etc/sudoers.d/README", WithMode("/etc/sudoers.d/README", 0640)}},
       {"file:/etc/sudoers.d/README"}},
      {"files-sshd-config-permissions",
       {{"/etc/ssh/sshd_config.d/local.conf", RootFile{"# local settings\n", 0644}}},
       {"file:/etc/ssh/sshd_config.d/local.conf"}},
      {"files-ssh-host-private-keys-permissions",
       {{"/etc/ssh/ssh_host_ed25519_key", WithMode("/etc/ssh/ssh_host_ed25519_key", 0640)}},
       {"file:/etc/ssh/ssh_host_ed25519_key"}},
      // A key named otherwise in /etc/ssh (a HostKey line may name any file) is judged too.
      {"files-ssh-host-private-keys-permissions",
       {{"/etc/ssh/vendor_host_key", RootFile{"not a real key\n", 0644}}},
       {"file:/etc/ssh/vendor_host_key"}},
      {"files-ssh-host-public-keys-permissions",
       {{"/etc/ssh/ssh_host_ed25519_key.pub",
         WithOwner("/etc/ssh/ssh_host_ed25519_key.pub", 1000, 1000)}},
       {"file:/etc/ssh/ssh_host_ed25519_key.pub"},
       true},
      {"files-ssh-host-public-keys-permissions",
       {{"/etc/ssh/vendor_ca.pub", RootFile{"ssh-ed25519 AAAA vendor-ca\n", 0666}}},
       {"file:/etc/ssh/vendor_ca.pub"}},
      {"cron-crontab-permissions",
       {{"/etc/crontab", WithMode("/etc/crontab", 0644)}},
       {"file:/etc/crontab"}},
      {"cron-hourly-permissions",
       {{"/etc/cron.hourly", WithMode("/etc/cron.hourly", 0755)}},
       {"file:/etc/cron.hourly"}},
      {"cron-daily-permissions",
       {{"/etc/cron.daily", WithOwner("/etc/cron.daily", 1000, 1000)}},
       {"file:/etc/cron.daily"},
       true},
      {"cron-weekly-permissions",
       {{"/etc/cron.weekly", WithMode("/etc/cron.weekly", 0750)}},
       {"file:/etc/cron.weekly"}},
      {"cron-monthly-permissions",
       {{"/etc/cron.monthly", WithMode("/etc/cron.monthly", 0705)}},
       {"file:/etc/cron.monthly"}},
      {"cron-d-permissions",
       {{"/etc/cron.d", WithMode("/etc/cron.d", 0755)}},
       {"file:/etc/cron.d"}},
      {"cron-daemon-enabled", {{kCronWants, std::nullopt}}, {"unit:cron.service"}},
      {"cron-allow-restricted",
       {{"/etc/cron.allow", std::nullopt}, {"/etc/cron.deny", RootFile{"guest\n", 0644}}},
       {"cron_access:/etc/cron.allow", "cron_access:/etc/cron.deny"}},
      {"cron-at-restricted",
       {{"/etc/at.allow", WithMode("/etc/at.allow", 0644)}},
       {"cron_access:/etc/at.allow"}},
      {"services-unneeded-disabled",
       {{"/etc/systemd/system/multi-user.target.wants/avahi-daemon.service",
         Link("/lib/systemd/system/avahi-daemon.service")}},
       {"unit:avahi-daemon.service"}},
      {"services-time-sync", {{kTimesyncdWants, std::nullopt}}, {"services:time-sync"}},
      {"packages-no-legacy-servers",
       {{"/var/lib/dpkg/status",
         With("/var/lib/dpkg/status", Package("inetutils-telnetd", "2:2.4-2+deb12u1"))}},
       {"package:inetutils-telnetd:amd64"}},
      {"packages-no-insecure-clients",
       {{"/var/lib/dpkg/status",
         With("/var/lib/dpkg/status", Package("telnet", "0.17+2.4-2+deb12u1"))}},
       {"package:telnet:amd64"}},
      // Debian's nis holds the client (ypbind) too: both packages rules name it (ssg
      // package_nis_removed is the clients rule's; tests/tools/oscap_test.sh).
      {"packages-no-insecure-clients",
       {{"/var/lib/dpkg/status", With("/var/lib/dpkg/status", Package("nis", "4.4"))}},
       {"package:nis:amd64"}},
      {"sweep-setid-files-unpackaged",
       {{"/usr/local/bin/helper", RootFile{"#!/bin/sh\n", 04755}}},
       {"sweep:setid:/usr/local/bin/helper"}},
      {"sweep-world-writable-files",
       {{"/srv/share/notes.txt", RootFile{"notes\n", 0666}}},
       {"sweep:world_writable_file:/srv/share/notes.txt"}},
      {"sweep-world-writable-dirs-sticky",
       {{"/srv/drop", Dir(0777)}},
       {"sweep:world_writable_dir:/srv/drop"}},
      {"sweep-unowned-files",
       {{"/srv/orphan.tar", RootFile{"data\n", 0644, 4242, 4242}}},
       {"sweep:unowned:/srv/orphan.tar"},
       true},
      network,
  };
}

}  // namespace tidemark::policy::cases
