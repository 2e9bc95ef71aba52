// `tidemarkctl pull`: agentless collection over SSH (docs/rollout.md). The agent binary goes into
// a new private directory on the host (mode 0700, a random name under the login user's home
// or --remote-dir), runs one collection there (through `sudo -n` with --sudo), and the snapshot
// comes back over the channel; everything uploaded is removed again, also when the collection
// fails or the user presses Ctrl-C. The snapshot is verified, then stored (marked as pulled, by
// whom, from which host key) or written to --output.
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "collector/ctl/commands.h"
#include "collector/ctl/remote/session.h"
#include "collector/ctl/remote/ssh.h"
#include "common/atomic_file.h"
#include "common/read_file.h"
#include "common/snapshot_verify.h"
#include "common/time.h"
#include "common/transport/protocol.h"

namespace tidemark::ctl {
namespace {

constexpr const char* kGroup = "Rollout over SSH";

struct PullArgs {
  std::string target;
  std::string identity;
  std::string known_hosts;
  bool accept_new = false;
  bool sudo = false;
  std::string only;
  std::string agent;
  std::string remote_dir;
  std::string as;
  std::string output;
  std::string format = "text";
  int timeout = 1800;
};

// The agent binary to upload: --agent, else tidemark-agent where it is installed beside
// tidemarkctl (../sbin) or built beside it (../agent in a build tree).
StatusOr<std::string> FindAgent(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) {
    candidates.push_back(self.parent_path().parent_path() / "sbin" / "tidemark-agent");
    candidates.push_back(self.parent_path().parent_path() / "agent" / "tidemark-agent");
  }
  candidates.emplace_back("/usr/sbin/tidemark-agent");
  std::string looked;
  for (const auto& c : candidates) {
    if (access(c.c_str(), X_OK) == 0) return c.string();
    looked += (looked.empty() ? "" : ", ") + c.string();
  }
  return Status(StatusCode::kNotFound,
                "no tidemark-agent found (looked at " + looked + "); name one with --agent FILE");
}

// Runs one collection on the host from a private directory that is removed again whatever
// happens; returns the agent's stdout.
StatusOr<std::string> CollectRemotely(remote::SshConnection& ssh, const PullArgs& a,
                                      const std::string& agent, std::ostream& err) {
  auto progress = [&](const std::string& what) {
    err << "tidemarkctl: pull: " << Safe(ssh.Target().ToString()) << ": "
        << Safe(what, kMaxMessageBytes) << "\n";
  };
  StatusOr<std::string> out = Status(StatusCode::kInternal, "not run");
  remote::RemoteWorkDir dir(ssh);
  if (Status s = dir.Make(a.remote_dir, ".tidemark-pull-"); !s.ok()) return s;
  std::string made = dir.path();
  progress("uploading the agent to " + made);
  auto binary = dir.PutFile("tidemark-agent", agent, 0700);
  if (!binary.ok()) {
    out = binary.status();
  } else {
    std::string command = (a.sudo ? "sudo -n -- " : "") + remote::ShellQuote(*binary) + " collect";
    if (!a.only.empty()) command += " --only " + remote::ShellQuote(a.only);
    progress("collecting (" + command + ")");
    auto run = ssh.Run(command, kMaxSnapshotFileBytes, a.timeout);
    if (!run.ok()) {
      out = run.status();
    } else if (run->exit_status != 0) {
      std::string why = run->ErrTail();
      if (run->exit_status == 126) why += " (is " + made + " on a noexec mount? try --remote-dir)";
      out = Status(StatusCode::kIoError, ssh.Target().ToString() + ": the collection exited " +
                                             std::to_string(run->exit_status) +
                                             (why.empty() ? "" : ": " + why));
    } else {
      out = std::move(run->out);
    }
  }
  if (Status s = dir.CleanUp(); !s.ok()) {
    err << "tidemarkctl: pull: CLEAN-UP FAILED, remove it by hand: "
        << Safe(s.message(), kMaxMessageBytes) << "\n";
    if (out.ok()) out = s;
  } else {
    progress("removed " + made);
  }
  return out;
}

int CmdPull(const PullArgs& a, CtlContext& ctx) {
  auto target = remote::ParseSshTarget(a.target);
  if (!target.ok()) return Usage(ctx.err, target.status().message(), "pull");
  std::string host = a.as.empty() ? target->host : a.as;
  if (a.output.empty() && !protocol::IsValidHostId(host)) {
    return Usage(
        ctx.err,
        "'" + host + "' is not a host id to store the snapshot for: name one with --as HOST",
        "pull");
  }
  auto agent = FindAgent(a.agent);
  if (!agent.ok()) return Fail(ctx.err, agent.status());
  remote::InterruptScope interrupts;
  remote::SshOptions options;
  options.identity = a.identity;
  options.known_hosts = a.known_hosts;
  options.accept_new = a.accept_new;
  options.cancel = remote::InterruptScope::Flag();
  std::string note;
  ctx.err << "tidemarkctl: pull: connecting to " << Safe(target->ToString()) << "\n";
  auto ssh = remote::SshConnection::Open(*target, options, &note);
  if (!note.empty()) ctx.err << "tidemarkctl: " << Safe(note, kMaxMessageBytes) << "\n";
  if (!ssh.ok()) return Fail(ctx.err, ssh.status());
  StatusOr<std::string> text = CollectRemotely(**ssh, a, *agent, ctx.err);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kCancelled) {
      ctx.err << "tidemarkctl: pull: interrupted; nothing stored\n";
      return 130;
    }
    return Fail(ctx.err, text.status());
  }
  auto snapshot = VerifySnapshotText(*text);
  if (!snapshot.ok()) {
    return Fail(ctx.err,
                target->ToString() + ": the snapshot is not valid: " + snapshot.status().message());
  }
  if (!a.output.empty()) {
    if (Status s = WriteFileAtomic(a.output, *text, 0600); !s.ok()) return Fail(ctx.err, s);
    ctx.err << "tidemarkctl: pull: wrote " << Safe(a.output) << "\n";
    return 0;
  }
  std::string by = "pulled over SSH from " + target->ToString() + " (host key " +
                   (*ssh)->HostKey() + ") by " + InvokingUser();
  return StoreImported(ctx, host, *text, *snapshot, NowSeconds(), by, a.format);
}

}  // namespace

void AddPullCommand(CLI::App& app, CtlContext& ctx) {
  auto pull_args = std::make_shared<PullArgs>();
  CLI::App* pull = AddCommand(
      app, kGroup, ctx, pull_args, "pull",
      "collect a snapshot from a host over SSH without installing anything",
      "Agentless collection (docs/rollout.md): connects to [USER@]HOST[:PORT] over SSH\n"
      "(libssh; ~/.ssh/config is not read), checks the host key against known_hosts (an\n"
      "unknown key is refused unless --accept-new; a changed key always), uploads\n"
      "tidemark-agent into a new private directory (mode 0700, a random name under the\n"
      "login user's home or --remote-dir), runs one collection there (with --sudo through\n"
      "`sudo -n`, which must not ask for a password), reads the snapshot back and removes\n"
      "everything it uploaded, also when the collection fails or on Ctrl-C (a second Ctrl-C\n"
      "stops at once). The snapshot is verified and stored in --db for --as HOST (default:\n"
      "HOST as given), marked as pulled over SSH, from which host key and by whom; with\n"
      "--output FILE it is only written there (mode 0600).\n"
      "Without root (no --sudo, not root) the agent collects what the login user may read;\n"
      "what it may not is recorded in the snapshot as an error, never as empty.\n"
      "Exit codes: 0 stored or written, 1 failure (connection, host key, authentication,\n"
      "collection, clean-up, store), 2 usage, 130 interrupted (cleaned up).\n",
      CmdPull);
  pull->add_option("TARGET", pull_args->target, "[USER@]HOST[:PORT]")->required();
  pull->add_option("--identity", pull_args->identity,
                   "private key (default: ssh-agent, ~/.ssh/id_*)")
      ->check(CLI::ExistingFile)
      ->type_name("KEY");
  pull->add_option("--known-hosts", pull_args->known_hosts,
                   "the only known_hosts file to trust (default: ~/.ssh/known_hosts and "
                   "/etc/ssh/ssh_known_hosts)")
      ->type_name("FILE");
  pull->add_flag("--accept-new", pull_args->accept_new,
                 "trust a host key not listed yet, and record it (never a changed one)");
  pull->add_flag("--sudo", pull_args->sudo, "collect as root through sudo -n");
  pull->add_option("--only", pull_args->only, "comma-separated sections (default: all)")
      ->type_name("LIST");
  pull->add_option("--agent", pull_args->agent, "the tidemark-agent binary to upload")
      ->check(CLI::ExistingFile)
      ->type_name("FILE");
  pull->add_option("--remote-dir", pull_args->remote_dir,
                   "where on the host the private directory is made (default: the home)")
      ->type_name("DIR");
  pull->add_option("--as", pull_args->as, "the host id it is stored for (default: HOST)")
      ->check(HostId())
      ->type_name("HOST");
  pull->add_option("--output", pull_args->output, "only write the snapshot to FILE")
      ->type_name("FILE");
  pull->add_option("--timeout", pull_args->timeout,
                   "seconds the collection may stay silent before it is stopped (default 1800)")
      ->check(CLI::Range(1, 86400))
      ->type_name("SECONDS");
  AddFormat(*pull, pull_args->format, {"text", "json"});
}

}  // namespace tidemark::ctl
