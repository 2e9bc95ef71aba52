// The fixtures of the rules over the sshd, ssh_keys, sysctl, login and pam tables: a Debian 12
// server hardened as CIS Debian Linux 12 v1.1.0 asks (sshd_config, sysctl.d, PAM's common-*
// files as pam-auth-update writes them with the faillock and pwquality profiles, login.defs,
// useradd defaults).
#include "tests/policies/cases.h"

namespace tidemark::policy::cases {

namespace {

constexpr const char* kSshdConfig = "/etc/ssh/sshd_config";
constexpr const char* kSysctl = "/etc/sysctl.d/60-cis.conf";
constexpr const char* kCommonAuth = "/etc/pam.d/common-auth";
constexpr const char* kCommonPassword = "/etc/pam.d/common-password";
constexpr const char* kFaillockConf = "/etc/security/faillock.conf";
constexpr const char* kPwqualityConf = "/etc/security/pwquality.conf";
constexpr const char* kLoginDefs = "/etc/login.defs";

constexpr const char* kCiphers =
    "Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,"
    "aes256-ctr,aes192-ctr,aes128-ctr\n";
constexpr const char* kMacs =
    "MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,"
    "hmac-sha2-256\n";
constexpr const char* kKex =
    "KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
    "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
    "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256\n";

// A case whose change is the replacement of `from` by `to` in the base file `path`.
Case ReplaceCase(const std::string& rule, const std::string& path, const std::string& from,
                 const std::string& to, std::vector<std::string> ids) {
  return {rule, {{path, Replace(path, from, to)}}, std::move(ids)};
}

}  // namespace

// Long, and kept whole: the hardened files themselves, as text.
Root SshSysctlBase() {
  return {
      {kSshdConfig,
       {std::string("# CIS Debian 12 5.1 hardened\n"
                    "KbdInteractiveAuthentication no\n"
                    "UsePAM yes\n"
                    "X11Forwarding no\n"
                    "PrintMotd no\n"
                    "AcceptEnv LANG LC_*\n"
                    "Subsystem sftp /usr/lib/openssh/sftp-server\n"
                    "PermitRootLogin no\n"
                    "PermitEmptyPasswords no\n"
                    "MaxAuthTries 4\n") +
            kCiphers + kMacs + kKex +
            "ClientAliveInterval 300\n"
            "ClientAliveCountMax 3\n"
            "LoginGraceTime 60\n"
            "HostbasedAuthentication no\n"
            "IgnoreRhosts yes\n"
            "PermitUserEnvironment no\n"
            "AllowGroups sudo\n"
            "Banner /etc/issue.net\n"
            "LogLevel VERBOSE\n"
            "MaxStartups 10:30:60\n"
            "MaxSessions 10\n"
            "DisableForwarding yes\n"
            "GSSAPIAuthentication no\n"
            "Match User alice\n"
            "    AllowAgentForwarding no\n",
        0600}},
      {"/etc/issue.net", {"Authorized uses only. All activity may be monitored and reported.\n"}},
      {kSysctl,
       {"net.ipv4.ip_forward = 0\n"
        "net.ipv6.conf.all.forwarding = 0\n"
        // The kernel reads 0x0 as 0 (sysctl.configured_number): this passes.
        "net.ipv4.conf.all.send_redirects = 0x0\n"
        "net.ipv4.conf.default.send_redirects = 0\n"
        "net.ipv4.icmp_ignore_bogus_error_responses = 1\n"
        "net.ipv4.icmp_echo_ignore_broadcasts = 1\n"
        "net.ipv4.conf.all.accept_redirects = 0\n"
        "net.ipv4.conf.default.accept_redirects = 0\n"
        "net.ipv6.conf.all.accept_redirects = 0\n"
        "net.ipv6.conf.default.accept_redirects = 0\n"
        "net.ipv4.conf.all.secure_redirects = 0\n"
        "net.ipv4.conf.default.secure_redirects = 0\n"
        "net.ipv4.conf.all.rp_filter = 1\n"
        "net.ipv4.conf.default.rp_filter = 1\n"
        "net.ipv4.conf.all.accept_source_route = 0\n"
        "net.ipv4.conf.default.accept_source_route = 0\n"
        "net.ipv6.conf.all.accept_source_route = 0\n"
        "net.ipv6.conf.default.accept_source_route = 0\n"
        "net.ipv4.conf.all.log_martians = 1\n"
        "net.ipv4.conf.default.log_martians = 1\n"
        "net.ipv4.tcp_syncookies = 1\n"
        "net.ipv6.conf.all.accept_ra = 0\n"
        "net.ipv6.conf.default.accept_ra = 0\n"
        "kernel.randomize_va_space = 2\n"
        "kernel.yama.ptrace_scope = 1\n"
        "fs.suid_dumpable = 0\n"}},
      {kCommonAuth,
       {"auth\trequisite\tpam_faillock.so preauth\n"
        "auth\t[success=2 default=ignore]\tpam_unix.so\n"
        // A module named by its full path counts as itself (pam_entries.module_name).
        "auth\t[default=die]\t/lib/x86_64-linux-gnu/security/pam_faillock.so authfail\n"
        "auth\trequisite\tpam_deny.so\n"
        "auth\trequired\tpam_permit.so\n"}},
      {"/etc/pam.d/common-account",
       {"account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
        "account\trequisite\tpam_deny.so\n"
        "account\trequired\tpam_permit.so\n"
        "account\trequired\tpam_faillock.so\n"}},
      {kCommonPassword,
       {"password\trequisite\tpam_pwquality.so retry=3\n"
        "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass "
        "yescrypt\n"
        "password\trequisite\tpam_deny.so\n"
        "password\trequired\tpam_permit.so\n"}},
      {"/etc/pam.d/common-session",
       {"session\t[default=1]\tpam_permit.so\n"
        "session\trequisite\tpam_deny.so\n"
        "session\trequired\tpam_permit.so\n"
        "session\trequired\tpam_unix.so\n"}},
      {"/etc/pam.d/sshd",
       {"@include common-auth\n"
        "account\trequired\tpam_nologin.so\n"
        "@include common-account\n"
        "@include common-session\n"
        "@include common-password\n"}},
      {"/etc/pam.d/passwd", {"@include common-password\n"}},
      {kFaillockConf,
       {"# CIS 5.3.3.1\ndeny = 5\nunlock_time = 900\neven_deny_root\nroot_unlock_time = 900\n"}},
      {kPwqualityConf,
       {"# CIS 5.3.3.2\ndifok = 2\nminlen = 14\nmaxrepeat = 3\nmaxsequence = 3\n"
        // Complexity by credits (pam-pwquality-complexity): minclass is left at its default 0.
        "dcredit = -1\nucredit = -1\nlcredit = -1\nocredit = -1\n"
        "dictcheck = 1\nenforcing = 1\nenforce_for_root\n"}},
      {kLoginDefs,
       {"MAIL_DIR\t/var/mail\n"
        "UMASK\t\t027\n"
        "PASS_MAX_DAYS\t365\n"
        "PASS_MIN_DAYS\t1\n"
        "PASS_WARN_AGE\t7\n"
        "UID_MIN\t\t\t 1000\n"
        "UID_MAX\t\t\t60000\n"
        "ENCRYPT_METHOD YESCRYPT\n"}},
      {"/etc/default/useradd", {"SHELL=/bin/bash\nINACTIVE=45\n"}},
  };
}

// Long, and kept whole: a table of cases, one initializer per rule, read top to bottom.
std::vector<Case> SshSysctlCases() {
  const std::string ciphers(kCiphers);
  const std::string macs(kMacs);
  const std::string kex(kKex);
  auto sshd = [](const std::string& rule, const std::string& from, const std::string& to,
                 const std::string& keyword) {
    return ReplaceCase(rule, kSshdConfig, from, to, {"sshd_setting:" + keyword});
  };
  // Match blocks appended to the base sshd_config (28 lines): the first setting of the block
  // whose Match line is `line` fails `rule`.
  auto match = [](const std::string& rule, const std::string& blocks, int line = 29) -> Case {
    return {rule,
            {{kSshdConfig, With(kSshdConfig, blocks)}},
            {"sshd_match:/etc/ssh/sshd_config:" + std::to_string(line) + "#1"}};
  };
  auto sysctl = [](const std::string& rule, const std::string& from, const std::string& to,
                   std::vector<std::string> ids) {
    return ReplaceCase(rule, kSysctl, from, to, std::move(ids));
  };
  auto login = [](const std::string& rule, const std::string& from, const std::string& to,
                  const std::string& key) {
    return ReplaceCase(rule, kLoginDefs, from, to, {"login_defs:" + key});
  };
  return {
      // sshd
      sshd("sshd-permit-root-login-disabled", "PermitRootLogin no", "PermitRootLogin yes",
           "permitrootlogin"),
      sshd("sshd-permit-empty-passwords-disabled", "PermitEmptyPasswords no",
           "PermitEmptyPasswords yes", "permitemptypasswords"),
      sshd("sshd-max-auth-tries", "MaxAuthTries 4", "MaxAuthTries 6", "maxauthtries"),
      ReplaceCase("sshd-strong-ciphers", kSshdConfig, ciphers,
                  ciphers.substr(0, ciphers.size() - 1) + ",aes128-cbc,3des-cbc\n",
                  {"sshd_setting:ciphers:aes128-cbc", "sshd_setting:ciphers:3des-cbc"}),
      ReplaceCase("sshd-strong-macs", kSshdConfig, macs,
                  macs.substr(0, macs.size() - 1) + ",hmac-sha1\n",
                  {"sshd_setting:macs:hmac-sha1"}),
      ReplaceCase("sshd-strong-kex", kSshdConfig, kex,
                  kex.substr(0, kex.size() - 1) + ",diffie-hellman-group14-sha1\n",
                  {"sshd_setting:kexalgorithms:diffie-hellman-group14-sha1"}),
      sshd("sshd-client-alive", "ClientAliveInterval 300", "ClientAliveInterval 0",
           "clientaliveinterval"),
      sshd("sshd-login-grace-time", "LoginGraceTime 60", "LoginGraceTime 2m", "logingracetime"),
      sshd("sshd-hostbased-authentication-disabled", "HostbasedAuthentication no",
           "HostbasedAuthentication yes", "hostbasedauthentication"),
      sshd("sshd-ignore-rhosts", "IgnoreRhosts yes", "IgnoreRhosts no", "ignorerhosts"),
      sshd("sshd-permit-user-environment-disabled", "PermitUserEnvironment no",
           "PermitUserEnvironment yes", "permituserenvironment"),
      sshd("sshd-access-limited", "AllowGroups sudo\n", "", "allowusers"),
      sshd("sshd-banner", "Banner /etc/issue.net\n", "", "banner"),
      sshd("sshd-log-level", "LogLevel VERBOSE", "LogLevel QUIET", "loglevel"),
      sshd("sshd-x11-forwarding-disabled", "X11Forwarding no", "X11Forwarding yes",
           "x11forwarding"),
      sshd("sshd-disable-forwarding", "DisableForwarding yes", "DisableForwarding no",
           "disableforwarding"),
      sshd("sshd-gssapi-authentication-disabled", "GSSAPIAuthentication no",
           "GSSAPIAuthentication yes", "gssapiauthentication"),
      sshd("sshd-max-startups", "MaxStartups 10:30:60", "MaxStartups 10:30:100", "maxstartups"),
      sshd("sshd-max-sessions", "MaxSessions 10", "MaxSessions 64", "maxsessions"),
      sshd("sshd-use-pam", "UsePAM yes", "UsePAM no", "usepam"),
      {"sshd-match-no-reenabled-logins",
       {{kSshdConfig, With(kSshdConfig,
                           "Match User migration Address 192.0.2.0/24\n"
                           "    PasswordAuthentication yes\n"
                           "    PermitRootLogin prohibit-password\n")}},
       {"sshd_match:/etc/ssh/sshd_config:29#1", "sshd_match:/etc/ssh/sshd_config:29#2"}},
      // sshd reads `"yes"` as yes (and `YES`, and a comment after it).
      {"sshd-match-no-reenabled-logins",
       {{kSshdConfig, With(kSshdConfig,
                           "Match User migration\n"
                           "    PasswordAuthentication \"yes\"\n"
                           "    PermitRootLogin YES # for the move\n")}},
       {"sshd_match:/etc/ssh/sshd_config:29#1", "sshd_match:/etc/ssh/sshd_config:29#2"}},
      // A keyword set in a Match block is judged there too, on the value as sshd reads it; a
      // stricter block passes, and a Match All block is judged once, through sshd -T's value.
      match("sshd-max-auth-tries",
            "Match User admin\n    MaxAuthTries 3\n"
            "Match User vendor\n    MaxAuthTries 10\n",
            31),
      match("sshd-hostbased-authentication-disabled",
            "Match Address 192.0.2.0/24\n    HostbasedAuthentication YES\n"),
      match("sshd-ignore-rhosts", "Match Group vendors\n    IgnoreRhosts no\n"),
      match("sshd-banner", "Match User vendor\n    Banner none\n"),
      match("sshd-log-level", "Match User vendor\n    LogLevel quiet\n"),
      match("sshd-x11-forwarding-disabled", "Match User vendor\n    X11Forwarding \"yes\"\n"),
      match("sshd-disable-forwarding", "Match User vendor\n    DisableForwarding no # tunnels\n"),
      match("sshd-gssapi-authentication-disabled",
            "Match User vendor\n    GSSAPIAuthentication yes\n"),
      match("sshd-max-sessions", "Match User vendor\n    MaxSessions 64\n"),
      {"sshd-x11-forwarding-disabled",
       {{kSshdConfig, With(kSshdConfig, "Match All\n    X11Forwarding yes\n")}},
       {"sshd_setting:x11forwarding"}},
      // sysctl (an offline root: the configured values are judged)
      sysctl("sysctl-ip-forwarding-disabled", "net.ipv4.ip_forward = 0", "net.ipv4.ip_forward = 1",
             {"sysctl:net.ipv4.ip_forward"}),
      sysctl("sysctl-send-redirects-disabled", "net.ipv4.conf.default.send_redirects = 0\n", "",
             {"sysctl:net.ipv4.conf.default.send_redirects"}),
      sysctl("sysctl-icmp-ignore-bogus-errors", "icmp_ignore_bogus_error_responses = 1",
             "icmp_ignore_bogus_error_responses = 0",
             {"sysctl:net.ipv4.icmp_ignore_bogus_error_responses"}),
      sysctl("sysctl-icmp-echo-ignore-broadcasts", "icmp_echo_ignore_broadcasts = 1",
             "icmp_echo_ignore_broadcasts = 0", {"sysctl:net.ipv4.icmp_echo_ignore_broadcasts"}),
      sysctl("sysctl-accept-redirects-disabled", "net.ipv6.conf.all.accept_redirects = 0",
             "net.ipv6.conf.all.accept_redirects = 1",
             {"sysctl:net.ipv6.conf.all.accept_redirects"}),
      sysctl("sysctl-secure-redirects-disabled", "net.ipv4.conf.all.secure_redirects = 0",
             "net.ipv4.conf.all.secure_redirects = 1",
             {"sysctl:net.ipv4.conf.all.secure_redirects"}),
      sysctl("sysctl-rp-filter", "net.ipv4.conf.all.rp_filter = 1",
             "net.ipv4.conf.all.rp_filter = 2", {"sysctl:net.ipv4.conf.all.rp_filter"}),
      sysctl("sysctl-source-route-disabled", "net.ipv4.conf.default.accept_source_route = 0",
             "net.ipv4.conf.default.accept_source_route = 1",
             {"sysctl:net.ipv4.conf.default.accept_source_route"}),
      sysctl("sysctl-log-martians", "net.ipv4.conf.all.log_martians = 1",
             "net.ipv4.conf.all.log_martians = 0", {"sysctl:net.ipv4.conf.all.log_martians"}),
      sysctl("sysctl-tcp-syncookies", "net.ipv4.tcp_syncookies = 1", "net.ipv4.tcp_syncookies = 0",
             {"sysctl:net.ipv4.tcp_syncookies"}),
      sysctl("sysctl-ipv6-accept-ra-disabled", "net.ipv6.conf.default.accept_ra = 0",
             "net.ipv6.conf.default.accept_ra = 1", {"sysctl:net.ipv6.conf.default.accept_ra"}),
      sysctl("sysctl-aslr-enabled", "kernel.randomize_va_space = 2",
             "kernel.randomize_va_space = 1", {"sysctl:kernel.randomize_va_space"}),
      sysctl("sysctl-ptrace-restricted", "kernel.yama.ptrace_scope = 1",
             "kernel.yama.ptrace_scope = 0", {"sysctl:kernel.yama.ptrace_scope"}),
      // The kernel refuses `1x` (and keeps ptrace_scope at its default 0); SQLite's CAST read 1.
      sysctl("sysctl-ptrace-restricted", "kernel.yama.ptrace_scope = 1",
             "kernel.yama.ptrace_scope = 1x", {"sysctl:kernel.yama.ptrace_scope"}),
      sysctl("sysctl-suid-dumpable-disabled", "fs.suid_dumpable = 0", "fs.suid_dumpable = 2",
             {"sysctl:fs.suid_dumpable"}),
      // PAM
      ReplaceCase("pam-unix-no-nullok", kCommonAuth, "pam_unix.so\n", "pam_unix.so nullok\n",
                  {"pam_line:/etc/pam.d/common-auth:2"}),
      // pam_unix matches options by prefix: this is nullok too.
      ReplaceCase("pam-unix-no-nullok", kCommonAuth, "pam_unix.so\n", "pam_unix.so nullok=yes\n",
                  {"pam_line:/etc/pam.d/common-auth:2"}),
      ReplaceCase("pam-faillock-enabled", kCommonAuth, "auth\trequisite\tpam_faillock.so preauth\n",
                  "", {"pam_service:sshd"}),
      ReplaceCase("pam-pwquality-enabled", kCommonPassword,
                  "password\trequisite\tpam_pwquality.so retry=3\n", "",
                  {"pam_service:passwd", "pam_service:sshd"}),
      // Another module whose name ends in the right one's is not it (`module LIKE
      // '%pam_faillock.so'` took these for pam_faillock and pam_pwquality).
      ReplaceCase("pam-faillock-enabled", kCommonAuth, "\tpam_faillock.so preauth",
                  "\tnotpam_faillock.so preauth", {"pam_service:sshd"}),
      ReplaceCase("pam-pwquality-enabled", kCommonPassword, "\tpam_pwquality.so retry=3",
                  "\t/usr/local/lib/security/my_pam_pwquality.so retry=3",
                  {"pam_service:passwd", "pam_service:sshd"}),
      ReplaceCase("pam-faillock-deny", kFaillockConf, "deny = 5", "deny = 10",
                  {"pam_setting:faillock:deny"}),
      ReplaceCase("pam-faillock-unlock-time", kFaillockConf, "unlock_time = 900",
                  "unlock_time = 600", {"pam_setting:faillock:unlock_time"}),
      // pam_faillock reads deny with sscanf("%hu") (-1 is 65535: never locks) and refuses an
      // unlock_time that is not `never` or a number up to 604800 (it keeps 600); SQLite's CAST
      // read -1 and `forever` (0, "never") as passing.
      ReplaceCase("pam-faillock-deny", kFaillockConf, "deny = 5", "deny = -1",
                  {"pam_setting:faillock:deny"}),
      ReplaceCase("pam-faillock-deny", kCommonAuth, "pam_faillock.so authfail",
                  "pam_faillock.so authfail deny=-1", {"pam_line:/etc/pam.d/common-auth:3"}),
      ReplaceCase("pam-faillock-unlock-time", kFaillockConf, "unlock_time = 900",
                  "unlock_time = forever", {"pam_setting:faillock:unlock_time"}),
      ReplaceCase("pam-faillock-unlock-time", kCommonAuth, "pam_faillock.so authfail",
                  "pam_faillock.so authfail unlock_time=9999999",
                  {"pam_line:/etc/pam.d/common-auth:3"}),
      ReplaceCase("pam-faillock-root", kFaillockConf, "even_deny_root\nroot_unlock_time = 900\n",
                  "", {"pam_setting:faillock:even_deny_root"}),
      ReplaceCase("pam-faillock-root", kFaillockConf, "root_unlock_time = 900",
                  "root_unlock_time = 30", {"pam_setting:faillock:root_unlock_time"}),
      ReplaceCase("pam-faillock-root", kCommonAuth, "pam_faillock.so authfail",
                  "pam_faillock.so authfail root_unlock_time=10",
                  {"pam_line:/etc/pam.d/common-auth:3"}),
      // An argument on the PAM line overrides the file: the line is the failing item.
      ReplaceCase("pam-pwquality-minlen", kCommonPassword, "pam_pwquality.so retry=3",
                  "pam_pwquality.so retry=3 minlen=8", {"pam_line:/etc/pam.d/common-password:1"}),
      // libpwquality ignores an argument strtol does not read whole: the file's value (here
      // none: the default 8) applies to the line. SQLite's CAST read `20x` as 20.
      {"pam-pwquality-minlen",
       {{kPwqualityConf, Replace(kPwqualityConf, "minlen = 14\n", "")},
        {kCommonPassword, Replace(kCommonPassword, "pam_pwquality.so retry=3",
                                  "pam_pwquality.so retry=3 minlen=20x")}},
       {"pam_setting:pwquality:minlen"}},
      // The last argument it takes wins; a later one it ignores does not count.
      {"pam-pwquality-complexity",
       {{kCommonPassword, Replace(kCommonPassword, "pam_pwquality.so retry=3",
                                  "pam_pwquality.so retry=3 dcredit=0 ucredit=0 lcredit=0 "
                                  "ocredit=0 minclass=1 minclass=4x")}},
       {"pam_line:/etc/pam.d/common-password:1"}},
      ReplaceCase("pam-pwquality-difok", kPwqualityConf, "difok = 2\n", "",
                  {"pam_setting:pwquality:difok"}),
      ReplaceCase("pam-pwquality-difok", kCommonPassword, "pam_pwquality.so retry=3",
                  "pam_pwquality.so retry=3 difok=1", {"pam_line:/etc/pam.d/common-password:1"}),
      // Two classes by credits (the base requires four), then a line that cancels two of four.
      ReplaceCase("pam-pwquality-complexity", kPwqualityConf, "dcredit = -1\nucredit = -1\n", "",
                  {"pam_setting:pwquality:minclass"}),
      ReplaceCase("pam-pwquality-complexity", kCommonPassword, "pam_pwquality.so retry=3",
                  "pam_pwquality.so retry=3 lcredit=0 ocredit=1",
                  {"pam_line:/etc/pam.d/common-password:1"}),
      ReplaceCase("pam-pwquality-complexity", kPwqualityConf,
                  "dcredit = -1\nucredit = -1\nlcredit = -1\nocredit = -1\n", "minclass = 2\n",
                  {"pam_setting:pwquality:minclass"}),
      ReplaceCase("pam-pwquality-maxrepeat", kPwqualityConf, "maxrepeat = 3", "maxrepeat = 0",
                  {"pam_setting:pwquality:maxrepeat"}),
      ReplaceCase("pam-pwquality-maxsequence", kPwqualityConf, "maxsequence = 3", "maxsequence = 9",
                  {"pam_setting:pwquality:maxsequence"}),
      ReplaceCase("pam-pwquality-dictcheck", kPwqualityConf, "dictcheck = 1", "dictcheck = 0",
                  {"pam_setting:pwquality:dictcheck"}),
      ReplaceCase("pam-pwquality-enforcing", kPwqualityConf, "enforcing = 1", "enforcing = 0",
                  {"pam_setting:pwquality:enforcing"}),
      ReplaceCase("pam-pwquality-enforce-for-root", kPwqualityConf, "enforce_for_root\n", "",
                  {"pam_setting:pwquality:enforce_for_root"}),
      ReplaceCase("pam-unix-strong-hash", kCommonPassword, " yescrypt\n", " md5\n",
                  {"pam_line:/etc/pam.d/common-password:2"}),
      // login.defs and useradd
      login("login-pass-max-days", "PASS_MAX_DAYS\t365", "PASS_MAX_DAYS\t99999", "PASS_MAX_DAYS"),
      login("login-pass-min-days", "PASS_MIN_DAYS\t1", "PASS_MIN_DAYS\t0", "PASS_MIN_DAYS"),
      login("login-pass-warn-age", "PASS_WARN_AGE\t7\n", "", "PASS_WARN_AGE"),
      login("login-encrypt-method", "ENCRYPT_METHOD YESCRYPT", "ENCRYPT_METHOD MD5",
            "ENCRYPT_METHOD"),
      ReplaceCase("login-useradd-inactive", "/etc/default/useradd", "INACTIVE=45", "INACTIVE=-1",
                  {"useradd:INACTIVE"}),
      // shadow reads numbers whole, with strtol's base 0, or not at all (SQLite's CAST read
      // `365x` as 365 and `08`, no octal number, as 8), and compares ENCRYPT_METHOD
      // case-sensitively.
      login("login-pass-max-days", "PASS_MAX_DAYS\t365", "PASS_MAX_DAYS\t365x", "PASS_MAX_DAYS"),
      login("login-pass-warn-age", "PASS_WARN_AGE\t7", "PASS_WARN_AGE\t08", "PASS_WARN_AGE"),
      login("login-encrypt-method", "ENCRYPT_METHOD YESCRYPT", "ENCRYPT_METHOD yescrypt",
            "ENCRYPT_METHOD"),
      ReplaceCase("login-useradd-inactive", "/etc/default/useradd", "INACTIVE=45", "INACTIVE=0x2d0",
                  {"useradd:INACTIVE"}),
  };
}

}  // namespace tidemark::policy::cases
