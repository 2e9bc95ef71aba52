// Writes the generated seed inputs of the protocol, snapshot and facts targets
// (fuzz/make_seeds.sh runs it): snapshot documents collected by the agent's own sections over
// the fixture roots of tests/fixtures, every frame of docs/protocol.md carrying them, and whole
// snapshots of the shipped baseline's fixture roots (tests/policies/cases.h: the base root that
// passes every rule and one root per rule that fails it), without content_hash.
//   make_seeds FIXTURES_DIR OUT_DIR   (writes OUT_DIR/{protocol,snapshot,facts}/*)
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/collect.h"
#include "agent/sections/pam.h"
#include "agent/sections/sshd.h"
#include "agent/sections/sudo.h"
#include "common/fs.h"
#include "common/snapshot.h"
#include "common/transport/protocol.h"
#include "tests/policies/cases.h"

namespace {

namespace fs = std::filesystem;
using namespace tidemark;

void Write(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Returns the snapshot of `collector` over the fixture root `root`, as the agent writes it.
std::string Collect(agent::SectionReader& collector, const std::string& root) {
  StatusOr<std::unique_ptr<Fs>> fs = OpenRootFs(root);
  if (!fs.ok()) return "";
  agent::CollectContext ctx(**fs, "seedhost");
  Section section;
  collector.Collect(ctx, section);
  section.Finish();
  Snapshot s;
  s.host = {"seedhost", "seedhost", root};
  s.collected_at = "2026-01-01T00:00:00Z";
  s.agent_version = "0.1.0";
  s.sections[std::string(collector.name())] = std::move(section);
  return SerializeSnapshot(s);
}

// Returns `s` as a document without content_hash (optional in a document): a seed of the facts
// target, so that a mutated section still decodes instead of failing on the hash.
std::string WithoutHash(const Snapshot& s) {
  nlohmann::json j = EncodeSnapshot(s);
  j.erase("content_hash");
  return j.dump();
}

// Makes every directory under `dir` writable and searchable again (a case may have taken the
// permissions away), so that it can be filled and removed.
void OpenUp(const fs::path& dir) {
  std::error_code ec;
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::add, ec);
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
  }
}

// The snapshot of the shipped baseline's fixture root with `change` applied (nullptr: the base
// root), collected as policies_test collects it, with its network section.
std::string CaseSnapshot(const policy::cases::Case* change) {
  policy::cases::Root files = policy::cases::RootFor(change);
  char tmpl[] = "/tmp/tidemark-seed-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return "";
  fs::path dir = tmpl;
  std::error_code ec;
  for (const auto& [path, file] : files) {  // path order: a directory before its files
    fs::path p = dir / fs::path(path).relative_path();
    fs::create_directories(p.parent_path(), ec);
    if (!file.symlink.empty()) {
      fs::create_symlink(file.symlink, p, ec);
    } else if (file.directory) {
      fs::create_directories(p, ec);
    } else {
      Write(p, file.content);
    }
  }
  for (auto it = files.rbegin(); it != files.rend(); ++it) {  // files before their directories
    if (!it->second.symlink.empty()) continue;
    fs::permissions(dir / fs::path(it->first).relative_path(),
                    static_cast<fs::perms>(it->second.mode & 07777), ec);
  }
  agent::CollectRequest request;
  request.root = dir.string();
  request.only = policy::cases::CollectedSections();
  request.host_id = "seedhost";
  StatusOr<Snapshot> snapshot = agent::CollectSnapshot(request);
  OpenUp(dir);
  fs::remove_all(dir, ec);
  if (!snapshot.ok()) return "";
  Section network;
  network.data["listeners"] = nlohmann::json::parse(
      change != nullptr && change->listeners ? *change->listeners : policy::cases::BaseListeners());
  network.Finish();
  snapshot->sections["network"] = std::move(network);
  return WithoutHash(*snapshot);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds FIXTURES_DIR OUT_DIR\n";
    return 2;
  }
  fs::path fixtures = argv[1], out = argv[2];
  fs::create_directories(out / "protocol");
  fs::create_directories(out / "snapshot");
  fs::create_directories(out / "facts");

  std::vector<std::string> docs;
  agent::SudoReader sudo;
  agent::SshdReader sshd;
  agent::PamReader pam;
  for (const char* kind : {"sudoers", "sshd"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fixtures / kind, ec)) {
      if (!e.is_directory()) continue;
      agent::SectionReader& c = std::string(kind) == "sudoers"
                                    ? static_cast<agent::SectionReader&>(sudo)
                                    : static_cast<agent::SectionReader&>(sshd);
      std::string doc = Collect(c, e.path().string());
      if (!doc.empty()) docs.push_back(doc);
    }
  }
  // An empty root: every section reports what it could not read.
  docs.push_back(Collect(pam, "/nonexistent-root"));
  int n = 0;
  for (const std::string& doc : docs) {
    if (doc.empty()) continue;
    Write(out / "snapshot" / ("doc-" + std::to_string(n)), doc);
    // A snapshot frame: header, u32 meta length, meta JSON, the document.
    StatusOr<Snapshot> s = DecodeSnapshot(doc);
    std::string hash = s.ok() ? ContentHash(*s) : "sha256:00";
    std::string frame =
        protocol::EncodeSnapshotFrame("seedhost-20260101T000000Z-0123456789abcdef", hash, doc);
    Write(out / "protocol" / ("snapshot-" + std::to_string(n)), frame);
    if (s.ok()) Write(out / "facts" / ("doc-" + std::to_string(n)), WithoutHash(*s));
    ++n;
  }

  // The facts target: the baseline's fixture roots, each failing one rule (or none).
  int cases = 0;
  auto write_case = [&](const policy::cases::Case* change, const std::string& name) {
    std::string doc = CaseSnapshot(change);
    if (doc.empty()) return;
    Write(out / "facts" / name, doc);
    ++cases;
  };
  write_case(nullptr, "base");
  for (auto group :
       {policy::cases::AccountsCases, policy::cases::SshSysctlCases, policy::cases::SystemCases}) {
    int i = 0;
    for (const policy::cases::Case& c : group()) {
      write_case(&c, "case-" + c.rule + "-" + std::to_string(i++));
    }
  }

  using protocol::FrameType;
  protocol::Hello hello{"0.1.0", protocol::kVersion, {"offer"}, 1, 2};
  protocol::Welcome welcome{"0.1.0", protocol::kVersion, "seedhost", 1u << 20, {"offer"}};
  protocol::Offer offer{"seedhost-20260101T000000Z-0123456789abcdef", "sha256:00",
                        "2026-01-01T00:00:00Z"};
  protocol::Ack ack{"seedhost-20260101T000000Z-0123456789abcdef", "stored", "2026-01-01T00:00:01Z"};
  protocol::SendBody body{"seedhost-20260101T000000Z-0123456789abcdef"};
  protocol::Error error{std::string(protocol::kErrBadSnapshot), "host.id does not match",
                        "seedhost-20260101T000000Z-0123456789abcdef", true};
  Write(out / "protocol" / "hello", protocol::EncodeJsonFrame(FrameType::kHello, ToJson(hello)));
  Write(out / "protocol" / "welcome",
        protocol::EncodeJsonFrame(FrameType::kWelcome, ToJson(welcome)));
  Write(out / "protocol" / "offer", protocol::EncodeJsonFrame(FrameType::kOffer, ToJson(offer)));
  Write(out / "protocol" / "ack", protocol::EncodeJsonFrame(FrameType::kAck, ToJson(ack)));
  Write(out / "protocol" / "send_body",
        protocol::EncodeJsonFrame(FrameType::kSendBody, ToJson(body)));
  Write(out / "protocol" / "error", protocol::EncodeJsonFrame(FrameType::kError, ToJson(error)));
  std::cout << "make_seeds: " << n << " snapshot documents, " << n + 6 << " frames, " << cases
            << " snapshots of the baseline's fixture roots\n";
  return 0;
}
