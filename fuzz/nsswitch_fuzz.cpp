// nsswitch.conf(5) as glibc 2.36 reads it, for the account databases.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/nsswitch.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  agent::NssConfig config = agent::ParseNsswitch(in, "/etc/nsswitch.conf", errors);
  for (std::string_view db : agent::kNssAccountDatabases) {
    fuzz::Check(config.databases.count(std::string(db)) == 1, "an account database is missing");
  }
  return 0;
}
