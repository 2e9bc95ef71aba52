// Writes the generated seed inputs of the protocol and snapshot targets (fuzz/make_seeds.sh
// runs it): snapshot documents collected by the agent's own sections over the fixture roots of
// tests/fixtures, and every frame of docs/protocol.md carrying them.
//   make_seeds FIXTURES_DIR OUT_DIR   (writes OUT_DIR/protocol/* and OUT_DIR/snapshot/*)
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "agent/sections/pam.h"
#include "agent/sections/sshd.h"
#include "agent/sections/sudo.h"
#include "common/fs.h"
#include "common/snapshot.h"
#include "common/transport/protocol.h"

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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: make_seeds FIXTURES_DIR OUT_DIR\n";
    return 2;
  }
  fs::path fixtures = argv[1], out = argv[2];
  fs::create_directories(out / "protocol");
  fs::create_directories(out / "snapshot");

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
    ++n;
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
  std::cout << "make_seeds: " << n << " snapshot documents, " << n + 6 << " frames\n";
  return 0;
}
