#include "agent/collectors/packages.h"

#include "agent/parsers/conf_files.h"
#include "agent/parsers/dpkg_status.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kStatusFile = "/var/lib/dpkg/status";
// A large server's status file is a few MB; this bounds memory on a hostile one.
constexpr uint64_t kMaxStatusBytes = 64ull << 20;

}  // namespace

void PackagesCollector::Collect(CollectContext& ctx, Section& out) {
  const Fs& fs = ctx.fs();
  ItemArray installed;
  ItemArray other;
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
    out.items["installed"] = std::move(installed);
    out.items["other_states"] = std::move(other);
    return;
  }
  int64_t not_installed = 0;
  std::vector<SectionError> errs;
  LineErrorSink sink{std::string(kStatusFile)};
  dpkg::ParseStatus(
      f.data, kStatusFile,
      [&](dpkg::Package&& p) {
        sink.Take(out, errs);
        if (p.status == "not-installed") {
          ++not_installed;
          return;
        }
        std::string arch = p.architecture.empty() ? "" : ":" + p.architecture;
        // Compact items (a host has hundreds to thousands): Source fields only when the stanza
        // has them; want/eflag/status spelled out only outside the installed list.
        json j = {{"id", "package:" + p.name + arch},
                  {"package", p.name},
                  {"version", p.version},
                  {"architecture", p.architecture},
                  {"status_abbrev", dpkg::StatusAbbrev(p)},
                  {"source", SourceJson(kStatusFile, p.line)}};
        if (p.source) j["source_package"] = *p.source;
        if (p.source_version) j["source_version"] = *p.source_version;
        bool is_installed = p.status == "installed" && p.eflag == "ok";
        if (!is_installed) {
          j["want"] = p.want;
          j["eflag"] = p.eflag;
          j["status"] = p.status;
        }
        if (is_installed) {
          if (p.version.empty()) {
            out.AddError(std::string(kStatusFile), p.line,
                         "installed package " + p.name + " has no Version");
          }
          installed.push_back(j);
        } else {
          other.push_back(j);
        }
      },
      errs);
  sink.Take(out, errs);
  sink.Flush(out);
  out.data["count"] = installed.size();
  out.data["other_count"] = other.size();
  out.data["not_installed_count"] = not_installed;
  out.items["installed"] = std::move(installed);
  out.items["other_states"] = std::move(other);
}

}  // namespace tidemark::agent
