#include "agent/uplink/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>

#include "agent/collect.h"
#include "agent/uplink/client.h"
#include "agent/uplink/sender.h"
#include "agent/uplink/spool.h"
#include "common/config_file.h"
#include "common/snapshot.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark::agent::uplink {
namespace {

using Clock = std::chrono::steady_clock;

// The longest log line (escaped); longer ones are cut with their length noted.
constexpr size_t kMaxLogLineBytes = 2048;

const std::vector<std::string> kKeys = {"config",
                                        "collector",
                                        "server_name",
                                        "ca",
                                        "cert",
                                        "key",
                                        "spool",
                                        "spool_max_files",
                                        "spool_max_bytes",
                                        "offer",
                                        "only",
                                        "root",
                                        "connect_timeout",
                                        "io_timeout",
                                        "interval",
                                        "jitter",
                                        "backoff_min",
                                        "backoff_max"};
const std::vector<std::string> kBooleanKeys = {"offer"};

struct Settings {
  Endpoint endpoint;
  std::string server_name;
  TlsFiles tls;
  std::string spool_dir;
  SpoolLimits limits;
  bool always_offer = false;
  CollectRequest request;
  Timeouts timeouts;
  int64_t interval_s = 3600;
  int64_t jitter_s = 300;
  int64_t backoff_min_s = 5;
  int64_t backoff_max_s = 300;
};

StatusOr<Settings> LoadSettings(const std::vector<std::string>& args) {
  ConfigMap flags;
  std::vector<std::string> positional;
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (Status s = ApplyFlags(rest, kKeys, kBooleanKeys, &flags, &positional); !s.ok()) return s;
  if (!positional.empty()) {
    return Status{StatusCode::kInvalidArgument, "unexpected argument '" + positional[0] + "'"};
  }
  ConfigMap config;
  if (auto it = flags.find("config"); it != flags.end()) {
    auto file = ReadConfigFile(it->second.value);
    if (!file.ok()) return Status{StatusCode::kInvalidArgument, file.status().message()};
    if (Status s = CheckKnownKeys(*file, kKeys); !s.ok()) return s;
    if (file->count("config") != 0) {
      return Status{StatusCode::kInvalidArgument,
                    file->at("config").origin + ": \"config\" is only a flag"};
    }
    config = std::move(*file);
  }
  for (auto& [k, v] : flags) config[k] = v;  // flags win

  Settings s;
  std::string collector = GetString(config, "collector", "");
  if (collector.empty()) return Status{StatusCode::kInvalidArgument, "--collector is required"};
  auto endpoint = ParseEndpoint(collector);
  if (!endpoint.ok()) return endpoint.status();
  s.endpoint = *endpoint;
  s.server_name = GetString(config, "server_name", s.endpoint.host);
  s.tls.ca_file = GetString(config, "ca", "");
  s.tls.cert_file = GetString(config, "cert", "");
  s.tls.key_file = GetString(config, "key", "");
  if (s.tls.ca_file.empty() || s.tls.cert_file.empty() || s.tls.key_file.empty()) {
    return Status{StatusCode::kInvalidArgument, "--ca, --cert and --key are required"};
  }
  s.spool_dir = GetString(config, "spool", std::string(kDefaultSpoolDir));
  auto geti = [&](const char* key, int64_t fallback, int64_t min, int64_t max, int64_t* out) {
    auto v = GetInt(config, key, fallback, min, max);
    if (!v.ok()) return v.status();
    *out = *v;
    return Status::Ok();
  };
  int64_t connect_s = 10, io_s = 60;
  for (Status st :
       {geti("spool_max_files", kDefaultSpoolMaxFiles, 1, 1'000'000, &s.limits.max_files),
        geti("spool_max_bytes", kDefaultSpoolMaxBytes, 4096, int64_t{1} << 40, &s.limits.max_bytes),
        geti("connect_timeout", 10, 1, 3600, &connect_s), geti("io_timeout", 60, 1, 3600, &io_s),
        geti("interval", 3600, 1, 7 * 86400, &s.interval_s),
        geti("backoff_min", 5, 1, 86400, &s.backoff_min_s),
        geti("backoff_max", 300, 1, 86400, &s.backoff_max_s)}) {
    if (!st.ok()) return st;
  }
  if (Status st =
          geti("jitter", std::min<int64_t>(300, s.interval_s / 10), 0, s.interval_s, &s.jitter_s);
      !st.ok()) {
    return st;
  }
  if (s.backoff_max_s < s.backoff_min_s) {
    return Status{StatusCode::kInvalidArgument, "backoff_max must be at least backoff_min"};
  }
  s.timeouts.connect_ms = static_cast<int>(connect_s * 1000);
  s.timeouts.handshake_ms = static_cast<int>(connect_s * 1000);
  s.timeouts.io_ms = static_cast<int>(io_s * 1000);
  auto offer = GetBool(config, "offer", false);
  if (!offer.ok()) return offer.status();
  s.always_offer = *offer;
  s.request.root = GetString(config, "root", "/");
  if (s.request.root.empty()) return Status{StatusCode::kInvalidArgument, "--root is empty"};
  if (auto it = config.find("only"); it != config.end()) {
    auto list = ParseSectionList(it->second.value);
    if (!list.ok()) return Status{StatusCode::kInvalidArgument, list.status().message()};
    s.request.only = *list;
  }
  return s;
}

// The snapshot's own collected_at (written by FormatRfc3339), or now if it does not parse.
int64_t ParseCollectedAt(const std::string& rfc3339) {
  StatusOr<int64_t> at = ParseRfc3339(rfc3339);
  return at.ok() ? *at : NowSeconds();
}

// Collects the host (host id = the certificate's CN) straight into the spool.
StatusOr<SpoolEntry> CollectIntoSpool(Spool& spool, const CollectRequest& request) {
  return spool.Add([&](const Spool::BodySink& sink) -> StatusOr<SpoolMeta> {
    SnapshotWriter writer(sink);
    SnapshotHeader header;
    SectionSink sections;
    sections.begin = [&](const SnapshotHeader& h) {
      header = h;
      return Status::Ok();
    };
    sections.section = [&](const std::string& name, Section&& section) {
      return writer.AddSection(name, section);
    };
    if (Status s = CollectSections(request, sections); !s.ok()) return s;
    if (Status s = writer.Finish(header.host, header.collected_at, header.agent_version); !s.ok()) {
      return s;
    }
    SpoolMeta meta;
    meta.snapshot_id =
        protocol::NewSnapshotId(header.host.id, ParseCollectedAt(header.collected_at));
    meta.content_hash = writer.content_hash();
    meta.collected_at = header.collected_at;
    return meta;
  });
}

// The self-pipe that SIGTERM/SIGINT write to: it interrupts every wait of the client.
int g_signal_pipe[2] = {-1, -1};

void OnStopSignal(int) {
  int saved = errno;
  if (g_signal_pipe[1] >= 0) {
    [[maybe_unused]] ssize_t n = ::write(g_signal_pipe[1], "x", 1);
  }
  errno = saved;
}

bool StopRequested() {
  if (g_signal_pipe[0] < 0) return false;
  pollfd p{g_signal_pipe[0], POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

Status InstallSignals() {
  if (g_signal_pipe[0] < 0 && ::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status{StatusCode::kIoError, std::string("pipe: ") + std::strerror(errno)};
  }
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  return Status::Ok();
}

int ExitFor(const SendReport& report) {
  if (report.refused || report.rejected > 0) return kExitRefused;
  if (report.remaining > 0 || !report.last_error.ok()) return kExitQueued;
  return kExitSent;
}

int RunSend(const Settings& settings, const TlsIdentity& identity, const LogFn& log,
            std::ostream& out) {
  auto spool = Spool::Open(settings.spool_dir, settings.limits, log);
  if (!spool.ok()) {
    log("send: " + spool.status().message() + "; nothing collected");
    return kExitLocal;
  }
  CollectRequest request = settings.request;
  request.host_id = identity.host_id();
  auto added = CollectIntoSpool(**spool, request);
  if (added.ok()) {
    log("send: collected snapshot " + added->meta.snapshot_id + " (" +
        std::to_string(added->body_bytes) + " bytes) into " + (*spool)->dir());
  } else {
    // Say it loudly; what was spooled before is still sent.
    log("send: THIS RUN'S SNAPSHOT IS LOST: " + added.status().message());
  }
  SendOptions options;
  options.endpoint = settings.endpoint;
  options.server_name = settings.server_name;
  options.timeouts = settings.timeouts;
  options.always_offer = settings.always_offer;
  options.agent_version = std::string(kAgentVersion);
  SendReport report = SendSpool(**spool, identity, options, log, g_signal_pipe[0]);
  int code = ExitFor(report);
  if (!added.ok() && code != kExitRefused) code = kExitLocal;
  out << "sent " << report.acked << ", rejected " << report.rejected << ", spooled "
      << report.remaining << "\n";
  return code;
}

// What identifies the certificate, key and CA files on disk: a renewal replaces one of them.
std::string FilesStamp(const TlsFiles& files) {
  std::string stamp;
  for (const std::string* path : {&files.ca_file, &files.cert_file, &files.key_file}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) {
      stamp += "-;";
      continue;
    }
    stamp += std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
             std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return stamp;
}

int RunDaemon(const Settings& settings, std::unique_ptr<TlsIdentity> loaded, const LogFn& log) {
  std::unique_ptr<TlsIdentity> identity_holder = std::move(loaded);
  const TlsIdentity* identity_ptr = identity_holder.get();
  auto spool = Spool::Open(settings.spool_dir, settings.limits, log);
  if (!spool.ok()) {
    log("run: " + spool.status().message());
    return kExitLocal;
  }
  CollectRequest request = settings.request;
  request.host_id = identity_ptr->host_id();
  SendOptions options;
  options.endpoint = settings.endpoint;
  options.server_name = settings.server_name;
  options.timeouts = settings.timeouts;
  options.always_offer = settings.always_offer;
  options.agent_version = std::string(kAgentVersion);
  // A renewed certificate (or CA) is picked up before the next collection or send, without a
  // restart; one that does not load is logged and the previous one kept.
  std::string stamp = FilesStamp(settings.tls);
  auto reload_if_changed = [&] {
    std::string now_stamp = FilesStamp(settings.tls);
    if (now_stamp == stamp) return;
    stamp = now_stamp;
    auto fresh = TlsIdentity::Load(settings.tls);
    if (!fresh.ok()) {
      log("run: the certificate files changed but do not load (" + fresh.status().message() +
          "); keeping the previous certificate");
      return;
    }
    identity_holder = std::move(*fresh);
    identity_ptr = identity_holder.get();
    request.host_id = identity_ptr->host_id();
    log("run: reloaded the certificate files; host id " + identity_ptr->host_id());
  };

  std::mt19937_64 rng(std::random_device{}());
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  using std::chrono::milliseconds;
  const auto never = Clock::time_point::max();
  auto next_collect = Clock::now();
  auto next_send = never;
  int64_t backoff_ms = 0;
  log("run: host " + identity_ptr->host_id() + ", collector " + options.endpoint.host + ":" +
      options.endpoint.port + ", every " + std::to_string(settings.interval_s) + " s (jitter " +
      std::to_string(settings.jitter_s) + " s), spool " + (*spool)->dir());
  while (!StopRequested()) {
    auto now = Clock::now();
    if (now >= next_collect || now >= next_send) reload_if_changed();
    if (now >= next_collect) {
      auto added = CollectIntoSpool(**spool, request);
      if (added.ok()) {
        log("run: collected snapshot " + added->meta.snapshot_id + " (" +
            std::to_string(added->body_bytes) + " bytes) into the spool");
      } else {
        log("run: THIS SNAPSHOT IS LOST: " + added.status().message());
      }
      int64_t delay_ms =
          settings.interval_s * 1000 + uniform(-settings.jitter_s * 1000, settings.jitter_s * 1000);
      next_collect = Clock::now() + milliseconds(std::max<int64_t>(1000, delay_ms));
      if (backoff_ms == 0) next_send = Clock::now();
      continue;  // a stop request during the collection is seen before sending
    }
    if (now >= next_send) {
      SendReport report = SendSpool(**spool, *identity_ptr, options, log, g_signal_pipe[0]);
      if (report.last_error.ok() && report.remaining == 0) {
        backoff_ms = 0;
        next_send = never;
      } else {
        backoff_ms = backoff_ms == 0 ? settings.backoff_min_s * 1000
                                     : std::min(backoff_ms * 2, settings.backoff_max_s * 1000);
        // "Equal jitter": between half and all of the backoff, so agents spread out.
        int64_t delay = backoff_ms / 2 + uniform(0, backoff_ms / 2);
        next_send = Clock::now() + milliseconds(delay);
        if (!StopRequested()) {
          log("run: " + std::to_string(report.remaining) +
              " snapshot(s) spooled; next attempt in " + std::to_string((delay + 999) / 1000) +
              " s");
        }
      }
      continue;
    }
    auto wake = std::min(next_collect, next_send);
    int64_t wait_ms = std::chrono::duration_cast<milliseconds>(wake - Clock::now()).count() + 1;
    pollfd p{g_signal_pipe[0], POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<int64_t>(wait_ms, 0, 60'000)));
  }
  log("run: stopping on a signal; " + std::to_string([&] {
        auto l = (*spool)->List();
        return l.ok() ? l->size() : 0;
      }()) +
      " snapshot(s) stay in the spool");
  return kExitSent;
}

}  // namespace

int RunUplinkCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string command = args.empty() ? "" : args[0];
  auto settings = LoadSettings(args);
  if (!settings.ok()) {
    err << "tidemark-agent " << command << ": "
        << EscapeControlBounded(settings.status().message(), kMaxLogLineBytes)
        << "\nTry 'tidemark-agent --help'.\n";
    return kExitUsage;
  }
  // Every log line is escaped (common/text.h) and bounded: lines quote the collector's error
  // texts and acks, file names and configuration values, none of which may forge a line or
  // drive the terminal or journal reader.
  LogFn log = [&err](const std::string& line) {
    err << "tidemark-agent: " << EscapeControlBounded(line, kMaxLogLineBytes) << "\n";
    err.flush();
  };
  auto identity = TlsIdentity::Load(settings->tls);
  if (!identity.ok()) {
    err << "tidemark-agent " << command << ": "
        << EscapeControlBounded(identity.status().message(), kMaxLogLineBytes) << "\n";
    return kExitUsage;
  }
  // A collector that closes the connection must not kill the agent with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  if (Status s = InstallSignals(); !s.ok()) {
    err << "tidemark-agent " << command << ": " << s.message() << "\n";
    return kExitLocal;
  }
  if (command == "send") return RunSend(*settings, **identity, log, out);
  return RunDaemon(*settings, std::move(*identity), log);
}

}  // namespace tidemark::agent::uplink
