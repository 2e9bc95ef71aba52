// The accounts and sudo rules' fixtures.
#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

Root AccountsBase() {
  return {
      {"/etc/hostname", {"testhost\n", 0644}},
      {"/etc/passwd",
       {"root:x:0:0:root:/root:/bin/bash\n"
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        "sync:x:4:65534:sync:/bin:/bin/sync\n"
        "alice:x:1000:1000:Alice:/home/alice:/bin/bash\n",
        0644}},
      {"/etc/group",
       {"root:x:0:\ndaemon:x:1:\nshadow:x:42:\nsudo:x:27:\nnogroup:x:65534:\nalice:x:1000:\n",
        0644}},
      {"/etc/shadow",
       {"root:!:19000:0:99999:7:::\n"
        "daemon:*:19000:0:99999:7:::\n"
        "sync:*:19000:0:99999:7:::\n"
        "alice:$y$j9T$0123456789abcdef$0123456789abcdef0123456789abcdef0123456789a:19500:1:365:"
        "7:30::\n",
        0640, 0, 42}},
      {"/etc/shells", {"/bin/sh\n/bin/bash\n", 0644}},
      {"/etc/sudoers",
       {"Defaults use_pty\n"
        "Defaults logfile=\"/var/log/sudo.log\"\n"
        "root ALL=(ALL:ALL) ALL\n"
        "%sudo ALL=(ALL:ALL) ALL\n",
        0440}},
  };
}

constexpr const char* kAliceShadow =
    "alice:$y$j9T$0123456789abcdef$0123456789abcdef0123456789abcdef0123456789a:19500:1:365:7:30::";

std::vector<Case> AccountsCases() {
  return {
      {"accounts-uid0-only-root",
       {{"/etc/passwd", With("/etc/passwd", "toor:x:0:0::/root:/bin/bash\n")}},
       {"user:toor"}},
      // glibc reads `+0` as 0 (strtoul): a hidden root, once a line the agent skipped.
      {"accounts-uid0-only-root",
       {{"/etc/passwd", With("/etc/passwd", "toor:x:+0:0::/root:/bin/bash\n")}},
       {"user:toor"}},
      {"accounts-root-gid-zero",
       {{"/etc/passwd", Replace("/etc/passwd", "root:x:0:0:", "root:x:0:1:")}},
       {"user:root"}},
      {"groups-gid0-only-root",
       {{"/etc/group", With("/etc/group", "wheel0:x:0:\n")}},
       {"group:wheel0"}},
      {"accounts-unique-uid",
       {{"/etc/passwd", With("/etc/passwd", "bob:x:1000:1000::/home/bob:/bin/bash\n")}},
       {"user:alice", "user:bob"}},
      {"groups-unique-gid",
       {{"/etc/group", With("/etc/group", "alice2:x:1000:\n")}},
       {"group:alice", "group:alice2"}},
      {"accounts-unique-name",
       {{"/etc/passwd", With("/etc/passwd", "alice:x:1001:1000::/home/a:/bin/bash\n")}},
       {"user:alice", "user:alice#2"}},
      {"groups-unique-name",
       {{"/etc/group", With("/etc/group", "sudo:x:28:\n")}},
       {"group:sudo", "group:sudo#2"}},
      {"accounts-passwords-shadowed",
       {{"/etc/passwd", Replace("/etc/passwd", "alice:x:", "alice:$6$salt$hash:")}},
       {"user:alice"}},
      {"accounts-no-empty-password",
       {{"/etc/shadow", Replace("/etc/shadow", kAliceShadow, "alice::19500:1:365:7:30::")}},
       {"user:alice"}},
      {"accounts-root-password-configured",
       {{"/etc/shadow", Replace("/etc/shadow", "root:!:19000:0:99999:7:::\n", "")}},
       {"user:root"}},
      {"accounts-password-max-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:99999:7:30::")}},
       {"user:alice"}},
      // glibc reads 4294967294 as (int)-2: a negative maximum, none at all.
      {"accounts-password-max-age",
       {{"/etc/shadow",
         Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:4294967294:7:30::")}},
       {"user:alice"}},
      {"accounts-password-min-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:0:365:7:30::")}},
       {"user:alice"}},
      {"accounts-password-warn-age",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:365:3:30::")}},
       {"user:alice"}},
      {"accounts-inactive-lock",
       {{"/etc/shadow", Replace("/etc/shadow", ":19500:1:365:7:30::", ":19500:1:365:7:::")}},
       {"user:alice"}},
      {"accounts-strong-password-hash",
       {{"/etc/shadow", Replace("/etc/shadow", kAliceShadow,
                                "alice:$1$saltsalt$0123456789abcdefghijkl:19500:1:365:7:30::")}},
       {"user:alice"}},
      {"accounts-system-no-login-shell",
       {{"/etc/passwd",
         Replace("/etc/passwd", "/usr/sbin:/usr/sbin/nologin", "/usr/sbin:/bin/bash")}},
       {"user:daemon"}},
      // nobody (UID 65534) is a system account too, as CIS's audit counts it.
      {"accounts-system-no-login-shell",
       {{"/etc/passwd",
         With("/etc/passwd", "nobody:x:65534:65534:nobody:/nonexistent:/bin/bash\n")}},
       {"user:nobody"}},
      // System accounts end at login.defs' UID_MIN (alice, UID 1000, is one below 2000).
      {"accounts-system-no-login-shell",
       {{"/etc/login.defs",
         Replace("/etc/login.defs", "UID_MIN\t\t\t 1000\n", "UID_MIN\t\t\t 2000\n")}},
       {"user:alice"}},
      {"accounts-primary-group-exists",
       {{"/etc/passwd", Replace("/etc/passwd", "alice:x:1000:1000:", "alice:x:1000:2000:")}},
       {"user:alice"}},
      {"groups-shadow-empty",
       {{"/etc/group", Replace("/etc/group", "shadow:x:42:", "shadow:x:42:alice")}},
       {"group_member:shadow:user:alice"}},
      // glibc skips the blank before a member's name: alice is a member (she was " alice").
      {"groups-shadow-empty",
       {{"/etc/group", Replace("/etc/group", "shadow:x:42:", "shadow:x:42:daemon, alice")}},
       {"group_member:shadow:user:daemon", "group_member:shadow:user:alice"}},
      {"accounts-privileged-members-documented",
       {{"/etc/group", Replace("/etc/group", "sudo:x:27:", "sudo:x:27:alice")}},
       {"privileged:sudo:alice"}},
      {"sudo-require-authentication",
       {{"/etc/sudoers", With("/etc/sudoers", "alice ALL=(ALL) NOPASSWD: /usr/bin/apt\n")}},
       {"sudo:user:alice@ALL=(ALL)/usr/bin/apt"}},
      {"sudo-no-authenticate-off",
       {{"/etc/sudoers", With("/etc/sudoers", "Defaults:alice !authenticate\n")}},
       {"sudo-defaults:user[user:alice]:authenticate"}},
      {"sudo-use-pty",
       {{"/etc/sudoers", Replace("/etc/sudoers", "Defaults use_pty\n", "")}},
       {"sudo-defaults:global:use_pty"}},
      {"sudo-logfile",
       {{"/etc/sudoers", Replace("/etc/sudoers", "Defaults logfile=\"/var/log/sudo.log\"\n", "")}},
       {"sudo-defaults:global:logfile"}},
      // A bound negation turns the global setting off for what it binds (a vendor account in a
      // migration); one turned on again later for the same binding is not an item.
      {"sudo-use-pty",
       {{"/etc/sudoers", With("/etc/sudoers",
                              "Defaults:vendor !use_pty\nDefaults>root !use_pty\n"
                              "Defaults>root use_pty\n")}},
       {"sudo-defaults:user[user:vendor]:use_pty"}},
      {"sudo-logfile",
       {{"/etc/sudoers", With("/etc/sudoers", "Defaults:vendor !logfile\n")}},
       {"sudo-defaults:user[user:vendor]:logfile"}},
      {"sudo-reauthentication-timeout",
       {{"/etc/sudoers", With("/etc/sudoers", "Defaults timestamp_timeout=60\n")}},
       {"sudo-defaults:global:timestamp_timeout"}},
      {"sudo-no-blanket-grant",
       {{"/etc/sudoers", With("/etc/sudoers", "ALL ALL=(ALL) ALL\n")}},
       {"sudo:ALL@ALL=(ALL)ALL"}},
  };
}

}  // namespace tidemark::policy::cases
