// shells(5) as glibc's getusershell(3) reads /etc/shells.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/shells.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  for (const agent::ShellEntry& e : agent::ParseShells(in, "/etc/shells", errors)) {
    fuzz::Check(!e.path.empty() && e.path.front() == '/', "a shell entry does not start with '/'");
    (void)agent::IsNoLoginShell(e.path);
    (void)agent::EffectiveShell(e.path);
  }
  return 0;
}
