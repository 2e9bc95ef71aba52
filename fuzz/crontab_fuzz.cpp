// crontab(5): /etc/crontab and /etc/cron.d (system format, with a user field) and the users'
// spool crontabs (any user writes their own), parsed and masked by the cron section.
// Input: up to three files separated by kFileSeparator: /etc/crontab, /etc/cron.d/fuzz,
// /var/spool/cron/crontabs/alice.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/crontab.h"
#include "agent/sections/cron.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  (void)agent::cron::ParseCrontab(in, "/etc/crontab", true, errors);
  (void)agent::cron::ParseCrontab(in, "/var/spool/cron/crontabs/alice", false, errors);
  bool masked = false;
  std::string m = agent::cron::MaskSecrets(in, &masked);
  fuzz::Check(masked || m == in, "MaskSecrets changed text without masking");

  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 3);
  static const char* const kPaths[] = {"/etc/crontab", "/etc/cron.d/fuzz",
                                       "/var/spool/cron/crontabs/alice"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddFile("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  fs.AddFile("/etc/group", "root:x:0:\nalice:x:1000:\n");
  agent::CronReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
