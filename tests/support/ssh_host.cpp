#include "tests/support/ssh_host.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/temp_root.h"

namespace tidemark::testing {
namespace {

namespace fs = std::filesystem;

bool WriteAll(const std::string& path, const std::string& text, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  return chmod(path.c_str(), mode) == 0;
}

bool Sh(const std::string& command) { return std::system(command.c_str()) == 0; }

// The first two fields of a public key file: "ssh-ed25519 AAAA...".
std::string KeyLine(const std::string& pub_file) {
  std::istringstream in(ReadHostFile(pub_file));
  std::string type, blob;
  in >> type >> blob;
  return type + " " + blob;
}

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// Once per process: a mount namespace of its own, with no propagation back to the machine.
bool EnterMountNamespace(std::string* why) {
  static int state = 0;  // 0 not yet, 1 done, -1 failed
  if (state == 0) {
    state =
        unshare(CLONE_NEWNS) == 0 && mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0
            ? 1
            : -1;
  }
  if (state < 0) *why = "cannot make a private mount namespace (needs root)";
  return state > 0;
}

}  // namespace

std::unique_ptr<SshTestHost> SshTestHost::Start(const std::string& work,
                                                const std::string& hostname, std::string* why) {
  if (geteuid() != 0) {
    *why = "needs root (a mount namespace, an overlay over /, sshd)";
    return nullptr;
  }
  if (access("/usr/sbin/sshd", X_OK) != 0 || access("/usr/bin/ssh-keygen", X_OK) != 0) {
    *why = "needs openssh-server and openssh-client (/usr/sbin/sshd, ssh-keygen)";
    return nullptr;
  }
  if (!EnterMountNamespace(why)) return nullptr;
  std::unique_ptr<SshTestHost> h(new SshTestHost());
  h->work_ = work;
  h->hostname_ = hostname;
  if (!h->MountRoot(why) || !h->WriteSshFiles(why) || !h->StartSshd(why)) return nullptr;
  return h;
}

// The host's root: an overlay over / (its changes in a tmpfs), with /proc and /dev bound in.
bool SshTestHost::MountRoot(std::string* why) {
  const std::string layers = work_ + "/layers";
  root_ = work_ + "/root";
  fs::create_directories(layers);
  fs::create_directories(root_);
  fs::create_directories(work_ + "/lower");
  // The lower layer is / without the file systems mounted on it (a non-recursive bind), so
  // that Files() can tell a copied-up directory from a new one.
  if (mount("/", (work_ + "/lower").c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      mount("tmpfs", layers.c_str(), "tmpfs", 0, "mode=0700,size=1g") != 0) {
    *why = "cannot mount the layers";
    return false;
  }
  fs::create_directories(layers + "/upper");
  fs::create_directories(layers + "/work");
  const std::string options =
      "lowerdir=" + work_ + "/lower,upperdir=" + layers + "/upper,workdir=" + layers + "/work";
  if (mount("overlay", root_.c_str(), "overlay", 0, options.c_str()) != 0) {
    *why = "cannot mount an overlay over / (" + options + ")";
    return false;
  }
  for (const char* dir : {"/proc", "/dev"}) {
    if (mount(dir, (root_ + dir).c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      *why = std::string("cannot bind ") + dir + " into the host";
      return false;
    }
  }
  return true;
}

// Keys (host, client, another host's), sshd's configuration, authorized_keys, known_hosts.
bool SshTestHost::WriteSshFiles(std::string* why) {
  const std::string& r = root_;
  fs::create_directories(r + "/run/sshd");
  chmod((r + "/run/sshd").c_str(), 0755);
  client_key_ = work_ + "/client_key";
  if (!Sh("ssh-keygen -q -t ed25519 -N '' -C tidemark-test-host -f " +
          ShellQuote(r + "/etc/ssh/tidemark_test_host_key")) ||
      !Sh("ssh-keygen -q -t ed25519 -N '' -C tidemark-test-client -f " + ShellQuote(client_key_)) ||
      !Sh("ssh-keygen -q -t ed25519 -N '' -C tidemark-test-other -f " +
          ShellQuote(work_ + "/other_host_key"))) {
    *why = "ssh-keygen failed";
    return false;
  }
  port_ = FreeLoopbackPort();
  const std::string config = "ListenAddress 127.0.0.1:" + std::to_string(port_) +
                             "\n"
                             "HostKey /etc/ssh/tidemark_test_host_key\n"
                             "AuthorizedKeysFile /etc/ssh/tidemark_test_authorized_keys\n"
                             "PermitRootLogin prohibit-password\n"
                             "PasswordAuthentication no\n"
                             "KbdInteractiveAuthentication no\n"
                             "UsePAM no\n"
                             "PidFile none\n"
                             "Subsystem sftp internal-sftp\n"
                             "LogLevel VERBOSE\n";
  if (!WriteAll(r + "/etc/ssh/tidemark_test_sshd_config", config, 0644) ||
      !WriteAll(r + "/etc/ssh/tidemark_test_authorized_keys", KeyLine(client_key_ + ".pub") + "\n",
                0644) ||
      !WriteAll(r + "/etc/hostname", hostname_ + "\n", 0644)) {
    *why = "cannot write the host's sshd configuration";
    return false;
  }
  known_hosts_ = work_ + "/known_hosts";
  WriteAll(known_hosts_,
           "[127.0.0.1]:" + std::to_string(port_) + " " +
               KeyLine(r + "/etc/ssh/tidemark_test_host_key.pub") + "\n",
           0644);
  return true;
}

// sshd in the host's root and its own UTS namespace (the hostname); waits until it listens.
bool SshTestHost::StartSshd(std::string* why) {
  log_ = work_ + "/sshd.log";
  int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(log_fd, 2);
    int null_fd = open("/dev/null", O_RDWR);
    dup2(null_fd, 0);
    dup2(null_fd, 1);
    if (unshare(CLONE_NEWUTS) != 0 || sethostname(hostname_.data(), hostname_.size()) != 0 ||
        chroot(root_.c_str()) != 0 || chdir("/") != 0) {
      _exit(126);
    }
    execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f",
          "/etc/ssh/tidemark_test_sshd_config", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log_fd);
  sshd_ = pid;
  for (int i = 0; i < 100; ++i) {
    if (Accepts(port_)) return true;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      sshd_ = -1;
      *why = "sshd exited: " + ReadHostFile(log_);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  *why = "sshd did not listen in 5 s: " + ReadHostFile(log_);
  return false;
}

SshTestHost::~SshTestHost() {
  if (sshd_ > 0) {
    kill(sshd_, SIGTERM);
    int status = 0;
    waitpid(sshd_, &status, 0);
  }
  // Sessions that outlived sshd (a test's interrupted command): none may outlive the test.
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    if (fs::read_symlink(e.path() / "root", ec) == fs::path(root_)) {
      kill(std::stoi(name), SIGKILL);
    }
  }
  if (!root_.empty()) umount2(root_.c_str(), MNT_DETACH);
}

std::string SshTestHost::OtherKeyLine() const {
  return "[127.0.0.1]:" + std::to_string(port_) + " " + KeyLine(work_ + "/other_host_key.pub");
}

bool SshTestHost::AddUser(const std::string& name, bool sudo_nopasswd) {
  // '*': no password, but not locked ('!'), which sshd without PAM would refuse keys for.
  if (!Sh("chroot " + ShellQuote(root_) + " useradd -m -s /bin/bash " + ShellQuote(name) +
          " && chroot " + ShellQuote(root_) + " usermod -p '*' " + ShellQuote(name))) {
    return false;
  }
  if (!sudo_nopasswd) return true;
  return WriteAll(root_ + "/etc/sudoers.d/" + name, name + " ALL=(ALL) NOPASSWD: ALL\n", 0440);
}

std::set<std::string> SshTestHost::Files() const {
  // What differs from the machine's root is in the upper layer: a new or changed file, a
  // deletion (a whiteout: a character device 0/0), or a new directory. Directories that exist
  // below were only copied up because something changed inside them.
  std::set<std::string> out;
  const fs::path upper = work_ + "/layers/upper";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(upper, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    std::string rel = fs::relative(it->path(), upper).string();
    if (rel.rfind("var/log", 0) == 0 || rel.rfind("run", 0) == 0) continue;
    struct stat st {};
    if (lstat(it->path().c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
      out.insert("deleted " + rel);
    } else if (!S_ISDIR(st.st_mode) || !fs::exists(fs::path(work_ + "/lower") / rel, ec)) {
      out.insert(rel);
    }
  }
  return out;
}

std::set<std::string> SshTestHost::Processes() const {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ec;
    if (fs::read_symlink(e.path() / "root", ec) != fs::path(root_)) continue;
    std::string cmdline = ReadHostFile(e.path() / "cmdline");
    for (char& c : cmdline) {
      if (c == '\0') c = ' ';
    }
    out.insert(cmdline);
  }
  return out;
}

std::string SshTestHost::Log() const { return ReadHostFile(log_); }

}  // namespace tidemark::testing
