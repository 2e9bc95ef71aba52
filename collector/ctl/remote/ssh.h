// One SSH connection of tidemarkctl to a host it rolls out to or pulls from (libssh): strict
// host-key checking against known_hosts, public-key authentication, commands run over exec
// channels, files moved over SFTP. Every blocking step has a time-out and returns early when the
// caller's cancel flag is set (Ctrl-C), so that the caller can still clean up on the host.
//
// Nothing of the user's ~/.ssh/config is read: host, port and user are what the command line or
// the inventory says (docs/rollout.md). Private keys are read by libssh and never printed.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace tidemark::ctl::remote {

// Where to connect: "host", "host:port", "[v6addr]:port", with "user@" in front optionally.
struct SshTarget {
  std::string host;
  int port = 22;
  std::string user;  // "" = the local user's name

  // "user@host:port" (the port always), for messages and the audit trail.
  std::string ToString() const;
};

// Parses "[USER@]HOST[:PORT]"; a bare IPv6 address needs brackets when a port follows.
StatusOr<SshTarget> ParseSshTarget(const std::string& text);

struct SshOptions {
  std::string identity;     // a private key file; "" = ssh-agent, then ~/.ssh/id_*
  std::string known_hosts;  // "" = ~/.ssh/known_hosts (and /etc/ssh/ssh_known_hosts)
  // Trust a host that known_hosts does not list yet, and record its key there (never a changed
  // key: that is refused always).
  bool accept_new = false;
  int connect_timeout_seconds = 10;
  // Set by a signal handler: every wait returns kCancelled soon after (within ~0.2 s).
  const std::atomic<bool>* cancel = nullptr;
};

// What a command printed and how it ended.
struct ExecResult {
  int exit_status = -1;  // -1 when the server sent none (the process was killed by a signal)
  std::string out;
  std::string err;  // the last bytes of stderr, at most 64 KiB

  // The end of stderr for an error message: its last 512 bytes without the trailing newlines,
  // as the host wrote them (host text: escaped where it is shown, once).
  std::string ErrTail() const;
};

class SshConnection {
 public:
  ~SshConnection();
  SshConnection(const SshConnection&) = delete;
  SshConnection& operator=(const SshConnection&) = delete;

  // Connects, checks the host key (an unknown key is refused unless accept_new; a changed key
  // always), and authenticates. `note` receives a line to show the user when a key was
  // accepted and recorded.
  static StatusOr<std::unique_ptr<SshConnection>> Open(const SshTarget& target,
                                                       const SshOptions& options,
                                                       std::string* note);

  // The host key's type and SHA-256 fingerprint ("ED25519 SHA256:..."), as ssh-keygen -lf.
  const std::string& HostKey() const { return host_key_; }
  const SshTarget& Target() const { return target_; }

  // Runs `command`, one simple command that the login user's shell execs. Fails with kTooLarge
  // past `max_out` bytes of stdout, with kCancelled when the cancel flag is set, with kIoError
  // on a time-out (`timeout_seconds` without any output or end); in each case the process is
  // sent SIGTERM first (`kill`, or `sudo -n kill` for one that runs as root).
  StatusOr<ExecResult> Run(const std::string& command, uint64_t max_out, int timeout_seconds);
  // As Run, ignoring the cancel flag: for the clean-up after a cancel.
  StatusOr<ExecResult> RunUncancelled(const std::string& command, int timeout_seconds);

  // The absolute form of `path` on the host ("." is the login user's home directory).
  StatusOr<std::string> RealPath(const std::string& path);
  // Creates the directory `path` with `mode` (fails if anything exists there: no link is
  // followed) and checks that it is a directory with exactly `mode` (else removes it again).
  Status MakePrivateDirectory(const std::string& path, int mode);
  // Copies the local file `local` to `path`, created new (never replacing anything) with
  // `mode`. Honours the cancel flag between chunks.
  Status Upload(const std::string& local, const std::string& path, int mode);
  // Writes `content` to the new file `path` with `mode`.
  Status UploadContent(const std::string& content, const std::string& path, int mode);
  // Removes the file `path` / the empty directory `path` (not found is success).
  Status RemoveFile(const std::string& path);
  Status RemoveDirectory(const std::string& path);

 private:
  struct Handles;
  SshConnection(SshTarget target, SshOptions options);
  Status Connect(std::string* note);
  Status CheckHostKey(std::string* note);
  Status Authenticate();
  Status OpenSftp();
  // Sends SIGTERM to the process whose "tidemark-pid N" line `err_so_far` starts with.
  void Stop(const std::string& err_so_far);
  StatusOr<ExecResult> RunCommand(const std::string& command, uint64_t max_out, int timeout_seconds,
                                  bool cancellable);
  Status WriteNew(const std::string& path, int mode, const std::string* content,
                  const std::string* local);
  Status SshError(StatusCode code, const std::string& what) const;
  Status SftpError(const std::string& what, const std::string& path) const;
  bool Cancelled() const { return options_.cancel && options_.cancel->load(); }

  SshTarget target_;
  SshOptions options_;
  std::unique_ptr<Handles> h_;
  std::string host_key_;
};

// `text` quoted for a POSIX shell ('...' with every ' as '\'').
std::string ShellQuote(const std::string& text);

}  // namespace tidemark::ctl::remote
