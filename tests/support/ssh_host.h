// A second Debian 12 host for the rollout tests (pull, deploy): a copy-on-write copy of this
// machine's root file system (an overlay over / in the test process's own mount namespace, so
// nothing of the real system changes and everything vanishes with the process), with its own
// hostname (a UTS namespace) and its own OpenSSH server (Debian's sshd, started by the test in
// that root on a free port of 127.0.0.1, with a host key and a client key the test makes).
//
// Why not debootstrap: the overlay is a real Debian 12 root with the same packages, costs no
// download and no minutes of CI, and its upper layer shows exactly what a test wrote into it.
// Needs root, overlayfs and /usr/sbin/sshd; Start() says why when it cannot.
#pragma once

#include <sys/types.h>

#include <memory>
#include <set>
#include <string>

namespace tidemark::testing {

class SshTestHost {
 public:
  ~SshTestHost();
  SshTestHost(const SshTestHost&) = delete;
  SshTestHost& operator=(const SshTestHost&) = delete;

  // Makes the host under `work` (a fresh directory) and starts its sshd. On failure returns
  // nullptr and sets `why`. The calling process enters a new mount namespace (once).
  static std::unique_ptr<SshTestHost> Start(const std::string& work, const std::string& hostname,
                                            std::string* why);

  int port() const { return port_; }
  // The host's root as this process sees it (write into it to change the host).
  const std::string& root() const { return root_; }
  const std::string& hostname() const { return hostname_; }
  // A private key (ed25519, mode 0600) that root and every user made by AddUser may log in with.
  const std::string& client_key() const { return client_key_; }
  // A known_hosts file listing the host's key for [127.0.0.1]:port.
  const std::string& known_hosts() const { return known_hosts_; }
  // "[127.0.0.1]:PORT ssh-ed25519 AAAA..." of another key: a known_hosts line for a host whose
  // key has changed.
  std::string OtherKeyLine() const;

  // Adds a login user (home under /home, key login allowed); with `sudo_nopasswd` the user may
  // run anything as root through sudo without a password.
  bool AddUser(const std::string& name, bool sudo_nopasswd);

  // What differs from this machine's root, relative to the host's root: files written or
  // changed, directories made, and deletions ("deleted PATH"); not the logs of logins (var/log)
  // nor runtime files (run).
  std::set<std::string> Files() const;
  // The command lines of the processes running inside the host (those whose root is its root).
  std::set<std::string> Processes() const;
  // sshd's log so far.
  std::string Log() const;

 private:
  SshTestHost() = default;
  // The steps of Start; false with `*why` set when one fails.
  bool MountRoot(std::string* why);
  bool WriteSshFiles(std::string* why);
  bool StartSshd(std::string* why);
  std::string work_;
  std::string root_;
  std::string hostname_;
  std::string client_key_;
  std::string known_hosts_;
  std::string log_;
  int port_ = 0;
  pid_t sshd_ = -1;
};

}  // namespace tidemark::testing
