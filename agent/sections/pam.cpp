#include "agent/sections/pam.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>

#include "agent/parsers/pam.h"
#include "agent/parsers/pam_module_conf.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr const char* kPamDir = "/etc/pam.d";
constexpr const char* kVendorDir = "/usr/lib/pam.d";  // Linux-PAM PAM_CONFIG_DIST_D
constexpr const char* kPamConf = "/etc/pam.conf";
constexpr const char* kOther = "other";  // Linux-PAM PAM_DEFAULT_SERVICE
constexpr int kMaxIncludeLevel = 16;     // Linux-PAM PAM_SUBSTACK_MAX_LEVEL
constexpr size_t kMaxFile = 1u << 20;
constexpr size_t kMaxEntriesPerService = 10000;
// Bounds for the whole section (docs/sections/pam.md, "Bounds"): a Debian host has ~40 PAM
// files and ~600 entries; a hostile root must not make the agent read or list without end.
constexpr size_t kMaxFiles = 2000;              // PAM files read (services and includes)
constexpr uint64_t kMaxTotalBytes = 16u << 20;  // of PAM text in all
constexpr size_t kMaxEntries = 50000;           // entries listed over all services
constexpr size_t kMaxErrors = 1000;

struct ParsedFile {
  Status status;
  std::vector<pam::Line> lines;
};

struct Hop {
  std::string file;
  int64_t line;
  std::string directive;  // "@include", "include", "substack"
};

// One expanded entry before it is written out, with the type it covers for the `other`
// fallback ("" = a failed "@include": all types).
struct Entry {
  json item;
  std::string type;
  std::string module;  // for the id
};

class Expander {
 public:
  Expander(const Fs& fs, Section& out, ItemArray& chains, ItemArray& lines)
      : fs_(fs), out_(out), chains_(chains), lines_(lines) {}

  const ParsedFile& Load(const std::string& path) {
    auto& slot = cache_[path];
    if (slot) return *slot;
    slot = std::make_unique<ParsedFile>();
    if (files_read_ >= kMaxFiles || bytes_read_ >= kMaxTotalBytes) {
      slot->status = Status(StatusCode::kTooLarge,
                            "not read: over " + std::to_string(kMaxFiles) + " PAM files or " +
                                std::to_string(kMaxTotalBytes >> 20) + " MiB in all");
      return *slot;
    }
    ReadOptions opts;
    opts.max_bytes = std::min<uint64_t>(kMaxFile, kMaxTotalBytes - bytes_read_);
    auto content = fs_.ReadFile(path, opts);
    if (!content.ok()) {
      slot->status = content.status();
      return *slot;
    }
    ++files_read_;
    bytes_read_ += content->data.size();
    std::vector<SectionError> errors;
    slot->lines = pam::ParseFile(content->data, path, errors);
    for (auto& e : errors) Error(e.path, e.line, e.message);
    return *slot;
  }

  // Appends the entries of `path` for `type` ("" = all types) to `entries`.
  void Expand(const std::string& service, const std::string& path, const std::string& type,
              std::vector<Hop>& chain, int substack, std::vector<Entry>& entries) {
    const ParsedFile& file = Load(path);
    if (!file.status.ok()) return;  // reported by the caller
    ExpandLines(service, path, file.lines, type, chain, substack, entries);
  }

  // The same for lines already parsed (a service's lines of /etc/pam.conf).
  void ExpandLines(const std::string& service, const std::string& path,
                   const std::vector<pam::Line>& lines, const std::string& type,
                   std::vector<Hop>& chain, int substack, std::vector<Entry>& entries) {
    for (const pam::Line& l : lines) {
      if (listed_ + entries.size() >= kMaxEntries) {
        full_ = true;
        return;
      }
      if (entries.size() >= kMaxEntriesPerService) {
        Error(path, l.line,
              "more than " + std::to_string(kMaxEntriesPerService) + " entries for service " +
                  service + "; rest skipped");
        return;
      }
      if (!l.include_all && !type.empty() && l.type != type && l.error.empty()) continue;
      if (!l.error.empty()) {
        Error(path, l.line, l.error);
        entries.push_back(MakeEntry(service, path, l, chain, substack, l.error));
        continue;
      }
      std::string control = l.control;
      for (char& c : control) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool include = l.include_all || control == "include" || control == "substack";
      if (!include) {
        entries.push_back(MakeEntry(service, path, l, chain, substack, ""));
        continue;
      }
      std::string target = Resolve(l.module);
      std::string directive = l.include_all ? "@include" : control;
      std::string problem;
      for (const Hop& h : chain) {
        if (h.file == target) problem = "include loop: " + target + " includes itself";
      }
      if (target == path) problem = "include loop: " + target + " includes itself";
      if (problem.empty() && static_cast<int>(chain.size()) + 1 >= kMaxIncludeLevel) {
        problem = "more than " + std::to_string(kMaxIncludeLevel) + " levels of includes";
      }
      if (problem.empty()) {
        const ParsedFile& inc = Load(target);
        if (!inc.status.ok()) {
          problem = inc.status.code() == StatusCode::kNotFound
                        ? "included file " + target + " does not exist"
                        : "cannot read included file: " + inc.status.message();
        }
      }
      if (!problem.empty()) {
        Error(path, l.line, problem);
        entries.push_back(MakeEntry(service, path, l, chain, substack, problem));
        continue;
      }
      chain.push_back({path, l.line, directive});
      Expand(service, target, l.include_all ? type : l.type, chain,
             substack + (directive == "substack" ? 1 : 0), entries);
      chain.pop_back();
    }
  }

  // pam_handlers.c _pam_open_config_file: an absolute name as given; else /etc/pam.d/NAME,
  // and /usr/lib/pam.d/NAME when that does not exist.
  std::string Resolve(const std::string& name) {
    std::string path = pam::IncludePath(name);
    if (!name.empty() && name.front() == '/') return path;
    if (Load(path).status.code() != StatusCode::kNotFound) return path;
    std::string vendor = JoinPath(kVendorDir, name);
    return Load(vendor).status.ok() ? vendor : path;
  }

  void Error(const std::string& path, std::optional<int64_t> line, const std::string& msg) {
    if (seen_.size() > kMaxErrors) return;
    auto key = path + "\n" + (line ? std::to_string(*line) : "") + "\n" + msg;
    if (!seen_.insert(key).second) return;
    if (seen_.size() > kMaxErrors) {
      out_.AddError("", std::nullopt,
                    "more than " + std::to_string(kMaxErrors) + " PAM errors; the rest not listed");
      return;
    }
    out_.AddError(path, line, msg);
  }

  // Counts entries written; true once the section's cap was reached while expanding.
  void Listed(size_t n) { listed_ += n; }
  bool full() const { return full_; }

 private:
  size_t files_read_ = 0;
  uint64_t bytes_read_ = 0;
  size_t listed_ = 0;
  bool full_ = false;
  // The key of an include chain within its service: the line numbers of its hops joined with
  // '.' ("3" = included by line 3 of the service's file, "3.7" = then by line 7 of that file).
  // Each distinct (service, chain) is written once to `chains`, with id
  // "pam_chain:SERVICE:KEY".
  std::string ChainKey(const std::string& service, const std::string& path,
                       const std::vector<Hop>& chain, int substack) {
    std::string key;
    for (const Hop& h : chain) key += (key.empty() ? "" : ".") + std::to_string(h.line);
    if (written_.insert(service + "\n" + key).second) {
      json via = json::array();
      for (const Hop& h : chain) {
        via.push_back({{"file", h.file}, {"line", h.line}, {"directive", h.directive}});
      }
      json c = {{"id", "pam_chain:" + service + ":" + key},
                {"service", service},
                {"file", path},
                {"via", std::move(via)},
                {"substack_depth", substack}};
      OmitDefaults(c, CompactKind::kPamChain);
      chains_.push_back(c);
    }
    return key;
  }

  // The compact entry (docs/sections/pam.md): keys holding their default are omitted. A line
  // reached through an include is the same in every service that includes it: its content is
  // written once to `lines` (id "pam_line:FILE:LINE") and the entry keeps its identity, type,
  // chain and line.
  Entry MakeEntry(const std::string& service, const std::string& path, const pam::Line& l,
                  const std::vector<Hop>& chain, int substack, const std::string& error) {
    json content;
    if (!l.include_all) content["type"] = l.type;
    content["silent"] = l.silent;
    std::string control = l.include_all ? "@include" : l.control;
    content["control"] = control;
    if (!control.empty() && control.front() == '[') {
      content["actions"] = pam::ParseControl(control, nullptr);
    }
    content["module"] = l.module;
    content["arguments"] = l.arguments;
    json flags = json::object();
    for (const auto& [k, v] : pam::SecurityFlags(l.arguments)) {
      flags[k] = v == "true" ? json(true) : json(v);
    }
    content["flags"] = std::move(flags);
    OmitDefaults(content, CompactKind::kPamLine);
    json j;
    j["service"] = service;
    if (!chain.empty() && error.empty()) {
      std::string id = "pam_line:" + path + ":" + std::to_string(l.line);
      if (lines_written_.insert(id).second) {
        json line = std::move(content);
        line["id"] = id;
        line["source"] = {{"file", path}, {"line", l.line}};
        lines_.push_back(line);
      }
    } else {
      j.update(content);
    }
    if (!chain.empty()) j["chain"] = ChainKey(service, path, chain, substack);
    if (!error.empty()) j["error"] = error;
    j["source"] = {{"line", l.line}};
    std::string module = l.module;
    return {std::move(j), l.include_all ? std::string() : l.type, module};
  }

  const Fs& fs_;
  Section& out_;
  ItemArray& chains_;
  ItemArray& lines_;
  std::set<std::string> lines_written_;
  std::map<std::string, std::unique_ptr<ParsedFile>> cache_;
  std::set<std::string> seen_;
  std::set<std::string> written_;
};

constexpr const char* kFaillockConf = "/etc/security/faillock.conf";
constexpr const char* kPwqualityConf = "/etc/security/pwquality.conf";
constexpr const char* kPwqualityDir = "/etc/security/pwquality.conf.d";
constexpr size_t kMaxDropins = 1000;

// Reads the configuration files of pam_faillock and pam_pwquality as the modules do
// (agent/parsers/pam_module_conf.h) into `files` (one item per file: `pam_module_file:PATH`)
// and `settings` (one item per effective key: `pam_setting:MODULE:KEY`, the last assignment
// the module applies).
class ModuleConfReader {
 public:
  ModuleConfReader(const Fs& fs, Section& out, ItemArray& files, ItemArray& settings)
      : fs_(fs), out_(out), files_(files), settings_(settings) {}

  void Faillock() {
    // pam_faillock.c (1.5.2) args_parse: the file (conf= on the PAM line names another one,
    // see pam_entries) is read before the line's arguments, which override it. A missing
    // default file is not an error: the compiled-in defaults (deny 3, fail_interval 900,
    // unlock_time 600, root_unlock_time = unlock_time) apply. Any other failure to open it
    // makes the module return PAM_SERVICE_ERR.
    std::vector<Assignment> effective;
    Read(pam::ConfModule::kFaillock, kFaillockConf, effective);
    Write(pam::ConfModule::kFaillock, effective);
  }

  void Pwquality() {
    // settings.c pwquality_read_config (libpwquality 1.4.5): first the drop-ins of
    // pwquality.conf.d whose name ends in ".conf" (scandir with filter_conf, sorted by
    // strcmp), then pwquality.conf: a later file's assignment wins. The first file with an
    // unknown key, a bad integer or a malformed line stops the reading (pam_pwquality only
    // logs it): later files are not read. pam_pwquality.c _pam_parse reads them before the
    // PAM line's arguments, which override them.
    std::vector<std::string> paths;
    auto names = fs_.ListDir(kPwqualityDir);
    if (names.ok()) {
      std::vector<std::string> sorted;
      for (const auto& n : *names) {
        if (pam::IsPwqualityDropin(n)) sorted.push_back(n);
      }
      std::sort(sorted.begin(), sorted.end());
      if (sorted.size() > kMaxDropins) {
        out_.NoteTruncated("pwquality.conf.d", kMaxDropins, sorted.size());
        sorted.resize(kMaxDropins);
      }
      for (const auto& n : sorted) paths.push_back(JoinPath(kPwqualityDir, n));
    } else if (names.status().code() != StatusCode::kNotFound) {
      // scandir's errors are ignored by libpwquality; we could not look.
      out_.AddError(kPwqualityDir, std::nullopt, "cannot list: " + names.status().message());
    }
    paths.emplace_back(kPwqualityConf);
    std::vector<Assignment> effective;
    bool stopped = false;
    for (const auto& path : paths) {
      if (stopped) {
        files_.push_back({{"id", "pam_module_file:" + path},
                          {"module", "pwquality"},
                          {"state", "not_read"},
                          {"source", {{"file", path}}}});
        continue;
      }
      stopped = Read(pam::ConfModule::kPwquality, path, effective);
    }
    Write(pam::ConfModule::kPwquality, effective);
  }

 private:
  struct Assignment {
    std::string key;
    std::optional<std::string> value;
    std::string file;
    int64_t line;
  };

  // Reads one file into `effective`; returns true when the module stops reading there.
  bool Read(pam::ConfModule module, const std::string& path, std::vector<Assignment>& effective) {
    std::string name(pam::ConfModuleName(module));
    json file = {{"id", "pam_module_file:" + path}, {"module", name}};
    ReadOptions opts;
    opts.max_bytes = kMaxFile;
    auto content = fs_.ReadFile(path, opts);
    if (!content.ok()) {
      if (content.status().code() == StatusCode::kNotFound) {
        file["state"] = "absent";  // the module's compiled-in defaults apply
      } else {
        // "Could not read" is never "empty": an error naming the file.
        file["state"] = "error";
        file["reason"] = content.status().message();
        out_.AddError(path, std::nullopt, "cannot read: " + content.status().message());
      }
      file["source"] = {{"file", path}};
      files_.push_back(file);
      return false;
    }
    file["state"] = "present";
    pam::ModuleConf conf = pam::ParseModuleConf(content->data, module);
    for (const auto& p : conf.ignored) out_.AddError(path, p.line, p.message);
    if (conf.stop) {
      bool faillock = module == pam::ConfModule::kFaillock;
      file["stop"] = {{"line", conf.stop->line},
                      {"reason", conf.stop->message},
                      {"effect", faillock ? "rejected" : "stopped"}};
      out_.AddError(path, conf.stop->line,
                    conf.stop->message +
                        (faillock ? "; pam_faillock refuses the file (PAM_SERVICE_ERR)"
                                  : "; libpwquality stops reading here and reads no later file"));
    }
    for (auto& s : conf.settings) {
      effective.push_back({s.key, std::move(s.value), path, s.line});
    }
    file["source"] = {{"file", path}};
    files_.push_back(file);
    return conf.stop.has_value();
  }

  // One item per key: the last assignment (each module overwrites the earlier value).
  void Write(pam::ConfModule module, const std::vector<Assignment>& assignments) {
    std::string name(pam::ConfModuleName(module));
    std::map<std::string, const Assignment*> last;
    std::vector<std::string> order;
    for (const Assignment& a : assignments) {
      if (!last.count(a.key)) order.push_back(a.key);
      last[a.key] = &a;
    }
    for (const std::string& key : order) {
      const Assignment& a = *last[key];
      json item = {{"id", "pam_setting:" + name + ":" + key}, {"module", name}, {"key", key}};
      if (a.value) item["value"] = *a.value;  // omitted: a bare flag (null)
      item["source"] = {{"file", a.file}, {"line", a.line}};
      settings_.push_back(item);
    }
  }

  const Fs& fs_;
  Section& out_;
  ItemArray& files_;
  ItemArray& settings_;
};

// Writes one service's expanded stack: entry ids, the service item with the module types that
// fall back to `other` (pam_dispatch.c: a type without handlers uses other's).
void WriteService(const std::string& name, const std::string& file, const std::string& overrides,
                  std::vector<Entry>& entries, ItemArray& services, ItemArray& entries_out) {
  std::map<std::string, int> occurrence;
  std::set<std::string> types;
  bool all_types = false;
  for (Entry& e : entries) {
    std::string module = e.module;
    module = module.substr(module.rfind('/') == std::string::npos ? 0 : module.rfind('/') + 1);
    std::string key = (e.type.empty() ? std::string("any") : e.type) + ":" + module;
    int n = ++occurrence[key];
    e.item["id"] = "pam:" + name + ":" + key + "#" + std::to_string(n);
    if (e.type.empty()) all_types = true;
    types.insert(e.type);
    entries_out.push_back(e.item);
  }
  json svc = {{"id", "pam_service:" + name},
              {"name", name},
              {"state", "present"},
              {"entries", entries.size()},
              {"source", {{"file", file}}}};
  json fallback = json::array();
  if (name != kOther && !all_types) {
    for (const char* t : {"auth", "account", "password", "session"}) {
      if (!types.count(t)) fallback.push_back(t);
    }
  }
  if (!fallback.empty()) svc["other_fallback"] = std::move(fallback);
  if (!overrides.empty()) svc["overrides"] = overrides;
  services.push_back(svc);
}

}  // namespace

namespace {

// The section's item lists; the Expander fills chains and lines.
struct PamItems {
  ItemArray services;
  ItemArray entries;
  ItemArray chains;
  ItemArray lines;

  void MoveTo(Section& out) {
    out.items["services"] = std::move(services);
    out.items["entries"] = std::move(entries);
    out.items["chains"] = std::move(chains);
    out.items["lines"] = std::move(lines);
  }
};

// The services of /etc/pam.d and /usr/lib/pam.d (either listing may be missing).
void ReadPamD(const StatusOr<std::vector<std::string>>& names,
              const StatusOr<std::vector<std::string>>& vendor, Expander& expander, PamItems& items,
              json& other, Section& out) {
  // A service is a file in either directory; /etc/pam.d/NAME wins over /usr/lib/pam.d/NAME
  // unless it does not exist (a dangling link): _pam_open_config_file.
  std::set<std::string> etc_names;
  std::set<std::string> vendor_names;
  if (names.ok()) etc_names.insert(names->begin(), names->end());
  if (vendor.ok()) vendor_names.insert(vendor->begin(), vendor->end());
  std::set<std::string> all = etc_names;
  all.insert(vendor_names.begin(), vendor_names.end());
  size_t done = 0;
  for (const std::string& name : all) {
    if (expander.full()) {
      out.NoteTruncated("services", done, all.size());
      break;
    }
    ++done;
    std::string path = JoinPath(kPamDir, name);
    std::string vendor_path = JoinPath(kVendorDir, name);
    bool has_vendor = vendor_names.count(name) > 0;
    bool overrides = false;
    if (!etc_names.count(name) ||
        (has_vendor && expander.Load(path).status.code() == StatusCode::kNotFound)) {
      path = vendor_path;
    } else {
      overrides = has_vendor;
    }
    const auto& file = expander.Load(path);
    if (name == kOther) other["state"] = file.status.ok() ? "present" : "error";
    if (!file.status.ok()) {
      items.services.push_back({{"id", "pam_service:" + name},
                                {"name", name},
                                {"state", "error"},
                                {"entries", nullptr},
                                {"reason", file.status.message()},
                                {"source", {{"file", path}}}});
      out.AddError(path, std::nullopt, "cannot read: " + file.status.message());
      continue;
    }
    std::vector<Entry> entries;
    std::vector<Hop> chain;
    expander.Expand(name, path, "", chain, 0, entries);
    expander.Listed(entries.size());
    WriteService(name, path, overrides ? vendor_path : "", entries, items.services, items.entries);
  }
}

// The services of /etc/pam.conf, read when neither pam.d directory exists. Returns false when
// the file cannot be read (the section's status says why).
bool ReadPamConf(const Fs& fs, Expander& expander, PamItems& items, json& other, Section& out) {
  ReadOptions opts;
  opts.max_bytes = kMaxFile;
  auto content = fs.ReadFile(kPamConf, opts);
  if (!content.ok()) {
    if (content.status().code() == StatusCode::kNotFound) {
      out.status = SectionStatus::kNotApplicable;
      out.data["reason"] = "no /etc/pam.d or /etc/pam.conf in this root";
    } else {
      out.AddError(kPamConf, std::nullopt, "cannot read: " + content.status().message());
      out.status = SectionStatus::kError;
    }
    return false;
  }
  std::vector<SectionError> errors;
  std::map<std::string, std::vector<pam::Line>> by_service;
  for (pam::Line& l : pam::ParseFile(content->data, kPamConf, errors, true)) {
    by_service[l.service].push_back(std::move(l));
  }
  for (auto& e : errors) expander.Error(e.path, e.line, e.message);
  other["state"] = by_service.count(kOther) ? "present" : "absent";
  for (const auto& [name, service_lines] : by_service) {
    if (expander.full()) break;
    std::vector<Entry> entries;
    std::vector<Hop> chain;
    expander.ExpandLines(name, kPamConf, service_lines, "", chain, 0, entries);
    expander.Listed(entries.size());
    WriteService(name, kPamConf, "", entries, items.services, items.entries);
  }
  return true;
}

}  // namespace

void PamReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  PamItems items;
  Expander expander(fs, out, items.chains, items.lines);
  // pam_handlers.c _pam_init_handlers: when /etc/pam.d or /usr/lib/pam.d is a directory (stat,
  // following links) /etc/pam.conf is ignored; else only /etc/pam.conf is read.
  auto no_dir = [](const Status& st) {
    return st.code() == StatusCode::kNotFound || st.code() == StatusCode::kWrongType;
  };
  auto names = fs.ListDir(kPamDir);
  auto vendor = fs.ListDir(kVendorDir);
  if (!names.ok() && !no_dir(names.status())) {
    out.AddError(kPamDir, std::nullopt, "cannot list: " + names.status().message());
    out.status = SectionStatus::kError;
    out.data["config"] = json::array({kPamDir});
    items.MoveTo(out);
    return;
  }
  if (!vendor.ok() && !no_dir(vendor.status())) {
    out.AddError(kVendorDir, std::nullopt, "cannot list: " + vendor.status().message());
  }
  bool pam_d = names.ok() || vendor.ok();
  json pam_conf = {{"path", kPamConf}, {"in_effect", !pam_d}};
  auto conf_stat = fs.Stat(kPamConf, true);
  if (conf_stat.ok()) {
    pam_conf["state"] = "present";
  } else if (conf_stat.status().code() == StatusCode::kNotFound) {
    pam_conf["state"] = "absent";
  } else {
    pam_conf["state"] = "error";
    pam_conf["reason"] = conf_stat.status().message();
    out.AddError(kPamConf, std::nullopt, "cannot stat: " + conf_stat.status().message());
  }
  json config = json::array();
  if (names.ok()) config.push_back(kPamDir);
  if (vendor.ok()) config.push_back(kVendorDir);
  if (!pam_d) config.push_back(kPamConf);
  out.data["config"] = config;
  json other = {{"service", kOther}, {"state", "absent"}};
  if (pam_d) {
    ReadPamD(names, vendor, expander, items, other, out);
  } else if (!ReadPamConf(fs, expander, items, other, out)) {
    out.data["pam_conf"] = pam_conf;
    items.MoveTo(out);
    return;
  }
  out.data["pam_conf"] = pam_conf;
  out.data["other"] = other;
  if (expander.full()) {
    // Counting the rest would mean expanding it: the total is a lower bound.
    out.NoteTruncated("entries", kMaxEntries, items.entries.size() + 1);
  }
  items.MoveTo(out);

  ItemArray module_files;
  ItemArray module_settings;
  ModuleConfReader reader(fs, out, module_files, module_settings);
  reader.Faillock();
  reader.Pwquality();
  out.items["module_files"] = std::move(module_files);
  out.items["module_settings"] = std::move(module_settings);
}

}  // namespace tidemark::agent
