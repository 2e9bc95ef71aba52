#include "agent/sections/packages.h"

#include <algorithm>
#include <map>

#include "agent/conf_files.h"
#include "agent/file_meta.h"
#include "agent/parsers/dpkg_status.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kStatusFile = "/var/lib/dpkg/status";
// Far above any real host; bounds the items of a hostile database.
constexpr size_t kMaxPackages = 100000;
constexpr std::string_view kUpdatesDir = "/var/lib/dpkg/updates";
// A large server's status file is a few MB; this bounds memory on a hostile one.
constexpr uint64_t kMaxStatusBytes = 64ull << 20;

std::string KeyOf(const dpkg::Package& p) { return p.name + ":" + p.architecture; }

// dpkg's journal: /var/lib/dpkg/updates/NNNN files hold stanzas not yet merged into status;
// dpkg and dpkg-query apply them over it (in name order, all-digit names only).
struct Journal {
  std::map<std::string, std::pair<dpkg::Package, std::string>> updates;  // key -> (stanza, file)
  std::vector<std::string> order;                                        // keys, first seen
};

Journal ReadJournal(const Fs& fs, Section& out) {
  Journal journal;
  StatusOr<std::vector<std::string>> names = fs.ListDir(kUpdatesDir);
  if (!names.ok() && names.status().code() != StatusCode::kNotFound) {
    out.AddError(std::string(kUpdatesDir), std::nullopt,
                 "cannot list dpkg's journal: " + names.status().message());
  }
  if (!names.ok()) return journal;
  for (const std::string& name : *names) {
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::string path = JoinPath(kUpdatesDir, name);
    ConfFile u = ReadConf(fs, path, out, kMaxStatusBytes);
    if (u.state != ConfState::kPresent) continue;
    std::vector<SectionError> uerrs;
    dpkg::ParseStatus(
        u.data, path,
        [&](dpkg::Package&& p) {
          std::string k = KeyOf(p);
          if (!journal.updates.count(k)) {
            if (journal.updates.size() >= kMaxPackages) return;
            journal.order.push_back(k);
          }
          journal.updates[k] = {std::move(p), path};
        },
        uerrs);
    LineErrorSink usink{path};
    usink.Take(out, uerrs);
    usink.Flush(out);
  }
  return journal;
}

// The package items, installed or in another state, at most kMaxPackages in all.
class PackageLists {
 public:
  explicit PackageLists(Section& out) : out_(out) {}

  void Add(const dpkg::Package& p, const std::string& file) {
    if (p.status == "not-installed") {
      ++not_installed_;
      return;
    }
    if (installed_.size() + other_.size() >= kMaxPackages) {
      if (!full_)
        out_.AddError(
            file, p.line,
            "more than " + std::to_string(kMaxPackages) + " packages; the rest are not listed");
      full_ = true;
      return;
    }
    std::string arch = p.architecture.empty() ? "" : ":" + p.architecture;
    // Compact items (a host has hundreds to thousands; docs/sections/packages.md): the id carries
    // the package and architecture, `source` names the file only when it is not the status file,
    // and `status_abbrev` is omitted when it is the default "ii ".
    json j = {{"id", "package:" + p.name + arch}, {"version", p.version}};
    if (file == kStatusFile) {
      j["source"] = {{"line", p.line}};
    } else {
      j["source"] = SourceJson(file, p.line);
    }
    j["status_abbrev"] = dpkg::StatusAbbrev(p);
    OmitDefaults(j, CompactKind::kPackage);
    if (p.source) j["src"] = *p.source;  // short keys: most packages have one
    if (p.source_version) j["src_version"] = *p.source_version;
    bool is_installed = p.status == "installed" && p.eflag == "ok";
    if (!is_installed) {
      j["want"] = p.want;
      j["eflag"] = p.eflag;
      j["status"] = p.status;
      other_.push_back(j);
      return;
    }
    if (p.version.empty()) {
      out_.AddError(file, p.line, "installed package " + p.name + " has no Version");
    }
    installed_.push_back(j);
  }

  void Finish() {
    out_.data["count"] = installed_.size();
    out_.data["other_count"] = other_.size();
    out_.data["not_installed_count"] = not_installed_;
    out_.items["installed"] = std::move(installed_);
    out_.items["other_states"] = std::move(other_);
  }

 private:
  Section& out_;
  ItemArray installed_;
  ItemArray other_;
  int64_t not_installed_ = 0;
  bool full_ = false;
};

}  // namespace

void PackagesReader::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  out.data["database"] = std::string(kStatusFile);
  ConfFile f = ReadConf(fs, kStatusFile, out, kMaxStatusBytes);
  if (f.state != ConfState::kPresent) {
    if (f.state == ConfState::kAbsent) {
      StatusOr<FileInfo> dir = fs.Stat("/var/lib/dpkg", true);
      if (!dir.ok() && dir.status().code() == StatusCode::kNotFound) {
        out.status = SectionStatus::kNotApplicable;  // not a dpkg-based system
      } else {
        out.AddError(std::string(kStatusFile), std::nullopt,
                     "dpkg database directory exists but its status file is missing");
        out.status = SectionStatus::kError;
      }
    } else {
      out.status = SectionStatus::kError;
    }
    out.data["count"] = nullptr;
    out.data["other_count"] = nullptr;
    out.data["not_installed_count"] = nullptr;
    out.items["installed"] = ItemArray();
    out.items["other_states"] = ItemArray();
    return;
  }
  Journal journal = ReadJournal(fs, out);
  PackageLists lists(out);
  std::vector<SectionError> errs;
  LineErrorSink sink{std::string(kStatusFile)};
  dpkg::ParseStatus(
      f.data, kStatusFile,
      [&](dpkg::Package&& p) {
        sink.Take(out, errs);
        auto u = journal.updates.find(KeyOf(p));
        if (u != journal.updates.end()) {
          lists.Add(u->second.first, u->second.second);
          journal.updates.erase(u);
          return;
        }
        lists.Add(p, std::string(kStatusFile));
      },
      errs);
  sink.Take(out, errs);
  sink.Flush(out);
  for (const std::string& k : journal.order) {
    auto u = journal.updates.find(k);
    if (u != journal.updates.end()) lists.Add(u->second.first, u->second.second);
  }
  lists.Finish();
}

}  // namespace tidemark::agent
