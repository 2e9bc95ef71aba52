#!/bin/sh
# Installs what tidemark needs from Debian 12 packages, and nothing else.
#   packaging/build-deps.sh          build dependencies
#   packaging/build-deps.sh --test   plus the real tools the tests compare against, and what CI
#                                    (.ci/run) needs: clang 14 for the sanitizer and fuzz
#                                    builds, clang-format and clang-tidy for the style checks
# Daemons that a test package pulls in are installed without being started (policy-rc.d).
set -eu

# libcrypt-dev: crypt_gensalt/crypt_r, the oracle of the password-hash tests.
# libzstd-dev: compresses snapshot bodies in the collector's store.
# libyaml-cpp-dev: rules and baselines (policies/), the files people write.
# libcli11-dev: tidemarkctl's command line (subcommands, checks, help), header-only.
BUILD_PKGS="g++ cmake make pkg-config libboost1.81-dev libssl-dev libssh-dev nlohmann-json3-dev
libsqlite3-dev googletest libgtest-dev libcrypt-dev libzstd-dev libyaml-cpp-dev libcli11-dev"
# sudo: cvtsudoers/visudo; openssh-client: ssh-keygen; libc-bin: getent; iproute2: ss;
# systemd: systemctl --root is-enabled; openssh-server: sshd -T, and the sshd that the rollout
# tests start in an overlay root on 127.0.0.1 (never the machine's own);
# libnss-wrapper: fixture users for sshd -T -C; sqlite3: checks the store's file is WAL;
# openssl: verify/x509/s_client/s_server check the PKI and the collector's TLS.
TEST_PKGS="sudo openssh-client libc-bin iproute2 systemd openssh-server libnss-wrapper sqlite3 openssl"
# openscap-scanner + ssg-debian: OpenSCAP and ComplianceAsCode's content, the oracle of the
# rules (oscap_compare_test); jq: that test reads tidemarkctl's JSON with it.
TEST_PKGS="$TEST_PKGS openscap-scanner ssg-debian jq"
# chromium: loads the report's HTML page headless (ctl_report_browser_test), with the font the
# page names (fonts-dejavu-core); libxml2-utils: xmllint parses the JUnit report and validates
# it against the JUnit schema.
TEST_PKGS="$TEST_PKGS chromium fonts-dejavu-core libxml2-utils"
# lintian: checks the Debian packages (packages_test); dpkg-dev: dpkg-shlibdeps for CPack;
# adduser: tidemark-collector's postinst, installed in a throwaway overlay by that test.
TEST_PKGS="$TEST_PKGS lintian dpkg-dev adduser"
# clang-14 + libclang-rt-14-dev: libFuzzer and the sanitizers (CI's asan and fuzz stages, fuzz/run.sh);
# clang-format-14 / clang-tidy-14: the house style checks of .ci/run.
TEST_PKGS="$TEST_PKGS clang-14 libclang-rt-14-dev clang-format-14 clang-tidy-14"

pkgs="$BUILD_PKGS"
[ "${1:-}" = "--test" ] && pkgs="$pkgs $TEST_PKGS"

missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "build-deps: missing packages:$missing; run as root (or: sudo $0 $*)" >&2
  exit 1
fi

# Keep any service a package brings from starting on this machine.
policy=/usr/sbin/policy-rc.d
created_policy=""
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  created_policy=1
fi
trap '[ -n "$created_policy" ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
