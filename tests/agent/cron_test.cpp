// The cron section on fixture roots: crontab(5) system and user formats, variables, the secret
// masking rule (secret bytes never reach the output), run-parts naming, allow/deny files, and
// bad input.
#include "agent/sections/cron.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "agent/parsers/crontab.h"
#include "tests/support/collect_section.h"
#include "tests/support/temp_root.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;
using namespace std::string_literals;

json Collect(const testing::TempRoot& root) {
  return testing::CollectSectionJson<CronReader>(root);
}

using testing::HasError;

struct MaskCase {
  std::string in;
  std::string want;
};

TEST(CronMask, RuleCases) {
  const std::vector<MaskCase> cases = {
      {"/usr/bin/backup --password=S3cr3t1 --verbose", "/usr/bin/backup --password=*** --verbose"},
      {"/usr/bin/backup --password S3cr3t2 -v", "/usr/bin/backup --password *** -v"},
      {"tool -password 'S3 cr3t3' x", "tool -password *** x"},
      {"tool --api-key=S3cr3t4", "tool --api-key=***"},
      {"tool --apikey S3cr3t5", "tool --apikey ***"},
      {"tool --db_passwd=\"S3cr3t6 x\" next", "tool --db_passwd=*** next"},
      {"PGPASSWORD=S3cr3t7 pg_dump db", "PGPASSWORD=*** pg_dump db"},
      {"MYSQL_PWD='S3cr3t8' mysqldump", "MYSQL_PWD=*** mysqldump"},
      {"AWS_SECRET_ACCESS_KEY=S3cr3t9 aws s3 ls", "AWS_SECRET_ACCESS_KEY=*** aws s3 ls"},
      {"curl https://api.example/x?token=S3cr3tA&b=1", "curl https://api.example/x?token=***&b=1"},
      {"curl https://bob:S3cr3tB@example.org/x", "curl https://bob:***@example.org/x"},
      {"mysql://root:S3cr3tC@db:3306/app", "mysql://root:***@db:3306/app"},
      {"curl --user bob:S3cr3tD https://x", "curl --user bob:*** https://x"},
      {"tool --token S3cr3tE; other", "tool --token *** other"},
      {"run --secret-file /etc/s", "run --secret-file ***"},
      {"curl -H \"Authorization: Bearer S3cr3tF\" https://x",
       "curl -H \"Authorization: ***\" https://x"},
      {"curl -d '{\"user\":\"bob\",\"password\": \"S3cr3tG\"}' u",
       "curl -d '{\"user\":\"bob\",\"password\": \"***\"}' u"},
      {"curl -u bob:S3cr3tH https://x", "curl -u bob:*** https://x"},
      {"wget --header='X-Api-Key: S3cr3tI' u", "wget --header='X-Api-Key: ***' u"},
      {"x --password=S3cr3tJ https://u:S3cr3tK@h", "x --password=*** https://u:***@h"},
      // Short password options of well-known programs (rule 5).
      {"mysqldump -u root -pS3cr3tL app > /b", "mysqldump -u root -p*** app > /b"},
      {"/usr/bin/mysql -h db -p'S3 cr3tM' -e 'x'", "/usr/bin/mysql -h db -p*** -e 'x'"},
      {"cd /x && sshpass -p S3cr3tN ssh host", "cd /x && sshpass -p *** ssh host"},
      {"redis-cli -a S3cr3tO ping", "redis-cli -a *** ping"},
      {"ldapsearch -x -D cn=admin -wS3cr3tP -b dc=x", "ldapsearch -x -D cn=admin -w*** -b dc=x"},
      {"smbclient //srv/share -U backup%S3cr3tQ -c ls",
       "smbclient //srv/share -U backup%*** -c ls"},
      {"lftp -u bob,S3cr3tR sftp://h", "lftp -u bob,*** sftp://h"},
      {"mongodump -u admin -p S3cr3tS --out /b", "mongodump -u admin -p *** --out /b"},
      // Not masked: no secret word, other programs' short options, mysql's prompting "-p",
      // plain URLs.
      {"run-parts --report /etc/cron.daily", "run-parts --report /etc/cron.daily"},
      {"mysql -u root -p db", "mysql -u root -p db"},
      {"mysql -u root -p; tar -pcf x y", "mysql -u root -p; tar -pcf x y"},
      {"rsync -a /x /y; ssh -p 2222 h", "rsync -a /x /y; ssh -p 2222 h"},
      {"smbclient //srv/share -U guest -N", "smbclient //srv/share -U guest -N"},
      {"date +%H:%M >> /var/log/x", "date +%H:%M >> /var/log/x"},
      {"curl https://example.org/a@b", "curl https://example.org/a@b"},
  };
  for (const auto& c : cases) {
    bool masked = false;
    std::string got = cron::MaskSecrets(c.in, &masked);
    EXPECT_EQ(got, c.want) << c.in;
    EXPECT_EQ(masked, c.want != c.in) << c.in;
  }
}

TEST(CronParse, SystemAndUserFormats) {
  std::vector<SectionError> errors;
  auto e = cron::ParseCrontab(
      "# comment\n"
      "SHELL=/bin/sh\n"
      "MAILTO = \"ops@example.org\"\n"
      "DB_PASSWORD=hunter2hunter2\n"
      "17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n"
      "@reboot root /usr/local/bin/start --token=abcdefgh123\n"
      "@every root x\n"
      "* * * root\n"
      "*/5 * * * *\n"
      "a$ * * * * root x\n",
      "/etc/crontab", true, errors);
  ASSERT_EQ(e.size(), 5u);
  EXPECT_TRUE(e[0].is_variable);
  EXPECT_EQ(e[0].name, "SHELL");
  EXPECT_EQ(e[0].value, "/bin/sh");
  EXPECT_EQ(e[1].name, "MAILTO");
  EXPECT_EQ(e[1].value, "ops@example.org");
  EXPECT_FALSE(e[1].masked);
  EXPECT_EQ(e[2].value, "***");
  EXPECT_TRUE(e[2].masked);
  EXPECT_EQ(e[3].schedule, "17 * * * *");
  EXPECT_EQ(e[3].user, "root");
  EXPECT_EQ(e[3].command, "cd / && run-parts --report /etc/cron.hourly");
  EXPECT_EQ(e[3].line, 5);
  EXPECT_EQ(e[4].schedule, "@reboot");
  EXPECT_EQ(e[4].command, "/usr/local/bin/start --token=***");
  EXPECT_EQ(errors.size(), 4u);

  errors.clear();
  auto u = cron::ParseCrontab("0 3 * * 1 /home/alice/bin/sync\n", "/x", false, errors);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].user, "");
  EXPECT_EQ(u[0].command, "/home/alice/bin/sync");
}

class CronCollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_.Write("/etc/passwd",
                "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n");
    root_.Write("/etc/group", "root:x:0:\nalice:x:1000:\ncrontab:x:101:\n");
  }
  testing::TempRoot root_;
};

// A crontab cut at the per-file limit says so even after more line errors than are listed.
TEST(CronParse, TheLimitsErrorOutlivesTheCapOnLineErrors) {
  std::string text;
  for (int i = 0; i < 25; ++i) text += "x y\n";
  for (int i = 0; i < 10001; ++i) text += "V" + std::to_string(i) + "=1\n";
  std::vector<SectionError> errors;
  auto e = cron::ParseCrontab(text, "/etc/cron.d/big", true, errors);
  EXPECT_EQ(e.size(), 10000u);
  ASSERT_EQ(errors.size(), 22u);  // 20 listed, the count of the others, the limit
  EXPECT_EQ(errors[20].message, "5 more line errors not listed");
  EXPECT_EQ(errors[21].message,
            "more than 10000 entries and variables; the rest of the file is not read");
  EXPECT_EQ(errors[21].line, 25 + 10001);
}

TEST_F(CronCollectTest, FilesEntriesPeriodicAndAccess) {
  root_.Write("/etc/crontab",
              "SHELL=/bin/sh\nPATH=/usr/sbin:/usr/bin\n"
              "25 6 * * * root test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily\n");
  root_.Write("/etc/cron.d/e2scrub_all", "30 3 * * 0 root test -e /run/systemd/system || x\n");
  root_.Write("/etc/cron.d/bad.name", "* * * * * root /bin/true\n");
  root_.Write("/etc/cron.d/.placeholder", "");
  root_.Write("/var/spool/cron/crontabs/alice", "MAILTO=alice\n*/10 * * * * ~/bin/poll\n", 0600);
  root_.Write("/etc/cron.daily/dpkg", "#!/bin/sh\n", 0755);
  root_.Write("/etc/cron.daily/not-exec", "#!/bin/sh\n", 0644);
  root_.Write("/etc/cron.daily/old.dpkg-old", "#!/bin/sh\n", 0755);
  root_.Write("/etc/cron.allow", "root\n# comment\n alice \n", 0640);
  bool chowned = root_.Chown("/var/spool/cron/crontabs/alice", 1000, 101);
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "ok") << j["errors"].dump();

  std::map<std::string, json> files;
  for (const auto& f : j["files"]) files[f["path"]] = f;
  ASSERT_EQ(files.size(), 4u);
  EXPECT_EQ(files["/etc/crontab"]["kind"], "system");
  EXPECT_EQ(files["/etc/cron.d/bad.name"]["problems"][0], "bad_name");
  if (::geteuid() == 0) {
    EXPECT_EQ(files["/etc/cron.d/bad.name"]["problems"], json::array({"bad_name"}));
  } else {
    EXPECT_EQ(files["/etc/cron.d/bad.name"]["problems"][1], "not_owned_by_root");
  }
  EXPECT_EQ(files["/etc/cron.d/bad.name"]["would_load"], false);
  EXPECT_EQ(files["/var/spool/cron/crontabs/alice"]["user"], "alice");
  EXPECT_EQ(files["/var/spool/cron/crontabs/alice"]["mode"], "0600");
  if (chowned) {
    EXPECT_EQ(files["/var/spool/cron/crontabs/alice"]["would_load"], true);
  }

  ASSERT_EQ(j["entries"].size(), 4u);
  const json& first = j["entries"][0];
  EXPECT_EQ(first["id"], "cron:/etc/crontab:3");
  EXPECT_EQ(first["user"], "root");
  EXPECT_EQ(first["schedule"], "25 6 * * *");
  EXPECT_EQ(first["source"], json({{"file", "/etc/crontab"}, {"line", 3}}));
  EXPECT_EQ(j["entries"][3]["user"], "alice");
  EXPECT_EQ(j["entries"][3]["kind"], "user");
  EXPECT_EQ(j["variables"].size(), 3u);

  std::map<std::string, bool> runs;
  for (const auto& p : j["periodic"]) runs[p["name"]] = p["would_run"];
  EXPECT_TRUE(runs["dpkg"]);
  EXPECT_FALSE(runs["not-exec"]);
  EXPECT_FALSE(runs["old.dpkg-old"]);

  ASSERT_EQ(j["access"].size(), 4u);
  EXPECT_EQ(j["access"][0]["path"], "/etc/cron.allow");
  EXPECT_EQ(j["access"][0]["state"], "present");
  EXPECT_EQ(j["access"][0]["mode"], "0640");
  EXPECT_EQ(j["access"][0]["names"],
            json::parse(R"([{"name":"root","line":1},{"name":"alice","line":3}])"));
  EXPECT_EQ(j["access"][1]["state"], "absent");
  EXPECT_TRUE(j["access"][1]["names"].is_null());
}

TEST_F(CronCollectTest, SecretsNeverReachTheOutput) {
  const std::vector<std::string> secrets = {"Zq9pLm2Xa1", "Zq9pLm2Xa2", "Zq9pLm2Xa3",
                                            "Zq9pLm2Xa4", "Zq9pLm2Xa5", "Zq9pLm2Xa6"};
  root_.Write("/etc/crontab", "API_TOKEN=" + secrets[0] +
                                  "\n"
                                  "0 * * * * root /opt/sync --password " +
                                  secrets[1] + " https://u:" + secrets[2] +
                                  "@host/\n"
                                  "0 * * * * root PGPASSWORD=" +
                                  secrets[3] + " pg_dump --dbkey=" + secrets[4] + "\n");
  root_.Write("/etc/cron.d/job", "0 0 * * * root curl 'https://x/?api_key=" + secrets[5] +
                                     "'\n"
                                     "0 0 * * bad$ root " +
                                     secrets[0] + "\n");
  std::string out, err;
  ASSERT_EQ(testing::RunCommand(std::string(TIDEMARK_AGENT_BIN) +
                                    " collect --only cron --host-id fixture --root " + root_.path(),
                                &out, &err),
            0)
      << err;
  for (const auto& s : secrets) {
    EXPECT_EQ(out.find(s), std::string::npos) << s;
    EXPECT_EQ(err.find(s), std::string::npos) << s;
  }
  json j = json::parse(out)["cron"];
  EXPECT_EQ(j["entries"].size(), 3u);
  for (const auto& e : j["entries"]) EXPECT_TRUE(e["masked"].get<bool>());
  EXPECT_TRUE(HasError(j, "/etc/cron.d/job", 2));
}

TEST_F(CronCollectTest, BadInputIsNamedAndTheRestIsRead) {
  root_.Mkdir("/etc/crontab");
  root_.Fifo("/etc/cron.d/fifo");
  root_.Write("/etc/cron.d/nul", "* * * * * root a\0b\n"s + "1 * * * * root ok\n");
  root_.Write("/etc/cron.d/long",
              "* * * * * root " + std::string(2 << 20, 'x') + "\n2 * * * * root fine\n");
  root_.Write("/etc/cron.d/huge", std::string(10 << 20, 'y'));
  root_.Write("/etc/cron.d/binary",
              "\x7f"
              "ELF\x02\x01\x01\n\xff\xfe\n"s);
  root_.Symlink("/etc/cron.allow", "cron.allow");
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "partial");
  EXPECT_TRUE(HasError(j, "/etc/crontab"));
  EXPECT_TRUE(HasError(j, "/etc/cron.d/fifo"));
  EXPECT_TRUE(HasError(j, "/etc/cron.d/nul", 1));
  EXPECT_TRUE(HasError(j, "/etc/cron.d/long", 1));
  EXPECT_TRUE(HasError(j, "/etc/cron.d/huge"));
  EXPECT_TRUE(HasError(j, "/etc/cron.d/binary", 1));
  EXPECT_TRUE(HasError(j, "/etc/cron.allow"));
  std::vector<std::string> cmds;
  for (const auto& e : j["entries"]) cmds.push_back(e["command"]);
  EXPECT_EQ(cmds, (std::vector<std::string>{"fine", "ok"}));
  for (const auto& f : j["files"]) {
    if (f["path"] == "/etc/crontab") {
      EXPECT_EQ(f["state"], "error");
    }
  }
  for (const auto& e : j["errors"]) {
    EXPECT_EQ(e["message"].get<std::string>().find("xxxxxxxx"), std::string::npos);
  }
}

TEST_F(CronCollectTest, ManyBadLinesStayBounded) {
  std::string bad;
  for (int i = 0; i < 200000; ++i) bad += "x y\n";
  root_.Write("/etc/cron.d/bad", bad);
  json j = Collect(root_);
  EXPECT_LE(j["errors"].size(), 21u);
  EXPECT_EQ(j["errors"].back()["message"], "199980 more line errors not listed");
}

TEST_F(CronCollectTest, NothingInstalledIsAbsentNotError) {
  json j = Collect(root_);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["files"][0]["state"], "absent");
  EXPECT_EQ(j["directories"]["/etc/cron.d"]["state"], "absent");
  EXPECT_EQ(j["entries"], json::array());
}

TEST_F(CronCollectTest, UnreadableSpoolIsAnError) {
  root_.Mkdir("/var/spool/cron/crontabs", 0000);
  EXPECT_TRUE(testing::RunUnprivileged([&] {
    json j = Collect(root_);
    return j["status"] == "partial" &&
           j["directories"]["/var/spool/cron/crontabs"]["state"] == "error";
  }));
  root_.Chmod("/var/spool/cron/crontabs", 0755);
}

// crontab(1) lets a user write 4 MiB of entries: at most 1,000 per file are listed, with the true
// count, and the system crontab's entries are all kept.
TEST(CronBounds, EntriesPerFileAreCappedWithTheTrueCount) {
  testing::TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/a:/bin/sh\n");
  root.Write("/etc/crontab", "0 * * * * root /usr/bin/system-job\n");
  std::string many;
  for (int i = 0; i < 5000; ++i) many += "* * * * * /bin/true " + std::to_string(i) + "\n";
  root.Write("/var/spool/cron/crontabs/alice", many, 0600);
  json j = Collect(root);
  EXPECT_EQ(j["status"], "partial");
  size_t user = 0, system = 0;
  for (const auto& e : j["entries"]) (e["kind"] == "user" ? user : system) += 1;
  EXPECT_EQ(user, 1000u);
  EXPECT_EQ(system, 1u);
  EXPECT_EQ(j["truncated"]["entries_per_file"]["total"], 5000);
  EXPECT_EQ(j["truncated"]["entries"]["total"], 5001);
  EXPECT_TRUE(HasError(j, "/var/spool/cron/crontabs/alice"));
}

TEST(CronBounds, UserCrontabNamesThatAreNotUtf8) {
  testing::TempRoot root;
  root.Write("/etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  root.Write("/var/spool/cron/crontabs/al\xffice", "* * * * * /bin/true\n", 0600);
  root.Write("/var/spool/cron/crontabs/al\xfeice", "* * * * * /bin/true\n", 0600);
  json j = Collect(root);
  std::set<std::string> ids, users;
  for (const auto& e : j["entries"]) {
    ids.insert(e["id"].get<std::string>());
    users.insert(e["user"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(users, (std::set<std::string>{"al\\xffice", "al\\xfeice"}));
  for (const auto& f : j["files"]) {
    if (f["kind"] != "user") continue;
    EXPECT_EQ(UnescapeHostName(f["path"].get<std::string>()),
              Base64Decode(f["path_b64"].get<std::string>()));
  }
}

}  // namespace
}  // namespace tidemark::agent
