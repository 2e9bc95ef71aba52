// The collector's frame decoder (docs/protocol.md): every byte an agent or a network peer sends
// before and after authentication. The first 8 bytes go to DecodeHeader; the rest is taken as a
// payload by ParseJsonPayload (then every *FromJson message) and by ParseSnapshotPayload (then
// DecodeSnapshot of its body, as the collector does). Nothing may crash, throw or hang.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/snapshot.h"
#include "common/transport/protocol.h"
#include "fuzz/fuzz_support.h"

namespace tidemark::fuzz {
namespace {

template <typename Msg>
void RoundTrip(const StatusOr<Msg>& m, StatusOr<Msg> (*from)(const nlohmann::json&)) {
  if (!m.ok()) return;
  // What was accepted encodes and decodes again.
  StatusOr<Msg> again = from(protocol::ToJson(*m));
  Check(again.ok(), "a decoded message does not decode after ToJson");
}

}  // namespace
}  // namespace tidemark::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  using namespace tidemark::fuzz;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() >= protocol::kHeaderSize) {
    std::array<uint8_t, protocol::kHeaderSize> bytes{};
    std::memcpy(bytes.data(), data, bytes.size());
    StatusOr<protocol::FrameHeader> h =
        protocol::DecodeHeader(bytes, protocol::kDefaultMaxFrameBytes);
    if (h.ok()) {
      Check(protocol::EncodeHeader(h->type, h->length) == bytes, "header does not round-trip");
      (void)protocol::FrameTypeName(h->type);
    }
    in.remove_prefix(protocol::kHeaderSize);
  }
  StatusOr<nlohmann::json> j = protocol::ParseJsonPayload(in);
  if (j.ok()) {
    RoundTrip(protocol::HelloFromJson(*j), &protocol::HelloFromJson);
    RoundTrip(protocol::WelcomeFromJson(*j), &protocol::WelcomeFromJson);
    RoundTrip(protocol::OfferFromJson(*j), &protocol::OfferFromJson);
    RoundTrip(protocol::AckFromJson(*j), &protocol::AckFromJson);
    RoundTrip(protocol::SendBodyFromJson(*j), &protocol::SendBodyFromJson);
    RoundTrip(protocol::ErrorFromJson(*j), &protocol::ErrorFromJson);
  }
  StatusOr<protocol::SnapshotPayload> s = protocol::ParseSnapshotPayload(in);
  if (s.ok()) {
    (void)protocol::IsValidSnapshotId(s->snapshot_id);
    (void)DecodeSnapshot(s->body);
  }
  (void)protocol::IsValidHostId(in);
  (void)protocol::IsValidSnapshotId(in);
  return 0;
}
