// config.h: the collector's keys, defaults and parsing.
#include "collector/config.h"

#include <sys/stat.h>

#include <sstream>

#include "common/config_file.h"

namespace tidemark::collector {
namespace {

const std::vector<std::string>& KnownKeys() {
  static const std::vector<std::string> keys = {"config",
                                                "listen",
                                                "ca",
                                                "cert",
                                                "key",
                                                "crl",
                                                "db",
                                                "max_frame_bytes",
                                                "max_connections",
                                                "max_host_connections",
                                                "max_source_handshakes",
                                                "source_connection_rate",
                                                "source_connection_burst",
                                                "max_inflight_bytes",
                                                "max_host_inflight_bytes",
                                                "max_host_bytes_per_day",
                                                "max_evaluate_bytes",
                                                "frame_timeout",
                                                "min_frame_rate",
                                                "handshake_timeout",
                                                "idle_timeout",
                                                "shutdown_timeout",
                                                "tls12",
                                                "session_cache",
                                                "retention_days",
                                                "threads",
                                                "policies",
                                                "help",
                                                "version"};
  return keys;
}

Status ParseListen(const ConfigValue& v, CollectorConfig* c) {
  const std::string& s = v.value;
  std::string host;
  std::string port;
  if (!s.empty() && s[0] == '[') {  // [::1]:7411
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return {StatusCode::kInvalidArgument,
              "listen (" + v.origin + "): expected ADDR:PORT or [IPV6]:PORT, got '" + s + "'"};
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      return {StatusCode::kInvalidArgument,
              "listen (" + v.origin + "): expected ADDR:PORT, got '" + s + "'"};
    }
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    return {StatusCode::kInvalidArgument,
            "listen (" + v.origin + "): bad port '" + port + "' (0-65535; 0 = any free port)"};
  }
  c->listen_host = host;
  c->listen_port = static_cast<uint16_t>(std::stoi(port));
  return Status::Ok();
}

Status FromMap(const ConfigMap& m, CollectorConfig* c) {
  if (auto it = m.find("listen"); it != m.end()) {
    Status s = ParseListen(it->second, c);
    if (!s.ok()) return s;
  }
  c->ca = GetString(m, "ca", c->ca);
  c->cert = GetString(m, "cert", c->cert);
  c->key = GetString(m, "key", c->key);
  c->db = GetString(m, "db", c->db);
  c->policies = GetString(m, "policies", c->policies);
  if (m.count("policies") && c->policies.empty()) {
    return {StatusCode::kInvalidArgument,
            "policies (" + m.at("policies").origin + "): must not be empty (none = no evaluation)"};
  }
  if (auto it = m.find("crl"); it != m.end()) {
    c->crl = it->second.value;
  } else {
    struct stat st {};
    if (::stat(kDefaultCrl, &st) == 0) c->crl = kDefaultCrl;
  }
  for (const auto* k : {"ca", "cert", "key", "db"}) {
    if (m.count(k) && m.at(k).value.empty()) {
      return {StatusCode::kInvalidArgument,
              std::string(k) + " (" + m.at(k).origin + "): must not be empty"};
    }
  }
  auto frame = GetInt(m, "max_frame_bytes", c->max_frame_bytes, 4096, 1ll << 30);
  if (!frame.ok()) return frame.status();
  c->max_frame_bytes = static_cast<uint32_t>(*frame);
  auto conns = GetInt(m, "max_connections", c->max_connections, 1, 1000000);
  if (!conns.ok()) return conns.status();
  c->max_connections = *conns;
  auto host_conns = GetInt(m, "max_host_connections", c->max_host_connections, 1, 1000000);
  if (!host_conns.ok()) return host_conns.status();
  c->max_host_connections = *host_conns;
  auto source_hs = GetInt(m, "max_source_handshakes", c->max_source_handshakes, 1, 1000000);
  if (!source_hs.ok()) return source_hs.status();
  c->max_source_handshakes = *source_hs;
  auto source_rate = GetInt(m, "source_connection_rate", c->source_connection_rate, 0, 1000000);
  if (!source_rate.ok()) return source_rate.status();
  c->source_connection_rate = *source_rate;
  auto source_burst =
      GetInt(m, "source_connection_burst", c->source_connection_burst, 1, 100000000);
  if (!source_burst.ok()) return source_burst.status();
  c->source_connection_burst = *source_burst;
  auto inflight = GetInt(m, "max_inflight_bytes", c->max_inflight_bytes, 4096, 1ll << 40);
  if (!inflight.ok()) return inflight.status();
  c->max_inflight_bytes = *inflight;
  auto host_inflight =
      GetInt(m, "max_host_inflight_bytes", c->max_host_inflight_bytes, 4096, 1ll << 40);
  if (!host_inflight.ok()) return host_inflight.status();
  c->max_host_inflight_bytes = *host_inflight;
  auto host_day = GetInt(m, "max_host_bytes_per_day", c->max_host_bytes_per_day, 0, 1ll << 50);
  if (!host_day.ok()) return host_day.status();
  c->max_host_bytes_per_day = *host_day;
  auto judge = GetInt(m, "max_evaluate_bytes", c->max_evaluate_bytes, 4096, 1ll << 30);
  if (!judge.ok()) return judge.status();
  c->max_evaluate_bytes = *judge;
  auto frame_timeout = GetInt(m, "frame_timeout", c->frame_timeout_s, 1, 3600);
  if (!frame_timeout.ok()) return frame_timeout.status();
  c->frame_timeout_s = *frame_timeout;
  auto rate = GetInt(m, "min_frame_rate", c->min_frame_rate, 0, 1ll << 30);
  if (!rate.ok()) return rate.status();
  c->min_frame_rate = *rate;
  auto hs = GetInt(m, "handshake_timeout", c->handshake_timeout_s, 1, 3600);
  if (!hs.ok()) return hs.status();
  c->handshake_timeout_s = *hs;
  auto idle = GetInt(m, "idle_timeout", c->idle_timeout_s, 1, 7 * 86400);
  if (!idle.ok()) return idle.status();
  c->idle_timeout_s = *idle;
  auto shut = GetInt(m, "shutdown_timeout", c->shutdown_timeout_s, 0, 3600);
  if (!shut.ok()) return shut.status();
  c->shutdown_timeout_s = *shut;
  auto tls12 = GetBool(m, "tls12", c->tls12);
  if (!tls12.ok()) return tls12.status();
  c->tls12 = *tls12;
  auto cache = GetInt(m, "session_cache", c->session_cache, 0, 10000000);
  if (!cache.ok()) return cache.status();
  c->session_cache = *cache;
  auto ret = GetInt(m, "retention_days", c->retention_days, 1, 100000);
  if (!ret.ok()) return ret.status();
  c->retention_days = *ret;
  auto threads = GetInt(m, "threads", c->threads, 0, 256);
  if (!threads.ok()) return threads.status();
  c->threads = *threads;
  return Status::Ok();
}

StatusOr<CollectorConfig> Build(const std::vector<std::string>& flags, ParsedArgs* parsed) {
  // First pass: flags only, to find --config (and --help/--version).
  ConfigMap from_flags;
  std::vector<std::string> positional;
  Status s = ApplyFlags(flags, KnownKeys(), {"help", "version", "tls12"}, &from_flags, &positional);
  if (!s.ok()) return s;
  if (!positional.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "unexpected argument '" + positional[0] + "' (see --help)");
  }
  if (parsed != nullptr) {
    parsed->help = from_flags.count("help") > 0;
    parsed->version = from_flags.count("version") > 0;
  }
  ConfigMap merged;
  std::string config_file = GetString(from_flags, "config", "");
  if (!config_file.empty()) {
    auto file = ReadConfigFile(config_file);
    if (!file.ok()) return file.status();
    if (file->count("config")) {
      return Status(StatusCode::kInvalidArgument,
                    "config (" + file->at("config").origin + "): not allowed inside a config file");
    }
    Status known = CheckKnownKeys(*file, KnownKeys());
    if (!known.ok()) return known;
    merged = std::move(*file);
  }
  s = ApplyFlags(flags, KnownKeys(), {"help", "version", "tls12"}, &merged, &positional);
  if (!s.ok()) return s;
  CollectorConfig c;
  c.config_file = config_file;
  s = FromMap(merged, &c);
  if (!s.ok()) return s;
  return c;
}

}  // namespace

StatusOr<ParsedArgs> ParseCollectorArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  parsed.flags = args;
  auto c = Build(args, &parsed);
  if (!c.ok()) {
    if (parsed.help || parsed.version) return parsed;  // --help wins over a bad config
    return c.status();
  }
  parsed.config = std::move(*c);
  return parsed;
}

StatusOr<CollectorConfig> ReloadConfig(const ParsedArgs& original) {
  return Build(original.flags, nullptr);
}

std::string CollectorHelp() {
  CollectorConfig d;
  std::ostringstream o;
  o << "Usage: tidemark-collector [--config FILE] [--KEY VALUE ...]\n"
       "\n"
       "Receives snapshots from tidemark-agent over mutual TLS (docs/protocol.md) and stores\n"
       "them durably (docs/store.md). Every key of the config file (key = value) is also a\n"
       "flag: --max-connections 100 is max_connections = 100; a flag wins over the file.\n"
       "\n"
       "  --config FILE             the key = value file (none by default)\n"
       "  --listen ADDR:PORT        address to listen on (default "
    << d.listen_host << ":" << d.listen_port
    << ";\n                            [::]:7411 for IPv6; port 0 = any free port)\n"
       "  --ca FILE                 CA certificate(s) agents' certificates must chain to\n"
       "                            (default "
    << d.ca << ")\n"
    << "  --cert FILE               the collector's certificate\n"
       "                            (default "
    << d.cert << ")\n"
    << "  --key FILE                its private key, mode 0600 or stricter\n"
       "                            (default "
    << d.key << ")\n"
    << "  --crl FILE                a CRL of the CA, checked on every handshake\n"
       "                            (default "
    << kDefaultCrl << " when it exists)\n"
    << "  --db FILE                 the SQLite store (default " << d.db << ")\n"
    << "  --max-frame-bytes N       largest frame accepted (default " << d.max_frame_bytes << ")\n"
    << "  --max-connections N       concurrent agent connections (default " << d.max_connections
    << ")\n"
    << "  --max-host-connections N  concurrent connections of one host (certificate CN)\n"
       "                            (default "
    << d.max_host_connections << ")\n"
    << "  --max-source-handshakes N  TLS handshakes in progress from one IPv4 address or\n"
       "                            IPv6 /64 (default "
    << d.max_source_handshakes << ")\n"
    << "  --source-connection-rate N  new connections a second from one IPv4 address or\n"
       "                            IPv6 /64, 0 = no limit (default "
    << d.source_connection_rate << ")\n"
    << "  --source-connection-burst N  of them at once (default " << d.source_connection_burst
    << ")\n"
    << "  --max-inflight-bytes N    frame bytes being received or stored across all\n"
       "                            connections (default "
    << d.max_inflight_bytes << ")\n"
    << "  --max-host-inflight-bytes N  frame bytes the connections of one host may hold\n"
       "                            together (default "
    << d.max_host_inflight_bytes << ")\n"
    << "  --max-host-bytes-per-day N  snapshot and offer bytes one host may send per day\n"
       "                            (default "
    << d.max_host_bytes_per_day << "; 0 = no limit)\n"
    << "  --max-evaluate-bytes N    the largest stored state the collector judges; a larger one\n"
       "                            gets an error result (default "
    << d.max_evaluate_bytes << ")\n"
    << "  --frame-timeout S         close a frame (the rest of its header, or its payload)\n"
       "                            that gets no byte for S seconds (default "
    << d.frame_timeout_s << ")\n"
    << "  --min-frame-rate N        and one slower than N bytes/s on average, after\n"
       "                            frame_timeout of grace (default "
    << d.min_frame_rate << "; 0 = off)\n"
    << "  --handshake-timeout S     seconds for the TLS handshake after accept (default "
    << d.handshake_timeout_s << ")\n"
    << "  --idle-timeout S          seconds without a complete frame before closing\n"
       "                            (default "
    << d.idle_timeout_s << ")\n"
    << "  --shutdown-timeout S      on SIGTERM, seconds to let in-flight snapshots finish\n"
       "                            (default "
    << d.shutdown_timeout_s << ")\n"
    << "  --tls12                   also accept TLS 1.2 (ECDHE with AES-GCM/ChaCha20 only);\n"
       "                            default: TLS 1.3 only\n"
    << "  --session-cache N         TLS sessions kept for agents to resume (default "
    << d.session_cache << ";\n                            0 = stateless tickets, nothing kept)\n"
    << "  --retention-days N        thin 'seen' records older than N days, at start and daily\n"
       "                            (default "
    << d.retention_days << ")\n"
    << "  --threads N               I/O threads (default 0 = one per core)\n"
       "  --policies DIR|FILE       rules and baselines every stored state is judged by\n"
       "                            (default: the installed policies when they exist;\n"
       "                            none = no evaluation); results: tidemarkctl findings\n"
       "\n"
       "Signals: SIGTERM/SIGINT stop accepting, let in-flight snapshots finish, exit 0;\n"
       "SIGHUP re-reads the config file: CRL, certificates, limits and policies.\n"
       "Logs: one line per event on stderr (journald-friendly). Exit: 0 after a clean stop,\n"
       "1 when it cannot start (certificates, key permissions, store, address), 2 usage,\n"
       "3 the store is corrupted (logged at critical level; nothing more is acknowledged),\n"
       "4 an internal error outside any connection.\n";
  return o.str();
}

}  // namespace tidemark::collector
