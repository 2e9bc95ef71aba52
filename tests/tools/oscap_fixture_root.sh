#!/bin/sh
# tests/tools/oscap_fixture_root.sh ROOT
#
# Builds the fixture host root of the OpenSCAP comparison (tests/tools/oscap_test.sh) in ROOT
# (created; must not exist yet): the files that OpenSCAP's file probes read under
# OSCAP_PROBE_ROOT and tidemark-agent reads with --root. Every sshd keyword an SSG rule reads
# from the main sshd_config is written there (SSG 0.1.65 ignores sshd's defaults and Include).
# Some settings pass and some fail on purpose, so that agreement is not trivial; the comment
# beside a failing one names the rules it fails (in both tools). Needs root (chown).
set -eu

[ $# -eq 1 ] || { echo "usage: $0 ROOT" >&2; exit 2; }
ROOT=$1
[ ! -e "$ROOT" ] || { echo "$0: $ROOT exists" >&2; exit 2; }
umask 022
mkdir -p "$ROOT/etc/ssh" "$ROOT/etc/security" "$ROOT/etc/sudoers.d" "$ROOT/srv/data" \
  "$ROOT/srv/shared" "$ROOT/tmp" "$ROOT/root" "$ROOT/home/alice"
chmod 1777 "$ROOT/tmp"
chmod 0700 "$ROOT/root"

# put PATH MODE [OWNER:GROUP]: stdin into ROOT/PATH
put() {
  cat >"$ROOT$1"
  chmod "$2" "$ROOT$1"
  chown "${3:-0:0}" "$ROOT$1"
}

# The benchmark's platform (cpe:/o:debian:debian_linux:11, widened to 12 by oscap_compare.sh).
echo 12.5 | put /etc/debian_version 0644
echo oscap-fixture | put /etc/hostname 0644

# Accounts: toor has UID 0 (fails accounts_no_uid_except_zero); everything else is in order.
put /etc/passwd 0644 <<'EOF'
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
sshd:x:100:65534::/run/sshd:/usr/sbin/nologin
alice:x:1000:1000:Alice:/home/alice:/bin/bash
toor:x:0:0:second root:/root:/bin/bash
EOF
put /etc/group 0644 <<'EOF'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
sudo:x:27:alice
shadow:x:42:
nogroup:x:65534:
alice:x:1000:
EOF
# shellcheck disable=SC2016 # a yescrypt hash, not an expansion
hash='$y$j9T$0123456789abcdef$0123456789abcdef0123456789abcdef0123456789a'
put /etc/shadow 0640 0:42 <<EOF
root:!:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
sys:*:19000:0:99999:7:::
sync:*:19000:0:99999:7:::
sshd:*:19000:0:99999:7:::
alice:$hash:19500:1:365:7:30::
toor:!:19000:0:99999:7:::
EOF
put /etc/gshadow 0640 0:42 <<'EOF'
root:*::
daemon:*::
bin:*::
sys:*::
sudo:*::alice
shadow:*::
nogroup:*::
alice:!::
EOF
# The backup files: /etc/passwd- too open (fails file_permissions_backup_etc_passwd), the
# others in order; /etc/gshadow- is absent (passes: nothing to check).
cp "$ROOT/etc/passwd" "$ROOT/etc/passwd-" && chmod 0666 "$ROOT/etc/passwd-"
cp "$ROOT/etc/group" "$ROOT/etc/group-" && chmod 0644 "$ROOT/etc/group-"
cp "$ROOT/etc/shadow" "$ROOT/etc/shadow-" && chmod 0600 "$ROOT/etc/shadow-"

# login.defs: PASS_MAX_DAYS 99999 (fails accounts_maximum_age_login_defs), the others in order.
put /etc/login.defs 0644 <<'EOF'
MAIL_DIR        /var/mail
UMASK           027
PASS_MAX_DAYS   99999
PASS_MIN_DAYS   7
PASS_WARN_AGE   7
UID_MIN         1000
UID_MAX         60000
GID_MIN         1000
GID_MAX         60000
ENCRYPT_METHOD  YESCRYPT
EOF

# sudo: no use_pty (fails sudo_add_use_pty); a logfile (unquoted: SSG's sudo_custom_logfile
# compares the value with the quotes); authentication everywhere.
put /etc/sudoers 0440 <<'EOF'
Defaults env_reset
Defaults logfile=/var/log/sudo.log
Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
root ALL=(ALL:ALL) ALL
%sudo ALL=(ALL:ALL) ALL
EOF

# sshd: every keyword the compared rules read, written in the main file. Fails: LoginGraceTime
# 120 (sshd_set_login_grace_time), X11Forwarding yes (sshd_disable_x11_forwarding). LogLevel is
# INFO: tidemark accepts VERBOSE too (CIS), SSG only INFO.
put /etc/ssh/sshd_config 0600 <<'EOF'
# oscap comparison fixture
Include /etc/ssh/sshd_config.d/*.conf
KbdInteractiveAuthentication no
UsePAM yes
X11Forwarding yes
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
PermitRootLogin no
PermitEmptyPasswords no
MaxAuthTries 4
Ciphers chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr
MACs hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512,hmac-sha2-256
KexAlgorithms sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256
ClientAliveInterval 300
ClientAliveCountMax 3
LoginGraceTime 120
HostbasedAuthentication no
IgnoreRhosts yes
PermitUserEnvironment no
AllowGroups sudo
Banner /etc/issue.net
LogLevel INFO
MaxStartups 10:30:60
MaxSessions 10
DisableForwarding yes
GSSAPIAuthentication no
EOF
mkdir -p "$ROOT/etc/ssh/sshd_config.d"
echo 'Authorized uses only. All activity may be monitored and reported.' | put /etc/issue.net 0644

# Host keys (contents are not read by these rules): the ed25519 private key is group- and
# world-readable (fails file_permissions_sshd_private_key); public keys in order.
for k in rsa ecdsa ed25519; do
  echo "fixture $k private key" | put "/etc/ssh/ssh_host_${k}_key" 0600
  echo "ssh-$k AAAAfixture root@oscap-fixture" | put "/etc/ssh/ssh_host_${k}_key.pub" 0644
done
chmod 0644 "$ROOT/etc/ssh/ssh_host_ed25519_key"

# Packages (dpkg's status file, read by tidemark's packages section and, through libapt,
# by OpenSCAP's dpkginfo probe; oscap_compare.sh gives apt a configuration of its own).
# SSG's sshd, login.defs and sudo rules apply only where their package is installed. telnetd
# fails package_telnetd_removed, nis package_nis_removed (a client and server package in one).
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/var/lib/apt/lists/partial" \
  "$ROOT/var/cache/apt/archives/partial" "$ROOT/etc/apt/sources.list.d" "$ROOT/usr/share/dpkg"
# apt needs dpkg's architecture tables inside the root.
cp /usr/share/dpkg/cputable /usr/share/dpkg/tupletable "$ROOT/usr/share/dpkg/"
: | put /var/lib/dpkg/available 0644
for p in base-files:12.4+deb12u5 login:1:4.13+dfsg1-1+b1 passwd:1:4.13+dfsg1-1+b1 \
  sudo:1.9.13p3-1+deb12u1 openssh-server:1:9.2p1-2+deb12u3 libpam-runtime:1.5.2-6+deb12u1 \
  telnetd:0.17+2.4-2+deb12u1 nis:4.4 ; do
  printf 'Package: %s\nStatus: install ok installed\nPriority: optional\nSection: admin\n' "${p%%:*}"
  printf 'Maintainer: Fixture <fixture@example.org>\nArchitecture: amd64\nVersion: %s\n' "${p#*:}"
  printf 'Description: oscap comparison fixture\n\n'
done | put /var/lib/dpkg/status 0644

# The sweep: a world-writable file (fails file_permissions_unauthorized_world_writable), a
# world-writable directory with the sticky bit (/srv/shared, as /tmp) and one without
# (/srv/dropbox: fails dir_perms_world_writable_sticky_bits).
echo data | put /srv/data/report.txt 0666
chmod 1777 "$ROOT/srv/shared"
mkdir -p "$ROOT/srv/dropbox"
chmod 0777 "$ROOT/srv/dropbox"
echo hello | put /home/alice/notes.txt 0600 1000:1000
chown 1000:1000 "$ROOT/home/alice"
