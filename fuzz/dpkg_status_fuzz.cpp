// dpkg's status database (/var/lib/dpkg/status, deb822 stanzas), read by the packages section
// (and by the sshd section to recognise the OpenSSH build).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/dpkg_status.h"
#include "agent/sections/packages.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  agent::dpkg::ParseStatus(
      in, "/var/lib/dpkg/status",
      [](agent::dpkg::Package&& p) { (void)agent::dpkg::StatusAbbrev(p); }, errors);

  fuzz::MemFs fs;
  fs.AddFile("/var/lib/dpkg/status", in);
  agent::PackagesReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
