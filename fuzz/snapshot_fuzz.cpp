// The snapshot decoder: what the collector, `tidemarkctl verify|import` and `tidemark-agent
// summary` read from an agent (issue 9, defects 1 and 2). A document DecodeSnapshot accepts must
// serialize again into one it accepts, with the same content hash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/snapshot.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  StatusOr<Snapshot> s = DecodeSnapshot(in);
  if (!s.ok()) return 0;
  std::string text = SerializeSnapshot(*s);
  StatusOr<Snapshot> again = DecodeSnapshot(text);
  fuzz::Check(again.ok(), "a decoded snapshot does not decode after SerializeSnapshot");
  fuzz::Check(ContentHash(*again) == ContentHash(*s), "the content hash changes on re-encoding");
  return 0;
}
