// sshd_config(5): the main file, a drop-in and an included file, read and evaluated as
// `sshd -T [-C spec]` would (Match blocks, Include globs, defaults), then the sshd section.
// Input: up to three files separated by kFileSeparator: /etc/ssh/sshd_config,
// /etc/ssh/sshd_config.d/10-fuzz.conf, /etc/ssh/extra.conf. The first line of the third file is
// also tried as a `-C` connection spec.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/parsers/sshd_config.h"
#include "agent/sections/sshd.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  namespace sshd = agent::sshd;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 3);
  static const char* const kPaths[] = {
      "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/10-fuzz.conf", "/etc/ssh/extra.conf"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddFile("/etc/passwd",
             "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  fs.AddFile("/etc/group", "root:x:0:\nsudo:x:27:alice\nalice:x:1000:\n");

  // One context for the harness's own calls and the section: the configuration is loaded once
  // (as the agent does), the section then reads the same one.
  agent::CollectContext ctx(fs, "fuzzhost");
  std::shared_ptr<const sshd::SshdConfig> config = ctx.sshd_config();
  (void)config->would_start();
  (void)config->Dump(sshd::ConnectionSpec{});
  sshd::ConnectionSpec spec;
  spec.user = "alice";
  spec.host = "client.example";
  spec.addr = "192.0.2.7";
  spec.laddr = "198.51.100.1";
  spec.lport = 22;
  (void)config->Dump(spec);
  (void)config->ForUser("root");
  if (parts.size() == 3) {
    StatusOr<sshd::ConnectionSpec> parsed =
        sshd::ParseConnectionSpec(parts[2].substr(0, parts[2].find('\n')));
    if (parsed.ok()) (void)config->Dump(*parsed);
  }

  agent::SshdReader collector;
  fuzz::CollectAndRoundTrip(collector, ctx);
  return 0;
}
