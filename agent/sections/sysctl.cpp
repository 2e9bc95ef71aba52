#include "agent/sections/sysctl.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "agent/conf_files.h"
#include "agent/file_meta.h"
#include "agent/parsers/sysctl_conf.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using sysctl::Assignment;

// sysctl.d(5), systemd 252 CONF_PATHS("sysctl.d"), highest precedence first. /lib/sysctl.d is
// read by split-/usr builds; on a merged-/usr root it is the same directory as /usr/lib/sysctl.d
// and is then skipped.
constexpr std::string_view kDirs[] = {"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
                                      "/usr/lib/sysctl.d", "/lib/sysctl.d"};
constexpr std::string_view kSysctlConf = "/etc/sysctl.conf";
constexpr uint64_t kMaxConfBytes = 4ull << 20;
// Caps on what a hostile root can make the section read and list (docs/sections/sysctl.md,
// "Bounds"); a Debian host has ~10 files and ~30 assignments.
constexpr size_t kMaxFiles = 10000;             // .conf names listed over the directories
constexpr uint64_t kMaxTotalBytes = 32u << 20;  // of configuration text read in all
constexpr size_t kMaxAssignments = 50000;       // assignments listed (settings follow from them)

struct ConfEntry {
  std::string name;
  std::string path;
  // "read", "masks", "dangling", "skipped", "error" (claims its name); "overridden", "masked".
  std::string state;
  std::string reason;
  std::string winner;  // the path that overrides or masks this one
  std::optional<std::string> link_target;
  std::optional<FileInfo> info;
};

struct Ref {
  std::string file;
  int64_t line;
  std::optional<std::string> value;
};

struct Option {
  Assignment a;
  std::string file;
  bool removed = false;
  std::vector<Ref> overridden;
};

json RefJson(const Ref& r) {
  return {{"value", r.value ? json(*r.value) : json(nullptr)},
          {"source", SourceJson(r.file, r.line)}};
}

// The fields an assignment and a setting share (docs/sections/sysctl.md), before the compact
// form leaves out their defaults.
void AddAssignmentFields(const Assignment& a, const std::string& file, json& j) {
  j["value"] = a.value ? json(*a.value) : json(nullptr);
  j["kind"] = a.value ? "assignment" : "exclusion";
  j["glob"] = a.glob;
  j["ignore_failure"] = a.ignore_failure;
  j["source"] = SourceJson(file, a.line);
}

json AssignmentJson(const Assignment& a, const std::string& file) {
  json j = {{"id", "sysctl_assignment:" + file + ":" + std::to_string(a.line)},
            {"key", a.key},
            {"path", "/proc/sys/" + a.path}};
  AddAssignmentFields(a, file, j);
  OmitDefaults(j, CompactKind::kSysctlAssignment);
  return j;
}

std::string CollapseBlanks(std::string_view s) {
  std::string out;
  bool blank = false;
  for (char c : s) {
    if (IsBlank(c) || c == '\n') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += c;
  }
  return out;
}

}  // namespace

const std::vector<std::string_view>& SysctlKeys() {
  static const std::vector<std::string_view> keys = {
      // Routing and forwarding.
      "net.ipv4.ip_forward",
      "net.ipv4.conf.all.forwarding",
      "net.ipv4.conf.default.forwarding",
      "net.ipv6.conf.all.forwarding",
      "net.ipv6.conf.default.forwarding",
      // Redirects, source routing, reverse-path filtering, martians.
      "net.ipv4.conf.all.send_redirects",
      "net.ipv4.conf.default.send_redirects",
      "net.ipv4.conf.all.accept_redirects",
      "net.ipv4.conf.default.accept_redirects",
      "net.ipv6.conf.all.accept_redirects",
      "net.ipv6.conf.default.accept_redirects",
      "net.ipv4.conf.all.secure_redirects",
      "net.ipv4.conf.default.secure_redirects",
      "net.ipv4.conf.all.accept_source_route",
      "net.ipv4.conf.default.accept_source_route",
      "net.ipv6.conf.all.accept_source_route",
      "net.ipv6.conf.default.accept_source_route",
      "net.ipv4.conf.all.rp_filter",
      "net.ipv4.conf.default.rp_filter",
      "net.ipv4.conf.all.log_martians",
      "net.ipv4.conf.default.log_martians",
      // TCP and ICMP.
      "net.ipv4.tcp_syncookies",
      "net.ipv4.icmp_echo_ignore_broadcasts",
      "net.ipv4.icmp_ignore_bogus_error_responses",
      // IPv6 router advertisements.
      "net.ipv6.conf.all.accept_ra",
      "net.ipv6.conf.default.accept_ra",
      "net.ipv6.conf.all.disable_ipv6",
      "net.ipv6.conf.default.disable_ipv6",
      // Kernel hardening.
      "kernel.randomize_va_space",
      "kernel.yama.ptrace_scope",
      "kernel.kptr_restrict",
      "kernel.dmesg_restrict",
      "kernel.unprivileged_bpf_disabled",
      "net.core.bpf_jit_harden",
      "kernel.perf_event_paranoid",
      "kernel.sysrq",
      "kernel.kexec_load_disabled",
      "kernel.modules_disabled",
      "kernel.core_uses_pid",
      "kernel.unprivileged_userns_clone",
      "user.max_user_namespaces",
      "vm.unprivileged_userfaultfd",
      "dev.tty.ldisc_autoload",
      // Filesystem protections.
      "fs.suid_dumpable",
      "fs.protected_hardlinks",
      "fs.protected_symlinks",
      "fs.protected_fifos",
      "fs.protected_regular",
  };
  return keys;
}

namespace {

// 1. Which files systemd-sysctl reads. systemd 252 lists them with conf_files_list_strv(...,
//    flags 0): per name (hidden names skipped), the entry in the first directory in
//    precedence order claims it, whatever it is; it is never stat()ed first. So a directory,
//    FIFO or dangling link in /etc hides the vendor file of that name just as /dev/null does.
struct FileList {
  json dirs = json::array();
  std::vector<ConfEntry> entries;
  ConfEntry sysctl_conf;
  std::vector<const ConfEntry*> to_read;  // into entries and sysctl_conf: filled in place
  std::string conf_mode = "absent";
};

void ListFiles(const Fs& fs, Section& out, FileList& list) {
  std::set<std::pair<uint64_t, uint64_t>> seen_dirs;
  ConfFilesList<size_t> claimed(".conf");  // name -> index in entries of the claiming entry
  std::vector<ConfEntry>& entries = list.entries;
  size_t names_total = 0;  // .conf names seen, listed or not
  for (std::string_view dir : kDirs) {
    json jd = {{"path", std::string(dir)}, {"state", "absent"}, {"reason", nullptr}};
    StatusOr<FileInfo> st = fs.Stat(dir, true);
    if (st.ok() && st->type == FileType::kDirectory &&
        !seen_dirs.insert({st->dev, st->ino}).second) {
      jd["state"] = "same_as_earlier";  // e.g. /lib/sysctl.d -> usr/lib/sysctl.d
      list.dirs.push_back(std::move(jd));
      continue;
    }
    StatusOr<std::vector<std::string>> names = fs.ListDir(dir);
    if (!names.ok()) {
      if (names.status().code() != StatusCode::kNotFound) {
        jd["state"] = "error";
        jd["reason"] = names.status().message();
        out.AddError(std::string(dir), std::nullopt, "cannot list: " + names.status().message());
      }
      list.dirs.push_back(std::move(jd));
      continue;
    }
    jd["state"] = "present";
    list.dirs.push_back(std::move(jd));
    for (const std::string& name : *names) {
      if (!claimed.Considers(name)) continue;
      if (++names_total > kMaxFiles) continue;
      ConfEntry e;
      e.name = name;
      e.path = JoinPath(dir, name);
      if (const size_t* winner_index = claimed.Add(name, entries.size())) {
        const ConfEntry& winner = entries[*winner_index];
        e.state = winner.state == "read" ? "overridden" : "masked";
        e.winner = winner.path;
        entries.push_back(std::move(e));
        continue;
      }
      StatusOr<FileInfo> lst = fs.Stat(e.path, false);
      if (lst.ok() && lst->type == FileType::kSymlink) {
        StatusOr<std::string> target = fs.ReadLink(e.path);
        if (target.ok()) e.link_target = *target;
      }
      StatusOr<FileInfo> fst = fs.Stat(e.path, true);
      if (fst.ok()) e.info = *fst;
      // A link to /dev/null masks even in an offline root without /dev.
      bool to_dev_null = e.link_target && !e.link_target->empty() &&
                         NormalizePath(e.link_target->front() == '/'
                                           ? *e.link_target
                                           : JoinPath(dir, *e.link_target)) == "/dev/null";
      if (to_dev_null || (fst.ok() && ((fst->type == FileType::kRegular && fst->size == 0) ||
                                       fst->type == FileType::kCharDevice))) {
        e.state = "masks";  // read by systemd-sysctl, yields nothing
      } else if (!fst.ok() && fst.status().code() == StatusCode::kNotFound) {
        e.state = "dangling";  // systemd-sysctl ignores ENOENT silently
        e.reason = "dangling symlink";
      } else if (!fst.ok()) {
        e.state = "error";
        e.reason = fst.status().message();
        out.AddError(e.path, std::nullopt, "cannot stat: " + e.reason);
      } else if (fst->type != FileType::kRegular) {
        e.state = "skipped";
        e.reason = std::string("a ") + std::string(FileTypeName(fst->type)) +
                   ", not a regular file: systemd-sysctl fails on it (a FIFO blocks it), and "
                   "files of this name in later directories are not read";
        out.AddError(e.path, std::nullopt, e.reason);
      } else {
        e.state = "read";
      }
      entries.push_back(std::move(e));
    }
  }
  if (names_total > kMaxFiles) out.NoteTruncated("files", kMaxFiles, names_total);
  // The claiming entries in name order: the order systemd-sysctl (and --cat-config) goes.
  std::vector<const ConfEntry*>& to_read = list.to_read;
  for (const auto& [name, index] : claimed.claimed()) to_read.push_back(&entries[index]);
}

// /etc/sysctl.conf: procps `sysctl --system` reads it last; systemd-sysctl reads it only
// through Debian's /etc/sysctl.d/99-sysctl.conf link.
void AddSysctlConf(const Fs& fs, Section& out, FileList& list) {
  std::string& conf_mode = list.conf_mode;
  ConfEntry& sysctl_conf = list.sysctl_conf;
  StatusOr<FileInfo> st = fs.Stat(kSysctlConf, true);
  if (st.ok()) {
    bool linked = false;
    for (const ConfEntry* e : list.to_read) {
      if (e->info && e->info->dev == st->dev && e->info->ino == st->ino) linked = true;
    }
    if (linked) {
      conf_mode = "linked";
    } else {
      conf_mode = "appended";
      sysctl_conf.name = "sysctl.conf";
      sysctl_conf.path = std::string(kSysctlConf);
      sysctl_conf.state = "read";
      sysctl_conf.info = *st;
      list.to_read.push_back(&sysctl_conf);
    }
  } else if (st.status().code() != StatusCode::kNotFound) {
    conf_mode = "error";
    out.AddError(std::string(kSysctlConf), std::nullopt, "cannot stat: " + st.status().message());
  }
}

// 2. Parse in order; systemd-sysctl keeps one option per key in an ordered map: a repeated
//    equal value keeps the earlier option, a different value replaces it (moved to the end).
struct ParsedFiles {
  ItemArray assignments;
  std::vector<Option> options;
  std::map<std::string, std::string> read_state;  // path -> "read" or "error"
};

void ParseFiles(const Fs& fs, const std::vector<const ConfEntry*>& to_read, Section& out,
                ParsedFiles& result) {
  ItemArray& assignments = result.assignments;
  std::vector<Option>& options = result.options;
  std::map<std::string, size_t> by_path;
  std::map<std::string, std::string>& read_state = result.read_state;
  uint64_t bytes_read = 0;
  size_t assignments_total = 0;
  for (const ConfEntry* e : to_read) {
    if (e->state != "read") continue;
    if (bytes_read >= kMaxTotalBytes) {
      read_state[e->path] = "error";
      out.AddError(e->path, std::nullopt,
                   "not read: the sysctl files before it hold over " +
                       std::to_string(kMaxTotalBytes >> 20) + " MiB");
      continue;
    }
    ConfFile f =
        ReadConf(fs, e->path, out, std::min<uint64_t>(kMaxConfBytes, kMaxTotalBytes - bytes_read),
                 /*required=*/true);
    if (f.state != ConfState::kPresent) {
      read_state[e->path] = "error";
      continue;
    }
    read_state[e->path] = "read";
    bytes_read += f.data.size();
    std::vector<SectionError> errs;
    std::vector<Assignment> parsed = sysctl::ParseSysctlConf(f.data, e->path, errs);
    LineErrorSink sink(e->path);
    sink.Take(out, errs);
    sink.Flush(out);
    for (Assignment& a : parsed) {
      // Past the cap nothing is listed or applied: the settings would be wrong otherwise.
      if (++assignments_total > kMaxAssignments) continue;
      auto it = by_path.find(a.path);
      if (it != by_path.end()) {
        Option& old = options[it->second];
        if (old.a.value == a.value) {
          old.a.ignore_failure = old.a.ignore_failure || a.ignore_failure;
          old.overridden.push_back({e->path, a.line, a.value});  // same value: earlier one kept
          assignments.push_back(AssignmentJson(a, e->path));
          continue;
        }
        old.removed = true;
        Option next{a, e->path, false, std::move(old.overridden)};
        next.overridden.push_back({old.file, old.a.line, old.a.value});
        by_path[a.path] = options.size();
        options.push_back(std::move(next));
      } else {
        by_path[a.path] = options.size();
        options.push_back({a, e->path, false, {}});
      }
      assignments.push_back(AssignmentJson(a, e->path));
    }
  }

  if (assignments_total > kMaxAssignments) {
    out.NoteTruncated("assignments", kMaxAssignments, assignments_total);
  }
}

// The files in the order systemd-sysctl reads them, then the ones it does not read.
json FilesJson(const FileList& list, const std::map<std::string, std::string>& read_state,
               const AccountDb& db) {
  json files = json::array();
  auto file_json = [&](const ConfEntry& e) {
    std::string state = e.state;
    auto rs = read_state.find(e.path);
    if (state == "read" && rs != read_state.end()) state = rs->second;
    // Compact: null keys are left out; the entry is its own source (no `source`).
    json j = {
        {"id", "sysctl_file:" + e.path}, {"path", e.path}, {"name", e.name}, {"state", state}};
    if (!e.reason.empty()) j["reason"] = e.reason;
    if (!e.winner.empty()) j["overridden_by"] = e.winner;
    if (e.link_target) j["link_target"] = *e.link_target;
    AddFileMeta(j, e.info, db);
    OmitDefaults(j);
    return j;
  };
  // Files in the order systemd-sysctl reads them, then the ones it does not read.
  std::set<std::string> listed;
  int order = 0;
  for (const ConfEntry* e : list.to_read) {
    json j = file_json(*e);
    j["order"] = order++;
    files.push_back(std::move(j));
    listed.insert(e->path);
  }
  for (const ConfEntry& e : list.entries) {
    if (listed.count(e.path)) continue;
    json j = file_json(e);  // not read: `order` null, left out
    files.push_back(std::move(j));
  }
  return files;
}

// 3. The winner per key, in the order systemd-sysctl applies them.
struct Applied {
  std::vector<const Option*> options;
  std::vector<Assignment> assignments;  // options' assignments, for sysctl::FindConfigured
};

ItemArray Settings(const std::vector<Option>& options, Applied& applied) {
  ItemArray settings;
  for (const Option& o : options) {
    if (o.removed) continue;
    applied.options.push_back(&o);
    applied.assignments.push_back(o.a);
    json over = json::array();
    for (const Ref& r : o.overridden) over.push_back(RefJson(r));
    // `key` and `path` are not repeated: the id is "sysctl:KEY", the path follows from KEY.
    json j = {{"id", "sysctl:" + o.a.key}};
    AddAssignmentFields(o.a, o.file, j);
    j["overridden"] = std::move(over);
    OmitDefaults(j, CompactKind::kSysctlSetting);
    settings.push_back(j);
  }
  return settings;
}

// 4. Runtime values (live host only), each with the value configured for it.
json Runtime(const Fs& fs, const Applied& applied, Section& out) {
  json runtime = json::array();
  for (std::string_view key : SysctlKeys()) {
    std::string norm = sysctl::NormalizeKey(key);
    std::string path = "/proc/sys/" + norm;
    // Compact (docs/sections/sysctl.md): null keys and `state` "present" omitted; `key` and
    // `path` follow from the id; the item is its own source ({file: path}).
    json j = {{"id", "sysctl_runtime:" + std::string(key)}, {"state", "present"}};
    ReadOptions ro;
    ro.max_bytes = 64 << 10;
    StatusOr<FileContent> r = fs.ReadFile(path, ro);
    std::optional<std::string> value;
    if (r.ok()) {
      std::string v = std::move(r->data);
      if (!v.empty() && v.back() == '\n') v.pop_back();
      value = v;
    } else if (r.status().code() == StatusCode::kNotFound) {
      j["state"] = "absent";
      j["reason"] = "not provided by this kernel";
    } else {
      j["state"] = "error";
      j["reason"] = r.status().message();
      out.AddError(path, std::nullopt, "cannot read: " + r.status().message());
    }
    j["value"] = value ? json(*value) : json(nullptr);
    // The configured value: an explicit option wins over any glob (an exclusion blocks
    // globs); among globs the last applied one wins.
    const Option* conf = nullptr;
    if (std::optional<size_t> k = sysctl::FindConfigured(applied.assignments, norm))
      conf = applied.options[*k];
    if (conf && conf->a.value) {
      j["configured_value"] = *conf->a.value;
      j["configured_source"] = SourceJson(conf->file, conf->a.line);
      j["matches_configured"] =
          value ? json(CollapseBlanks(*value) == CollapseBlanks(*conf->a.value)) : json(nullptr);
    } else {
      j["configured_value"] = nullptr;
      j["configured_source"] = conf ? SourceJson(conf->file, conf->a.line) : json(nullptr);
      j["matches_configured"] = nullptr;
    }
    OmitDefaults(j, CompactKind::kSysctlRuntime);
    runtime.push_back(std::move(j));
  }
  return runtime;
}

}  // namespace

void SysctlReader::Collect(CollectContext& ctx, Section& out) {
  FileList list;
  ListFiles(ctx.fs(), out, list);
  AddSysctlConf(ctx.fs(), out, list);
  ParsedFiles parsed;
  ParseFiles(ctx.fs(), list.to_read, out, parsed);
  Applied applied;
  ItemArray settings = Settings(parsed.options, applied);
  out.data["runtime_status"] = ctx.live() ? "collected" : "not_applicable";
  out.data["runtime"] = ctx.live() ? Runtime(ctx.fs(), applied, out) : json::array();
  out.data["directories"] = std::move(list.dirs);
  out.data["sysctl_conf"] = list.conf_mode;
  out.data["files"] = FilesJson(list, parsed.read_state, ctx.accounts());
  out.items["assignments"] = std::move(parsed.assignments);
  out.items["settings"] = std::move(settings);
}

}  // namespace tidemark::agent
