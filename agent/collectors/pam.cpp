#include "agent/collectors/pam.h"

#include <map>
#include <memory>
#include <set>

#include "agent/parsers/pam.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr const char* kPamDir = "/etc/pam.d";
constexpr int kMaxIncludeLevel = 16;  // Linux-PAM PAM_SUBSTACK_MAX_LEVEL
constexpr size_t kMaxFile = 1u << 20;
constexpr size_t kMaxEntriesPerService = 10000;

struct ParsedFile {
  Status status;
  std::vector<pam::Line> lines;
};

struct Hop {
  std::string file;
  int64_t line;
  std::string directive;  // "@include", "include", "substack"
};

class Expander {
 public:
  Expander(const Fs& fs, Section& out) : fs_(fs), out_(out) {}

  const ParsedFile& Load(const std::string& path) {
    auto& slot = cache_[path];
    if (slot) return *slot;
    slot = std::make_unique<ParsedFile>();
    ReadOptions opts;
    opts.max_bytes = kMaxFile;
    auto content = fs_.ReadFile(path, opts);
    if (!content.ok()) {
      slot->status = content.status();
      return *slot;
    }
    std::vector<SectionError> errors;
    slot->lines = pam::ParseFile(content->data, path, errors);
    for (auto& e : errors) Error(e.path, e.line, e.message);
    return *slot;
  }

  // Appends the entries of `path` for `type` ("" = all types) to `entries`.
  void Expand(const std::string& service, const std::string& path, const std::string& type,
              std::vector<Hop>& chain, int substack, std::vector<json>& entries) {
    const ParsedFile& file = Load(path);
    if (!file.status.ok()) return;  // reported by the caller
    for (const pam::Line& l : file.lines) {
      if (entries.size() >= kMaxEntriesPerService) {
        Error(path, l.line,
              "more than " + std::to_string(kMaxEntriesPerService) + " entries for service " +
                  service + "; rest skipped");
        return;
      }
      if (!l.include_all && !type.empty() && l.type != type && l.error.empty()) continue;
      if (!l.error.empty()) {
        Error(path, l.line, l.error);
        entries.push_back(Entry(service, path, l, chain, substack, l.error));
        continue;
      }
      std::string control = l.control;
      for (char& c : control) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool include = l.include_all || control == "include" || control == "substack";
      if (!include) {
        entries.push_back(Entry(service, path, l, chain, substack, ""));
        continue;
      }
      std::string target = pam::IncludePath(l.module);
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
        entries.push_back(Entry(service, path, l, chain, substack, problem));
        continue;
      }
      chain.push_back({path, l.line, directive});
      Expand(service, target, l.include_all ? type : l.type, chain,
             substack + (directive == "substack" ? 1 : 0), entries);
      chain.pop_back();
    }
  }

  void Error(const std::string& path, std::optional<int64_t> line, const std::string& msg) {
    auto key = path + "\n" + (line ? std::to_string(*line) : "") + "\n" + msg;
    if (seen_.insert(key).second) out_.AddError(path, line, msg);
  }

 private:
  json Entry(const std::string& service, const std::string& path, const pam::Line& l,
             const std::vector<Hop>& chain, int substack, const std::string& error) {
    json j;
    j["service"] = service;
    j["type"] = l.include_all ? json(nullptr) : json(l.type);
    j["silent"] = l.silent;
    std::string control = l.include_all ? "@include" : l.control;
    j["control"] = control;
    if (!control.empty() && control.front() == '[') {
      j["actions"] = pam::ParseControl(control, nullptr);
    }
    j["module"] = l.module;
    j["arguments"] = l.arguments;
    json flags = json::object();
    for (const auto& [k, v] : pam::SecurityFlags(l.arguments)) {
      flags[k] = v == "true" ? json(true) : json(v);
    }
    j["flags"] = std::move(flags);
    json via = json::array();
    for (const Hop& h : chain) {
      via.push_back({{"file", h.file}, {"line", h.line}, {"directive", h.directive}});
    }
    j["via"] = std::move(via);
    j["substack_depth"] = substack;
    if (!error.empty()) j["error"] = error;
    j["source"] = {{"file", path}, {"line", l.line}};
    return j;
  }

  const Fs& fs_;
  Section& out_;
  std::map<std::string, std::unique_ptr<ParsedFile>> cache_;
  std::set<std::string> seen_;
};

json KeyValueFiles(const Fs& fs, const std::vector<std::string>& files, Section& out) {
  json settings = json::array();
  json effective = json::object();
  json read = json::array();
  for (const auto& path : files) {
    ReadOptions opts;
    opts.max_bytes = kMaxFile;
    auto content = fs.ReadFile(path, opts);
    if (!content.ok()) {
      if (content.status().code() != StatusCode::kNotFound) {
        out.AddError(path, std::nullopt, content.status().message());
      }
      continue;
    }
    read.push_back(path);
    std::vector<SectionError> errors;
    for (const auto& s : pam::ParseKeyValue(content->data, path, errors)) {
      json v = s.value ? json(*s.value) : json(true);
      json src = {{"file", path}, {"line", s.line}};
      settings.push_back({{"key", s.key}, {"value", v}, {"source", src}});
      effective[s.key] = {{"value", v}, {"source", src}};  // the later assignment wins
    }
    for (auto& e : errors) out.errors.push_back(std::move(e));
  }
  return {{"files_read", read}, {"settings", settings}, {"effective", effective}};
}

}  // namespace

void PamCollector::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  ItemArray services;
  ItemArray entries_out;
  auto names = fs.ListDir(kPamDir);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) {
      out.status = SectionStatus::kNotApplicable;
      out.data["reason"] = "no /etc/pam.d in this root";
    } else {
      out.AddError(kPamDir, std::nullopt, "cannot list: " + names.status().message());
      out.status = SectionStatus::kError;
    }
    out.items["services"] = std::move(services);
    out.items["entries"] = std::move(entries_out);
    return;
  }
  Expander expander(fs, out);
  for (const std::string& name : *names) {
    std::string path = JoinPath(kPamDir, name);
    json svc;
    svc["id"] = "pam_service:" + name;
    svc["name"] = name;
    svc["source"] = {{"file", path}, {"line", nullptr}};
    const auto& file = expander.Load(path);
    if (!file.status.ok()) {
      svc["state"] = "error";
      svc["entries"] = nullptr;
      svc["reason"] = file.status.message();
      out.AddError(path, std::nullopt, "cannot read: " + file.status.message());
      services.push_back(svc);
      continue;
    }
    std::vector<json> entries;
    std::vector<Hop> chain;
    expander.Expand(name, path, "", chain, 0, entries);
    std::map<std::string, int> occurrence;
    for (json& e : entries) {
      std::string module = e["module"];
      module = module.substr(module.rfind('/') == std::string::npos ? 0 : module.rfind('/') + 1);
      std::string key =
          (e["type"].is_null() ? std::string("any") : e["type"].get<std::string>()) + ":" + module;
      int n = ++occurrence[key];
      e["id"] = "pam:" + name + ":" + key + "#" + std::to_string(n);
      entries_out.push_back(e);
    }
    svc["state"] = "present";
    svc["entries"] = entries.size();
    svc["reason"] = nullptr;
    services.push_back(svc);
  }
  out.items["services"] = std::move(services);
  out.items["entries"] = std::move(entries_out);

  std::vector<std::string> pwq;
  auto dropins = fs.ListDir("/etc/security/pwquality.conf.d");
  if (dropins.ok()) {
    for (const auto& n : *dropins) {
      if (n.size() > 5 && n.substr(n.size() - 5) == ".conf") {
        pwq.push_back(JoinPath("/etc/security/pwquality.conf.d", n));
      }
    }
  } else if (dropins.status().code() != StatusCode::kNotFound) {
    out.AddError("/etc/security/pwquality.conf.d", std::nullopt, dropins.status().message());
  }
  pwq.push_back("/etc/security/pwquality.conf");  // read after the drop-ins (pwquality.conf(5))
  out.data["pwquality"] = KeyValueFiles(fs, pwq, out);
  out.data["faillock"] = KeyValueFiles(fs, {"/etc/security/faillock.conf"}, out);
}

}  // namespace tidemark::agent
