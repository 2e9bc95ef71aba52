#include "agent/collect.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "agent/parsers/sshd_config.h"
#include "agent/registry.h"
#include "common/fs.h"
#include "common/identity.h"

namespace tidemark::agent {
namespace {

// Returns the first line of the root's /etc/hostname, trimmed, or "" when absent or unusable.
std::string RootHostname(const Fs& fs) {
  ReadOptions options;
  options.max_bytes = 4096;
  auto file = fs.ReadFile("/etc/hostname", options);
  if (!file.ok()) return {};
  std::string_view text = file->data;
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  // Only a valid host id (the rules of certificate CNs and `import --as`) is used as an
  // identity; anything else is not.
  if (!IsValidHostId(text)) return {};
  return std::string(text);
}

std::string LiveHostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return buf;
}

}  // namespace

std::shared_ptr<const sshd::SshdConfig> CollectContext::sshd_config() {
  if (!sshd_config_) {
    sshd_config_ =
        std::make_shared<const sshd::SshdConfig>(sshd::SshdConfig::Load(fs_, &accounts()));
  }
  return sshd_config_;
}

StatusOr<std::vector<std::string>> ParseSectionList(std::string_view list) {
  const std::vector<std::string>& known = SectionNames();
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string name(list.substr(pos, comma - pos));
    if (name.empty()) {
      return Status(StatusCode::kInvalidArgument, "empty section name in --only");
    }
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string all;
      for (const auto& k : known) all += (all.empty() ? "" : ", ") + k;
      return Status(StatusCode::kInvalidArgument,
                    "unknown section '" + name + "' (known: " + all + ")");
    }
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    pos = comma + 1;
  }
  return out;
}

Status CollectSections(const CollectRequest& request, const SectionSink& sink) {
  for (const auto& name : request.only) {
    const auto& known = SectionNames();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Status(StatusCode::kInvalidArgument, "unknown section '" + name + "'");
    }
  }
  auto fs = OpenRootFs(request.root);
  if (!fs.ok()) {
    return Status(fs.status().code(), "cannot open root: " + fs.status().message());
  }
  SnapshotHeader header;
  header.agent_version = std::string(kAgentVersion);
  header.collected_at = NowRfc3339();
  header.host.root = request.root;
  std::string root_name = RootHostname(**fs);
  bool live = (*fs)->root() == "/";
  header.host.hostname = !root_name.empty() ? root_name : (live ? LiveHostname() : "");
  if (!request.host_id.empty()) {
    if (!IsValidHostId(request.host_id)) {
      return Status(StatusCode::kInvalidArgument, std::string(kInvalidHostIdMessage));
    }
    header.host.id = request.host_id;
  } else if (!root_name.empty()) {
    header.host.id = root_name;
  } else if (live) {
    header.host.id = LiveHostname();
  } else {
    // An offline root is never labelled with the name of the machine that audits it.
    return Status(StatusCode::kInvalidArgument,
                  "the root " + request.root +
                      " has no usable /etc/hostname (missing, unreadable or not a valid host "
                      "id); give its identity with --host-id ID");
  }
  Status started = sink.begin ? sink.begin(header) : Status::Ok();
  if (!started.ok()) return started;

  CollectContext ctx(**fs, header.host.hostname.empty() ? header.host.id : header.host.hostname,
                     request.options);
  // Name order is the canonical order, so a SnapshotWriter can stream and hash as we go.
  std::vector<SectionEntry> sections = Sections();
  std::sort(sections.begin(), sections.end(),
            [](const SectionEntry& a, const SectionEntry& b) { return a.name < b.name; });
  for (const SectionEntry& entry : sections) {
    std::string name(entry.name);
    if (!request.only.empty() &&
        std::find(request.only.begin(), request.only.end(), name) == request.only.end()) {
      continue;
    }
    Section section;
    auto start = std::chrono::steady_clock::now();
    try {
      entry.make()->Collect(ctx, section);
    } catch (const std::exception& e) {
      // A section reader's bug must not lose the other sections; host data never throws by design.
      section.status = SectionStatus::kError;
      section.AddError("", std::nullopt, std::string("internal error in collector: ") + e.what());
    }
    section.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
    section.Finish();
    Status emitted = sink.section(name, std::move(section));
    if (!emitted.ok()) return emitted;
  }
  return Status::Ok();
}

StatusOr<Snapshot> CollectSnapshot(const CollectRequest& request) {
  Snapshot snapshot;
  SectionSink sink;
  sink.begin = [&](const SnapshotHeader& header) {
    snapshot.host = header.host;
    snapshot.collected_at = header.collected_at;
    snapshot.agent_version = header.agent_version;
    return Status::Ok();
  };
  sink.section = [&](const std::string& name, Section&& section) {
    section.Materialize();
    snapshot.sections.emplace(name, std::move(section));
    return Status::Ok();
  };
  Status s = CollectSections(request, sink);
  if (!s.ok()) return s;
  return snapshot;
}

}  // namespace tidemark::agent
