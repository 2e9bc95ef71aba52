// The account databases: passwd(5), group(5), shadow(5), gshadow(5) (account_db, shadow), read
// by the accounts section together with /etc/shells and /etc/nsswitch.conf.
// Input: up to six files separated by kFileSeparator: /etc/passwd, /etc/group, /etc/shadow,
// /etc/gshadow, /etc/shells, /etc/nsswitch.conf.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/parsers/account_db.h"
#include "agent/parsers/shadow.h"
#include "agent/sections/accounts.h"
#include "fuzz/section_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemark;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts = fuzz::SplitFiles(in, 6);
  static const char* const kPaths[] = {"/etc/passwd",  "/etc/group",  "/etc/shadow",
                                       "/etc/gshadow", "/etc/shells", "/etc/nsswitch.conf"};
  fuzz::MemFs fs;
  for (size_t i = 0; i < parts.size(); ++i) fs.AddFile(kPaths[i], parts[i]);

  // One context for the harness's look-ups and the section: the databases are read once.
  agent::CollectContext ctx(fs, "fuzzhost");
  const agent::AccountDb& db = ctx.accounts();
  for (const agent::PasswdEntry& u : db.users) {
    (void)db.GroupIdsOf(u);
    (void)db.GroupsListing(u.name);
    (void)db.FindUserById(u.uid);
  }
  // Each parser on the whole input too (one file's text holding another's lines).
  auto known = [&](std::string_view name) { return db.FindUser(name) != nullptr; };
  (void)agent::ParseShadow(in, "/etc/shadow", known);
  (void)agent::ParseGshadow(in, "/etc/gshadow", known);
  (void)agent::ClassifyPassword(parts[0]);

  agent::AccountsReader collector;
  fuzz::CollectAndRoundTrip(collector, ctx);
  return 0;
}
