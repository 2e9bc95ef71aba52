// The compiled-in defaults of one OpenSSH server build: what `sshd -T` prints for a setting the
// configuration leaves unset, and the algorithm lists it accepts. Only Debian 12's openssh-server
// 1:9.2p1-2+deb12uN is known (servconf.c fill_default_server_options(), myproposal.h, Debian's
// gssapi.patch and debian-banner.patch; lists as `ssh -Q cipher|mac|kex|key-sig` of that build).
// Another build is recognised by the package version in the root's dpkg status (DetectSshdBuild).
#pragma once

#include <optional>
#include <string>

#include "common/fs.h"

namespace tidemark::agent::sshd {

struct SshdBuild {
  std::string name;            // "debian12-openssh-9.2p1"
  std::string package_prefix;  // dpkg version prefix of the build, "1:9.2p1-"
  // Every algorithm the build supports, comma-separated, in the build's own order.
  std::string all_ciphers, all_macs, all_kex, all_keys, all_sigs;
  // Server defaults (KEX_SERVER_ENCRYPT, KEX_SERVER_MAC, KEX_SERVER_KEX, KEX_DEFAULT_PK_ALG,
  // SSH_ALLOWED_CA_SIGALGS), before filtering by the supported lists.
  std::string def_ciphers, def_macs, def_kex, def_keys, def_sigs;
  // The defaults less what the build does not support, as assemble_algorithms() filters them
  // before every assembly: computed once with the build (filtering them again took about a
  // third of the sshd_config fuzz target's time on an empty configuration, perf).
  std::string usable_ciphers, usable_macs, usable_kex, usable_keys, usable_sigs;
  std::string gss_kex;  // GSS_KEX_DEFAULT_KEX (Debian gssapi.patch)
  // Default host key files, used when the configuration names none.
  std::string host_keys[3];
  std::string pid_file, moduli_file, xauth_location;
};

// Returns the Debian 12 (bookworm) OpenSSH 9.2p1 build.
const SshdBuild& Debian12Build();

// What the root's package database says about the installed openssh-server.
struct BuildDetection {
  std::optional<std::string> package_version;  // "1:9.2p1-2+deb12u10"; nullopt: not installed
  bool matches = false;                        // the version is one Debian12Build() describes
  std::string note;                            // human-readable, for defaults_source
};

// Reads /var/lib/dpkg/status in `fs` for the `Package: openssh-server` stanza (installed only).
BuildDetection DetectSshdBuild(const Fs& fs);

}  // namespace tidemark::agent::sshd
