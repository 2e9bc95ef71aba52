// authorized_keys (sshd(8) AUTHORIZED_KEYS FILE FORMAT): lines with key options, base64 key
// blobs in SSH wire format (keys and certificates), as any user may write them in their home.
// The whole input is parsed as a file and also as a raw (decoded) key blob.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/parsers/authorized_keys.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark::agent::authorized_keys;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ParsedFile file = ParseFile(in);
  // As the snapshot writer serializes them (invalid UTF-8 in an option value is replaced).
  for (const ParsedKey& k : file.keys) {
    (void)k.options.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  (void)ParseKeyBlob(in);
  if (auto decoded = DecodeBase64(in)) (void)ParseKeyBlob(*decoded);
  std::string_view first = in.substr(0, in.find('\n'));
  (void)ParseKeyOptions(first.substr(0, first.find(' ')));
  (void)CanonicalKeyType(first);
  return 0;
}
