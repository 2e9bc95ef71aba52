#include "agent/parsers/sshd_defaults.h"

#include <string_view>

#include "agent/parsers/sshd_algorithms.h"
#include "common/fs.h"

namespace tidemark::agent::sshd {

const SshdBuild& Debian12Build() {
  static const SshdBuild build = [] {
    SshdBuild b;
    b.name = "debian12-openssh-9.2p1";
    b.package_prefix = "1:9.2p1-";
    b.all_ciphers =
        "3des-cbc,aes128-cbc,aes192-cbc,aes256-cbc,aes128-ctr,aes192-ctr,aes256-ctr,"
        "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com";
    b.all_macs =
        "hmac-sha1,hmac-sha1-96,hmac-sha2-256,hmac-sha2-512,hmac-md5,hmac-md5-96,"
        "umac-64@openssh.com,umac-128@openssh.com,hmac-sha1-etm@openssh.com,"
        "hmac-sha1-96-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
        "hmac-sha2-512-etm@openssh.com,hmac-md5-etm@openssh.com,hmac-md5-96-etm@openssh.com,"
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com";
    b.all_kex =
        "diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,"
        "diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,"
        "diffie-hellman-group-exchange-sha1,diffie-hellman-group-exchange-sha256,"
        "ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,curve25519-sha256,"
        "curve25519-sha256@libssh.org,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com";
    b.all_keys =
        "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,sk-ssh-ed25519@openssh.com,"
        "sk-ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,"
        "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
        "ecdsa-sha2-nistp521-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,"
        "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,webauthn-sk-ecdsa-sha2-nistp256@openssh.com,"
        "ssh-dss,ssh-dss-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,rsa-sha2-256,"
        "rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,rsa-sha2-512-cert-v01@openssh.com";
    b.all_sigs =
        "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp521,sk-ecdsa-sha2-nistp256@openssh.com,"
        "webauthn-sk-ecdsa-sha2-nistp256@openssh.com,ssh-dss,ssh-rsa,rsa-sha2-256,rsa-sha2-512";
    b.def_ciphers =
        "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
        "aes256-gcm@openssh.com";
    b.def_macs =
        "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
        "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
        "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";
    b.def_kex =
        "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,"
        "curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
        "diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
        "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
    b.def_keys =
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
        "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
        "sk-ssh-ed25519-cert-v01@openssh.com,sk-ecdsa-sha2-nistp256-cert-v01@openssh.com,"
        "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,ssh-ed25519,"
        "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,sk-ssh-ed25519@openssh.com,"
        "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";
    b.def_sigs =
        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
        "sk-ssh-ed25519@openssh.com,sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,"
        "rsa-sha2-256";
    b.gss_kex =
        "gss-group14-sha256-,gss-group16-sha512-,gss-nistp256-sha256-,gss-curve25519-sha256-,"
        "gss-group14-sha1-,gss-gex-sha1-";
    b.host_keys[0] = "/etc/ssh/ssh_host_rsa_key";
    b.host_keys[1] = "/etc/ssh/ssh_host_ecdsa_key";
    b.host_keys[2] = "/etc/ssh/ssh_host_ed25519_key";
    b.pid_file = "/run/sshd.pid";
    b.moduli_file = "/etc/ssh/moduli";
    b.xauth_location = "/usr/bin/xauth";
    b.usable_ciphers = internal::FilterList(b.def_ciphers, b.all_ciphers, true);
    b.usable_macs = internal::FilterList(b.def_macs, b.all_macs, true);
    b.usable_kex = internal::FilterList(b.def_kex, b.all_kex, true);
    b.usable_keys = internal::FilterList(b.def_keys, b.all_keys, true);
    b.usable_sigs = internal::FilterList(b.def_sigs, b.all_sigs, true);
    return b;
  }();
  return build;
}

BuildDetection DetectSshdBuild(const Fs& fs) {
  BuildDetection d;
  const SshdBuild& build = Debian12Build();
  // dpkg status: stanzas separated by blank lines, "Field: value" lines (deb-control(5)); the
  // first installed openssh-server stanza wins. The file describes every package (about 1 MB
  // on a server) and is read in pieces, line by line, never held whole: reading it whole cost
  // more than the rest of the section (README, "Agent start-up").
  bool in_stanza = false, installed = false;
  std::optional<std::string> version;
  auto finish = [&] {
    if (in_stanza && installed && version && !d.package_version) d.package_version = version;
    in_stanza = installed = false;
    version.reset();
  };
  auto line_of = [&](std::string_view line) {
    if (line.empty()) {
      finish();
      return !d.package_version;  // found: stop reading
    }
    if (line == "Package: openssh-server") in_stanza = true;
    if (line.rfind("Status: ", 0) == 0 && line.size() >= 10 &&
        line.substr(line.size() - 10) == " installed") {
      installed = true;
    }
    if (line.rfind("Version: ", 0) == 0) version = std::string(line.substr(9));
    return true;
  };
  std::string partial;  // a line cut by the end of a piece
  Status read = fs.ScanFile("/var/lib/dpkg/status", {}, [&](std::string_view piece) {
    for (;;) {
      size_t nl = piece.find('\n');
      if (nl == std::string_view::npos) {
        partial.append(piece);
        return true;
      }
      bool go_on;
      if (partial.empty()) {
        go_on = line_of(piece.substr(0, nl));
      } else {
        partial.append(piece.substr(0, nl));
        go_on = line_of(partial);
        partial.clear();
      }
      if (!go_on) return false;
      piece.remove_prefix(nl + 1);
    }
  });
  if (!read.ok()) {
    d.note = "no dpkg status database (" + read.message() + "); the compiled-in defaults of " +
             build.name + " were used and may differ";
    return d;
  }
  if (!partial.empty()) line_of(partial);  // a last line without a newline
  finish();
  if (!d.package_version) {
    d.note = "openssh-server is not installed in this root; the compiled-in defaults of " +
             build.name + " were used and may differ from the sshd that would read this file";
    return d;
  }
  d.matches = d.package_version->rfind(build.package_prefix, 0) == 0;
  d.note = d.matches
               ? "openssh-server " + *d.package_version + " is the build these defaults describe"
               : "openssh-server " + *d.package_version + " is not " + build.name +
                     "; its compiled-in defaults and keywords may differ from those used";
  return d;
}

}  // namespace tidemark::agent::sshd
