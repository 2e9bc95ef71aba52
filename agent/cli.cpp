#include "agent/cli.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>

#include "agent/collect.h"
#include "agent/parsers/sshd_config.h"
#include "agent/registry.h"
#include "agent/summary.h"
#include "agent/uplink_usage.h"
#include "common/atomic_file.h"
#include "common/identity.h"
#include "common/read_file.h"
#include "common/text.h"

namespace tidemark::agent {
namespace {

constexpr std::string_view kDefaultSnapshotDir = "/var/lib/tidemark/snapshots";

std::string SectionList() {
  std::string all;
  for (const auto& n : SectionNames()) all += (all.empty() ? "" : ",") + n;
  return all;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ",") + n;
  return all;
}

// Parses --privileged-groups: group names separated by commas; "" is the empty list.
std::optional<std::string> ParseGroupList(std::string_view list, std::vector<std::string>& out) {
  out.clear();
  if (list.empty()) return std::nullopt;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string_view name = list.substr(pos, comma - pos);
    if (name.empty()) return "empty group name in --privileged-groups";
    for (char c : name) {
      if (c <= ' ' || c == ':' || c == 0x7f) {
        return "invalid group name in --privileged-groups (blank, control character or ':')";
      }
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.emplace_back(name);
    pos = comma + 1;
  }
  return std::nullopt;
}

// Parses --files-extra, --sweep-roots, --sweep-exclude: absolute in-root paths (globs for
// --files-extra) separated by commas.
std::optional<std::string> ParsePathList(std::string_view option, std::string_view list,
                                         std::vector<std::string>& out) {
  out.clear();
  size_t pos = 0;
  while (!list.empty() && pos <= list.size()) {
    size_t comma = std::min(list.find(',', pos), list.size());
    std::string_view path = list.substr(pos, comma - pos);
    if (path.empty() || path.front() != '/' || path.find('\0') != std::string_view::npos) {
      return std::string(option) + " takes absolute paths separated by commas";
    }
    out.emplace_back(path);
    pos = comma + 1;
  }
  return std::nullopt;
}

void PrintUsage(std::ostream& out) {
  out << "Usage: tidemark-agent COMMAND [OPTIONS]\n"
         "\n"
         "Collects the security-relevant configuration and account rights of a Linux host.\n"
         "\n"
         "Commands:\n"
         "  collect   write one snapshot (JSON) to stdout or --output FILE\n"
         "  audit     collect, store the snapshot in a file and print a readable summary\n"
         "  summary   print the readable summary of a stored snapshot: summary FILE\n"
         "  sshd      print the effective sshd settings as `sshd -T` would (no sshd needed):\n"
         "            sshd [--root DIR] [--context user=U,host=H,addr=A[,laddr=L,lport=P,"
         "rdomain=R]]\n"
         "            exit 0 printed, 1 the configuration could not be read, 2 usage\n"
         "\n"
         "Options of collect and audit:\n"
         "  --root DIR        audit an offline root (disk image, container, backup) instead of\n"
         "                    this host; every path is resolved inside DIR, no link escapes it\n"
         "  --only LIST       comma-separated sections (default: all): "
      << SectionList()
      << "\n"
         "  --host-id ID      host identity (default: the root's /etc/hostname; for the live\n"
         "                    host, else its name; an offline root without one needs --host-id)\n"
         "  --output FILE     write the snapshot to FILE (created mode 0600, replaced "
         "atomically);\n"
         "                    audit's default: "
      << kDefaultSnapshotDir
      << "/HOST-TIME.json\n"
         "  --privileged-groups LIST\n"
         "                    comma-separated groups whose members the accounts section lists\n"
         "                    as privileged, replacing the default: "
      << JoinNames(DefaultPrivilegedGroups())
      << "\n"
         "                    (an empty LIST lists none)\n"
         "  --files-extra LIST  more paths and globs for the files section (absolute,\n"
         "                    comma-separated; stands in for an agent configuration file)\n"
         "  --sweep-roots LIST  where the sweep walks (default: /); each root stays on its device\n"
         "  --sweep-exclude LIST  subtrees the sweep does not enter (besides /proc /sys /dev "
         "/run)\n"
         "  --pretty          indent the JSON\n"
         "  --policies P      (audit) judge the snapshot with the rules and baselines of P, a\n"
         "                    YAML file or directory (default " TIDEMARK_POLICIES_DIR
         "),\n"
         "                    by running tidemark-judge; the verdicts follow the summary\n"
         "\n";
  uplink::PrintUplinkUsage(out);
  out << "\n"
         "Other:\n"
         "  -h, --help        this help\n"
         "  --version         print the agent version\n"
         "\n"
         "Exit codes: 0 snapshot written (section errors are recorded inside it),\n"
         "            1 nothing could be written, 2 usage error,\n"
         "            3 (audit only) snapshot written and summarized, but at least one section\n"
         "              could not be read at all (status error; the summary says which and why),\n"
         "            69 (send, run) tidemark-uplink is not installed.\n"
         "The snapshot format is documented in docs/snapshot.md.\n";
}

struct CollectArgs {
  CollectRequest request;
  std::optional<std::string> output;
  bool pretty = false;
  std::optional<std::string> policies;  // audit only
};

// Parses collect/audit options. Returns an error message on a usage error.
std::optional<std::string> ParseCollectArgs(const std::vector<std::string>& args, size_t start,
                                            CollectArgs& parsed) {
  for (size_t i = start; i < args.size(); ++i) {
    const std::string& arg = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = std::string(name) + "=";
      if (arg.rfind(prefix, 0) == 0) return arg.substr(prefix.size());
      if (arg == name && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    auto is = [&](const char* name) {
      return arg == name || arg.rfind(std::string(name) + "=", 0) == 0;
    };
    if (is("--root")) {
      auto v = value("--root");
      if (!v || v->empty()) return "--root needs a directory";
      parsed.request.root = *v;
    } else if (is("--only")) {
      auto v = value("--only");
      if (!v) return "--only needs a section list";
      auto list = ParseSectionList(*v);
      if (!list.ok()) return list.status().message();
      parsed.request.only = *list;
    } else if (is("--host-id")) {
      auto v = value("--host-id");
      if (!v || v->empty()) return "--host-id needs a value";
      if (!IsValidHostId(*v)) return std::string(kInvalidHostIdMessage);
      parsed.request.host_id = *v;
    } else if (is("--output")) {
      auto v = value("--output");
      if (!v || v->empty()) return "--output needs a file name";
      parsed.output = *v;
    } else if (is("--privileged-groups")) {
      auto v = value("--privileged-groups");
      if (!v) return "--privileged-groups needs a comma-separated group list";
      if (auto problem = ParseGroupList(*v, parsed.request.options.privileged_groups)) {
        return *problem;
      }
    } else if (is("--files-extra") || is("--sweep-roots") || is("--sweep-exclude")) {
      std::string name = arg.substr(0, arg.find('='));
      auto v = value(name.c_str());
      if (!v) return name + " needs a comma-separated path list";
      auto& o = parsed.request.options;
      auto& list = name == "--files-extra"   ? o.files_extra
                   : name == "--sweep-roots" ? o.sweep_roots
                                             : o.sweep_excludes;
      if (auto problem = ParsePathList(name, *v, list)) return *problem;
      if (name == "--sweep-roots" && list.empty()) return "--sweep-roots needs at least one path";
    } else if (is("--policies")) {
      auto v = value("--policies");
      if (!v || v->empty()) return "--policies needs a file or directory";
      if (args[0] != "audit") return "--policies belongs to audit";
      parsed.policies = *v;
    } else if (arg == "--pretty") {
      parsed.pretty = true;
    } else {
      return "unknown option '" + arg + "'";
    }
  }
  return std::nullopt;
}

// Returns audit's default output path for `snapshot`, creating the directory (0700).
std::string DefaultOutputPath(const Snapshot& snapshot) {
  std::string dir(kDefaultSnapshotDir);
  ::mkdir("/var/lib/tidemark", 0755);
  ::mkdir(dir.c_str(), 0700);
  std::string stamp;
  for (char c : snapshot.collected_at) {
    if (c != '-' && c != ':') stamp += c;
  }
  std::string host;
  for (char c : snapshot.host.id)
    host +=
        (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '_';
  return dir + "/" + host + "-" + stamp + ".json";
}

// Where a snapshot goes: standard output, or a file replaced atomically.
class SnapshotOutput {
 public:
  explicit SnapshotOutput(Output& out) : out_(out) {}

  Status Open(const std::string& path) {
    path_ = path;
    if (ToStdout()) return Status::Ok();
    return file_.Open(path, 0600);
  }
  Status Write(std::string_view data) {
    if (!ToStdout()) return file_.Write(data);
    if (!out_.Write(data)) {
      return {StatusCode::kIoError, "cannot write the snapshot to standard output"};
    }
    return Status::Ok();
  }
  Status Commit() {
    if (!ToStdout()) return file_.Commit();
    if (!out_.Flush()) {
      return {StatusCode::kIoError, "cannot write the snapshot to standard output"};
    }
    return Status::Ok();
  }
  const std::string& path() const { return path_; }

 private:
  bool ToStdout() const { return path_.empty() || path_ == "-"; }

  Output& out_;
  AtomicFileWriter file_;
  std::string path_;
};

int Fail(std::ostream& err, const Status& status) {
  err << "tidemark-agent: " << EscapeControlBounded(status.message(), 2048) << "\n";
  return kExitFailure;
}

// A collection that could not start: kInvalidArgument is the caller's to fix (exit 2).
int FailCollect(std::ostream& err, const Status& status) {
  if (status.code() != StatusCode::kInvalidArgument) return Fail(err, status);
  err << "tidemark-agent: " << EscapeControlBounded(status.message(), 2048)
      << "\nTry 'tidemark-agent --help'.\n";
  return kExitUsage;
}

// Returns the path of a helper program: beside this program, else `libexec`; "" when neither
// is executable. Fills `looked` with the places tried.
std::string FindHelper(const std::string& name, const std::string& libexec,
                       std::vector<std::string>& looked) {
  std::array<char, 4096> self{};
  ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size() - 1);
  if (n > 0) {
    std::string dir(self.data(), static_cast<size_t>(n));
    dir.resize(dir.rfind('/') + 1);
    looked.push_back(dir + name);
  }
  looked.push_back(libexec);
  for (const auto& path : looked) {
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// audit's verdicts: runs tidemark-judge on the snapshot just written and copies what it prints
// (at most 16 MiB) to `out`. The audit's exit code does not change: the verdicts are its
// report, and `tidemark-judge --fail-on` is there for scripts that want a verdict's exit code.
void PrintVerdicts(const std::string& snapshot_path, const std::optional<std::string>& policies,
                   std::ostream& out, std::ostream& err) {
  std::string dir = policies.value_or(TIDEMARK_POLICIES_DIR);
  if (!policies && ::access(dir.c_str(), R_OK) != 0) {
    out << "\nVerdicts: no policies at " << dir << " (--policies DIR|FILE names others)\n";
    return;
  }
  std::vector<std::string> looked;
  std::string judge = FindHelper("tidemark-judge", TIDEMARK_JUDGE_LIBEXEC, looked);
  if (judge.empty()) {
    out << "\nVerdicts: tidemark-judge is not installed (looked for";
    for (const auto& path : looked) out << " " << path;
    out << ")\n";
    return;
  }
  out << "\nVerdicts (" << EscapeControl(dir) << "):\n";
  out.flush();
  int fds[2];
  if (::pipe(fds) != 0) {
    err << "tidemark-agent audit: cannot run tidemark-judge: pipe failed\n";
    return;
  }
  std::vector<std::string> argv_storage = {"tidemark-judge", "--snapshot", snapshot_path,
                                           "--policies", dir};
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(judge.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (pid < 0) {
    ::close(fds[0]);
    err << "tidemark-agent audit: cannot run tidemark-judge: fork failed\n";
    return;
  }
  constexpr size_t kMaxVerdictBytes = 16u << 20;
  std::string text;
  bool cut = false;
  std::array<char, 65536> buf{};
  for (;;) {
    ssize_t got = ::read(fds[0], buf.data(), buf.size());
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    if (text.size() < kMaxVerdictBytes) {
      text.append(buf.data(), static_cast<size_t>(got));
    } else {
      cut = true;  // keep reading, so that the judge never blocks on a full pipe
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  out << text;
  if (cut) out << "\n(verdicts cut at 16 MiB; tidemark-judge --snapshot FILE prints them all)\n";
  int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (rc != 0 && rc != 3 && rc != 4) {
    err << "tidemark-agent audit: tidemark-judge exited " << rc << "; no verdicts\n";
  }
}

int RunCollect(const std::vector<std::string>& args, bool audit, Output& out, Output& err) {
  CollectArgs parsed;
  if (auto problem = ParseCollectArgs(args, 1, parsed)) {
    err << "tidemark-agent " << args[0] << ": " << *problem << "\n"
        << "Try 'tidemark-agent --help'.\n";
    return kExitUsage;
  }
  SnapshotOutput output(out);
  if (!parsed.pretty && !audit) {
    // The plain collect streams: each section is written out and freed as soon as it is done,
    // so a host with 10,000 users never holds its snapshot in memory twice.
    if (Status s = output.Open(parsed.output.value_or("")); !s.ok()) return Fail(err.stream(), s);
    SnapshotWriter writer([&output](std::string_view piece) { return output.Write(piece); });
    SnapshotHeader header;
    SectionSink sink;
    sink.begin = [&](const SnapshotHeader& h) {
      header = h;
      return Status::Ok();
    };
    sink.section = [&](const std::string& name, Section&& section) {
      return writer.AddSection(name, section);
    };
    Status s = CollectSections(parsed.request, sink);
    if (!s.ok()) return FailCollect(err.stream(), s);
    s = writer.Finish(header.host, header.collected_at, header.agent_version);
    if (s.ok()) s = output.Commit();
    return s.ok() ? kExitOk : Fail(err.stream(), s);
  }
  auto snapshot = CollectSnapshot(parsed.request);
  if (!snapshot.ok()) return FailCollect(err.stream(), snapshot.status());
  std::string path = parsed.output.value_or(audit ? DefaultOutputPath(*snapshot) : "");
  if (Status s = output.Open(path); !s.ok()) return Fail(err.stream(), s);
  Status s;
  if (parsed.pretty) {
    s = output.Write(
        EncodeSnapshot(*snapshot).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n");
  } else {
    SnapshotWriter writer([&output](std::string_view piece) { return output.Write(piece); });
    for (const auto& [name, section] : snapshot->sections) {
      if (s.ok()) s = writer.AddSection(name, section);
    }
    if (s.ok()) s = writer.Finish(snapshot->host, snapshot->collected_at, snapshot->agent_version);
  }
  if (s.ok()) s = output.Commit();
  if (!s.ok()) return Fail(err.stream(), s);
  if (audit) {
    PrintSummary(*snapshot, out.stream());
    out << "\nFull snapshot: "
        << (path.empty() || path == "-" ? "standard output" : EscapeControl(path)) << " ("
        << snapshot->sections.size() << " sections, " << ContentHash(*snapshot) << ")\n";
    if (!path.empty() && path != "-") {
      PrintVerdicts(path, parsed.policies, out.stream(), err.stream());
    }
    if (size_t broken = SectionsInError(*snapshot); broken > 0) {
      err << "tidemark-agent audit: " << broken
          << " section(s) could not be read at all (status error); the audit is incomplete\n";
      return kExitIncomplete;
    }
  }
  return kExitOk;
}

int RunSummary(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.size() != 2) {
    err << "tidemark-agent summary: expected exactly one snapshot file\n";
    return kExitUsage;
  }
  // Bounded, and only a regular file: /dev/zero or a FIFO ends in a clear error.
  StatusOr<std::string> text = ReadRegularFile(args[1], kMaxSnapshotFileBytes);
  if (!text.ok()) {
    err << "tidemark-agent summary: " << EscapeControlBounded(text.status().message(), 4096)
        << "\n";
    return kExitFailure;
  }
  // Decoding is an edge: whatever the file holds, a clear error, never an abort.
  StatusOr<Snapshot> snapshot = Status(StatusCode::kInternal, "not decoded");
  try {
    snapshot = DecodeSnapshot(*text);
  } catch (const std::exception& e) {
    snapshot = Status(StatusCode::kInvalidArgument,
                      std::string("not a valid snapshot: ") + EscapeControlBounded(e.what(), 512));
  }
  if (!snapshot.ok()) {
    err << "tidemark-agent summary: " << EscapeControl(args[1]) << ": "
        << EscapeControlBounded(snapshot.status().message(), 1024) << "\n";
    return kExitFailure;
  }
  PrintSummary(*snapshot, out);
  return kExitOk;
}

// `sshd`: prints what `sshd -T [-C CONTEXT]` prints for the root's /etc/ssh/sshd_config.
int RunSshd(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string root = "/";
  std::optional<std::string> context;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = std::string(name) + "=";
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      if (a == name && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (a == "--root" || a.rfind("--root=", 0) == 0) {
      auto v = value("--root");
      if (!v || v->empty()) {
        err << "tidemark-agent sshd: --root needs a directory\n";
        return kExitUsage;
      }
      root = *v;
    } else if (a == "--context" || a.rfind("--context=", 0) == 0) {
      context = value("--context");
      if (!context) {
        err << "tidemark-agent sshd: --context needs user=U,host=H,addr=A,...\n";
        return kExitUsage;
      }
    } else {
      err << "tidemark-agent sshd: unknown option '" << a << "'\nTry 'tidemark-agent --help'.\n";
      return kExitUsage;
    }
  }
  sshd::ConnectionSpec spec;
  if (context) {
    auto parsed = sshd::ParseConnectionSpec(*context);
    if (!parsed.ok()) {
      err << "tidemark-agent sshd: --context: " << parsed.status().message() << "\n";
      return kExitUsage;
    }
    spec = *parsed;
  }
  auto fs = OpenRootFs(root);
  if (!fs.ok()) return Fail(err, fs.status());
  AccountDb db = LoadAccountDb(**fs);
  sshd::SshdConfig config = sshd::SshdConfig::Load(**fs, &db);
  auto lines = config.Dump(spec);
  if (!lines.ok()) {
    for (const auto& issue : config.issues()) {
      if (issue.message.rfind("terminating", 0) == 0) continue;
      // Paths and messages quote host files (Include globs): escaped for the terminal.
      err << "tidemark-agent sshd: " << EscapeControlBounded(issue.path, 512);
      if (issue.line > 0) err << " line " << issue.line;
      err << ": " << EscapeControlBounded(issue.message, 1024) << "\n";
    }
    err << "tidemark-agent sshd: " << EscapeControlBounded(lines.status().message(), 1024) << "\n";
    if (!config.would_start()) {
      err << "tidemark-agent sshd: sshd would not start with this configuration\n";
    }
    return kExitFailure;
  }
  std::string text;
  for (const auto& l : *lines) text += l + "\n";
  out << text;
  out.flush();
  return out ? kExitOk : kExitFailure;
}

// `send` and `run` are carried out by tidemark-uplink (beside this program, else in the
// libexec directory), which holds the TLS client: `collect` never loads libssl.
int ExecUplink(const std::vector<std::string>& args, Output& out, Output& err) {
  std::vector<std::string> looked;
  std::string uplink = FindHelper("tidemark-uplink", TIDEMARK_UPLINK_LIBEXEC, looked);
  if (!uplink.empty()) {
    std::vector<std::string> argv_storage;
    argv_storage.emplace_back("tidemark-uplink");
    argv_storage.insert(argv_storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    out.Flush();
    err.Flush();
    ::execv(uplink.c_str(), argv.data());
  }
  err << "tidemark-agent " << args[0]
      << ": tidemark-uplink, which carries out send and run, is not installed (looked for";
  for (const auto& path : looked) err << " " << path;
  err << "); nothing was collected or sent\n";
  return kExitNoUplink;
}

int RunCommand(const std::vector<std::string>& args, Output& out, Output& err) {
  if (args.empty()) {
    PrintUsage(err.stream());
    return kExitUsage;
  }
  const std::string& command = args[0];
  if (command == "-h" || command == "--help" || command == "help") {
    PrintUsage(out.stream());
    return kExitOk;
  }
  if (command == "--version") {
    return out.Write("tidemark-agent " + std::string(kAgentVersion) + "\n") ? kExitOk
                                                                            : kExitFailure;
  }
  for (const auto& a : args) {
    if (a == "-h" || a == "--help") {
      PrintUsage(out.stream());
      return kExitOk;
    }
  }
  if (command == "collect") return RunCollect(args, false, out, err);
  if (command == "audit") return RunCollect(args, true, out, err);
  if (command == "summary") return RunSummary(args, out.stream(), err.stream());
  if (command == "sshd") return RunSshd(args, out.stream(), err.stream());
  if (command == "send" || command == "run") return ExecUplink(args, out, err);
  err << "tidemark-agent: unknown command '" << command << "'\nTry 'tidemark-agent --help'.\n";
  return kExitUsage;
}

}  // namespace

int RunAgentCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Output o(out);
  Output e(err);
  return RunAgentCli(args, o, e);
}

int RunAgentCli(const std::vector<std::string>& args, Output& out, Output& err) {
  // The named edge of every command: a bug or an exception from a library ends in a clear
  // error and exit 1, never in an abort.
  try {
    return RunCommand(args, out, err);
  } catch (const std::exception& e) {
    err << "tidemark-agent: internal error: " << EscapeControlBounded(e.what(), 1024) << "\n";
  } catch (...) {
    err << "tidemark-agent: internal error: unknown exception\n";
  }
  return kExitFailure;
}

}  // namespace tidemark::agent
