// Reading the sshd_config files (SshdConfig::Load) and the connection spec: OpenSSH 9.2p1
// servconf.c load_server_config(), parse_server_config_depth(), process_server_config_line_depth()
// with Include (glob(3)) and Match (match_cfg_line()), the multistate value tables,
// parse_server_match_testspec(). Defaults, the Match pass and printing: sshd_evaluate.cpp and
// sshd_dump.cpp.
#include "agent/parsers/sshd_config.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>

#include "agent/parsers/sshd_algorithms.h"
#include "agent/parsers/sshd_config_internal.h"
#include "agent/parsers/sshd_keywords.h"
#include "agent/parsers/sshd_match.h"
#include "agent/parsers/sshd_misc.h"
#include "common/sshd_argv.h"
#include "common/text.h"

namespace tidemark::agent::sshd {

using internal::A2Port;
using internal::AddrMatchList;
using internal::ConfigFileText;
using internal::ConvTime;
using internal::Fatal;
using internal::FindKeyword;
using internal::kFacilities;
using internal::kLogLevels;
using internal::kMatchOk;
using internal::kMatchOnly;
using internal::kMaxDepth;
using internal::kMaxFileBytes;
using internal::kMaxFiles;
using internal::kMaxLineBytes;
using internal::kMaxLineVisits;
using internal::kMaxTokenizedBytes;
using internal::kMaxTotalBytes;
using internal::kNeverMatch;
using internal::Line;
using internal::Listen;
using internal::MatchPatternList;
using internal::NamesValid;
using internal::Op;
using internal::Options;
using internal::ParseIpQos;
using internal::SplitComma;
using internal::StrDelim;
using internal::StrToNum;

namespace {

// A keyword quoted in a message only when it looks like one (never file data).
std::string Quotable(std::string_view token) {
  bool ok = !token.empty() && token.size() <= 40;
  for (char c : token) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-');
  return ok ? "\"" + std::string(token) + "\"" : "(not a keyword)";
}

// Tokenizes `text`; charges the memory of each line kept against `*budget` and stops (setting
// `*cut`) when it runs out.
ConfigFileText Tokenize(std::string path, std::string_view text, uint64_t* budget, bool* cut) {
  ConfigFileText f;
  f.path = std::move(path);
  int64_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(pos, end - pos);
    ++number;
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    Line line;
    line.number = number;
    if (raw.size() > kMaxLineBytes) {
      line.too_long = true;
      f.lines.push_back(std::move(line));
      continue;
    }
    // load_server_config(): leading " \t\r" removed; the C string ends at a NUL byte.
    size_t lead = raw.find_first_not_of(" \t\r");
    raw = lead == std::string_view::npos ? std::string_view() : raw.substr(lead);
    if (size_t nul = raw.find('\0'); nul != std::string_view::npos) raw = raw.substr(0, nul);
    std::string s(raw);
    if (s.empty()) continue;
    // Trailing whitespace and form feeds (never the first character).
    size_t len = s.size() - 1;
    while (len > 0 && std::string_view(" \t\r\n\f").find(s[len]) != std::string_view::npos) --len;
    s.resize(len + 1);
    size_t cur = 0;
    auto keyword = StrDelim(s, &cur);
    if (keyword && keyword->empty()) keyword = StrDelim(s, &cur);
    if (!keyword || keyword->empty() || (*keyword)[0] == '#') continue;
    line.keyword = *keyword;
    line.kw = FindKeyword(*keyword);
    if (cur != std::string::npos && cur < s.size()) line.rest = s.substr(cur);
    if (line.rest) line.quote_error = !SshdArgvSplit(*line.rest, &line.args);
    uint64_t cost = sizeof(Line) + 2 * s.size() + line.args.size() * sizeof(std::string);
    if (cost > *budget) {
      *budget = 0;
      *cut = true;
      return f;
    }
    *budget -= cost;
    f.lines.push_back(std::move(line));
  }
  return f;
}

// ---------------------------------------------------------------------------------------------
// Values (servconf.c multistate tables).

struct Multi {
  const char* key;
  int value;
};
constexpr Multi kFlag[] = {{"yes", 1}, {"no", 0}};
constexpr Multi kIgnoreRhosts[] = {{"yes", 1}, {"no", 0}, {"shosts-only", 2}};
constexpr Multi kAddressFamily[] = {{"inet", 4}, {"inet6", 6}, {"any", 0}};
constexpr Multi kPermitRoot[] = {{"without-password", 1},
                                 {"prohibit-password", 1},
                                 {"forced-commands-only", 2},
                                 {"yes", 3},
                                 {"no", 4}};
constexpr Multi kCompression[] = {{"yes", 2}, {"delayed", 2}, {"no", 0}};
constexpr Multi kGatewayPorts[] = {{"clientspecified", 2}, {"yes", 1}, {"no", 0}};
constexpr Multi kTcpFwd[] = {{"yes", 3}, {"all", 3}, {"no", 0}, {"remote", 2}, {"local", 1}};

template <size_t N>
std::optional<std::string> MultiCanonical(std::string_view arg, const Multi (&table)[N]) {
  for (const auto& m : table) {
    if (EqualsNoCase(arg, m.key)) {
      for (const auto& c : table) {
        if (c.value == m.value) return std::string(c.key);  // fmt_multistate_int()
      }
    }
  }
  return std::nullopt;
}

}  // namespace

StatusOr<ConnectionSpec> ParseConnectionSpec(std::string_view spec) {
  ConnectionSpec ci;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t c = std::min(spec.find(',', pos), spec.size());
    std::string_view p = spec.substr(pos, c - pos);
    pos = c + 1;
    if (p.empty()) break;
    auto take = [&](std::string_view prefix) -> std::optional<std::string> {
      if (p.substr(0, prefix.size()) == prefix) return std::string(p.substr(prefix.size()));
      return std::nullopt;
    };
    if (auto v = take("addr=")) {
      ci.addr = *v;
    } else if (auto v2 = take("host=")) {
      ci.host = *v2;
    } else if (auto v3 = take("user=")) {
      ci.user = *v3;
    } else if (auto v4 = take("laddr=")) {
      ci.laddr = *v4;
    } else if (auto v5 = take("rdomain=")) {
      ci.rdomain = *v5;
    } else if (auto v6 = take("lport=")) {
      ci.lport = A2Port(*v6);
      if (ci.lport == -1) {
        return Status(StatusCode::kInvalidArgument, "invalid port in context specification");
      }
    } else {
      return Status(StatusCode::kInvalidArgument,
                    "invalid context specification (expected user=, host=, addr=, laddr=, "
                    "lport= or rdomain=)");
    }
  }
  return ci;
}

std::string SshdConfig::Impl::Tilde(const std::string& path) const {
  // tilde_expand_filename(path, getuid()): sshd runs as root.
  if (path.empty() || path[0] != '~') return path;
  size_t slash = path.find('/');
  std::string name = path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
  std::string rest = slash == std::string::npos ? "" : path.substr(slash + 1);
  const PasswdEntry* u = nullptr;
  if (accounts) u = name.empty() ? accounts->FindUserById(0) : accounts->FindUser(name);
  std::string home = u ? u->home : (name.empty() ? "/root" : "");
  if (home.empty()) return path;
  if (!home.empty() && home.back() == '/') home.pop_back();
  return home + "/" + rest;
}

std::string SshdConfig::Impl::Derelativise(const std::string& path) const {
  if (EqualsNoCase(path, "none")) return "none";
  std::string e = Tilde(path);
  if (!e.empty() && e[0] == '/') return e;
  return "//" + e;  // relative to sshd's working directory, "/" under systemd
}

// match_cfg_line(): 1 if the Match criteria hold for the connection, 0 if not, -1 if invalid
// (the issue recorded); throws Fatal where sshd calls fatal(). One loop, as upstream's.
int SshdConfig::Impl::MatchLine(Pass& p, std::string criteria, const std::string& file,
                                int64_t line) {
  const ConnectionSpec* ci = p.ci;
  int result = 1, attributes = 0;
  size_t cur = 0;
  auto unknown = [&]() { return p.optimistic ? 1 : 0; };
  while (true) {
    auto attrib = StrDelim(criteria, &cur);
    if (!attrib || attrib->empty()) break;
    if ((*attrib)[0] == '#') break;
    ++attributes;
    if (EqualsNoCase(*attrib, "all")) {
      auto arg = StrDelim(criteria, &cur);
      if (attributes > 1 || (arg && !arg->empty() && (*arg)[0] != '#')) {
        issues.push_back({file, line, "'all' cannot be combined with other Match attributes"});
        return -1;
      }
      return 1;
    }
    auto arg = StrDelim(criteria, &cur);
    if (!arg || arg->empty() || (*arg)[0] == '#') {
      issues.push_back({file, line, "Missing Match criteria for " + Quotable(*attrib)});
      return -1;
    }
    std::string a = *attrib;
    if (EqualsNoCase(a, "user")) {
      if (!ci || !ci->user) {
        if (!unknown()) result = 0;
        continue;
      }
      if (MatchPatternList(*ci->user, *arg, false) != 1) result = 0;
    } else if (EqualsNoCase(a, "group")) {
      if (!ci || !ci->user) {
        if (!unknown()) result = 0;
        continue;
      }
      const PasswdEntry* u = accounts ? accounts->FindUser(*ci->user) : nullptr;
      int found = 0;
      if (u) {
        for (uint32_t gid : accounts->GroupIdsOf(*u)) {
          const GroupEntry* g = accounts->FindGroupById(gid);
          if (!g) continue;
          int m = MatchPatternList(g->name, *arg, false);
          if (m == -1) {
            found = 0;
            break;
          }
          if (m == 1) found = 1;
        }
      }
      if (!found) result = 0;
    } else if (EqualsNoCase(a, "host")) {
      if (!ci || !ci->host) {
        if (!unknown()) result = 0;
        continue;
      }
      if (MatchPatternList(*ci->host, *arg, true) != 1) result = 0;
    } else if (EqualsNoCase(a, "address") || EqualsNoCase(a, "localaddress")) {
      bool local = EqualsNoCase(a, "localaddress");
      const std::optional<std::string>& v = ci ? (local ? ci->laddr : ci->addr) : std::nullopt;
      if (!ci || !v) {
        if (AddrMatchList(nullptr, *arg) != 0) {
          Die(file, line,
              std::string("Invalid Match ") + (local ? "localaddress" : "address") + " argument");
        }
        if (!unknown()) result = 0;
        continue;
      }
      int r = AddrMatchList(&*v, *arg);
      if (r == -2) return -1;
      if (r != 1) result = 0;
    } else if (EqualsNoCase(a, "localport")) {
      int port = A2Port(*arg);
      if (port == -1) {
        issues.push_back({file, line, "Invalid LocalPort on Match line"});
        return -1;
      }
      if (!ci || ci->lport == -1) {
        if (!unknown()) result = 0;
        continue;
      }
      if (ci->lport == 0) {
        if (p.optimistic) continue;
        Die(file, line,
            "'Match LocalPort' in configuration but 'lport' not in connection test "
            "specification.");
      }
      if (port != ci->lport) result = 0;
    } else if (EqualsNoCase(a, "rdomain")) {
      if (!ci || !ci->rdomain) {
        if (!unknown()) result = 0;
        continue;
      }
      if (MatchPatternList(*ci->rdomain, *arg, false) != 1) result = 0;
    } else {
      issues.push_back({file, line, "Unsupported Match attribute " + Quotable(a)});
      return -1;
    }
  }
  if (attributes == 0) {
    issues.push_back({file, line, "One or more attributes required for Match"});
    return -1;
  }
  return result;
}

std::vector<std::string> SshdConfig::Impl::Glob(const Fs& fs, const std::string& pattern) const {
  // glob(3) with flags 0: '*', '?', '[' per component; a leading '.' only matched explicitly;
  // unreadable directories match nothing; results sorted (C locale).
  std::vector<std::string> parts;
  size_t pos = 1;
  while (pos <= pattern.size()) {
    size_t slash = std::min(pattern.find('/', pos), pattern.size());
    if (slash > pos) parts.push_back(pattern.substr(pos, slash - pos));
    pos = slash + 1;
  }
  std::vector<std::string> current = {"/"};
  for (size_t i = 0; i < parts.size(); ++i) {
    std::vector<std::string> next;
    bool magic = parts[i].find_first_of("*?[") != std::string::npos;
    for (const auto& dir : current) {
      if (!magic) {
        next.push_back(JoinPath(dir, parts[i]));
        continue;
      }
      auto names = fs.ListDir(dir);
      if (!names.ok()) continue;
      for (const auto& n : *names) {
        if (fnmatch(parts[i].c_str(), n.c_str(), FNM_PERIOD) == 0) next.push_back(JoinPath(dir, n));
      }
    }
    current = std::move(next);
  }
  std::vector<std::string> out;
  for (auto& c : current) {
    if (fs.Stat(c, false).ok()) out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  return out;
}

size_t SshdConfig::Impl::LoadFile(const Fs& fs, const std::string& path, const std::string& from,
                                  int64_t line) {
  ConfigFileRecord rec;
  rec.path = path;
  rec.included_from = from;
  rec.included_from_line = line;
  if (files.size() >= kMaxFiles) {
    Die(from.empty() ? path : from, line,
        "cannot read " + path + ": more than " + std::to_string(kMaxFiles) +
            " configuration files (tidemark's limit; not evaluated)");
  }
  ReadOptions ro;
  ro.max_bytes = std::min(kMaxFileBytes, kMaxTotalBytes - bytes_read);
  auto content = fs.ReadFile(path, ro);
  if (!content.ok() && content.status().code() == StatusCode::kTooLarge) {
    Die(from.empty() ? path : from, line,
        "cannot read " + path + ": the configuration files are larger than " +
            std::to_string(kMaxTotalBytes >> 20) + " MiB in all (tidemark's limit; not evaluated)");
  }
  std::string text;
  if (content.ok()) {
    rec.info = content->info;
    text = std::move(content->data);
  } else {
    rec.error = content.status().message();
    auto st = fs.Stat(path, true);
    if (st.ok()) rec.info = *st;
    files.push_back(rec);
    if (content.status().code() == StatusCode::kWrongType && st.ok() &&
        st->type == FileType::kDirectory) {
      // fopen(3) opens a directory and getline(3) reads nothing: sshd takes it as empty.
      issues.push_back({path, 0, "is a directory; sshd reads it as an empty file"});
      texts.push_back({path, {}});
      return texts.size() - 1;
    }
    if (from.empty()) {
      if (content.status().code() == StatusCode::kNotFound) main_missing = true;
      Die(path, 0, "cannot read the configuration: " + content.status().message());
    }
    Die(from, line, "cannot read included file " + path + ": " + content.status().message());
  }
  files.push_back(rec);
  bytes_read += text.size();
  bool cut = false;
  texts.push_back(Tokenize(path, text, &token_budget, &cut));
  if (cut) {
    Die(path, texts.back().lines.empty() ? 0 : texts.back().lines.back().number,
        "too many configuration lines: more than " + std::to_string(kMaxTokenizedBytes >> 20) +
            " MiB once parsed (tidemark's limit; not evaluated)");
  }
  return texts.size() - 1;
}

void SshdConfig::Impl::ParseFile(Pass& p, size_t index, unsigned flags, bool* active, int depth) {
  if (depth < 0 || depth > kMaxDepth) {
    Die(texts[index].path, 0, "Too many recursive configuration includes");
  }
  int bad = 0;
  const ConfigFileText& f = texts[index];
  for (const Line& l : f.lines) {
    if (p.lines_left == 0) {
      Die(f.path, l.number,
          "more than " + std::to_string(kMaxLineVisits) +
              " configuration lines to process through Include (tidemark's limit; not "
              "evaluated)");
    }
    --p.lines_left;
    if (!ProcessLine(p, f, l, active, &flags, depth)) ++bad;
  }
  if (bad > 0) {
    Die(f.path, 0, "terminating, " + std::to_string(bad) + " bad configuration options");
  }
}

// process_server_config_line_depth(): returns false for a bad option (counted, fatal at the
// end of the file); throws Fatal where sshd calls fatal().
// One switch over the opcodes, as upstream's, so that each case reads against its own there.
bool SshdConfig::Impl::ProcessLine(Pass& p, const ConfigFileText& f, const Line& l, bool* active,
                                   unsigned* inc_flags, int depth) {
  const std::string& file = f.path;
  const int64_t ln = l.number;
  Options& o = *p.o;
  auto error = [&](std::string msg) {
    if (p.record) issues.push_back({file, ln, std::move(msg)});
    return false;
  };
  auto die = [&](std::string msg) { Die(file, ln, std::move(msg)); };
  if (l.too_long) {
    return error("line longer than " + std::to_string(kMaxLineBytes) +
                 " bytes (not evaluated by tidemark)");
  }
  const std::string kw = l.kw ? l.kw->name : l.keyword;
  if (!l.rest || l.rest->empty()) {
    return error("no argument after keyword " + Quotable(l.keyword));
  }
  if (!l.kw) {
    if (p.record) issues.push_back({file, ln, "Bad configuration option: " + Quotable(l.keyword)});
    return false;
  }
  if (l.quote_error) return error("invalid quotes");
  const Op op = l.kw->op;
  const unsigned kflags = l.kw->flags;
  if (!*active && !(kflags & kMatchOk)) {
    if (!p.ci) die("Directive " + Quotable(l.keyword) + " is not allowed within a Match block");
    return true;
  }
  // Recording for match_blocks (first pass only).
  if (p.record && p.block >= 0 && op != Op::kMatch) {
    std::string lower;
    for (char c : l.keyword)
      lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    blocks[static_cast<size_t>(p.block)].settings.push_back({lower, *l.rest, file, ln});
  }
  size_t ai = 0;
  const auto& av = l.args;
  auto next = [&]() -> const std::string* { return ai < av.size() ? &av[ai++] : nullptr; };
  const std::string& str = *l.rest;
  bool act = *active;

  auto multistate = [&](auto& table) {
    const std::string* arg = next();
    if (!arg || arg->empty()) die("missing argument.");
    auto v = MultiCanonical(*arg, table);
    if (!v) die("unsupported option for " + Quotable(l.keyword) + ".");
    if (act) o.SetFirst(op, *v);
  };
  auto parse_time = [&](Op target) {
    const std::string* arg = next();
    if (!arg || arg->empty()) die("missing time value.");
    int v = ConvTime(*arg);
    if (v == -1) die("invalid time value.");
    if (target == Op::kRekeyLimit) {
      if (act && !o.rekey_interval) o.rekey_interval = v;
    } else if (act) {
      o.SetFirst(target, std::to_string(v));
    }
  };
  auto parse_int = [&]() {
    const std::string* arg = next();
    auto v = arg ? StrToNum(*arg, 0, INT_MAX) : std::nullopt;
    if (!v) die(kw + " integer value invalid.");
    if (act) o.SetFirst(op, std::to_string(*v));
  };
  auto parse_filename = [&]() {
    const std::string* arg = next();
    if (!arg || arg->empty()) die("missing file name.");
    if (act && !o.Has(op)) o.SetFirst(op, Derelativise(*arg));
  };
  auto parse_algos = [&](const std::string& all, bool wildcards) {
    const std::string* arg = next();
    if (!arg || arg->empty()) die(kw + " missing argument.");
    std::string_view names = *arg;
    if (names[0] != '-') {
      if (names[0] == '+' || names[0] == '^') names.remove_prefix(1);
      if (!NamesValid(names, all, wildcards)) die("Bad " + kw + " list.");
    }
    return arg;
  };
  auto array_append = [&](Op target) {
    while (const std::string* arg = next()) {
      if (act) o.a[target].push_back(*arg);
    }
  };

  switch (op) {
    case Op::kUsePam:
    case Op::kIgnoreUserKnownHosts:
    case Op::kHostbasedAuthentication:
    case Op::kHostbasedUsesNameFromPacketOnly:
    case Op::kPubkeyAuthentication:
    case Op::kKerberosAuthentication:
    case Op::kKerberosOrLocalPasswd:
    case Op::kKerberosTicketCleanup:
    case Op::kGssAuthentication:
    case Op::kGssKeyEx:
    case Op::kGssCleanupCreds:
    case Op::kGssStrictAcceptor:
    case Op::kGssStoreRekey:
    case Op::kPasswordAuthentication:
    case Op::kKbdInteractive:
    case Op::kPrintMotd:
    case Op::kPrintLastLog:
    case Op::kX11Forwarding:
    case Op::kX11UseLocalhost:
    case Op::kPermitTty:
    case Op::kPermitUserRc:
    case Op::kStrictModes:
    case Op::kTcpKeepAlive:
    case Op::kEmptyPasswd:
    case Op::kUseDns:
    case Op::kAllowAgentForwarding:
    case Op::kDisableForwarding:
    case Op::kStreamLocalBindUnlink:
    case Op::kExposeAuthInfo:
    case Op::kDebianBanner:
      multistate(kFlag);
      break;
    case Op::kAddressFamily:
      multistate(kAddressFamily);
      break;
    case Op::kPermitRootLogin:
      multistate(kPermitRoot);
      break;
    case Op::kIgnoreRhosts:
      multistate(kIgnoreRhosts);
      break;
    case Op::kCompression:
      multistate(kCompression);
      break;
    case Op::kGatewayPorts:
      multistate(kGatewayPorts);
      break;
    case Op::kAllowTcpForwarding:
    case Op::kAllowStreamLocalForwarding:
      multistate(kTcpFwd);
      break;
    case Op::kPort: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("missing port number.");
      if (o.ports.size() >= 256) die("too many ports.");
      int port = A2Port(*arg);
      if (port <= 0) die("Badly formatted port number.");
      o.ports.push_back(port);
      break;
    }
    case Op::kLoginGraceTime:
    case Op::kClientAliveInterval:
      parse_time(op);
      break;
    case Op::kListenAddress: {
      const std::string* argp = next();
      if (!argp || argp->empty()) die("missing address");
      std::string arg = *argp;
      Listen la;
      size_t colon = arg.find(':');
      if (arg.find('[') == std::string::npos && colon != std::string::npos &&
          arg.find(':', colon + 1) != std::string::npos) {
        la.addr = arg;
      } else {
        // hpdelim(): [host]:port or host:port
        std::string host, port;
        bool has_port = false;
        if (!arg.empty() && arg[0] == '[') {
          size_t close = arg.find(']');
          if (close == std::string::npos) die("bad address:port usage");
          host = arg.substr(1, close - 1);
          if (close + 1 < arg.size()) {
            if (arg[close + 1] != ':' && arg[close + 1] != '/') die("bad address:port usage");
            has_port = true;
            port = arg.substr(close + 2);
          }
        } else {
          size_t c = arg.find_first_of(":/");
          host = arg.substr(0, c);
          if (c != std::string::npos) {
            has_port = true;
            port = arg.substr(c + 1);
          }
        }
        la.addr = host;
        if (has_port) {
          la.port = A2Port(port);
          if (la.port <= 0) die("bad port number");
        }
      }
      if (const std::string* rd = next()) {
        (void)rd;
        die("bad routing domain");  // valid_rdomain(): not supported on Linux builds
      }
      o.listens.push_back(la);
      break;
    }
    case Op::kHostKey: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("missing file name.");
      if (act) o.host_keys.push_back(Derelativise(*arg));
      break;
    }
    case Op::kHostKeyAgent: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("missing socket name.");
      if (act && !o.Has(op)) {
        o.SetFirst(op, *arg == "SSH_AUTH_SOCK" ? *arg : Derelativise(*arg));
      }
      break;
    }
    case Op::kHostCertificate: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("missing file name.");
      if (act) o.host_certs.push_back(Derelativise(*arg));
      break;
    }
    case Op::kPidFile:
    case Op::kModuliFile:
    case Op::kXAuthLocation:
    case Op::kBanner:
    case Op::kTrustedUserCaKeys:
    case Op::kRevokedKeys:
      parse_filename();
      break;
    case Op::kHostbasedAcceptedAlgorithms:
    case Op::kHostKeyAlgorithms:
    case Op::kCaSignatureAlgorithms:
    case Op::kPubkeyAcceptedAlgorithms: {
      const std::string* arg = parse_algos(build->all_keys, true);
      if (act) o.SetFirst(op, *arg);
      break;
    }
    case Op::kCiphers:
    case Op::kMacs:
    case Op::kKexAlgorithms: {
      const std::string& all = op == Op::kCiphers ? build->all_ciphers
                               : op == Op::kMacs  ? build->all_macs
                                                  : build->all_kex;
      const std::string* arg = parse_algos(all, false);
      o.SetFirst(op, *arg);  // no Match check in sshd: global-only keywords
      break;
    }
    case Op::kPubkeyAuthOptions: {
      int value = 0;
      while (const std::string* arg = next()) {
        if (EqualsNoCase(*arg, "none")) continue;
        if (EqualsNoCase(*arg, "touch-required")) {
          value |= 1;
        } else if (EqualsNoCase(*arg, "verify-required")) {
          value |= 2;
        } else {
          return error("unsupported " + kw + " option");
        }
      }
      if (act && !o.pubkey_auth_options) o.pubkey_auth_options = value;
      break;
    }
    case Op::kGssKexAlgorithms: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("Missing argument.");
      for (auto& n : SplitComma(*arg)) {
        if (n.rfind("gss-", 0) != 0 || n.empty()) die("Bad GSSAPI KexAlgorithms.");
      }
      if (act) o.SetFirst(op, *arg);
      break;
    }
    case Op::kX11DisplayOffset:
    case Op::kMaxAuthTries:
    case Op::kMaxSessions:
    case Op::kClientAliveCountMax:
    case Op::kRequiredRsaSize:
      parse_int();
      break;
    case Op::kPermitUserEnvironment: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      int value = 1;
      std::optional<std::string> list;
      if (*arg == "yes") {
        value = 1;
      } else if (*arg == "no") {
        value = 0;
      } else {
        list = *arg;
      }
      if (act && !o.permit_user_env) {
        o.permit_user_env = value;
        o.permit_user_env_allowlist = list;
      }
      break;
    }
    case Op::kRekeyLimit: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      long long v = 0;
      if (*arg != "default") {
        // scan_scaled(): a number with an optional K/M/G/T/P/E suffix (powers of 1024).
        std::string t = *arg;
        char* end = nullptr;
        errno = 0;
        double d = std::strtod(t.c_str(), &end);
        if (end == t.c_str() || errno == ERANGE || d < 0) die("Bad " + kw + " number.");
        static const std::string kUnits = "BKMGTPE";
        long double mult = 1;
        if (*end) {
          size_t u = kUnits.find(static_cast<char>(std::toupper(static_cast<unsigned char>(*end))));
          if (u == std::string::npos || end[1] != '\0') die("Bad " + kw + " number.");
          for (size_t i = 0; i < u; ++i) mult *= 1024;
        }
        // scan_scaled() refuses a value that does not fit a long long (ERANGE); strtod's own
        // forms (1e30, inf, nan) do not fit either. Converting them would be undefined.
        long double scaled = static_cast<long double>(d) * mult;
        if (!(scaled < 9223372036854775808.0L)) die("Bad " + kw + " number.");
        v = static_cast<long long>(scaled);
        if (v != 0 && v < 16) die(kw + " too small");
      }
      if (act && !o.rekey_limit) o.rekey_limit = v;
      if (ai < av.size()) {
        if (av[ai] == "none") {
          ++ai;
          break;
        }
        parse_time(Op::kRekeyLimit);
      }
      break;
    }
    case Op::kLogFacility: {
      const std::string* arg = next();
      std::optional<std::string> name;
      for (const char* n : kFacilities) {
        if (arg && EqualsNoCase(*arg, n)) name = n;
      }
      if (!name) die("unsupported log facility");
      if (!o.log_facility) o.log_facility = *name;
      break;
    }
    case Op::kLogLevel: {
      const std::string* arg = next();
      int value = -1;
      for (const auto& [n, v] : kLogLevels) {
        if (arg && EqualsNoCase(*arg, n)) {
          value = v;
          break;
        }
      }
      if (value < 0) die("unsupported log level");
      std::string name;
      for (const auto& [n, v] : kLogLevels) {
        if (v == value) {
          name = n;
          break;
        }
      }
      if (act) o.SetFirst(op, name);
      break;
    }
    case Op::kLogVerbose:
    case Op::kAuthenticationMethods:
    case Op::kChannelTimeout: {
      bool found = o.a[op].empty();
      if (op == Op::kAuthenticationMethods) {
        bool any = false, parsed = false;
        for (const auto& arg : av) {
          if (arg == "any") {
            if (!o.a[op].empty()) die("\"any\" must appear alone in " + kw);
            any = true;
          } else if (any) {
            die("\"any\" must appear alone in " + kw);
          }
          parsed = true;
          if (found && act) o.a[op].push_back(arg);
        }
        if (!parsed) die("no " + kw + " specified");
        ai = av.size();
        break;
      }
      for (size_t i = 0; i < av.size(); ++i) {
        if (av[i].empty()) return error("keyword " + kw + " empty argument");
        if (EqualsNoCase(av[i], "none") && (i > 0 || av.size() > 1)) {
          return error("keyword " + kw + " \"none\" argument must appear alone.");
        }
        if (op == Op::kChannelTimeout && !EqualsNoCase(av[i], "none")) {
          size_t eq = av[i].find('=');
          if (eq == std::string::npos || eq == 0 || ConvTime(av[i].substr(eq + 1)) < 0) {
            die("invalid channel timeout");
          }
        }
        if (found && act) o.a[op].push_back(av[i]);
      }
      ai = av.size();
      break;
    }
    case Op::kAllowUsers:
    case Op::kDenyUsers:
    case Op::kAllowGroups:
    case Op::kDenyGroups:
      for (const auto& arg : av) {
        if (arg.empty()) die("empty " + kw + " pattern");
        if ((op == Op::kAllowUsers || op == Op::kDenyUsers)) {
          size_t at = arg.find('@');
          if (at != std::string::npos && AddrMatchList(nullptr, arg.substr(at + 1)) == -2) {
            die("invalid " + kw + " pattern");
          }
        }
      }
      array_append(op);
      break;
    case Op::kSubsystem: {
      const std::string* name = next();
      if (!name || name->empty()) die(kw + " missing argument.");
      if (!act) {
        next();
        break;
      }
      for (const auto& s : o.subsystems) {
        if (s.first == *name) die("Subsystem already defined.");
      }
      const std::string* cmd = next();
      if (!cmd || cmd->empty()) die("Missing subsystem command.");
      std::string args = *cmd;
      while (const std::string* a = next()) args += " " + *a;
      o.subsystems.emplace_back(*name, args);
      break;
    }
    case Op::kMaxStartups: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      int b = 0, r = 0, m = 0;
      int n = std::sscanf(arg->c_str(), "%d:%d:%d", &b, &r, &m);
      if (n >= 1) o.ms_begin = b;
      if (n >= 2) o.ms_rate = r;
      if (n >= 3) o.ms_max = m;
      if (n == 3) {
        if (b > m || r > 100 || r < 1) die("Invalid " + kw + " spec.");
      } else if (n != 1) {
        die("Invalid " + kw + " spec.");
      } else {
        o.ms_max = o.ms_begin;
      }
      if (o.ms_max <= 0 || o.ms_begin <= 0) die("Invalid " + kw + " spec.");
      break;
    }
    case Op::kPerSourceNetBlockSize: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      int v1 = 0, v2 = o.netblock ? o.netblock->second : 128;
      int n = std::sscanf(arg->c_str(), "%d:%d", &v1, &v2);
      if (n == 2 && (v2 < 0 || v2 > 128)) n = -1;
      if ((n == 1 || n == 2) && (v1 < 0 || v1 > 32)) n = -1;
      if (n != 1 && n != 2) die("Invalid " + kw + " spec.");
      if (act) o.netblock = std::make_pair(v1, v2);
      break;
    }
    case Op::kPerSourceMaxStartups: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      int value = INT_MAX;
      if (*arg != "none") {
        auto v = StrToNum(*arg, 0, INT_MAX);
        if (!v) die(kw + " integer value invalid.");
        value = static_cast<int>(*v);
      }
      if (act) o.per_source_max = value;
      break;
    }
    case Op::kAuthorizedKeysFile: {
      bool first = o.a[op].empty();
      for (const auto& arg : av) {
        if (arg.empty()) return error("keyword " + kw + " empty argument");
        if (act && first) o.a[op].push_back(Tilde(arg));
      }
      ai = av.size();
      break;
    }
    case Op::kAuthorizedPrincipalsFile: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      if (act && !o.Has(op)) o.SetFirst(op, Tilde(*arg));
      break;
    }
    case Op::kAcceptEnv:
      for (const auto& arg : av) {
        if (arg.empty() || arg.find('=') != std::string::npos) die("Invalid environment name.");
      }
      array_append(op);
      break;
    case Op::kSetEnv: {
      bool first = o.a[op].empty();
      for (const auto& arg : av) {
        if (arg.empty() || arg.find('=') == std::string::npos) die("Invalid environment.");
        if (!act || !first) continue;
        std::string name = arg.substr(0, arg.find('='));
        bool dup = false;
        for (const auto& e : o.a[op]) dup = dup || e.substr(0, e.find('=')) == name;
        if (!dup) o.a[op].push_back(arg);
      }
      ai = av.size();
      break;
    }
    case Op::kPermitTunnel: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      if (*arg != "no" && *arg != "point-to-point" && *arg != "ethernet" && *arg != "yes") {
        die("bad " + kw + " argument");
      }
      if (act) o.SetFirst(op, *arg);
      break;
    }
    case Op::kInclude: {
      int value = 0;
      for (const auto& arg2 : av) {
        if (arg2.empty()) return error("keyword " + kw + " empty argument");
        ++value;
        std::string sel = (arg2[0] != '/' && arg2[0] != '~') ? "/etc/ssh/" + arg2 : arg2;
        bool oactive = *active;
        unsigned child = (*inc_flags & kMatchOnly) ? kMatchOnly : (oactive ? 0 : kNeverMatch);
        bool found = false;
        for (size_t i = 0; i < includes.size(); ++i) {
          if (includes[i].first != sel) continue;
          found = true;
          std::vector<size_t> idx = includes[i].second;
          for (size_t fi : idx) {
            int saved = p.block;
            ParseFile(p, fi, child, active, depth + 1);
            p.block = saved;
            *active = oactive;
          }
        }
        if (found) continue;
        if (!p.fs) die("include not in cache");  // cannot happen: the first pass loads all
        std::vector<std::string> paths =
            sel[0] == '/' ? Glob(*p.fs, sel) : std::vector<std::string>{};
        if (paths.empty()) {
          includes.push_back({sel, {}});
          continue;
        }
        for (const auto& path : paths) {
          size_t fi = LoadFile(*p.fs, path, file, ln);
          int saved = p.block;
          ParseFile(p, fi, child, active, depth + 1);
          p.block = saved;
          *active = oactive;
          includes.push_back({sel, {fi}});
        }
      }
      if (value == 0) die(kw + " missing filename argument");
      ai = av.size();
      break;
    }
    case Op::kMatch: {
      int value = MatchLine(p, str, file, ln);
      if (value < 0) die("Bad Match condition");
      *active = (*inc_flags & kNeverMatch) ? false : value == 1;
      if (*inc_flags & kNeverMatch) *active = false;
      *inc_flags &= ~kMatchOnly;
      if (p.record) {
        blocks.push_back({str, file, ln, {}});
        p.block = static_cast<int>(blocks.size() - 1);
      }
      ai = av.size();
      break;
    }
    case Op::kPermitOpen:
    case Op::kPermitListen: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      bool first = o.a[op].empty();
      if (*arg == "any" || *arg == "none") {
        if (act && first) o.a[op] = {*arg};
        ai = av.size();
        if (av.size() > 1) return error("keyword " + kw + " extra arguments at end of line");
        break;
      }
      for (size_t i = ai - 1; i < av.size(); ++i) {
        const std::string& x = av[i];
        if (x.empty()) break;
        std::string stored = x, port;
        if (op == Op::kPermitListen && x.find(':') == std::string::npos) {
          stored = "*:" + x;
          port = x;
        } else {
          size_t c;
          if (x[0] == '[') {
            size_t close = x.find(']');
            if (close == std::string::npos || close + 1 >= x.size() || x[close + 1] != ':') {
              die(kw + " missing host");
            }
            c = close + 1;
          } else {
            c = x.find(':');
          }
          if (c == std::string::npos) die(kw + " bad port number");
          port = x.substr(c + 1);
        }
        if (port != "*" && A2Port(port) <= 0) die(kw + " bad port number");
        if (act && first) o.a[op].push_back(stored);
      }
      ai = av.size();
      break;
    }
    case Op::kForceCommand: {
      size_t lead = str.find_first_not_of(" \t\r\n");
      if (act && !o.Has(op)) o.SetFirst(op, lead == std::string::npos ? "" : str.substr(lead));
      ai = av.size();
      break;
    }
    case Op::kChrootDirectory:
    case Op::kAuthorizedKeysCommandUser:
    case Op::kAuthorizedPrincipalsCommandUser: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die("missing " + kw + " argument.");
      if (act && !o.Has(op)) o.SetFirst(op, *arg);
      break;
    }
    case Op::kSecurityKeyProvider: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      if (act && !o.Has(op)) {
        o.SetFirst(op, EqualsNoCase(*arg, "internal") ? *arg : Derelativise(*arg));
      }
      break;
    }
    case Op::kIpQos: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      int v1 = ParseIpQos(*arg);
      if (v1 == -1) die("Bad " + kw + " value");
      int v2 = v1;
      if (const std::string* b = next()) {
        v2 = ParseIpQos(*b);
        if (v2 == -1) die("Bad " + kw + " value");
      }
      if (act) {
        o.ipqos_interactive = v1;
        o.ipqos_bulk = v2;
      }
      break;
    }
    case Op::kVersionAddendum: {
      size_t lead = str.find_first_not_of(" \t\r\n");
      std::string v = lead == std::string::npos ? "" : str.substr(lead);
      if (v.find('\r') != std::string::npos) die("Invalid " + kw + " argument");
      // sshd cuts the line at '#', but its value was taken before: the comment stays.
      if (act && !o.Has(op)) o.SetFirst(op, EqualsNoCase(v, "none") ? "" : v);
      ai = av.size();
      break;
    }
    case Op::kAuthorizedKeysCommand:
    case Op::kAuthorizedPrincipalsCommand: {
      size_t lead = str.find_first_not_of(" \t\r\n");
      std::string v = lead == std::string::npos ? "" : str.substr(lead);
      if ((v.empty() || v[0] != '/') && !EqualsNoCase(v, "none")) {
        die(kw + " must be an absolute path");
      }
      // servconf.c tests authorized_keys_command for both keywords (first value wins for the
      // keys command; the principals command is replaced until a keys command is set).
      if (act && !o.Has(Op::kAuthorizedKeysCommand)) o.s[op] = v;
      ai = av.size();
      break;
    }
    case Op::kStreamLocalBindMask: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      char* end = nullptr;
      long v = std::strtol(arg->c_str(), &end, 8);
      if (end == arg->c_str() || v < 0 || v > 0777) die("Invalid " + kw + ".");
      if (act) o.bind_mask = static_cast<int>(v);
      break;
    }
    case Op::kFingerprintHash: {
      const std::string* arg = next();
      if (!arg || arg->empty()) die(kw + " missing argument.");
      std::optional<std::string> name;
      for (const char* n : {"MD5", "SHA1", "SHA256", "SHA384", "SHA512"}) {
        if (EqualsNoCase(*arg, n)) name = n;
      }
      if (!name) die("Invalid " + kw + " algorithm.");
      if (act) o.fingerprint = *name;
      break;
    }
    case Op::kRDomain:
      die("setting RDomain not supported on this platform.");
      break;
    case Op::kUnusedConnectionTimeout:
      if (!av.empty() && EqualsNoCase(av[0], "none")) {
        ++ai;
        if (act) o.s[op] = "0";
        break;
      }
      parse_time(op);
      break;
    case Op::kDeprecated:
    case Op::kIgnore:
    case Op::kUnsupported:
      ai = av.size();
      break;
    case Op::kBad:
      return false;
  }
  if (ai < av.size()) return error("keyword " + kw + " extra arguments at end of line");
  return true;
}

SshdConfig::SshdConfig() : impl_(std::make_unique<Impl>()) {}
SshdConfig::~SshdConfig() = default;
SshdConfig::SshdConfig(SshdConfig&&) noexcept = default;
SshdConfig& SshdConfig::operator=(SshdConfig&&) noexcept = default;

bool SshdConfig::main_missing() const { return impl_->main_missing; }
bool SshdConfig::would_start() const { return impl_->would_start; }
const std::vector<ConfigIssue>& SshdConfig::issues() const { return impl_->issues; }
const std::vector<ConfigFileRecord>& SshdConfig::files() const { return impl_->files; }
const std::vector<MatchBlock>& SshdConfig::match_blocks() const { return impl_->blocks; }

SshdConfig SshdConfig::Load(const Fs& fs, const AccountDb* accounts, std::string_view main_path,
                            const SshdBuild& build) {
  SshdConfig c;
  Impl& m = *c.impl_;
  m.build = &build;
  m.accounts = accounts;
  try {
    size_t main = m.LoadFile(fs, std::string(main_path), "", 0);
    Impl::Pass p{&m.first_pass, nullptr};
    p.record = true;
    p.fs = &fs;
    bool active = true;
    m.ParseFile(p, main, 0, &active, 0);
    // process_queued_listen_addrs(): ListenAddress needs every Port first.
  } catch (const Fatal& f) {
    m.would_start = false;
    m.issues.push_back(f.issue);
  }
  for (size_t i = 0; i < m.blocks.size(); ++i) {
    for (const auto& s : m.blocks[i].settings) {
      if (s.keyword == "authorizedkeysfile" || s.keyword == "authorizedkeyscommand" ||
          s.keyword == "include") {
        m.key_blocks.push_back(i);
        break;
      }
    }
  }
  return c;
}

}  // namespace tidemark::agent::sshd
