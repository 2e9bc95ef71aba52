// The sysctl section on fixture roots: sysctl.d(5) parsing, key normalization, systemd-sysctl's
// file precedence (masking, overriding, lexical order), /etc/sysctl.conf, the winning value per
// key, glob resolution, and bad input. Runtime values need a live host (sysconf_host_test).
#include "agent/sections/sysctl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/parsers/sysctl_conf.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using sysctl::Assignment;
using namespace std::string_literals;

json Collect(const testing::TempRoot& root, Section* section_out = nullptr) {
  auto fs = OpenRootFs(root.path());
  EXPECT_TRUE(fs.ok());
  CollectContext ctx(**fs, "test");
  Section s;
  SysctlReader().Collect(ctx, s);
  s.Finish();
  s.Materialize();
  json j = EncodeSection(s);
  if (section_out) *section_out = std::move(s);
  return j;
}

const json* Setting(const json& j, const std::string& key) {
  for (const auto& s : j["settings"]) {
    if (s["id"] == "sysctl:" + key) return &s;
  }
  return nullptr;
}

bool HasError(const json& j, const std::string& path, std::optional<int64_t> line = {}) {
  for (const auto& e : j["errors"]) {
    if (e["path"] == path && (!line || e["line"] == *line)) return true;
  }
  return false;
}

TEST(SysctlNormalize, DotsAndSlashesAsSysctlDDescribes) {
  // sysctl.d(5): the first separator decides; both spellings name the same file.
  EXPECT_EQ(sysctl::NormalizeKey("kernel.domainname"), "kernel/domainname");
  EXPECT_EQ(sysctl::NormalizeKey("kernel/domainname"), "kernel/domainname");
  EXPECT_EQ(sysctl::NormalizeKey("net.ipv4.conf.enp3s0/200.forwarding"),
            "net/ipv4/conf/enp3s0.200/forwarding");
  EXPECT_EQ(sysctl::NormalizeKey("net/ipv4/conf/enp3s0.200/forwarding"),
            "net/ipv4/conf/enp3s0.200/forwarding");
  EXPECT_EQ(sysctl::NormalizeKey("/kernel//./domainname/"), "kernel/domainname");
  EXPECT_EQ(sysctl::DisplayKey("net/ipv4/conf/enp3s0.200/forwarding"),
            "net.ipv4.conf.enp3s0/200.forwarding");
}

TEST(SysctlParse, LinesCommentsPrefixesAndErrors) {
  std::vector<SectionError> errors;
  auto a = sysctl::ParseSysctlConf(
      "# comment\n"
      "; also a comment\n"
      "\n"
      "  net.ipv4.ip_forward = 1  \n"
      "-kernel.sysrq=0\n"
      "net.ipv4.conf.*.rp_filter = 2\n"
      "-net.ipv4.conf.lo.rp_filter\n"
      "not an assignment\n"
      "kernel.x = a = b\n"
      " = 3\n",
      "/etc/sysctl.d/a.conf", errors);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].path, "net/ipv4/ip_forward");
  EXPECT_EQ(a[0].key, "net.ipv4.ip_forward");
  EXPECT_EQ(a[0].value, "1");
  EXPECT_EQ(a[0].line, 4);
  EXPECT_FALSE(a[0].ignore_failure);
  EXPECT_TRUE(a[1].ignore_failure);
  EXPECT_EQ(a[1].key, "kernel.sysrq");
  EXPECT_TRUE(a[2].glob);
  EXPECT_FALSE(a[3].value.has_value());  // exclusion
  EXPECT_EQ(a[3].path, "net/ipv4/conf/lo/rp_filter");
  EXPECT_EQ(a[4].value, "a = b");  // split at the first "="
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].line, 8);
  EXPECT_EQ(errors[1].line, 10);
}

// A file cut at the per-file limit says so even after more line errors than are listed (the
// limit's error was dropped with them).
TEST(SysctlParse, TheLimitsErrorOutlivesTheCapOnLineErrors) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "not an assignment\n";
  for (int i = 0; i < 10001; ++i) text += "kernel.k" + std::to_string(i) + " = 1\n";
  std::vector<SectionError> errors;
  auto a = sysctl::ParseSysctlConf(text, "/etc/sysctl.d/a.conf", errors);
  EXPECT_EQ(a.size(), 10000u);
  ASSERT_EQ(errors.size(), 22u);  // 20 listed, the count of the others, the limit
  EXPECT_EQ(errors[20].message, "5 more line errors not listed");
  EXPECT_EQ(errors[21].message, "more than 10000 assignments; the rest of the file is not read");
  EXPECT_EQ(errors[21].line, 25 + 10001);
}

TEST(SysctlFindConfigured, ExplicitBeatsGlobExclusionBlocksGlob) {
  std::vector<SectionError> errors;
  auto opts = sysctl::ParseSysctlConf(
      "net.ipv4.conf.*.rp_filter = 2\n"
      "net.ipv4.conf.eth0.rp_filter = 1\n"
      "-net.ipv4.conf.lo.rp_filter\n"
      "net.ipv4.conf.e*.rp_filter = 0\n",
      "/x.conf", errors);
  ASSERT_EQ(opts.size(), 4u);
  // Explicit key wins though a later glob matches it.
  EXPECT_EQ(sysctl::FindConfigured(opts, "net/ipv4/conf/eth0/rp_filter"), 1u);
  // Excluded: the exclusion itself decides (no value).
  EXPECT_EQ(sysctl::FindConfigured(opts, "net/ipv4/conf/lo/rp_filter"), 2u);
  // Two globs: the later applied one wins.
  EXPECT_EQ(sysctl::FindConfigured(opts, "net/ipv4/conf/ens3/rp_filter"), 3u);
  EXPECT_EQ(sysctl::FindConfigured(opts, "net/ipv4/conf/all/rp_filter"), 0u);
  // "*" does not cross a "/".
  EXPECT_EQ(sysctl::FindConfigured(opts, "net/ipv4/conf/a/b/rp_filter"), std::nullopt);
  EXPECT_EQ(sysctl::FindConfigured(opts, "kernel/sysrq"), std::nullopt);
}

TEST(SysctlCollect, CompactItems) {
  testing::TempRoot root;
  root.Write("/etc/sysctl.d/10-a.conf",
             "kernel.sysrq = 1\n-net.ipv4.conf.*.rp_filter = 2\n-net.ipv4.conf.eth0.rp_filter\n");
  root.Write("/usr/lib/sysctl.d/10-a.conf", "kernel.sysrq = 0\n");
  json j = Collect(root);
  // A setting: no key/path (from the id), defaults (glob, ignore_failure false, kind
  // "assignment", overridden []) left out.
  const json* sysrq = Setting(j, "kernel.sysrq");
  ASSERT_NE(sysrq, nullptr);
  for (const char* k : {"key", "path", "glob", "ignore_failure", "kind", "overridden"}) {
    EXPECT_FALSE(sysrq->contains(k)) << k;
  }
  const json* glob = Setting(j, "net.ipv4.conf.*.rp_filter");
  ASSERT_NE(glob, nullptr);
  EXPECT_EQ((*glob)["glob"], true);
  EXPECT_EQ((*glob)["ignore_failure"], true);
  const json* excl = Setting(j, "net.ipv4.conf.eth0.rp_filter");
  ASSERT_NE(excl, nullptr);
  EXPECT_EQ((*excl)["kind"], "exclusion");
  EXPECT_FALSE(excl->contains("value"));  // null: left out
  // An assignment keeps key and path; a file entry is its own source and has no null keys.
  EXPECT_EQ(j["assignments"][0]["key"], "kernel.sysrq");
  EXPECT_EQ(j["assignments"][0]["path"], "/proc/sys/kernel/sysrq");
  for (const auto& f : j["files"]) {
    EXPECT_FALSE(f.contains("source"));
    for (const auto& [k, v] : f.items()) EXPECT_FALSE(v.is_null()) << k;
  }
}

TEST(SysctlCollect, PrecedenceMaskingAndLexicalOrder) {
  testing::TempRoot root;
  root.Write("/usr/lib/sysctl.d/10-vendor.conf", "net.ipv4.ip_forward = 0\nkernel.sysrq = 16\n");
  root.Write("/etc/sysctl.d/20-admin.conf", "net.ipv4.ip_forward = 1\n");
  root.Write("/run/sysctl.d/30-run.conf", "net/ipv4/ip_forward = 0\n");
  // Same name in /etc overrides /usr/lib; /run overrides /usr/lib.
  root.Write("/usr/lib/sysctl.d/40-shadowed.conf", "kernel.kptr_restrict = 0\n");
  root.Write("/run/sysctl.d/40-shadowed.conf", "kernel.kptr_restrict = 1\n");
  root.Write("/etc/sysctl.d/40-shadowed.conf", "kernel.kptr_restrict = 2\n");
  // Masked by a /dev/null link (absent /dev in the root) and by an empty file.
  root.Write("/usr/lib/sysctl.d/50-masked.conf", "kernel.dmesg_restrict = 0\n");
  root.Symlink("/etc/sysctl.d/50-masked.conf", "/dev/null");
  root.Write("/usr/local/lib/sysctl.d/60-empty.conf", "fs.suid_dumpable = 2\n");
  root.Write("/etc/sysctl.d/60-empty.conf", "");
  // Not ".conf", hidden: not read.
  root.Write("/etc/sysctl.d/README", "kernel.sysrq = 1\n");
  root.Write("/etc/sysctl.d/.hidden.conf", "kernel.sysrq = 1\n");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "ok") << j["errors"].dump();
  EXPECT_EQ(j["runtime_status"], "not_applicable");
  EXPECT_EQ(j["runtime"], json::array());

  std::vector<std::string> order;
  for (const auto& f : j["files"]) {
    if (f.contains("order")) order.push_back(f["path"]);
  }
  // As systemd-sysctl --cat-config lists them: every claiming entry, masks included.
  EXPECT_EQ(order, (std::vector<std::string>{
                       "/usr/lib/sysctl.d/10-vendor.conf", "/etc/sysctl.d/20-admin.conf",
                       "/run/sysctl.d/30-run.conf", "/etc/sysctl.d/40-shadowed.conf",
                       "/etc/sysctl.d/50-masked.conf", "/etc/sysctl.d/60-empty.conf"}));
  std::map<std::string, std::string> states;
  for (const auto& f : j["files"]) states[f["path"]] = f["state"];
  EXPECT_EQ(states["/usr/lib/sysctl.d/40-shadowed.conf"], "overridden");
  EXPECT_EQ(states["/run/sysctl.d/40-shadowed.conf"], "overridden");
  EXPECT_EQ(states["/etc/sysctl.d/50-masked.conf"], "masks");
  EXPECT_EQ(states["/usr/lib/sysctl.d/50-masked.conf"], "masked");
  EXPECT_EQ(states["/etc/sysctl.d/60-empty.conf"], "masks");
  EXPECT_EQ(states["/usr/local/lib/sysctl.d/60-empty.conf"], "masked");
  EXPECT_EQ(states.count("/etc/sysctl.d/README"), 0u);

  const json* fwd = Setting(j, "net.ipv4.ip_forward");
  ASSERT_NE(fwd, nullptr);
  EXPECT_EQ((*fwd)["value"], "0");
  EXPECT_EQ((*fwd)["source"]["file"], "/run/sysctl.d/30-run.conf");
  EXPECT_EQ((*fwd)["source"]["line"], 1);
  ASSERT_EQ((*fwd)["overridden"].size(), 2u);
  EXPECT_EQ((*fwd)["overridden"][0]["source"]["file"], "/usr/lib/sysctl.d/10-vendor.conf");
  EXPECT_EQ((*fwd)["overridden"][1]["value"], "1");
  const json* kptr = Setting(j, "kernel.kptr_restrict");
  ASSERT_NE(kptr, nullptr) << "no kernel.kptr_restrict setting";
  EXPECT_EQ((*kptr)["value"], "2");
  EXPECT_EQ(Setting(j, "kernel.dmesg_restrict"), nullptr);
  EXPECT_EQ(Setting(j, "fs.suid_dumpable"), nullptr);
  const json* sysrq = Setting(j, "kernel.sysrq");
  ASSERT_NE(sysrq, nullptr) << "no kernel.sysrq setting";
  EXPECT_EQ((*sysrq)["value"], "16");
  // Every assignment read is listed with its file and line.
  EXPECT_EQ(j["assignments"].size(), 5u);
  for (const auto& a : j["assignments"]) {
    EXPECT_TRUE(a["id"].get<std::string>().rfind("sysctl_assignment:", 0) == 0);
    EXPECT_TRUE(a["source"]["line"].is_number());
  }
}

TEST(SysctlCollect, AnyEntryInAHigherDirectoryHidesTheName) {
  // systemd 252 claims a name with the first directory's entry without stat()ing it (checked
  // against systemd-sysctl --cat-config and its debug log): a directory or a dangling link in
  // /etc hides the vendor file of that name.
  testing::TempRoot root;
  root.Write("/usr/lib/sysctl.d/10-a.conf", "kernel.sysrq = 1\n");
  root.Mkdir("/etc/sysctl.d/10-a.conf");
  root.Write("/usr/lib/sysctl.d/20-b.conf", "kernel.kptr_restrict = 1\n");
  root.Symlink("/etc/sysctl.d/20-b.conf", "/nonexistent");
  json j = Collect(root);
  EXPECT_EQ(Setting(j, "kernel.sysrq"), nullptr);
  EXPECT_EQ(Setting(j, "kernel.kptr_restrict"), nullptr);
  std::map<std::string, json> files;
  for (const auto& f : j["files"]) files[f["path"]] = f;
  EXPECT_EQ(files["/etc/sysctl.d/10-a.conf"]["state"], "skipped");
  EXPECT_EQ(files["/usr/lib/sysctl.d/10-a.conf"]["state"], "masked");
  EXPECT_EQ(files["/usr/lib/sysctl.d/10-a.conf"]["overridden_by"], "/etc/sysctl.d/10-a.conf");
  EXPECT_EQ(files["/etc/sysctl.d/20-b.conf"]["state"], "dangling");
  EXPECT_EQ(files["/usr/lib/sysctl.d/20-b.conf"]["state"], "masked");
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/10-a.conf"));
  EXPECT_FALSE(HasError(j, "/etc/sysctl.d/20-b.conf"));  // systemd-sysctl is silent too
}

TEST(SysctlCollect, SameValueKeepsTheEarlierSource) {
  // systemd-sysctl: a repeated equal value keeps the existing option.
  testing::TempRoot root;
  root.Write("/etc/sysctl.d/10-a.conf", "kernel.sysrq = 0\n");
  root.Write("/etc/sysctl.d/20-b.conf", "kernel.sysrq = 0\n");
  json j = Collect(root);
  const json* s = Setting(j, "kernel.sysrq");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ((*s)["source"]["file"], "/etc/sysctl.d/10-a.conf");
  EXPECT_EQ((*s)["overridden"].size(), 1u);
}

TEST(SysctlCollect, SysctlConfLinkedOrAppended) {
  {
    testing::TempRoot root;
    root.Write("/etc/sysctl.conf", "kernel.sysrq = 1\n");
    root.Symlink("/etc/sysctl.d/99-sysctl.conf", "../sysctl.conf");
    root.Write("/etc/sysctl.d/zz-last.conf", "kernel.sysrq = 2\n");
    json j = Collect(root);
    EXPECT_EQ(j["sysctl_conf"], "linked");
    const json* sysrq = Setting(j, "kernel.sysrq");
    ASSERT_NE(sysrq, nullptr) << "no kernel.sysrq setting";
    EXPECT_EQ((*sysrq)["value"], "2");
    EXPECT_EQ((*sysrq)["source"]["file"], "/etc/sysctl.d/zz-last.conf");
    bool listed = false;
    for (const auto& f : j["files"]) {
      if (f["path"] == "/etc/sysctl.d/99-sysctl.conf") {
        listed = true;
        EXPECT_EQ(f["link_target"], "../sysctl.conf");
        EXPECT_EQ(f["state"], "read");
      }
      EXPECT_NE(f["path"], "/etc/sysctl.conf");
    }
    EXPECT_TRUE(listed);
  }
  {
    testing::TempRoot root;
    root.Write("/etc/sysctl.conf", "kernel.sysrq = 1\n");
    root.Write("/etc/sysctl.d/zz-last.conf", "kernel.sysrq = 2\n");
    json j = Collect(root);
    EXPECT_EQ(j["sysctl_conf"], "appended");
    const json* sysrq = Setting(j, "kernel.sysrq");
    ASSERT_NE(sysrq, nullptr) << "no kernel.sysrq setting";
    EXPECT_EQ((*sysrq)["source"]["file"], "/etc/sysctl.conf");
  }
  {
    testing::TempRoot root;
    root.Mkdir("/etc");
    json j = Collect(root);
    EXPECT_EQ(j["sysctl_conf"], "absent");
    EXPECT_EQ(j["status"], "ok");
    EXPECT_EQ(j["settings"], json::array());
  }
}

TEST(SysctlCollect, MergedUsrLibIsReadOnce) {
  testing::TempRoot root;
  root.Write("/usr/lib/sysctl.d/10-a.conf", "kernel.sysrq = 0\n");
  root.Symlink("/lib", "usr/lib");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "ok");
  for (const auto& d : j["directories"]) {
    if (d["path"] == "/lib/sysctl.d") {
      EXPECT_EQ(d["state"], "same_as_earlier");
    }
  }
  EXPECT_EQ(j["files"].size(), 1u);
}

TEST(SysctlCollect, BadInputIsNamedAndTheRestIsRead) {
  testing::TempRoot root;
  root.Mkdir("/etc/sysctl.d/10-dir.conf");
  root.Fifo("/etc/sysctl.d/20-fifo.conf");
  root.Write("/etc/sysctl.d/30-nul.conf",
             "kernel.sysrq = 1\nfs.x\0y = 1\n"s + "fs.suid_dumpable = 0\n");
  root.Write("/etc/sysctl.d/40-long.conf",
             "kernel.a = " + std::string(2 << 20, 'x') + "\nkernel.kptr_restrict = 2\n");
  root.Write("/etc/sysctl.d/45-huge.conf", "kernel.b = " + std::string(10 << 20, 'x') + "\n");
  root.Write("/etc/sysctl.d/50-binary.conf", std::string("\x7f"
                                                         "ELF\x01\x02\xff\xfe\n",
                                                         9));
  root.Symlink("/etc/sysctl.d/60-loop.conf", "60-loop.conf");
  root.Write("/usr/lib/sysctl.d/70-ok.conf", "kernel.dmesg_restrict = 1\n");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "partial");
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/10-dir.conf"));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/20-fifo.conf"));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/30-nul.conf", 2));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/40-long.conf", 1));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/45-huge.conf"));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/50-binary.conf", 1));
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d/60-loop.conf"));
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"kernel.sysrq", "1"},
           {"fs.suid_dumpable", "0"},
           {"kernel.dmesg_restrict", "1"},
           // The 2 MB line is skipped, the rest of that file is read.
           {"kernel.kptr_restrict", "2"}}) {
    const json* setting = Setting(j, key);
    ASSERT_NE(setting, nullptr) << "no " << key << " setting";
    EXPECT_EQ((*setting)["value"], value) << key;
  }
  // No error quotes a whole line.
  for (const auto& e : j["errors"]) {
    EXPECT_EQ(e["message"].get<std::string>().find("xxxxxxxx"), std::string::npos);
  }
}

TEST(SysctlCollect, ManyBadLinesAndAssignmentsStayBounded) {
  testing::TempRoot root;
  std::string bad, many;
  for (int i = 0; i < 200000; ++i) bad += "x\n";
  for (int i = 0; i < 20000; ++i) many += "kernel.k" + std::to_string(i) + " = 1\n";
  root.Write("/etc/sysctl.d/10-bad.conf", bad);
  root.Write("/etc/sysctl.d/20-many.conf", many);
  json j = Collect(root);
  size_t bad_errors = 0;
  bool summary = false, truncated = false;
  for (const auto& e : j["errors"]) {
    std::string msg = e["message"];
    if (e["path"] == "/etc/sysctl.d/10-bad.conf") {
      ++bad_errors;
      if (msg.find("more line errors") != std::string::npos) summary = true;
    }
    if (e["path"] == "/etc/sysctl.d/20-many.conf" && msg.find("assignments") != std::string::npos)
      truncated = true;
  }
  EXPECT_LE(bad_errors, 21u);
  EXPECT_TRUE(summary);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(j["assignments"].size(), 10000u);
}

TEST(SysctlCollect, UnreadableFileIsAnErrorNotEmpty) {
  testing::TempRoot root;
  root.Write("/etc/sysctl.d/10-secret.conf", "kernel.sysrq = 1\n", 0000);
  EXPECT_TRUE(testing::RunUnprivileged([&] {
    json j = Collect(root);
    bool file_error = false;
    for (const auto& f : j["files"]) {
      if (f["path"] == "/etc/sysctl.d/10-secret.conf") file_error = f["state"] == "error";
    }
    return j["status"] == "partial" && HasError(j, "/etc/sysctl.d/10-secret.conf") && file_error;
  }));
}

TEST(SysctlCollect, UnlistableDirectoryIsAnError) {
  testing::TempRoot root;
  root.Write("/etc/sysctl.d", "not a directory\n");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "partial");
  EXPECT_TRUE(HasError(j, "/etc/sysctl.d"));
}

TEST(SysctlKeys, CoverTheCisKeysWithAllAndDefault) {
  const auto& keys = SysctlKeys();
  for (std::string_view k : {"net.ipv4.ip_forward",
                             "net.ipv6.conf.all.forwarding",
                             "net.ipv4.conf.all.rp_filter",
                             "net.ipv4.conf.default.rp_filter",
                             "net.ipv4.conf.all.accept_redirects",
                             "net.ipv4.conf.default.accept_redirects",
                             "net.ipv6.conf.all.accept_redirects",
                             "net.ipv4.conf.all.secure_redirects",
                             "net.ipv4.conf.all.send_redirects",
                             "net.ipv4.conf.all.accept_source_route",
                             "net.ipv6.conf.default.accept_source_route",
                             "net.ipv4.conf.all.log_martians",
                             "net.ipv4.tcp_syncookies",
                             "net.ipv4.icmp_echo_ignore_broadcasts",
                             "net.ipv4.icmp_ignore_bogus_error_responses",
                             "net.ipv6.conf.all.accept_ra",
                             "net.ipv6.conf.default.accept_ra",
                             "kernel.randomize_va_space",
                             "kernel.yama.ptrace_scope",
                             "kernel.kptr_restrict",
                             "kernel.dmesg_restrict",
                             "fs.suid_dumpable",
                             "fs.protected_hardlinks",
                             "fs.protected_symlinks",
                             "fs.protected_fifos",
                             "fs.protected_regular",
                             "kernel.unprivileged_bpf_disabled",
                             "net.core.bpf_jit_harden",
                             "kernel.perf_event_paranoid",
                             "kernel.sysrq",
                             "user.max_user_namespaces"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
}

}  // namespace
}  // namespace tidemark::agent
