#include "collector/ctl/ctl.h"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "collector/sqlite_store.h"
#include "common/snapshot.h"
#include "tests/collector/ctl_run.h"
#include "tests/support/temp_root.h"

namespace tidemark::ctl {
namespace {

TEST(CtlTest, VerifyAcceptsGoodAndRejectsTampered) {
  Snapshot s;
  s.host.id = "h1";
  s.collected_at = "2026-11-28T00:00:00Z";
  s.sections["accounts"].data["users"] = nlohmann::json::array();
  testing::TempRoot dir;
  nlohmann::json j = EncodeSnapshot(s);
  dir.Write("good.json", j.dump());
  j["accounts"]["users"].push_back("x");
  dir.Write("bad.json", j.dump());
  std::ostringstream out, err;
  EXPECT_EQ(RunCtl({"verify", dir.Host("good.json")}, out, err), 0);
  EXPECT_NE(out.str().find("ok h1 sha256:"), std::string::npos);
  std::ostringstream out2, err2;
  EXPECT_EQ(RunCtl({"verify", dir.Host("bad.json")}, out2, err2), 1);
  EXPECT_NE(err2.str().find("content_hash does not match"), std::string::npos);
  std::ostringstream out3, err3;
  EXPECT_EQ(RunCtl({"nope"}, out3, err3), 2);
}

// A snapshot made by the real agent from a small fixture root.
class CtlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/hostname", "fixture-host\n");
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n");
    root_.Write("/etc/group", "root:x:0:\nalice:x:1000:\nsudo:x:27:alice\n");
    std::string out, err;
    int code =
        testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) + " collect --only accounts --root '" +
                                root_.path() + "' --output '" + dir_.Host("/snap.json") + "'",
                            &out, &err);
    ASSERT_EQ(code, 0) << err;
    snap_ = dir_.Host("/snap.json");
    db_ = dir_.Host("/store.db");
  }

  testing::TempRoot root_;
  testing::TempRoot dir_;
  std::string snap_;
  std::string db_;
};

TEST_F(CtlStoreTest, ImportAtAChosenReceiveTimeNeverInTheFuture) {
  CtlRun future =
      Ctl({"--db", db_, "import", snap_, "--as", "web1", "--received-at", "2999-01-01"});
  EXPECT_EQ(future.code, 2);
  EXPECT_NE(future.err.find("--received-at 2999-01-01T00:00:00Z is in the future"),
            std::string::npos)
      << future.err;
  EXPECT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "web1", "--received-at", "yesterday"}).code,
            2);
  CtlRun imp =
      Ctl({"--db", db_, "import", snap_, "--as", "web1", "--received-at", "2026-11-20T01:00:00Z"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  CtlRun history = Ctl({"--db", db_, "history", "web1", "--format", "json"});
  ASSERT_EQ(history.code, 0) << history.err;
  nlohmann::json h = nlohmann::json::parse(history.out);
  ASSERT_EQ(h["history"].size(), 1u) << history.out;
  EXPECT_EQ(h["history"][0]["received_at"], "2026-11-20T01:00:00Z");
}

TEST_F(CtlStoreTest, ImportThenHostsShowHistory) {
  CtlRun verify = Ctl({"verify", snap_});
  ASSERT_EQ(verify.code, 0) << verify.err;
  std::string hash = verify.out.substr(verify.out.find("sha256:"));
  hash.pop_back();  // newline

  CtlRun imp = Ctl({"--db", db_, "import", snap_, "--as", "web1"});
  ASSERT_EQ(imp.code, 0) << imp.err;
  EXPECT_EQ(imp.out.rfind("stored web1 import-", 0), 0u) << imp.out;
  struct stat st {};
  ASSERT_EQ(stat(db_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // Importing the same file again stores nothing new.
  CtlRun again = Ctl({"import", snap_, "--as", "web1", "--db", db_, "--format", "json"});
  ASSERT_EQ(again.code, 0) << again.err;
  nlohmann::json aj = nlohmann::json::parse(again.out);
  EXPECT_EQ(aj["result"], "duplicate");
  EXPECT_EQ(aj["content_hash"], hash);

  CtlRun hosts = Ctl({"--db=" + db_, "hosts", "--format", "json"});
  ASSERT_EQ(hosts.code, 0) << hosts.err;
  nlohmann::json hj = nlohmann::json::parse(hosts.out);
  ASSERT_EQ(hj["hosts"].size(), 1u);
  EXPECT_EQ(hj["hosts"][0]["id"], "web1");
  EXPECT_EQ(hj["hosts"][0]["snapshots"], 1);
  EXPECT_EQ(hj["hosts"][0]["seen"], 0);
  CtlRun hosts_text = Ctl({"--db", db_, "hosts"});
  ASSERT_EQ(hosts_text.code, 0);
  EXPECT_NE(hosts_text.out.find("\nweb1\t"), std::string::npos) << hosts_text.out;

  CtlRun show = Ctl({"--db", db_, "show", "web1", "--format", "json"});
  ASSERT_EQ(show.code, 0) << show.err;
  nlohmann::json sj = nlohmann::json::parse(show.out);
  EXPECT_EQ(sj["content_hash"], hash);
  EXPECT_EQ(sj["snapshot"]["content_hash"], hash);
  EXPECT_EQ(sj["snapshot"]["host"]["id"], "fixture-host");
  std::string me = getpwuid(geteuid())->pw_name;
  const char* sudo_user = std::getenv("SUDO_USER");
  if (!sudo_user || !*sudo_user) {
    EXPECT_EQ(sj["imported_by"], me);
  }
  // The stored body is byte for byte the file that was imported.
  CtlRun show_text = Ctl({"--db", db_, "show", "web1"});
  ASSERT_EQ(show_text.code, 0);
  std::string body = show_text.out.substr(show_text.out.find("\n{") + 1);
  EXPECT_EQ(body, testing::ReadHostFile(snap_));
  EXPECT_NE(show_text.out.find("# imported_by "), std::string::npos);

  CtlRun hist = Ctl({"--db", db_, "history", "web1", "--format", "json"});
  ASSERT_EQ(hist.code, 0) << hist.err;
  nlohmann::json histj = nlohmann::json::parse(hist.out);
  ASSERT_EQ(histj["history"].size(), 1u);
  EXPECT_EQ(histj["history"][0]["kind"], "snapshot");
  EXPECT_EQ(histj["history"][0]["id"], aj["id"]);
  CtlRun hist_text = Ctl({"--db", db_, "history", "web1"});
  ASSERT_EQ(hist_text.code, 0);
  EXPECT_NE(hist_text.out.find("snapshot\t" + aj["id"].get<std::string>() + "\t"),
            std::string::npos)
      << hist_text.out;

  // --at before anything was received.
  CtlRun early = Ctl({"--db", db_, "show", "web1", "--at", "2000-01-01T00:00:00Z"});
  EXPECT_EQ(early.code, 1);
  EXPECT_NE(early.err.find("no snapshot received at or before 2000-01-01T00:00:00Z"),
            std::string::npos)
      << early.err;
  CtlRun later = Ctl({"--db", db_, "show", "web1", "--at", "2999-01-01T00:00:00+02:00"});
  EXPECT_EQ(later.code, 0) << later.err;
}

TEST_F(CtlStoreTest, ImportUnderSudoNamesTheCaller) {
  std::string me = getpwuid(geteuid())->pw_name;
  const char* saved = std::getenv("SUDO_USER");
  std::string saved_value = saved ? saved : "";
  setenv("SUDO_USER", "tm-test-admin", 1);
  CtlRun imp = Ctl({"--db", db_, "import", snap_, "--as", "web1", "--format", "json"});
  if (saved) {
    setenv("SUDO_USER", saved_value.c_str(), 1);
  } else {
    unsetenv("SUDO_USER");
  }
  ASSERT_EQ(imp.code, 0) << imp.err;
  EXPECT_EQ(nlohmann::json::parse(imp.out)["imported_by"],
            "tm-test-admin (as " + me + " via sudo)");
  CtlRun hist = Ctl({"--db", db_, "history", "web1"});
  EXPECT_NE(hist.out.find("\ttm-test-admin (as " + me + " via sudo)\n"), std::string::npos)
      << hist.out;
}

TEST_F(CtlStoreTest, ShowSnapshotPrintsTheDocumentAsReceived) {
  ASSERT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "web1"}).code, 0);
  CtlRun show = Ctl({"--db", db_, "show", "web1", "--format", "snapshot"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(show.out, testing::ReadHostFile(snap_));
  EXPECT_EQ(Ctl({"--db", db_, "hosts", "--format", "snapshot"}).code, 2);
}

TEST_F(CtlStoreTest, ThinDeletesOldSeenRecordsAndKeepsSnapshots) {
  ASSERT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "web1"}).code, 0);
  {
    auto store = SqliteStore::Open(db_, {});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto latest = (*store)->Latest("web1", std::nullopt);
    ASSERT_TRUE(latest.ok());
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    for (int age_days : {40, 20, 1}) {
      auto r =
          (*store)->RecordSeen("web1", "seen-" + std::to_string(age_days), latest->content_hash,
                               latest->collected_at, now - int64_t{age_days} * 86400);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(*r, PutResult::kSeen);
    }
  }
  CtlRun thin = Ctl({"--db", db_, "thin", "--days", "10", "--format", "json"});
  ASSERT_EQ(thin.code, 0) << thin.err;
  EXPECT_EQ(nlohmann::json::parse(thin.out)["deleted_seen_records"], 2);
  CtlRun hist = Ctl({"--db", db_, "history", "web1", "--format", "json"});
  auto h = nlohmann::json::parse(hist.out)["history"];
  ASSERT_EQ(h.size(), 2u) << hist.out;  // the snapshot and the 1-day-old seen record
  EXPECT_EQ(h[0]["kind"], "snapshot");
  EXPECT_EQ(h[1]["id"], "seen-1");
  EXPECT_EQ(Ctl({"--db", db_, "thin"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "thin", "--days", "-1"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "show", "web1", "--days", "3"}).code, 2);
}

TEST_F(CtlStoreTest, ErrorsAreClearWithExitCodes) {
  ASSERT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "web1"}).code, 0);
  CtlRun nohost = Ctl({"--db", db_, "show", "nope"});
  EXPECT_EQ(nohost.code, 1);
  EXPECT_EQ(nohost.err, "tidemarkctl: no such host: nope\n");
  EXPECT_EQ(Ctl({"--db", db_, "history", "nope"}).code, 1);

  // Reading commands never create a store.
  std::string missing = dir_.Host("/missing.db");
  CtlRun nodb = Ctl({"--db", missing, "hosts"});
  EXPECT_EQ(nodb.code, 1);
  EXPECT_NE(nodb.err.find("missing.db: no such database"), std::string::npos) << nodb.err;
  struct stat st {};
  EXPECT_NE(stat(missing.c_str(), &st), 0);

  // A world-readable store is refused.
  ASSERT_EQ(chmod(db_.c_str(), 0644), 0);
  CtlRun readable = Ctl({"--db", db_, "hosts"});
  EXPECT_EQ(readable.code, 1);
  EXPECT_NE(readable.err.find("mode 0644"), std::string::npos) << readable.err;
  ASSERT_EQ(chmod(db_.c_str(), 0600), 0);

  // A tampered snapshot is not imported.
  std::string text = testing::ReadHostFile(snap_);
  text.replace(text.find("alice"), 5, "mallo");
  dir_.Write("/tampered.json", text);
  CtlRun tampered = Ctl({"--db", db_, "import", dir_.Host("/tampered.json"), "--as", "web2"});
  EXPECT_EQ(tampered.code, 1);
  EXPECT_NE(tampered.err.find("content_hash does not match"), std::string::npos) << tampered.err;

  // A corrupted database file.
  dir_.Write("/corrupt.db", std::string(4096, 'x'), 0600);
  CtlRun corrupt = Ctl({"--db", dir_.Host("/corrupt.db"), "hosts"});
  EXPECT_EQ(corrupt.code, 1);
  EXPECT_NE(corrupt.err.find("not a tidemark database, or corrupted"), std::string::npos)
      << corrupt.err;

  // Usage errors: exit 2.
  EXPECT_EQ(Ctl({"--db", db_, "import", snap_}).code, 2);                      // no --as
  EXPECT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "a/b"}).code, 2);       // bad host id
  EXPECT_EQ(Ctl({"--db", db_, "show", "web1", "--at", "yesterday"}).code, 2);  // bad time
  EXPECT_EQ(Ctl({"--db", db_, "hosts", "--format", "xml"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "hosts", "--at", "2026-01-01T00:00:00Z"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "show"}).code, 2);
  EXPECT_EQ(Ctl({"--db"}).code, 2);
  EXPECT_EQ(Ctl({"--bogus", "hosts"}).code, 2);
  // import into a directory that does not exist.
  CtlRun nodir = Ctl({"--db", dir_.Host("/no/such/dir/t.db"), "import", snap_, "--as", "web1"});
  EXPECT_EQ(nodir.code, 1);
  EXPECT_NE(nodir.err.find("cannot create the database"), std::string::npos) << nodir.err;
  CtlRun help = Ctl({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("import FILE --as HOST"), std::string::npos);
}

// issue 9, defect 1: a snapshot whose host.hostname is a number is an error, never an abort.
TEST(CtlTest, VerifyAndImportOfANumericHostnameFailCleanly) {
  Snapshot s;
  s.host.id = "h1";
  s.host.hostname = "h1";
  s.collected_at = "2026-11-28T00:00:00Z";
  s.sections["accounts"].data["users"] = nlohmann::json::array();
  nlohmann::json j = EncodeSnapshot(s);
  j["host"]["hostname"] = 5;
  testing::TempRoot dir;
  dir.Write("host5.json", j.dump());
  CtlRun verify = Ctl({"verify", dir.Host("host5.json")});
  EXPECT_EQ(verify.code, 1);
  EXPECT_NE(verify.err.find(dir.Host("host5.json") + ": "), std::string::npos) << verify.err;
  EXPECT_TRUE(verify.out.empty());
  CtlRun canonical = Ctl({"canonical", dir.Host("host5.json")});
  EXPECT_EQ(canonical.code, 1);
  CtlRun imp = Ctl({"--db", dir.Host("s.db"), "import", dir.Host("host5.json"), "--as", "h1"});
  EXPECT_EQ(imp.code, 1);
}

// issue 9, defect 8: newlines and escape sequences in stored agent text cannot forge rows.
// The decoder refuses such fields now, so the text is put into the store directly, as a store
// written by an older collector may hold it.
TEST_F(CtlStoreTest, TextOutputEscapesAgentText) {
  std::string body = testing::ReadHostFile(snap_);
  {
    auto store = SqliteStore::Open(db_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    SnapshotInput in;
    in.host = "web1";
    in.snapshot_id = "evil-1";
    in.content_hash = "sha256:" + std::string(64, '0');
    in.collected_at = "2026-11-28T00:00:00Z\nsnapshot\tforged";
    in.agent_version = "0.1.0\nevil\t2026-01-01T00:00:00Z\t1\t0\t\033[2K";
    in.body = body;
    in.received_at = 1764288000;
    auto put = (*store)->PutSnapshot(in);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  {  // the same fields in a file are refused at import, naming the field
    nlohmann::json j = nlohmann::json::parse(body);
    j["collected_at"] = "2026-11-28T00:00:00Z\nsnapshot\tforged";
    dir_.Write("/evil.json", j.dump());
    CtlRun imp = Ctl({"--db", db_, "import", dir_.Host("/evil.json"), "--as", "web1"});
    EXPECT_EQ(imp.code, 1) << imp.err;
    EXPECT_NE(imp.err.find("collected_at"), std::string::npos) << imp.err;
    EXPECT_EQ(imp.err.find('\n'), imp.err.size() - 1) << imp.err;  // one line
  }
  CtlRun hosts = Ctl({"--db", db_, "hosts"});
  ASSERT_EQ(hosts.code, 0) << hosts.err;
  EXPECT_EQ(testing::Lines(hosts.out).size(), 2u) << hosts.out;  // header + one host
  EXPECT_EQ(hosts.out.find('\033'), std::string::npos) << hosts.out;
  EXPECT_NE(hosts.out.find("0.1.0\\x0aevil\\x092026"), std::string::npos) << hosts.out;
  CtlRun hist = Ctl({"--db", db_, "history", "web1"});
  ASSERT_EQ(hist.code, 0) << hist.err;
  EXPECT_EQ(testing::Lines(hist.out).size(), 2u) << hist.out;
  EXPECT_NE(hist.out.find("2026-11-28T00:00:00Z\\x0asnapshot\\x09forged"), std::string::npos)
      << hist.out;
  CtlRun show = Ctl({"--db", db_, "show", "web1"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find("# collected 2026-11-28T00:00:00Z\\x0asnapshot"), std::string::npos)
      << show.out;
  EXPECT_EQ(show.out.find("\nsnapshot\tforged"), std::string::npos) << show.out;
}

TEST_F(CtlStoreTest, AtTakesADateMeaningItsStartInUtc) {
  ASSERT_EQ(Ctl({"--db", db_, "import", snap_, "--as", "web1"}).code, 0);
  CtlRun early = Ctl({"--db", db_, "show", "web1", "--at", "2000-01-01"});
  EXPECT_EQ(early.code, 1);
  EXPECT_NE(early.err.find("no snapshot received at or before 2000-01-01T00:00:00Z"),
            std::string::npos)
      << early.err;
  EXPECT_EQ(Ctl({"--db", db_, "show", "web1", "--at", "2999-12-03"}).code, 0);
  EXPECT_EQ(Ctl({"--db", db_, "show", "web1", "--at", "2026-13-03"}).code, 2);
  EXPECT_EQ(Ctl({"--db", db_, "show", "web1", "--at", "2026-1-03"}).code, 2);
}

// Every command, as `tidemarkctl COMMAND... --help` takes it.
const std::vector<std::vector<std::string>> kCommands = {
    {"verify"}, {"canonical"},   {"hosts"},        {"show"},         {"history"},  {"import"},
    {"check"},  {"thin"},        {"tables"},       {"query"},        {"evaluate"}, {"findings"},
    {"pki"},    {"pki", "init"}, {"pki", "issue"}, {"pki", "revoke"}};

std::vector<std::string> Plus(std::vector<std::string> args, const std::string& more) {
  args.push_back(more);
  return args;
}

TEST(CtlTest, CommandHelpAndVersion) {
  for (const auto& command : kCommands) {
    std::string name = command.size() == 1 ? command[0] : command[0] + " " + command[1];
    CtlRun help = Ctl(Plus(command, "--help"));
    EXPECT_EQ(help.code, 0) << name;
    EXPECT_EQ(help.out.rfind("Usage: tidemarkctl " + name, 0), 0u) << help.out;
    // The command's documented exit codes, in its help.
    EXPECT_NE(help.out.find("Exit codes"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("2 usage"), std::string::npos) << help.out;
    EXPECT_EQ(help.out.find("Snapshot files:"), std::string::npos)
        << name << ": the general help instead of the command's";
    // `help COMMAND` is the same text.
    std::vector<std::string> help_command = {"help"};
    help_command.insert(help_command.end(), command.begin(), command.end());
    EXPECT_EQ(Ctl(help_command).out, help.out) << name;
  }
  CtlRun show_help = Ctl({"--db", "x.db", "show", "web1", "--help"});
  EXPECT_NE(show_help.out.find("2026-12-03"), std::string::npos) << show_help.out;
  for (const char* command : {"evaluate", "findings"}) {
    CtlRun help = Ctl({command, "--help"});
    EXPECT_NE(help.out.find("3 one failed"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("4 only unknown results"), std::string::npos) << help.out;
  }
  CtlRun pki_help = Ctl({"pki", "--help"});
  for (const char* sub : {"init --dir DIR", "issue HOST --dir DIR", "revoke HOST --dir DIR"}) {
    EXPECT_NE(pki_help.out.find(sub), std::string::npos) << sub << "\n" << pki_help.out;
  }
  CtlRun version = Ctl({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_EQ(version.out.rfind("tidemarkctl ", 0), 0u) << version.out;
  EXPECT_EQ(Ctl({"version"}).out, version.out);
  EXPECT_EQ(Ctl({"help"}).out, Ctl({"--help"}).out);
}

TEST(CtlTest, GeneralHelpListsEveryCommandWithWhatItRequires) {
  CtlRun help = Ctl({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.out.rfind("Usage: tidemarkctl ", 0), 0u) << help.out;
  for (const char* synopsis :
       {"verify FILE...", "canonical FILE", "hosts", "show HOST", "history HOST",
        "import FILE --as HOST", "check", "thin --days N", "tables", "query SQL",
        "evaluate --snapshot FILE", "findings", "pki", "--db FILE", "Exit codes"}) {
    EXPECT_NE(help.out.find(synopsis), std::string::npos) << synopsis << "\n" << help.out;
  }
  // No arguments: the same help, on standard error, as a usage error.
  CtlRun none = Ctl({});
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(none.err, help.out);
}

TEST(CtlTest, UnknownCommandIsAUsageErrorNamingIt) {
  CtlRun r = Ctl({"frobnicate", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "tidemarkctl: unknown command 'frobnicate'\nTry 'tidemarkctl --help'.\n");
  r = Ctl({"--db", "x.db", "frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'frobnicate'"), std::string::npos) << r.err;
  r = Ctl({"pki", "frobnicate", "--dir", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'pki frobnicate'"), std::string::npos) << r.err;
  r = Ctl({"pki", "--dir", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("pki needs a command: init, issue, revoke"), std::string::npos) << r.err;
  r = Ctl({"help", "frobnicate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'frobnicate'"), std::string::npos) << r.err;
  r = Ctl({"--db", "x.db"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no command"), std::string::npos) << r.err;
}

TEST(CtlTest, UnknownOptionIsAUsageErrorNamingIt) {
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"hosts", "--bogus"},
                                             {"--bogus", "hosts"},
                                             {"show", "web1", "--bogus=1"},
                                             {"query", "SELECT 1", "--bogus"},
                                             {"pki", "init", "--dir", "x", "--bogus"}}) {
    CtlRun r = Ctl(args);
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_NE(r.err.find("--bogus"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.rfind("tidemarkctl: ", 0), 0u) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // An option of another command; the hint names the command the error is about.
  CtlRun r = Ctl({"hosts", "--at", "2026-01-01T00:00:00Z"});
  EXPECT_EQ(r.err, "tidemarkctl: hosts: unknown option '--at'\nTry 'tidemarkctl hosts --help'.\n");
  r = Ctl({"query", "SELECT 1", "SELECT 2"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("query: unexpected argument 'SELECT 2'"), std::string::npos) << r.err;
}

TEST(CtlTest, BadFormatIsAUsageError) {
  for (const auto& command :
       std::vector<std::vector<std::string>>{{"hosts"},
                                             {"show", "web1"},
                                             {"history", "web1"},
                                             {"import", "f.json", "--as", "web1"},
                                             {"thin", "--days", "1"},
                                             {"tables"},
                                             {"query", "SELECT 1"},
                                             {"evaluate", "--snapshot", "f.json"},
                                             {"findings"}}) {
    CtlRun r = Ctl(Plus(Plus(command, "--format"), "xml"));
    EXPECT_EQ(r.code, 2) << command[0];
    EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("xml"), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace tidemark::ctl
