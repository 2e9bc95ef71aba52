// PAM (pam.d(5), pam.conf(5)): service files with bracketed controls, continuations and
// includes, and the key = value files pwquality.conf(5) and faillock.conf(5), read by the pam
// section. Input: up to four files separated by kFileSeparator: /etc/pam.d/common-auth,
// /etc/pam.d/sshd, /etc/pam.conf, /etc/security/pwquality.conf.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/pam.h"
#include "agent/parsers/pam_module_conf.h"
#include "agent/sections/pam.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  namespace pam = agent::pam;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  for (bool service_field : {false, true}) {
    for (const pam::Line& l : pam::ParseFile(in, "/etc/pam.d/fuzz", errors, service_field)) {
      std::string error;
      if (!l.control.empty() && l.control.front() == '[')
        (void)pam::ParseControl(l.control, &error);
      (void)pam::SecurityFlags(l.arguments);
      (void)pam::IncludePath(l.module);
    }
  }
  (void)pam::ParseModuleConf(in, pam::ConfModule::kFaillock);
  (void)pam::ParseModuleConf(in, pam::ConfModule::kPwquality);

  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 4);
  static const char* const kPaths[] = {"/etc/pam.d/common-auth", "/etc/pam.d/sshd", "/etc/pam.conf",
                                       "/etc/security/pwquality.conf"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  agent::PamReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
