// The packages section on fixture roots: dpkg status stanzas, states, db:Status-Abbrev, Source,
// malformed stanzas (named, the others still collected) and a missing or unreadable database.
#include "agent/sections/packages.h"

#include <gtest/gtest.h>

#include "agent/parsers/dpkg_status.h"
#include "tests/support/collect_section.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using namespace std::string_literals;

json Collect(const testing::TempRoot& root) {
  return testing::CollectSectionJson<PackagesReader>(root);
}

using testing::HasError;

// The package name of an item: ids are "package:NAME[:ARCH]" (docs/sections/packages.md).
std::string Name(const json& item) {
  std::string id = item["id"];
  size_t end = id.find(':', 8);
  return id.substr(8, end == std::string::npos ? std::string::npos : end - 8);
}

constexpr const char* kStatus =
    "Package: bash\n"                                            // 1
    "Essential: yes\n"                                           // 2
    "Status: install ok installed\n"                             // 3
    "Priority: required\n"                                       // 4
    "Architecture: amd64\n"                                      // 5
    "Version: 5.2.15-2+b2\n"                                     // 6
    "Description: GNU Bourne Again SHell\n"                      // 7
    " Bash is an sh-compatible command language interpreter.\n"  // 8
    " .\n"                                                       // 9
    "\n"                                                         // 10
    "Package: libssl3\n"                                         // 11
    "Status: hold ok installed\n"                                // 12
    "Architecture: amd64\n"                                      // 13
    "Source: openssl (3.0.15-1~deb12u1)\n"                       // 14
    "Version: 3.0.15-1~deb12u1+b1\n"                             // 15
    "\n"                                                         // 16
    "Package: telnetd\n"                                         // 17
    "Status: deinstall ok config-files\n"                        // 18
    "Architecture: amd64\n"                                      // 19
    "Source: inetutils\n"                                        // 20
    "Version: 2.4-2\n"                                           // 21
    "\n"                                                         // 22
    "Package: half\n"                                            // 23
    "Status: install reinstreq half-installed\n"                 // 24
    "Architecture: all\n"                                        // 25
    "Version: 1\n"                                               // 26
    "\n"                                                         // 27
    "Package: gone\n"                                            // 28
    "Status: purge ok not-installed\n"                           // 29
    "Architecture: amd64\n"                                      // 30
    "\n"                                                         // 31
    "Status: install ok installed\n"                             // 32 (no Package)
    "Version: 1\n"                                               // 33
    "\n"                                                         // 34
    "Package: weird\n"                                           // 35
    "Status: install maybe installed\n"                          // 36
    "\n"                                                         // 37
    "Package: garbage\n"                                         // 38
    "this line has no colon\n"                                   // 39
    "Status: install ok installed\n"                             // 40
    "\n"                                                         // 41
    "Package: zsh\n"                                             // 42
    "Status: install ok unpacked\n"                              // 43
    "Architecture: amd64\n"                                      // 44
    "Version: 5.9-4+b1\n";                                       // 45

TEST(DpkgStatus, AbbrevAsDpkgQuery) {
  dpkg::Package p;
  p.want = "install";
  p.eflag = "ok";
  p.status = "installed";
  EXPECT_EQ(dpkg::StatusAbbrev(p), "ii ");
  p.want = "deinstall";
  p.status = "config-files";
  EXPECT_EQ(dpkg::StatusAbbrev(p), "rc ");
  p.want = "hold";
  p.eflag = "reinstreq";
  p.status = "half-installed";
  EXPECT_EQ(dpkg::StatusAbbrev(p), "hHR");
  p.want = "bogus";
  EXPECT_EQ(dpkg::StatusAbbrev(p), "");
}

TEST(PackagesCollect, StatesSourcesAndMalformedStanzas) {
  testing::TempRoot root;
  root.Write("/var/lib/dpkg/status", kStatus);
  json j = Collect(root);
  EXPECT_EQ(j["status"], "partial");
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["other_count"], 3);
  EXPECT_EQ(j["not_installed_count"], 1);
  ASSERT_EQ(j["installed"].size(), 2u);
  const json& bash = j["installed"][0];
  EXPECT_EQ(bash["id"], "package:bash:amd64");
  EXPECT_EQ(Name(bash), "bash");
  EXPECT_EQ(bash["version"], "5.2.15-2+b2");
  // The compact form: the id carries name and architecture, "ii " is the default
  // status_abbrev, and the status file is the default source file.
  EXPECT_EQ(
      bash,
      json({{"id", "package:bash:amd64"}, {"version", "5.2.15-2+b2"}, {"source", {{"line", 1}}}}));
  const json& ssl = j["installed"][1];
  EXPECT_EQ(ssl["status_abbrev"], "hi ");
  EXPECT_EQ(ssl["src"], "openssl");
  EXPECT_EQ(ssl["src_version"], "3.0.15-1~deb12u1");
  std::vector<std::string> other;
  for (const auto& p : j["other_states"]) other.push_back(p["status_abbrev"]);
  EXPECT_EQ(other, (std::vector<std::string>{"rc ", "iHR", "iU "}));
  EXPECT_EQ(j["other_states"][0]["src"], "inetutils");
  EXPECT_EQ(j["other_states"][0]["want"], "deinstall");
  EXPECT_EQ(j["other_states"][0]["status"], "config-files");
  EXPECT_EQ(j["other_states"][1]["eflag"], "reinstreq");
  EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status", 32));  // no Package
  EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status", 35));  // bad Status
  EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status", 39));  // not "Field: value"
}

TEST(PackagesCollect, JournalUpdatesOverrideStatus) {
  // dpkg applies /var/lib/dpkg/updates/NNNN over the status file; "tmp.i" is not a journal entry.
  testing::TempRoot root;
  root.Write("/var/lib/dpkg/status",
             "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n"
             "Package: b\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n");
  root.Write("/var/lib/dpkg/updates/0000",
             "Package: a\nStatus: install ok unpacked\nArchitecture: amd64\nVersion: 2\n");
  root.Write("/var/lib/dpkg/updates/0001",
             "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2\n\n"
             "Package: c\nStatus: install ok installed\nArchitecture: all\nVersion: 3\n");
  root.Write("/var/lib/dpkg/updates/tmp.i",
             "Package: b\nStatus: purge ok not-installed\nArchitecture: amd64\n");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "ok") << j["errors"].dump();
  ASSERT_EQ(j["installed"].size(), 3u);
  EXPECT_EQ(j["installed"][0]["version"], "2");
  EXPECT_EQ(j["installed"][0]["source"]["file"], "/var/lib/dpkg/updates/0001");
  EXPECT_EQ(Name(j["installed"][1]), "b");
  EXPECT_EQ(j["installed"][1]["source"], json({{"line", 6}}));
  EXPECT_EQ(j["installed"][2]["id"], "package:c:all");
}

TEST(PackagesCollect, NulAndLongLinesAndBinary) {
  testing::TempRoot root;
  root.Write("/var/lib/dpkg/status",
             "Package: a\nStatus: install ok installed\nVersion: 1\nDescription: x\0y\n\n"s +
                 "Package: b\nStatus: install ok installed\nVersion: 2\nDescription: " +
                 std::string(2 << 20, 'z') + "\n\n" +
                 "\x7f"
                 "ELF\x01\x02\xff\n\n"s +
                 "Package: c\nStatus: install ok installed\nVersion: 3\n");
  json j = Collect(root);
  EXPECT_EQ(j["status"], "partial");
  std::vector<std::string> names;
  for (const auto& p : j["installed"]) names.push_back(Name(p));
  EXPECT_EQ(names, (std::vector<std::string>{"c"}));
  EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status", 4));
  EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status", 9));
  for (const auto& e : j["errors"]) {
    EXPECT_EQ(e["message"].get<std::string>().find("zzzzzzzz"), std::string::npos);
  }
}

TEST(PackagesCollect, MissingDatabase) {
  {
    testing::TempRoot root;
    root.Mkdir("/etc");
    json j = Collect(root);
    EXPECT_EQ(j["status"], "not_applicable");
    EXPECT_TRUE(j["count"].is_null());
  }
  {
    testing::TempRoot root;
    root.Mkdir("/var/lib/dpkg");
    json j = Collect(root);
    EXPECT_EQ(j["status"], "error");
    EXPECT_TRUE(j["count"].is_null());
  }
  {
    testing::TempRoot root;
    root.Mkdir("/var/lib/dpkg/status");
    json j = Collect(root);
    EXPECT_EQ(j["status"], "error");
    EXPECT_TRUE(HasError(j, "/var/lib/dpkg/status"));
  }
  {
    testing::TempRoot root;
    root.Fifo("/var/lib/dpkg/status");
    json j = Collect(root);
    EXPECT_EQ(j["status"], "error");
  }
}

}  // namespace
}  // namespace tidemark::agent
