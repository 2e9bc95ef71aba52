#include "agent/sections/login.h"

#include <algorithm>
#include <map>

#include "agent/conf_files.h"
#include "agent/file_meta.h"
#include "agent/parsers/lines.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kLoginDefs = "/etc/login.defs";
constexpr std::string_view kUseradd = "/etc/default/useradd";
constexpr uint64_t kMaxConfBytes = 4ull << 20;
constexpr size_t kMaxLine = 64 << 10;
// Bounds for hostile files (real ones hold tens of lines).
constexpr size_t kMaxSettingsPerFile = 10000;
constexpr size_t kMaxShellSettings = 10000;
constexpr size_t kMaxPathSources = 1000;
constexpr size_t kMaxPathEntries = 256;
constexpr size_t kMaxPathEntriesTotal = 10000;  // root_path.entries over all sources
constexpr size_t kMaxProfileD = 1000;           // /etc/profile.d/*.sh files read

struct Setting {
  std::string key;
  std::string value;
  int64_t line;
};

// Folds settings in file order: the last one of a key wins; earlier ones are "overridden".
json FoldSettings(const std::vector<Setting>& all, const std::string& id_prefix) {
  std::map<std::string, std::vector<size_t>> by_key;
  for (size_t i = 0; i < all.size(); ++i) by_key[all[i].key].push_back(i);
  json out = json::array();
  for (size_t i = 0; i < all.size(); ++i) {
    const Setting& s = all[i];
    const std::vector<size_t>& lines = by_key[s.key];
    if (lines.back() != i) continue;
    json over = json::array();
    for (size_t k = 0; k + 1 < lines.size(); ++k) {
      const Setting& o = all[lines[k]];
      over.push_back({{"value", o.value}, {"source", {{"line", o.line}}}});
    }
    // Compact (docs/sections/login.md): the file is the object's `path`; no overrides: omitted.
    json j = {{"id", id_prefix + s.key},
              {"key", s.key},
              {"value", s.value},
              {"overridden", std::move(over)},
              {"source", {{"line", s.line}}}};
    OmitDefaults(j, CompactKind::kLoginSetting);
    out.push_back(std::move(j));
  }
  return out;
}

// Appends a setting unless the file already gave kMaxSettingsPerFile; then records one error.
bool AddSetting(std::vector<Setting>& all, Setting s, const std::string& path, Section& out) {
  if (all.size() >= kMaxSettingsPerFile) {
    out.AddError(path, s.line,
                 "more than " + std::to_string(kMaxSettingsPerFile) +
                     " settings; the rest of the file is not read");
    return false;
  }
  all.push_back(std::move(s));
  return true;
}

json FileState(const ConfFile& f) {
  return {{"path", f.path},
          {"state", ConfStateName(f.state)},
          {"reason", f.state == ConfState::kError ? json(f.reason) : json(nullptr)}};
}

// shadow getdef.c def_load(): trailing whitespace trimmed; leading blanks skipped; "#" and empty
// lines ignored; the name runs to the first blank; a line with a name only is ignored; the value
// starts after blanks and double quotes and ends at the next double quote.
std::vector<Setting> ParseLoginDefs(const ConfFile& f, Section& out) {
  std::vector<Setting> all;
  ForEachAcceptedLine(f.data, f.path, kMaxLine, out, [&](std::string_view raw, int64_t number) {
    std::string_view s = raw;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    if (s.empty() || s.front() == '#') return true;
    size_t end = s.find_first_of(" \t");
    if (end == std::string_view::npos) return true;
    std::string_view name = s.substr(0, end);
    std::string_view value = s.substr(end + 1);
    while (!value.empty() &&
           (value.front() == ' ' || value.front() == '"' || value.front() == '\t'))
      value.remove_prefix(1);
    value = value.substr(0, value.find('"'));
    return AddSetting(all, {std::string(name), std::string(value), number}, f.path, out);
  });
  return all;
}

// useradd.c get_defaults(): lines "NAME=value", the value verbatim after the first "=".
std::vector<Setting> ParseUseradd(const ConfFile& f, Section& out) {
  std::vector<Setting> all;
  ForEachAcceptedLine(f.data, f.path, kMaxLine, out, [&](std::string_view raw, int64_t number) {
    if (raw.empty() || raw.front() == '#') return true;
    size_t eq = raw.find('=');
    if (eq == std::string_view::npos || eq == 0) return true;
    return AddSetting(all,
                      {std::string(raw.substr(0, eq)), std::string(raw.substr(eq + 1)), number},
                      f.path, out);
  });
  return all;
}

bool IsVarName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Splits a command line into words (quotes kept, unquoted "#" after a blank ends the line) and
// separators ";", "&&", "||", "|", "&" as words of their own.
std::vector<std::string> Words(std::string_view line) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  auto flush = [&]() {
    if (in_word) words.push_back(cur);
    cur.clear();
    in_word = false;
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '\'' || c == '"') {
      size_t close = line.find(c, i + 1);
      if (close == std::string_view::npos) close = line.size() - 1;
      cur.append(line.substr(i, close - i + 1));
      in_word = true;
      i = close;
    } else if (c == '\\' && i + 1 < line.size()) {
      cur.append(line.substr(i, 2));
      in_word = true;
      ++i;
    } else if (c == ' ' || c == '\t') {
      flush();
    } else if (c == '#' && !in_word) {
      break;
    } else if (c == ';' || c == '&' || c == '|') {
      flush();
      if (i + 1 < line.size() && line[i + 1] == c && c != ';') ++i;
      words.emplace_back(1, ';');
    } else {
      cur += c;
      in_word = true;
    }
  }
  flush();
  return words;
}

std::string Unquote(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\'' || c == '"') {
      size_t close = v.find(c, i + 1);
      if (close == std::string_view::npos) close = v.size();
      out.append(v.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '\\' && i + 1 < v.size()) {
      out += v[++i];
    } else {
      out += c;
    }
  }
  return out;
}

// Follows the one-line root test of Debian's /etc/profile ("if [ \"$(id -u)\" -eq 0 ]; then"
// ... "else" ... "fi") so that the PATH of the else branch is not taken for root's. Not nested.
class RootBranch {
 public:
  void See(std::string_view raw) {
    std::string_view s = TrimBlank(raw);
    auto starts = [&](std::string_view w) {
      return s.rfind(w, 0) == 0 && (s.size() == w.size() || !IsVarChar(s[w.size()]));
    };
    if (starts("if") && s.find("id -u") != std::string_view::npos &&
        s.find("-eq 0") != std::string_view::npos) {
      state_ = kRoot;
    } else if (state_ == kRoot && starts("else")) {
      state_ = kNonRoot;
    } else if (state_ != kNone && starts("fi")) {
      state_ = kNone;
    }
  }
  bool non_root() const { return state_ == kNonRoot; }

 private:
  static bool IsVarChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
  enum { kNone, kRoot, kNonRoot } state_ = kNone;
};

}  // namespace

std::vector<ShellSetting> ScanShellLine(std::string_view line,
                                        const std::vector<std::string_view>& names) {
  std::vector<ShellSetting> out;
  auto wanted = [&](std::string_view n) {
    return std::find(names.begin(), names.end(), n) != names.end();
  };
  std::vector<std::string> words = Words(line);
  size_t i = 0;
  int index = 0;
  static const std::vector<std::string_view> kReserved = {"then", "else", "do", "{",     "(",
                                                          "!",    "elif", "if", "while", "until"};
  while (i < words.size()) {
    // One simple command: skip reserved words, then assignments, then the command word.
    while (i < words.size() && (words[i] == ";" || std::find(kReserved.begin(), kReserved.end(),
                                                             words[i]) != kReserved.end()))
      ++i;
    bool command_seen = false;
    std::string statement = "assignment";
    bool readonly = false, exported = false;
    for (; i < words.size() && words[i] != ";"; ++i) {
      const std::string& w = words[i];
      if (!command_seen) {
        size_t eq = w.find('=');
        if (eq != std::string::npos && IsVarName(std::string_view(w).substr(0, eq))) {
          std::string name = w.substr(0, eq);
          if (wanted(name))
            out.push_back({name, statement, Unquote(std::string_view(w).substr(eq + 1)), false,
                           false, index++});
          continue;
        }
        command_seen = true;
        if (w == "readonly" || w == "export" || w == "declare" || w == "typeset" || w == "local") {
          statement = w;
          readonly = w == "readonly";
          exported = w == "export";
          continue;
        }
        if (w == "umask") {
          std::optional<std::string> value;
          for (++i; i < words.size() && words[i] != ";"; ++i) {
            if (words[i].size() > 1 && words[i][0] == '-') continue;  // -S, -p
            value = Unquote(words[i]);
            ++i;
            break;
          }
          while (i < words.size() && words[i] != ";") ++i;
          if (wanted("umask")) out.push_back({"umask", "umask", value, false, false, index++});
          break;
        }
        // Another command: its arguments are not assignments.
        while (i < words.size() && words[i] != ";") ++i;
        break;
      }
      // Arguments of readonly/export/declare/typeset/local.
      if (statement == "assignment") break;
      if (w.size() > 1 && w[0] == '-') {
        if (w.find('r') != std::string::npos) readonly = true;
        if (w.find('x') != std::string::npos) exported = true;
        continue;
      }
      size_t eq = w.find('=');
      std::string name = w.substr(0, eq);
      if (!IsVarName(name) || !wanted(name)) continue;
      std::optional<std::string> value;
      if (eq != std::string::npos) value = Unquote(std::string_view(w).substr(eq + 1));
      out.push_back({name, statement, value, readonly, exported, index++});
    }
  }
  return out;
}

namespace {

// One source of root's PATH: login.defs, /etc/environment or an assignment in a shell file.
struct PathSource {
  std::string origin;
  std::string file;
  int64_t line;
  std::string value;
  int index;
  bool applies_to_root = true;
};

// The checks on one directory of root's PATH, as flags; `info` is set when it could be stat()ed.
json PathDirectoryFlags(const Fs& fs, const std::string& dir, std::optional<FileInfo>& info,
                        Section& out) {
  json flags = json::array();
  if (dir.empty()) {
    flags.push_back("empty");
  } else if (dir.find('$') != std::string::npos || dir.front() == '~' ||
             dir.find('`') != std::string::npos) {
    flags.push_back("variable");
  } else if (dir.front() != '/') {
    flags.push_back("relative");
  } else {
    StatusOr<FileInfo> st = fs.Stat(dir, true);
    if (st.ok()) {
      info = *st;
      if (st->type != FileType::kDirectory) flags.push_back("not_directory");
      if (st->uid != 0) flags.push_back("not_root_owned");
      if (st->mode & 020) flags.push_back("group_writable");
      if (st->mode & 002) flags.push_back("world_writable");
    } else if (st.status().code() == StatusCode::kNotFound) {
      flags.push_back("missing");
    } else {
      flags.push_back("unreadable");
      out.AddError(dir, std::nullopt, "cannot stat PATH directory: " + st.status().message());
    }
  }
  return flags;
}

// One collection of the login section, in the order Collect calls its steps.
class LoginRun {
 public:
  LoginRun(const Fs& fs, const AccountDb& db, Section& out) : fs_(fs), db_(db), out_(out) {}

  // login.defs and useradd defaults.
  void ReadDefaults() {
    defs_ = ReadConf(fs_, kLoginDefs, out_, kMaxConfBytes);
    if (defs_.state == ConfState::kPresent) defs_all_ = ParseLoginDefs(defs_, out_);
    json jdefs = FileState(defs_);
    jdefs["settings"] =
        defs_.state == ConfState::kPresent ? FoldSettings(defs_all_, "login_defs:") : json(nullptr);
    out_.data["login_defs"] = std::move(jdefs);

    ConfFile useradd = ReadConf(fs_, kUseradd, out_, kMaxConfBytes);
    json juseradd = FileState(useradd);
    juseradd["settings"] = useradd.state == ConfState::kPresent
                               ? FoldSettings(ParseUseradd(useradd, out_), "useradd:")
                               : json(nullptr);
    out_.data["useradd"] = std::move(juseradd);
  }

  // TMOUT and umask in the startup files: /etc/profile, what it sources from /etc/profile.d
  // (*.sh), and /etc/bash.bashrc.
  void ScanStartupFiles() {
    std::vector<std::string> shell_files = {"/etc/profile"};
    json profile_d = {{"path", "/etc/profile.d"}, {"state", "present"}, {"reason", nullptr}};
    StatusOr<std::vector<std::string>> names = fs_.ListDir("/etc/profile.d");
    size_t profile_d_total = 0;
    if (names.ok()) {
      for (const std::string& n : *names) {
        if (n.size() > 3 && n.compare(n.size() - 3, 3, ".sh") == 0 && n.front() != '.' &&
            ++profile_d_total <= kMaxProfileD)
          shell_files.push_back(JoinPath("/etc/profile.d", n));
      }
      if (profile_d_total > kMaxProfileD) {
        out_.NoteTruncated("shell_files", kMaxProfileD + 2, profile_d_total + 2);
      }
    } else {
      bool absent = names.status().code() == StatusCode::kNotFound;
      profile_d["state"] = absent ? "absent" : "error";
      profile_d["reason"] = absent ? json(nullptr) : json(names.status().message());
      if (!absent)
        out_.AddError("/etc/profile.d", std::nullopt, "cannot list: " + names.status().message());
    }
    shell_files.push_back("/etc/bash.bashrc");
    // Root's PATH starts with login.defs (the other sources are read after the startup files).
    AddLoginDefsPathSources();
    json files = json::array();
    for (const std::string& p : shell_files) Scan(p, true, p == "/etc/profile", files);
    out_.data["shell_files"] = std::move(files);
    out_.data["profile_d"] = std::move(profile_d);
  }

  // Root's PATH: login.defs ENV_SUPATH/ENV_PATH, /etc/environment, and PATH assignments in
  // /etc/profile, ~root/.profile, ~root/.bash_profile, ~root/.bashrc.
  void ReadRootPath() {
    const PasswdEntry* root = db_.FindUser("root");
    root_home_ = root && !root->home.empty() && root->home.front() == '/' ? root->home : "/root";
    // /etc/environment (pam_env): "[export ]PATH=value" lines.
    ConfFile env = ReadConf(fs_, "/etc/environment", out_, kMaxConfBytes);
    path_files_.push_back(FileState(env));
    if (env.state == ConfState::kPresent) {
      ForEachAcceptedLine(env.data, env.path, kMaxLine, out_,
                          [&](std::string_view raw, int64_t number) {
                            std::string_view s = TrimBlank(raw);
                            if (s.rfind("export ", 0) == 0) s = TrimBlank(s.substr(7));
                            if (s.rfind("PATH=", 0) == 0)
                              AddSource({"environment", env.path, number, Unquote(s.substr(5)), 0});
                            return true;
                          });
    }
    for (const char* name : {".profile", ".bash_profile", ".bashrc"}) {
      Scan(JoinPath(root_home_, name), false, true, path_files_);
    }
  }

  // Writes the shell settings and root's PATH, its sources and each directory's checks.
  void Finish() {
    if (settings_total_ > kMaxShellSettings) {
      out_.NoteTruncated("shell_settings", kMaxShellSettings, settings_total_);
    }
    if (sources_total_ > kMaxPathSources) {
      out_.NoteTruncated("root_path.sources", kMaxPathSources, sources_total_);
    }
    json sources = json::array();
    json entries = json::array();
    bool entries_full = false;
    for (const PathSource& ps : path_sources_) {
      std::string at = ps.file + ":" + std::to_string(ps.line) + ":" + std::to_string(ps.index);
      sources.push_back({{"id", "root_path_source:" + at},
                         {"origin", ps.origin},
                         {"applies_to_root", ps.applies_to_root},
                         {"value", ps.value},
                         {"source", SourceJson(ps.file, ps.line)}});
      if (!AddPathEntries(ps, at, entries)) entries_full = true;
    }
    if (entries_full) {
      // Counting the rest would mean splitting every PATH: the total is a lower bound.
      out_.NoteTruncated("root_path.entries", kMaxPathEntriesTotal, kMaxPathEntriesTotal + 1);
    }
    out_.data["shell_settings"] = std::move(settings_);
    out_.data["root_path"] = {{"home", root_home_},
                              {"files", std::move(path_files_)},
                              {"sources", std::move(sources)},
                              {"entries", std::move(entries)}};
  }

 private:
  void AddSource(PathSource ps) {
    if (++sources_total_ > kMaxPathSources) return;
    path_sources_.push_back(std::move(ps));
  }

  void AddLoginDefsPathSources() {
    for (const Setting& s : defs_all_) {
      if (s.key != "ENV_SUPATH" && s.key != "ENV_PATH") continue;
      std::string v = s.value;
      // login(1): a value with "=" is NAME=value; without, it is the PATH itself.
      if (size_t eq = v.find('='); eq != std::string::npos) {
        if (v.compare(0, eq, "PATH") != 0) continue;
        v = v.substr(eq + 1);
      }
      // login(1) and su(1) give root ENV_SUPATH; ENV_PATH is for other users.
      AddSource({s.key, defs_.path, s.line, v, 0, s.key == "ENV_SUPATH"});
    }
  }

  // Scans a shell file for TMOUT/umask settings (for_tmout) and PATH assignments (for_path),
  // recording the file's state in `file_list`.
  void Scan(const std::string& path, bool for_tmout, bool for_path, json& file_list) {
    ConfFile f = ReadConf(fs_, path, out_, kMaxConfBytes);
    file_list.push_back(FileState(f));
    if (f.state != ConfState::kPresent) return;
    std::vector<std::string_view> wanted;
    if (for_tmout) {
      wanted.push_back("TMOUT");
      wanted.push_back("umask");
    }
    if (for_path) wanted.push_back("PATH");
    RootBranch branch;
    ForEachAcceptedLine(f.data, path, kMaxLine, out_, [&](std::string_view raw, int64_t number) {
      branch.See(raw);
      for (ShellSetting& s : ScanShellLine(raw, wanted)) {
        if (s.name == "PATH") {
          if (s.value) AddSource({"shell", path, number, *s.value, s.index, !branch.non_root()});
          continue;
        }
        if (++settings_total_ > kMaxShellSettings) continue;
        settings_.push_back({{"id", "shell_setting:" + path + ":" + std::to_string(number) + ":" +
                                        std::to_string(s.index)},
                             {"name", s.name},
                             {"statement", s.statement},
                             {"value", s.value ? json(*s.value) : json(nullptr)},
                             {"readonly", s.readonly},
                             {"exported", s.exported},
                             {"source", SourceJson(path, number)}});
      }
      return true;
    });
  }

  // Splits one PATH value into its checked directories. Returns false when the bound on all
  // entries stopped it.
  bool AddPathEntries(const PathSource& ps, const std::string& at, json& entries) {
    size_t pos = 0;
    int n = 0;
    while (true) {
      if (entries.size() >= kMaxPathEntriesTotal) return false;
      if (n >= static_cast<int>(kMaxPathEntries)) {
        out_.AddError(ps.file, ps.line,
                      "PATH with more than " + std::to_string(kMaxPathEntries) +
                          " entries; the rest are not checked");
        return true;
      }
      size_t colon = ps.value.find(':', pos);
      std::string dir =
          ps.value.substr(pos, colon == std::string::npos ? std::string::npos : colon - pos);
      json j = {{"id", "root_path:" + at + ":" + std::to_string(n)},
                {"origin", ps.origin},
                {"applies_to_root", ps.applies_to_root},
                {"index", n},
                {"directory", dir},
                {"source", SourceJson(ps.file, ps.line)}};
      std::optional<FileInfo> info;
      json flags = PathDirectoryFlags(fs_, dir, info, out_);
      AddFileMeta(j, info, db_);
      j["flags"] = std::move(flags);
      // Compact (docs/sections/login.md): nulls and no flags omitted.
      OmitDefaults(j, CompactKind::kPathEntry);
      entries.push_back(std::move(j));
      ++n;
      if (colon == std::string::npos) return true;
      pos = colon + 1;
    }
  }

  const Fs& fs_;
  const AccountDb& db_;
  Section& out_;
  ConfFile defs_;
  std::vector<Setting> defs_all_;
  std::string root_home_;
  std::vector<PathSource> path_sources_;
  size_t sources_total_ = 0;
  json settings_ = json::array();
  size_t settings_total_ = 0;
  json path_files_ = json::array();
};

}  // namespace

void LoginReader::Collect(CollectContext& ctx, Section& out) {
  LoginRun run(ctx.fs(), ctx.accounts(), out);
  run.ReadDefaults();
  run.ScanStartupFiles();
  run.ReadRootPath();
  run.Finish();
}

}  // namespace tidemark::agent
