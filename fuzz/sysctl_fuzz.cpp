// sysctl.d(5): assignments, "-" prefixes, globs and "/"/"." key forms as systemd-sysctl reads
// them, with the precedence of files across the sysctl.d directories (the sysctl section).
// Input: up to three files separated by kFileSeparator: /etc/sysctl.d/99-fuzz.conf,
// /usr/lib/sysctl.d/10-fuzz.conf, /etc/sysctl.conf.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/sysctl_conf.h"
#include "agent/sections/sysctl.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  namespace sysctl = agent::sysctl;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  std::vector<sysctl::Assignment> all = sysctl::ParseSysctlConf(in, "/etc/sysctl.d/x.conf", errors);
  for (size_t i = 0; i < all.size() && i < 64; ++i) {
    (void)sysctl::DisplayKey(all[i].path);
    (void)sysctl::FindConfigured(all, all[i].path);
  }

  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 3);
  static const char* const kPaths[] = {"/etc/sysctl.d/99-fuzz.conf",
                                       "/usr/lib/sysctl.d/10-fuzz.conf", "/etc/sysctl.conf"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddFile("/proc/sys/net/ipv4/ip_forward", "0\n");
  agent::SysctlReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
