#include "collector/ctl/remote/ssh.h"

#include <fcntl.h>
#include <libssh/libssh.h>
#include <libssh/sftp.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <mutex>

#include "common/read_file.h"

namespace tidemark::ctl::remote {
namespace {

constexpr size_t kMaxStderrBytes = 64 << 10;
constexpr size_t kChunkBytes = 32 << 10;  // below the SFTP packet limit of every server
constexpr int kPollMillis = 100;

struct KeyDeleter {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

std::string TakeCString(char* s) {
  std::string out = s ? s : "";
  ssh_string_free_char(s);
  return out;
}

bool ValidHostText(const std::string& host) {
  if (host.empty() || host.size() > 253 || host.front() == '-') return false;
  for (unsigned char c : host) {
    if (c <= ' ' || c == 0x7f || c == '/' || c == '@' || c == '[' || c == ']') return false;
  }
  return true;
}

}  // namespace

struct SshConnection::Handles {
  ssh_session session = nullptr;
  sftp_session sftp = nullptr;
  ~Handles() {
    if (sftp) sftp_free(sftp);
    if (session) {
      if (ssh_is_connected(session)) ssh_disconnect(session);
      ssh_free(session);
    }
  }
};

std::string SshTarget::ToString() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return (user.empty() ? "" : user + "@") + h + ":" + std::to_string(port);
}

StatusOr<SshTarget> ParseSshTarget(const std::string& text) {
  SshTarget t;
  std::string rest = text;
  if (size_t at = rest.rfind('@'); at != std::string::npos) {
    t.user = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (t.user.empty() || t.user.front() == '-' ||
        t.user.find_first_of(":/") != std::string::npos ||
        std::any_of(t.user.begin(), t.user.end(),
                    [](unsigned char c) { return c <= ' ' || c == 0x7f; })) {
      return Status(StatusCode::kInvalidArgument, "'" + text + "': not a user name before '@'");
    }
  }
  std::string port;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) {
      return Status(StatusCode::kInvalidArgument, "'" + text + "': '[' without ']'");
    }
    t.host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') {
        return Status(StatusCode::kInvalidArgument, "'" + text + "': text after ']'");
      }
      port = rest.substr(close + 2);
    }
  } else if (size_t colon = rest.find(':');
             colon != std::string::npos && rest.find(':', colon + 1) == std::string::npos) {
    t.host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  } else {
    t.host = rest;  // a name, an IPv4 address, or a bare IPv6 address without a port
  }
  if (t.host.find(':') == std::string::npos
          ? !ValidHostText(t.host)
          : t.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
    return Status(StatusCode::kInvalidArgument, "'" + text + "': not a host name or address");
  }
  if (!port.empty() || (rest.size() > 0 && rest.back() == ':')) {
    int p = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || p > 65535) {
        p = -1;
        break;
      }
      p = p * 10 + (c - '0');
    }
    if (port.empty() || p < 1 || p > 65535) {
      return Status(StatusCode::kInvalidArgument, "'" + text + "': the port is not 1 to 65535");
    }
    t.port = p;
  }
  return t;
}

std::string ExecResult::ErrTail() const {
  constexpr size_t kTailBytes = 512;
  size_t end = err.find_last_not_of("\r\n");
  std::string tail = end == std::string::npos ? "" : err.substr(0, end + 1);
  if (tail.size() > kTailBytes) tail = "..." + tail.substr(tail.size() - kTailBytes);
  return tail;
}

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

SshConnection::SshConnection(SshTarget target, SshOptions options)
    : target_(std::move(target)), options_(std::move(options)), h_(std::make_unique<Handles>()) {}

SshConnection::~SshConnection() = default;

StatusOr<std::unique_ptr<SshConnection>> SshConnection::Open(const SshTarget& target,
                                                             const SshOptions& options,
                                                             std::string* note) {
  std::unique_ptr<SshConnection> c(new SshConnection(target, options));
  if (Status s = c->Connect(note); !s.ok()) return s;
  return c;
}

Status SshConnection::SshError(StatusCode code, const std::string& what) const {
  std::string detail = h_->session ? ssh_get_error(h_->session) : "";
  return Status(code, target_.ToString() + ": " + what + (detail.empty() ? "" : ": " + detail));
}

Status SshConnection::SftpError(const std::string& what, const std::string& path) const {
  int code = h_->sftp ? sftp_get_error(h_->sftp) : -1;
  std::string reason;
  StatusCode status = StatusCode::kIoError;
  switch (code) {
    case SSH_FX_NO_SUCH_FILE:
      reason = "no such file or directory";
      status = StatusCode::kNotFound;
      break;
    case SSH_FX_PERMISSION_DENIED:
      reason = "permission denied";
      status = StatusCode::kPermissionDenied;
      break;
    case SSH_FX_FILE_ALREADY_EXISTS:
      reason = "something exists there already";
      break;
    default:
      reason = ssh_get_error(h_->session);
  }
  return Status(status, target_.ToString() + ": " + what + " " + path + ": " + reason);
}

Status SshConnection::Connect(std::string* note) {
  h_->session = ssh_new();
  if (!h_->session) return Status(StatusCode::kInternal, "libssh: ssh_new failed");
  ssh_session s = h_->session;
  long timeout = options_.connect_timeout_seconds;
  bool no = false;
  int yes = 1;  // TCP_NODELAY: each SFTP request waits for its reply, never for Nagle
  int port = target_.port;
  if (ssh_options_set(s, SSH_OPTIONS_HOST, target_.host.c_str()) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
      (!target_.user.empty() &&
       ssh_options_set(s, SSH_OPTIONS_USER, target_.user.c_str()) != SSH_OK) ||
      ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no) != SSH_OK ||
      ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes) != SSH_OK) {
    return SshError(StatusCode::kInvalidArgument, "invalid connection options");
  }
  if (!options_.known_hosts.empty()) {
    // libssh reads it by name: a FIFO would stall the connection (a missing file is empty).
    if (options_.known_hosts != "/dev/null") {
      Status checked = CheckRegularFile(options_.known_hosts, kAnySize);
      if (!checked.ok() && checked.code() != StatusCode::kNotFound) {
        return Status(checked.code(), "--known-hosts " + checked.message());
      }
    }
    // Only the named file counts: the system-wide list is not consulted.
    if (ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, options_.known_hosts.c_str()) != SSH_OK ||
        ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") != SSH_OK) {
      return SshError(StatusCode::kInvalidArgument, "invalid known_hosts path");
    }
  }
  if (target_.user.empty()) {
    char* user = nullptr;
    if (ssh_options_get(s, SSH_OPTIONS_USER, &user) == SSH_OK) target_.user = TakeCString(user);
  }
  if (Cancelled()) return Status(StatusCode::kCancelled, target_.ToString() + ": cancelled");
  if (ssh_connect(s) != SSH_OK) return SshError(StatusCode::kUnavailable, "cannot connect");
  if (Status st = CheckHostKey(note); !st.ok()) return st;
  return Authenticate();
}

Status SshConnection::CheckHostKey(std::string* note) {
  ssh_session s = h_->session;
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK) {
    return SshError(StatusCode::kIoError, "no host key");
  }
  KeyPtr key(raw);
  unsigned char* hash = nullptr;
  size_t hash_len = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hash_len) != 0) {
    return SshError(StatusCode::kIoError, "cannot hash the host key");
  }
  std::string fingerprint =
      TakeCString(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hash_len));
  ssh_clean_pubkey_hash(&hash);
  const char* type = ssh_key_type_to_char(ssh_key_type(key.get()));
  host_key_ = std::string(type ? type : "unknown") + " " + fingerprint;
  const std::string file =
      options_.known_hosts.empty() ? "~/.ssh/known_hosts" : options_.known_hosts;
  switch (ssh_session_is_known_server(s)) {
    case SSH_KNOWN_HOSTS_OK:
      return Status::Ok();
    case SSH_KNOWN_HOSTS_CHANGED:
      return Status(StatusCode::kPermissionDenied,
                    target_.ToString() + ": the host key has CHANGED: the host offers " +
                        host_key_ + ", which is not the key " + file +
                        " lists for it; refused (if the host was reinstalled, check the new key "
                        "out of band and remove the old one with ssh-keygen -R)");
    case SSH_KNOWN_HOSTS_OTHER:
      return Status(StatusCode::kPermissionDenied,
                    target_.ToString() + ": the host offers " + host_key_ + ", but " + file +
                        " lists a key of another type for it; refused");
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND: {
      if (!options_.accept_new) {
        return Status(StatusCode::kPermissionDenied,
                      target_.ToString() + ": unknown host key " + host_key_ + " (not in " + file +
                          "); refused: check the fingerprint out of band, then add the key or "
                          "run again with --accept-new");
      }
      // One writer at a time: deploy connects to several hosts at once.
      static std::mutex known_hosts_writer;
      std::lock_guard<std::mutex> lock(known_hosts_writer);
      if (ssh_session_update_known_hosts(s) != SSH_OK) {
        return SshError(StatusCode::kIoError, "cannot record the host key in " + file);
      }
      if (note) {
        *note = target_.ToString() + ": accepted the new host key " + host_key_ +
                " and recorded it in " + file;
      }
      return Status::Ok();
    }
    case SSH_KNOWN_HOSTS_ERROR:
      break;
  }
  return SshError(StatusCode::kIoError, "cannot check the host key against " + file);
}

Status SshConnection::Authenticate() {
  ssh_session s = h_->session;
  int rc = SSH_AUTH_ERROR;
  if (!options_.identity.empty()) {
    struct stat st {};
    if (stat(options_.identity.c_str(), &st) != 0) {
      return Status(StatusCode::kNotFound, "--identity " + options_.identity + ": not found");
    }
    if (!S_ISREG(st.st_mode)) {  // libssh opens it by name: a FIFO would stall
      return Status(StatusCode::kWrongType,
                    "--identity " + options_.identity + ": not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
      return Status(StatusCode::kPermissionDenied,
                    "--identity " + options_.identity +
                        ": group or others may read this private key; refused (chmod 600)");
    }
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(options_.identity.c_str(), nullptr, nullptr, nullptr, &raw) !=
        SSH_OK) {
      return Status(StatusCode::kInvalidArgument,
                    "--identity " + options_.identity +
                        ": cannot read the private key (one with a passphrase is used through "
                        "ssh-agent: ssh-add it and leave out --identity)");
    }
    KeyPtr key(raw);
    rc = ssh_userauth_publickey(s, nullptr, key.get());
  } else {
    rc = ssh_userauth_publickey_auto(s, nullptr, nullptr);
  }
  if (rc != SSH_AUTH_SUCCESS) {
    return SshError(StatusCode::kPermissionDenied,
                    "public-key authentication as " + target_.user + " failed");
  }
  return Status::Ok();
}

StatusOr<ExecResult> SshConnection::Run(const std::string& command, uint64_t max_out,
                                        int timeout_seconds) {
  // The login shell says its PID, then becomes the command (exec keeps the PID): what Stop
  // signals. sshd honours no signal request for root's sessions, so a signal goes by `kill`.
  auto result =
      RunCommand("echo tidemark-pid $$ >&2 && exec " + command, max_out, timeout_seconds, true);
  if (result.ok()) {
    // The PID line is ours, not the command's.
    if (result->err.rfind("tidemark-pid ", 0) == 0) {
      result->err.erase(0, std::min(result->err.size(), result->err.find('\n') + 1));
    }
  }
  return result;
}

StatusOr<ExecResult> SshConnection::RunUncancelled(const std::string& command,
                                                   int timeout_seconds) {
  return RunCommand(command, 1 << 20, timeout_seconds, false);
}

void SshConnection::Stop(const std::string& err_so_far) {
  if (err_so_far.rfind("tidemark-pid ", 0) != 0) return;
  std::string pid = err_so_far.substr(13, err_so_far.find('\n') - 13);
  if (pid.empty() || pid.size() > 10 || pid.find_first_not_of("0123456789") != std::string::npos) {
    return;
  }
  // As the login user first; through sudo when the command runs as root (`sudo -n` never asks).
  (void)RunCommand("kill -TERM " + pid + " 2>/dev/null || sudo -n kill -TERM " + pid, 1 << 10, 10,
                   false);
}

StatusOr<ExecResult> SshConnection::RunCommand(const std::string& command, uint64_t max_out,
                                               int timeout_seconds, bool cancellable) {
  struct ChannelCloser {
    ssh_channel c;
    ~ChannelCloser() {
      if (!c) return;
      if (ssh_channel_is_open(c)) ssh_channel_close(c);
      ssh_channel_free(c);
    }
  } channel{ssh_channel_new(h_->session)};
  if (!channel.c || ssh_channel_open_session(channel.c) != SSH_OK) {
    return SshError(StatusCode::kIoError, "cannot open a channel");
  }
  if (ssh_channel_request_exec(channel.c, command.c_str()) != SSH_OK) {
    return SshError(StatusCode::kIoError, "cannot run a command");
  }
  ExecResult result;
  // Stops the command (cancelled, silent too long, too much output) before the channel closes.
  auto stop = [&](Status why) -> StatusOr<ExecResult> {
    if (cancellable) {
      // Whatever stderr still holds may carry the PID line.
      std::array<char, 256> rest{};
      if (result.err.empty()) {
        int e = ssh_channel_read_nonblocking(channel.c, rest.data(), rest.size(), 1);
        if (e > 0) result.err.assign(rest.data(), static_cast<size_t>(e));
      }
      Stop(result.err);
    }
    return why;
  };
  std::array<char, 16 << 10> buf{};
  auto last = std::chrono::steady_clock::now();
  while (true) {
    if (cancellable && Cancelled()) {
      return stop(Status(StatusCode::kCancelled, target_.ToString() + ": cancelled while running"));
    }
    int n = ssh_channel_read_timeout(channel.c, buf.data(), buf.size(), 0, kPollMillis);
    if (n == SSH_ERROR) return SshError(StatusCode::kIoError, "reading the command's output");
    if (n > 0) {
      if (result.out.size() + static_cast<size_t>(n) > max_out) {
        return stop(Status(StatusCode::kTooLarge, target_.ToString() +
                                                      ": the command printed more than " +
                                                      std::to_string(max_out) + " bytes"));
      }
      result.out.append(buf.data(), static_cast<size_t>(n));
    }
    int e = ssh_channel_read_nonblocking(channel.c, buf.data(), buf.size(), 1);
    if (e == SSH_ERROR) return SshError(StatusCode::kIoError, "reading the command's errors");
    if (e > 0) {
      result.err.append(buf.data(), static_cast<size_t>(e));
      if (result.err.size() > kMaxStderrBytes) {
        // Keep the first line (the PID) and the last bytes.
        size_t first = std::min(result.err.find('\n'), size_t{64}) + 1;
        result.err.erase(first, result.err.size() - kMaxStderrBytes);
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (n > 0 || e > 0) {
      last = now;
    } else if (ssh_channel_is_eof(channel.c)) {
      break;
    } else if (now - last > std::chrono::seconds(timeout_seconds)) {
      return stop(
          Status(StatusCode::kIoError, target_.ToString() + ": the command was silent for " +
                                           std::to_string(timeout_seconds) + " s; stopped"));
    }
  }
  ssh_channel_send_eof(channel.c);
  result.exit_status = ssh_channel_get_exit_status(channel.c);
  return result;
}

Status SshConnection::OpenSftp() {
  if (h_->sftp) return Status::Ok();
  h_->sftp = sftp_new(h_->session);
  if (!h_->sftp) return SshError(StatusCode::kIoError, "cannot start SFTP");
  if (sftp_init(h_->sftp) != SSH_OK) {
    sftp_free(h_->sftp);
    h_->sftp = nullptr;
    return SshError(StatusCode::kUnavailable, "the server offers no SFTP");
  }
  return Status::Ok();
}

StatusOr<std::string> SshConnection::RealPath(const std::string& path) {
  if (Status s = OpenSftp(); !s.ok()) return s;
  char* real = sftp_canonicalize_path(h_->sftp, path.c_str());
  if (!real) return SftpError("cannot resolve", path);
  return TakeCString(real);
}

Status SshConnection::MakePrivateDirectory(const std::string& path, int mode) {
  if (Status s = OpenSftp(); !s.ok()) return s;
  if (sftp_mkdir(h_->sftp, path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return SftpError("cannot create the directory", path);
  }
  // The server's umask may narrow the mode; chmod makes it exact, lstat checks it.
  if (sftp_chmod(h_->sftp, path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return SftpError("cannot set the mode of", path);
  }
  sftp_attributes a = sftp_lstat(h_->sftp, path.c_str());
  if (!a) return SftpError("cannot check", path);
  bool is_dir = a->type == SSH_FILEXFER_TYPE_DIRECTORY;
  uint32_t perms = a->permissions & 07777;
  sftp_attributes_free(a);
  if (!is_dir || perms != static_cast<uint32_t>(mode)) {
    (void)sftp_rmdir(h_->sftp, path.c_str());  // ours, but not what was asked for
    return Status(StatusCode::kPermissionDenied,
                  target_.ToString() + ": " + path + " is not a private directory after mkdir");
  }
  return Status::Ok();
}

Status SshConnection::WriteNew(const std::string& path, int mode, const std::string* content,
                               const std::string* local) {
  if (Status s = OpenSftp(); !s.ok()) return s;
  std::ifstream in;
  if (local) {
    // Only a regular file: opening a FIFO would wait for a writer, a device never end.
    if (Status s = CheckRegularFile(*local, kAnySize); !s.ok()) {
      return s;
    }
    in.open(*local, std::ios::binary);
    if (!in) return Status(StatusCode::kNotFound, *local + ": cannot open");
  }
  sftp_file f =
      sftp_open(h_->sftp, path.c_str(), O_WRONLY | O_CREAT | O_EXCL, static_cast<mode_t>(mode));
  if (!f) return SftpError("cannot create", path);
  Status result = Status::Ok();
  size_t offset = 0;
  std::string chunk(kChunkBytes, '\0');
  while (result.ok()) {
    if (Cancelled()) {
      result = Status(StatusCode::kCancelled, target_.ToString() + ": cancelled while uploading");
      break;
    }
    size_t len = 0;
    const char* data = nullptr;
    if (content) {
      len = std::min(kChunkBytes, content->size() - offset);
      data = content->data() + offset;
    } else {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      len = static_cast<size_t>(in.gcount());
      data = chunk.data();
      if (len == 0 && in.bad()) result = Status(StatusCode::kIoError, *local + ": read error");
    }
    if (len == 0) break;
    size_t done = 0;
    while (done < len) {
      ssize_t w = sftp_write(f, data + done, len - done);
      if (w <= 0) {
        result = SftpError("cannot write", path);
        break;
      }
      done += static_cast<size_t>(w);
    }
    offset += len;
  }
  if (sftp_close(f) != SSH_NO_ERROR && result.ok()) result = SftpError("cannot close", path);
  if (result.ok() && sftp_chmod(h_->sftp, path.c_str(), static_cast<mode_t>(mode)) != 0) {
    result = SftpError("cannot set the mode of", path);
  }
  return result;
}

Status SshConnection::Upload(const std::string& local, const std::string& path, int mode) {
  return WriteNew(path, mode, nullptr, &local);
}

Status SshConnection::UploadContent(const std::string& content, const std::string& path, int mode) {
  return WriteNew(path, mode, &content, nullptr);
}

Status SshConnection::RemoveFile(const std::string& path) {
  if (Status s = OpenSftp(); !s.ok()) return s;
  if (sftp_unlink(h_->sftp, path.c_str()) != 0 && sftp_get_error(h_->sftp) != SSH_FX_NO_SUCH_FILE) {
    return SftpError("cannot remove", path);
  }
  return Status::Ok();
}

Status SshConnection::RemoveDirectory(const std::string& path) {
  if (Status s = OpenSftp(); !s.ok()) return s;
  if (sftp_rmdir(h_->sftp, path.c_str()) != 0 && sftp_get_error(h_->sftp) != SSH_FX_NO_SUCH_FILE) {
    return SftpError("cannot remove the directory", path);
  }
  return Status::Ok();
}

}  // namespace tidemark::ctl::remote
