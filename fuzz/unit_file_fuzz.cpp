// systemd unit files (systemd.syntax(7), systemd.unit(5)): sections, assignments, continuation
// lines, specifiers, quoting and unit names, as the services section reads them. Input: up to
// two files separated by kFileSeparator: /etc/systemd/system/fuzz.service and
// /lib/systemd/system/tmpl@.service; values are also expanded and split as the section does.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/unit_file.h"
#include "agent/sections/services.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  namespace uf = agent::unit_file;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<SectionError> errors;
  uf::Parsed parsed = uf::Parse(in, "/etc/systemd/system/fuzz.service", errors);
  for (const uf::Assignment& a : parsed.assignments) {
    bool expanded = false;
    (void)uf::ExpandSpecifiers(a.value, "tmpl@inst\\x2dance.service", &expanded);
    (void)uf::SplitWords(a.value);
    (void)uf::Unescape(a.value);
    if (uf::ClassifyName(a.value) == uf::NameKind::kInstance) {
      (void)uf::TemplateOf(a.value);
      (void)uf::InstanceOf(a.value);
      (void)uf::ReplaceInstance(uf::TemplateOf(a.value), "x");
    }
    (void)uf::TypeOf(a.value);
  }

  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 2);
  static const char* const kPaths[] = {"/etc/systemd/system/fuzz.service",
                                       "/lib/systemd/system/tmpl@.service"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);
  fs.AddFile("/etc/systemd/system/multi-user.target.wants/fuzz.service", parts[0]);
  agent::ServicesReader collector;
  fuzz::CollectAndRoundTrip(collector, fs);
  return 0;
}
