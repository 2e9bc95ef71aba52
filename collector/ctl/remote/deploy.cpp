// `tidemarkctl deploy`: the agent rolled out over SSH (docs/rollout.md). Per host of the
// inventory: connect (strict host keys), see whether the agent is installed and reporting
// (then leave it, unless --upgrade), upload the packages, the host's certificate and key (issued
// from --pki with the inventory name as CN) and its configuration into a private directory,
// install as root (or through `sudo -n`), send a first snapshot, enable and start the service,
// remove the upload, and wait until the collector's store has the host. Hosts run in parallel;
// one host's failure never stops the others; Ctrl-C stops cleanly and names the hosts left
// half-done.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "collector/ctl/commands.h"
#include "collector/ctl/remote/session.h"
#include "collector/ctl/remote/ssh.h"
#include "collector/sqlite_store.h"
#include "common/read_file.h"
#include "common/time.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {

constexpr const char* kGroup = "Rollout over SSH";
constexpr int kInstallTimeoutSeconds = 600;

struct DeployArgs {
  std::string inventory;
  std::vector<std::string> packages;
  std::string pki;
  std::string collector;
  std::string ssh_user;
  std::string identity;
  std::string known_hosts;
  bool accept_new = false;
  bool sudo = false;
  bool upgrade = false;
  bool no_wait = false;
  int parallel = 4;
  int wait = 120;
  int days = 397;
};

// One line of the inventory.
struct InventoryHost {
  std::string name;  // the host id: the certificate's CN, the store's host
  remote::SshTarget target;
  std::optional<bool> sudo;
  std::string identity;
  int line = 0;
};

// The inventory (docs/rollout.md): one host per line, `[USER@]HOST[:PORT] [USER] [key=value...]`
// with the keys name, sudo (yes|no) and identity; `#` starts a comment.
StatusOr<std::vector<InventoryHost>> ReadInventory(const std::string& path,
                                                   const std::string& default_user) {
  auto text = ReadRegularFile(path, 16ull << 20);
  if (!text.ok()) return text.status();
  std::vector<InventoryHost> hosts;
  std::istringstream lines(*text);
  std::string line;
  int n = 0;
  auto bad = [&](const std::string& why) {
    return Status(StatusCode::kInvalidArgument, path + ":" + std::to_string(n) + ": " + why);
  };
  while (std::getline(lines, line)) {
    ++n;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    auto target = remote::ParseSshTarget(first);
    if (!target.ok()) return bad(target.status().message());
    InventoryHost h;
    h.target = *target;
    h.name = target->host;
    h.line = n;
    std::string word;
    while (words >> word) {
      size_t eq = word.find('=');
      if (eq == std::string::npos) {
        if (!h.target.user.empty()) return bad("'" + word + "': a second user");
        h.target.user = word;
        continue;
      }
      std::string key = word.substr(0, eq);
      std::string value = word.substr(eq + 1);
      if (key == "name") {
        h.name = value;
      } else if (key == "sudo" && (value == "yes" || value == "no")) {
        h.sudo = value == "yes";
      } else if (key == "identity" && !value.empty()) {
        h.identity = value;
      } else {
        return bad("'" + word + "': not name=ID, sudo=yes|no or identity=FILE");
      }
    }
    if (!protocol::IsValidHostId(h.name)) {
      return bad("'" + h.name +
                 "' is not a host id (1 to 253 of A-Z a-z 0-9 . - _): name one "
                 "with name=ID");
    }
    for (const InventoryHost& other : hosts) {
      if (other.name == h.name) {
        return bad("'" + h.name + "' is listed twice (line " + std::to_string(other.line) + ")");
      }
    }
    if (h.target.user.empty()) h.target.user = default_user;
    hosts.push_back(std::move(h));
  }
  if (hosts.empty()) return Status(StatusCode::kInvalidArgument, path + ": no hosts");
  return hosts;
}

// What happened on one host: the table at the end.
struct HostResult {
  std::string stage = "waiting";
  bool connected = false;
  std::string installed;  // the package version installed, "" none
  bool skipped = false;   // installed and reporting: left as it was
  std::string first_snapshot;
  std::string service;  // "started", "enabled (systemd not running)", ...
  std::string error;
  bool done = false;
};

// The progress display: a line per host with its stage, redrawn in place on a terminal, plain
// lines otherwise. Thread-safe.
class Progress {
 public:
  Progress(std::ostream& out, bool tty, const std::vector<InventoryHost>& hosts)
      : out_(out), tty_(tty), hosts_(hosts), stages_(hosts.size(), "waiting") {
    if (tty_) Draw(false);
  }
  void Set(size_t i, const std::string& stage) {
    std::lock_guard<std::mutex> lock(mu_);
    stages_[i] = stage;
    if (tty_) {
      Draw(true);
    } else {
      out_ << "tidemarkctl: deploy: " << Safe(hosts_[i].name) << ": "
           << Safe(stage, kMaxMessageBytes) << "\n";
    }
  }

 private:
  void Draw(bool redraw) {
    if (redraw) out_ << "\x1b[" << stages_.size() << "F";  // to the first line
    for (size_t i = 0; i < stages_.size(); ++i) {
      out_ << "\x1b[2K" << Safe(hosts_[i].name) << ": " << Safe(stages_[i], 120) << "\n";
    }
    out_.flush();
  }
  std::ostream& out_;
  bool tty_;
  const std::vector<InventoryHost>& hosts_;
  std::vector<std::string> stages_;
  std::mutex mu_;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// The agent's configuration on the host: the keys without a default (the spool, the interval
// and the rest keep the agent's own defaults, docs/agent.md).
std::string AgentConfig(const std::string& collector, const std::string& name) {
  return "# Written by tidemarkctl deploy for " + name +
         " (docs/rollout.md); every key: docs/agent.md.\n"
         "collector = " +
         collector +
         "\n"
         "ca = /etc/tidemark/ca.crt\n"
         "cert = /etc/tidemark/agent.crt\n"
         "key = /etc/tidemark/agent.key\n";
}

// The installation, run as root from the upload directory: the packages (keeping a changed
// configuration file: --force-confold, never a prompt), CA certificate, certificate, key and
// configuration, a first send, and the service. Logs go to a root-private temporary file (not
// into the login user's directory). The last lines say how the send and the service ended.
std::string InstallScript(const std::string& dir, const std::vector<std::string>& debs) {
  std::string script = R"sh(set -e
export DEBIAN_FRONTEND=noninteractive
d=@DIR@
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dpkg --force-confold -i @DEBS@ >"$log" 2>&1 || { tail -n 20 "$log" >&2; exit 10; }
install -d -m 0755 /etc/tidemark
install -m 0644 "$d/ca.crt" /etc/tidemark/ca.crt
install -m 0644 "$d/agent.crt" /etc/tidemark/agent.crt
install -m 0600 "$d/agent.key" /etc/tidemark/agent.key
install -m 0644 "$d/agent.conf" /etc/tidemark/agent.conf
rc=0
tidemark-agent send --config /etc/tidemark/agent.conf --connect-timeout 10 >/dev/null 2>"$log" || rc=$?
if [ $rc -ne 0 ]; then tail -n 5 "$log" >&2; fi
if [ -d /run/systemd/system ]; then
  if systemctl enable --quiet tidemark-agent.service && systemctl restart tidemark-agent.service
  then echo service=started; else echo service=failed; fi
else
  systemctl enable --quiet tidemark-agent.service 2>/dev/null || true
  echo 'service=enabled, not started (systemd is not running there)'
fi
echo send=$rc
)sh";
  std::string list;
  for (const std::string& deb : debs)
    list += (list.empty() ? "" : " ") + ("\"$d\"/" + remote::ShellQuote(deb));
  script.replace(script.find("@DIR@"), 5, remote::ShellQuote(dir));
  script.replace(script.find("@DEBS@"), 6, list);
  return script;
}

class HostDeploy {
 public:
  HostDeploy(const DeployArgs& a, const InventoryHost& h, HostResult& r, Progress& p, size_t i)
      : a_(a), h_(h), r_(r), p_(p), i_(i) {}

  // `db`: the collector's store (opened here, one connection per host's thread), "" with
  // --no-wait.
  void Run(const std::string& db, int64_t started) {
    if (!db.empty()) {
      SqliteStore::Options o;
      o.create = false;
      auto store = SqliteStore::Open(db, o);
      if (store.ok()) {
        store_ = std::move(*store);
      } else {
        store_error_ = store.status().message();
      }
    }
    Status s = Deploy(started);
    if (!s.ok()) {
      r_.error = s.message();
      p_.Set(i_, s.code() == StatusCode::kCancelled ? "interrupted at: " + r_.stage
                                                    : "failed: " + s.message());
    }
    r_.done = true;
  }

 private:
  void Stage(const std::string& s) {
    r_.stage = s;
    p_.Set(i_, s);
  }
  bool Sudo() const { return h_.sudo.value_or(a_.sudo); }
  std::string AsRoot(const std::string& command) const {
    return Sudo() ? "sudo -n -- sh -c " + remote::ShellQuote(command)
                  : "sh -c " + remote::ShellQuote(command);
  }

  Status Deploy(int64_t started) {
    Stage("connecting");
    remote::SshOptions options;
    options.identity = h_.identity.empty() ? a_.identity : h_.identity;
    options.known_hosts = a_.known_hosts;
    options.accept_new = a_.accept_new;
    options.cancel = remote::InterruptScope::Flag();
    std::string note;
    auto ssh = remote::SshConnection::Open(h_.target, options, &note);
    if (!note.empty()) Stage(note);
    if (!ssh.ok()) return ssh.status();
    r_.connected = true;
    if ((*ssh)->Target().user != "root" && !Sudo()) {
      return Status(StatusCode::kInvalidArgument,
                    "installing needs root: log in as root or use --sudo (sudo=yes)");
    }
    Stage("checking what is installed");
    auto state = (*ssh)->Run(
        "dpkg-query -W -f '${db:Status-Status} ${Version}\\n' tidemark-agent 2>/dev/null || true",
        4096, 60);
    if (!state.ok()) return state.status();
    std::string status = Trim(state->out);
    if (status.rfind("installed ", 0) == 0) r_.installed = status.substr(10);
    if (!r_.installed.empty() && !a_.upgrade) {
      // Installed and reporting (or, with --no-wait, installed: the store is not here to ask).
      const int64_t seen = LastSeen();
      if (a_.no_wait || seen > 0) {
        r_.skipped = true;
        if (seen > 0) r_.first_snapshot = FormatRfc3339(seen);
        Stage("already installed (" + r_.installed + ")" + (seen > 0 ? " and reporting" : "") +
              ": left as it is");
        return Status::Ok();
      }
    }
    Status result = Install(**ssh);
    if (!result.ok()) return result;
    if (a_.no_wait) {
      Stage("installed; not waiting for a snapshot (--no-wait)");
      return Status::Ok();
    }
    if (!store_) {
      return Status(StatusCode::kUnavailable,
                    "installed, but the store cannot be read to see its first snapshot: " +
                        store_error_ + " (--db the collector's store, or --no-wait)");
    }
    Stage("waiting for the first snapshot");
    for (int waited = 0; waited <= a_.wait * 10; ++waited) {
      if (remote::InterruptScope::Cancelled()) {
        return Status(StatusCode::kCancelled, "interrupted");
      }
      if (int64_t seen = LastSeen(); seen >= started) {
        r_.first_snapshot = FormatRfc3339(seen);
        Stage("reporting (" + r_.first_snapshot + ")");
        return Status::Ok();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return Status(StatusCode::kUnavailable, "no snapshot of " + h_.name +
                                                " reached the store within " +
                                                std::to_string(a_.wait) + " s");
  }

  Status Install(remote::SshConnection& ssh) {
    Stage("uploading");
    remote::RemoteWorkDir dir(ssh);
    if (Status s = dir.Make("", ".tidemark-deploy-"); !s.ok()) return s;
    std::vector<std::string> debs;
    for (const std::string& local : a_.packages) {
      std::string name = std::filesystem::path(local).filename().string();
      auto put = dir.PutFile(name, local, 0600);
      if (!put.ok()) return put.status();
      debs.push_back(name);
    }
    const std::string base = a_.pki + "/agents/" + h_.name;
    for (const auto& [name, local, mode] :
         {std::tuple<std::string, std::string, int>{"ca.crt", a_.pki + "/ca.crt", 0644},
          {"agent.crt", base + ".crt", 0644},
          {"agent.key", base + ".key", 0600}}) {
      auto put = dir.PutFile(name, local, mode);
      if (!put.ok()) return put.status();
    }
    auto conf = dir.PutContent("agent.conf", AgentConfig(a_.collector, h_.name), 0644);
    if (!conf.ok()) return conf.status();
    Stage(r_.installed.empty() ? "installing" : "upgrading from " + r_.installed);
    // Not cancellable: dpkg is never interrupted half-way; a Ctrl-C waits for it.
    auto run = ssh.RunUncancelled(AsRoot(InstallScript(dir.path(), debs)), kInstallTimeoutSeconds);
    Status cleaned = dir.CleanUp();
    if (!run.ok()) return run.status();
    std::string out = run->out;
    auto value = [&out](const std::string& key) {
      size_t at = out.rfind(key + "=");
      return at == std::string::npos
                 ? std::string()
                 : Trim(out.substr(at + key.size() + 1, out.find('\n', at) - at - key.size() - 1));
    };
    if (run->exit_status != 0) {
      std::string why = run->ErrTail();
      return Status(StatusCode::kIoError,
                    (run->exit_status == 10
                         ? "dpkg failed: "
                         : "installation exited " + std::to_string(run->exit_status) + ": ") +
                        why);
    }
    if (!cleaned.ok()) return cleaned;
    r_.service = value("service");
    auto version =
        ssh.Run("dpkg-query -W -f '${Version}\\n' tidemark-agent 2>/dev/null || true", 4096, 60);
    if (version.ok()) r_.installed = Trim(version->out);
    if (std::string send = value("send"); send != "0") {
      std::string why = run->ErrTail();
      return Status(StatusCode::kIoError,
                    "installed, but the first send exited " + send +
                        (send == "75" ? " (the collector was not reachable from the host)" : "") +
                        (why.empty() ? "" : ": " + why));
    }
    return Status::Ok();
  }

  // When the store last heard from the host: its latest state's last confirmation (0: never,
  // or no store).
  int64_t LastSeen() const {
    if (!store_) return 0;
    auto state = store_->LatestState(h_.name, std::nullopt);
    return state.ok() ? state->last_confirmed_at : 0;
  }

  const DeployArgs& a_;
  const InventoryHost& h_;
  HostResult& r_;
  std::unique_ptr<SqliteStore> store_;  // null with --no-wait, or when it cannot be read:
  std::string store_error_;             // why
  Progress& p_;
  size_t i_;
};

void PrintTable(const std::vector<InventoryHost>& hosts, const std::vector<HostResult>& results,
                std::ostream& out) {
  out << "HOST\tCONNECTED\tINSTALLED\tFIRST_SNAPSHOT\tSERVICE\tRESULT\n";
  for (size_t i = 0; i < hosts.size(); ++i) {
    const HostResult& r = results[i];
    std::string result = "ok";
    if (!r.error.empty()) {
      result = "error: " + r.error;
    } else if (r.skipped) {
      result = "left as it was (installed and reporting)";
    } else if (!r.done) {
      result = "not started (interrupted)";
    }
    out << Safe(hosts[i].name) << "\t" << (r.connected ? "yes" : "no") << "\t"
        << (r.installed.empty() ? "-" : Safe(r.installed)) << "\t"
        << (r.first_snapshot.empty() ? "-" : r.first_snapshot) << "\t"
        << (r.service.empty() ? "-" : Safe(r.service)) << "\t" << Safe(result, kMaxMessageBytes)
        << "\n";
  }
}

int CmdDeploy(const DeployArgs& a, CtlContext& ctx) {
  std::string user = a.ssh_user;
  auto hosts = ReadInventory(a.inventory, user);
  if (!hosts.ok()) return Usage(ctx.err, hosts.status().message(), "deploy");
  for (const std::string& p : a.packages) {
    if (p.size() < 4 || p.substr(p.size() - 4) != ".deb") {
      return Usage(ctx.err, "--package " + p + ": not a .deb file", "deploy");
    }
    // Uploaded to every host: a FIFO would stall the first upload, a device never end.
    if (Status s = CheckRegularFile(p, kAnySize); !s.ok()) {
      return Usage(ctx.err, "--package " + s.message(), "deploy");
    }
  }
  // The agents' own parser: a --collector they would refuse is refused here, before any host.
  if (auto endpoint = protocol::ParseEndpoint(a.collector); !endpoint.ok()) {
    return Usage(ctx.err, endpoint.status().message() + " ('" + a.collector + "')", "deploy");
  }
  // Certificates first, one host after the other (the CA directory is not shared by threads).
  for (const InventoryHost& h : *hosts) {
    auto made = IssueAgentCertificate(a.pki, h.name, a.days, false);
    if (!made.ok()) return Fail(ctx.err, made.status());
    if (*made) ctx.err << "tidemarkctl: deploy: issued the certificate of " << h.name << "\n";
  }
  remote::InterruptScope interrupts;
  const auto started = NowSeconds();
  std::vector<HostResult> results(hosts->size());
  const bool tty = &ctx.err == &std::cerr && isatty(STDERR_FILENO) == 1;
  Progress progress(ctx.err, tty, *hosts);
  std::mutex next_mu;
  size_t next = 0;
  auto worker = [&] {
    while (true) {
      size_t i = 0;
      {
        std::lock_guard<std::mutex> lock(next_mu);
        if (next >= hosts->size() || remote::InterruptScope::Cancelled()) return;
        i = next++;
      }
      HostDeploy(a, (*hosts)[i], results[i], progress, i).Run(a.no_wait ? "" : ctx.db, started);
    }
  };
  std::vector<std::thread> threads;
  size_t n = std::min<size_t>(static_cast<size_t>(a.parallel), hosts->size());
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  PrintTable(*hosts, results, ctx.out);
  bool interrupted = remote::InterruptScope::Cancelled();
  int failed = 0;
  for (const HostResult& r : results) failed += (!r.error.empty() || !r.done) ? 1 : 0;
  if (interrupted) {
    std::string half;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i].done || !results[i].error.empty()) {
        half += " " + (*hosts)[i].name + " (" + results[i].stage + ")";
      }
    }
    ctx.err << "tidemarkctl: deploy: interrupted; not finished:" << Safe(half, kMaxMessageBytes)
            << "\n";
    return 130;
  }
  if (failed > 0) {
    ctx.err << "tidemarkctl: deploy: " << failed << " of " << hosts->size() << " host(s) failed\n";
    return 1;
  }
  return 0;
}

}  // namespace

void AddDeployCommand(CLI::App& app, CtlContext& ctx) {
  auto args = std::make_shared<DeployArgs>();
  CLI::App* deploy = AddCommand(
      app, kGroup, ctx, args, "deploy", "install the agent on the inventory's hosts over SSH",
      "Rolls the agent out over SSH (docs/rollout.md), up to --parallel hosts at once. Per\n"
      "host: connect (libssh; host keys as for pull), upload the packages, the host's\n"
      "certificate and key (issued from --pki with its inventory name as CN; mode 0600, never\n"
      "printed) and /etc/tidemark/agent.conf (collector = --collector) into a private\n"
      "directory, install as root (log in as root, or --sudo: `sudo -n`), send a first\n"
      "snapshot, enable and start tidemark-agent.service, remove the upload, and wait until\n"
      "the store (--db) has a snapshot of the host. A host already installed and reporting is\n"
      "left as it is unless --upgrade (with --no-wait: one installed). One host's failure\n"
      "never stops the others; Ctrl-C stops cleanly (an installation under way is finished\n"
      "first) and names the hosts left half-done. The end: a table per host.\n"
      "Inventory: one host per line, `[USER@]HOST[:PORT] [USER] [name=ID] [sudo=yes|no]\n"
      "[identity=KEY]`; HOST is also the host id unless name=ID; # starts a comment.\n"
      "Exit codes: 0 every host deployed and reporting (or left as it was), 1 a host failed,\n"
      "2 usage (also a bad inventory), 130 interrupted.\n",
      CmdDeploy);
  deploy->add_option("--inventory", args->inventory, "the hosts")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  deploy
      ->add_option("--package", args->packages,
                   "a .deb to install: tidemark-agent and tidemark-common (repeatable)")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  deploy->add_option("--pki", args->pki, "the CA directory of `tidemarkctl pki init`")
      ->required()
      ->check(CLI::ExistingDirectory)
      ->type_name("DIR");
  deploy->add_option("--collector", args->collector, "where the agents send to")
      ->required()
      ->type_name("HOST:PORT");
  deploy->add_option("--ssh-user", args->ssh_user, "the login user (default: the local user)")
      ->type_name("USER");
  deploy->add_option("--identity", args->identity, "private key (default: ssh-agent, ~/.ssh/id_*)")
      ->check(CLI::ExistingFile)
      ->type_name("KEY");
  deploy->add_option("--known-hosts", args->known_hosts, "the only known_hosts file to trust")
      ->type_name("FILE");
  deploy->add_flag("--accept-new", args->accept_new,
                   "trust host keys not listed yet, and record them (never a changed one)");
  deploy->add_flag("--sudo", args->sudo, "install through sudo -n (per host: sudo=yes|no)");
  deploy->add_flag("--upgrade", args->upgrade, "install again where the agent is there already");
  deploy->add_option("--parallel", args->parallel, "hosts at once (default 4)")
      ->check(CLI::Range(1, 64))
      ->type_name("N");
  deploy
      ->add_option("--wait", args->wait,
                   "seconds to wait for a host's first snapshot in the store (default 120)")
      ->check(CLI::Range(1, 3600))
      ->type_name("SECONDS");
  deploy->add_flag("--no-wait", args->no_wait,
                   "do not wait for the first snapshot (a collector whose store is elsewhere)");
}

}  // namespace tidemark::ctl
