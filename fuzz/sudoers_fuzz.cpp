// sudoers(5): /etc/sudoers and what it includes, parsed and expanded by the sudo section as on
// a host where any admin (or an attacker with write access to one drop-in) wrote the files.
// Input: up to four files separated by kFileSeparator: /etc/sudoers, /etc/sudoers.d/10-a,
// /etc/sudoers.d/20-b and /etc/sudoers.inc (reachable by "@include sudoers.inc").
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/sudoers.h"
#include "agent/sections/sudo.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 4);
  static const char* const kPaths[] = {"/etc/sudoers", "/etc/sudoers.d/10-a", "/etc/sudoers.d/20-b",
                                       "/etc/sudoers.inc"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddFile("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  fs.AddFile("/etc/group", "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\n");
  fs.AddFile("/etc/hosts", "127.0.0.1 localhost\n");

  agent::SudoReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);

  // The value parsers on their own, on the main file's first line.
  std::string_view first = parts[0].substr(0, parts[0].find('\n'));
  (void)agent::sudoers::ParseTimeout(first);
  (void)agent::sudoers::NormalizeGentime(first);
  return 0;
}
