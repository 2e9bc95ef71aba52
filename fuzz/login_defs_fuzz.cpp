// login.defs(5) (as shadow's getdef.c reads it) and /etc/default/useradd, and the shell startup
// files the login section scans for TMOUT, umask and PATH (agent/sections/login.cpp parses
// them all). Input: up to five files separated by kFileSeparator: /etc/login.defs,
// /etc/default/useradd, /etc/environment, /etc/profile, /etc/profile.d/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/lines.h"
#include "agent/sections/login.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  static const std::vector<std::string_view> kNames = {"TMOUT", "PATH", "UMASK"};
  agent::ForEachLine(in, [&](std::string_view line, int64_t) {
    if (line.size() <= (64 << 10)) (void)agent::ScanShellLine(line, kNames);
    return true;
  });

  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 5);
  static const char* const kPaths[] = {"/etc/login.defs", "/etc/default/useradd",
                                       "/etc/environment", "/etc/profile",
                                       "/etc/profile.d/fuzz.sh"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddDir("/usr/bin");
  fs.AddDir("/usr/sbin");
  agent::LoginReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
