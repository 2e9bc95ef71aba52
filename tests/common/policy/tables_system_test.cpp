// Fact tables over sections the real agent collects from fixture roots (issue 10): files and
// trust_files (files), suid_files, world_writable and unowned_files (sweep), services, packages,
// and the cron tables: exact rows, ids and sources, compact defaults restored, modes as integers,
// list columns usable with json_each, and a section of the wrong shape leaving its tables empty.
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent/collect.h"
#include "common/policy/fact_db.h"
#include "common/policy/tables.h"
#include "common/sha256.h"
#include "tests/common/policy/fact_db_support.h"
#include "tests/support/require.h"
#include "tests/support/temp_root.h"

namespace tidemark::policy {
namespace {

using json = nlohmann::json;
using policy::fixtures::Rows;
using testing::TempRoot;

Snapshot Collect(const TempRoot& root, const std::string& only) {
  return policy::fixtures::Collect(root.path(), {only});
}
using policy::fixtures::Loaded;
using policy::fixtures::Query;

// The fixture's users: root, alice (1000) and, when the tests do not run as root, the running
// user as "tester", so that the files the test creates have a known owner and group.
void WriteAccounts(TempRoot& root) {
  std::string passwd = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n";
  std::string group = "root:x:0:\nalice:x:1000:\n";
  if (::geteuid() != 0) {
    passwd += "tester:x:" + std::to_string(::geteuid()) + ":" + std::to_string(::getegid()) +
              "::/nonexistent:/usr/sbin/nologin\n";
  }
  if (::getegid() != 0) group += "tester:x:" + std::to_string(::getegid()) + ":\n";
  root.Write("/etc/passwd", passwd);
  root.Write("/etc/group", group);
}

std::string Me() { return ::geteuid() == 0 ? "root" : "tester"; }
std::string MyGroup() { return ::getegid() == 0 ? "root" : "tester"; }

std::string SectionStatus(const FactDb& db, const std::string& section) {
  Rows r = Query(db, "SELECT status FROM sections WHERE name = '" + section + "'");
  return r.size() == 1 ? json::parse(r[0])[0].get<std::string>() : "(no such section)";
}

const Column* FindColumn(const std::string& table, const std::string& column) {
  const Table* t = FindTable(table);
  if (t == nullptr) return nullptr;
  for (const Column& c : t->columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

TEST(TablesSystemTest, FilesAndTrustFilesFromACollectedRoot) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/shadow", "root:!:19000:0:99999:7:::\n", 0640);
  root.Write("/etc/sudoers", "root ALL=(ALL:ALL) ALL\n", 0440);
  root.Write("/etc/pam.d/common-auth", "auth required pam_unix.so\n", 0666);
  root.Symlink("/etc/pam.d/other", "common-auth");
  root.Write("/etc/hosts.equiv", "+\n", 0644);
  auto db = Loaded(Collect(root, "files"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "files"), "ok");

  // The path is the id without "file:"; the item is its own source (no line); the omitted
  // `state` ("present") and `hash_state` ("hashed") are restored; the mode is an integer.
  EXPECT_EQ(Query(*db,
                  "SELECT id, path, category, state, type, mode, owner, \"group\", hash_state, "
                  "sha256, source_file, source_line FROM files WHERE path = '/etc/shadow'"),
            (Rows{json::array({"file:/etc/shadow", "/etc/shadow", "account_db", "present",
                               "regular", 0640, Me(), MyGroup(), "hashed",
                               Sha256Hex("root:!:19000:0:99999:7:::\n"), "/etc/shadow", nullptr})
                      .dump()}));
  // A listed path that does not exist: state written, no metadata, no hash state.
  EXPECT_EQ(Query(*db,
                  "SELECT state, type, mode, hash_state, source_file FROM files "
                  "WHERE path = '/etc/gshadow'"),
            (Rows{R"(["absent",null,null,null,"/etc/gshadow"])"}));
  EXPECT_EQ(Query(*db, "SELECT path FROM files WHERE type = 'regular' AND mode & 2"),
            (Rows{R"(["/etc/pam.d/common-auth"])"}));
  EXPECT_EQ(
      Query(*db, "SELECT type, link_target, hash_state FROM files WHERE path = '/etc/pam.d/other'"),
      (Rows{R"(["symlink","common-auth","not_regular"])"}));
  EXPECT_EQ(Query(*db, "SELECT mode FROM files WHERE path = '/etc/sudoers'"), (Rows{"[288]"}));

  EXPECT_EQ(Query(*db,
                  "SELECT id, path, name, user, type, mode, source_file, source_line "
                  "FROM trust_files"),
            (Rows{R"(["trust_file:/etc/hosts.equiv","/etc/hosts.equiv","hosts.equiv",null,)"
                  R"("regular",420,"/etc/hosts.equiv",null])"}));

  const Column* mtime = FindColumn("files", "mtime");
  ASSERT_NE(mtime, nullptr);
  EXPECT_TRUE(mtime->changes_by_itself);
}

// dpkg's database as Debian 12 lays it out: /bin is a symlink to usr/bin, the lists name /bin.
void WriteSweepRoot(TempRoot& root) {
  WriteAccounts(root);
  root.Symlink("/bin", "usr/bin");
  root.Write("/usr/bin/su", "su-binary", 04755);
  root.Write("/usr/bin/wall", "wall-binary", 02755);
  root.Write("/usr/bin/plain", "plain", 0755);
  root.Mkdir("/tmp", 01777);  // sticky: not reported
  root.Mkdir("/srv/open", 0777);
  root.Write("/srv/ww", "x", 0666);
  root.Write("/var/lib/dpkg/status", "");
  root.Write("/var/lib/dpkg/info/util-linux.list", "/.\n/bin\n/bin/su\n");
  root.Write("/var/lib/dpkg/info/bsdutils.list", "/usr/bin/su\n");
}

TEST(TablesSystemTest, SuidWorldWritableAndUnownedFilesFromASweep) {
  TempRoot root;
  WriteSweepRoot(root);
  bool as_root = ::geteuid() == 0;
  if (as_root) {
    root.Write("/data/nouser", "x", 0644);
    ASSERT_TRUE(root.Chown("/data/nouser", 4242, 0));
  }
  auto db = Loaded(Collect(root, "sweep"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sweep"), "ok");

  EXPECT_EQ(Query(*db,
                  "SELECT id, path, mode, setuid, setgid, owner, package, source_file, "
                  "source_line FROM suid_files ORDER BY path"),
            (Rows{json::array({"sweep:setid:/usr/bin/su", "/usr/bin/su", 04755, 1, 0, Me(),
                               "bsdutils, util-linux", "/usr/bin/su", nullptr})
                      .dump(),
                  json::array({"sweep:setid:/usr/bin/wall", "/usr/bin/wall", 02755, 0, 1, Me(),
                               nullptr, "/usr/bin/wall", nullptr})
                      .dump()}));
  EXPECT_EQ(Query(*db, "SELECT path FROM suid_files WHERE mode & 2048"),
            (Rows{R"(["/usr/bin/su"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT p.value FROM suid_files, json_each(suid_files.packages) AS p "
                  "WHERE suid_files.path = '/usr/bin/su'"),
            (Rows{R"(["bsdutils"])", R"(["util-linux"])"}));
  // No package owns /usr/bin/wall: `[]`, not NULL (which would mean no dpkg database).
  EXPECT_EQ(Query(*db, "SELECT packages, dpkg_path, sha256 FROM suid_files WHERE setgid"),
            (Rows{json::array({"[]", "/usr/bin/wall", Sha256Hex("wall-binary")}).dump()}));

  EXPECT_EQ(Query(*db,
                  "SELECT id, path, type, mode, source_file, source_line FROM world_writable "
                  "ORDER BY path"),
            (Rows{R"(["sweep:world_writable_dir:/srv/open","/srv/open","directory",511,)"
                  R"("/srv/open",null])",
                  R"(["sweep:world_writable_file:/srv/ww","/srv/ww","regular",438,"/srv/ww",)"
                  R"(null])"}));
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM world_writable WHERE mode & 2 AND NOT mode & 512"),
            (Rows{"[2]"}));

  TIDEMARK_REQUIRE(as_root, "needs root to create a file owned by an unused uid");
  EXPECT_EQ(Query(*db,
                  "SELECT id, path, type, mode, uid, owner, \"group\", no_user, no_group, "
                  "source_file, source_line FROM unowned_files"),
            (Rows{R"(["sweep:unowned:/data/nouser","/data/nouser","regular",420,4242,null,)"
                  R"("root",1,0,"/data/nouser",null])"}));
}

TEST(TablesSystemTest, ASweepItemOfTheWrongShapeLeavesTheSectionsTablesEmpty) {
  TempRoot root;
  WriteSweepRoot(root);
  Snapshot snapshot = Collect(root, "sweep");
  json& data = snapshot.sections["sweep"].data;
  ASSERT_TRUE(data["setid_files"].is_array() && !data["setid_files"].empty());
  data["setid_files"][0]["mode"] = "rwsr-xr-x";  // not octal
  auto db = Loaded(snapshot);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "sweep"), "unknown_shape");
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM suid_files"), (Rows{"[0]"}));
  EXPECT_EQ(Query(*db, "SELECT count(*) FROM world_writable"), (Rows{"[0]"}));
}

TEST(TablesSystemTest, ServicesFromUnitFilesOfAnOfflineRoot) {
  TempRoot root;
  root.Write("/lib/systemd/system/ssh.service",
             "[Unit]\nDescription=OpenBSD Secure Shell server\n"
             "[Service]\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\n"
             "EnvironmentFile=-/etc/default/ssh\n"
             "[Install]\nWantedBy=multi-user.target\n");
  root.Symlink("/etc/systemd/system/multi-user.target.wants/ssh.service",
               "/lib/systemd/system/ssh.service");
  root.Write("/lib/systemd/system/apt-daily.timer", "[Timer]\nOnCalendar=daily\n");
  root.Write("/etc/systemd/system/app.service",
             "[Service]\n"                                  // 1
             "User=app\n"                                   // 2
             "Group=app\n"                                  // 3
             "Environment=MODE=prod \"DB_HOST=db 1\"\n"     // 4
             "ExecStartPre=/bin/true\n"                     // 5
             "ExecStart=/opt/app/run --password hunter2\n"  // 6
             "[Install]\nWantedBy=multi-user.target\n");
  root.Write("/etc/systemd/system/app.service.d/limits.conf", "[Service]\nLimitNOFILE=1024\n");
  Snapshot snapshot = Collect(root, "services");
  auto db = Loaded(snapshot);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "services"), "ok");

  // Name and type from the id; the file of a unit in the package unit directory restored from
  // the section's `unit_dir`; active states unknown (NULL) on an offline root.
  EXPECT_EQ(Query(*db,
                  "SELECT id, unit, type, state, enabled, active, active_state, user, source_file, "
                  "source_line FROM services ORDER BY unit"),
            (Rows{R"(["unit:app.service","app.service","service","disabled",0,null,null,"app",)"
                  R"("/etc/systemd/system/app.service",null])",
                  R"(["unit:apt-daily.timer","apt-daily.timer","timer","static",0,null,null,null,)"
                  R"("/lib/systemd/system/apt-daily.timer",null])",
                  R"(["unit:ssh.service","ssh.service","service","enabled",1,null,null,null,)"
                  R"("/lib/systemd/system/ssh.service",null])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT e.value FROM services, json_each(services.exec_start) AS e "
                  "WHERE unit = 'app.service'"),
            (Rows{R"(["/opt/app/run --password ***"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT \"group\", exec_start_masked, environment, dropins FROM services "
                  "WHERE unit = 'app.service'"),
            (Rows{R"(["app",1,"[\"MODE\",\"DB_HOST\"]",)"
                  R"("[\"/etc/systemd/system/app.service.d/limits.conf\"]"])"}));
  // Compact defaults: no [Install] is {}, no drop-in is [], no ExecStart is [].
  EXPECT_EQ(Query(*db,
                  "SELECT install, dropins, exec_start, exec_start_masked, environment_files "
                  "FROM services WHERE unit = 'apt-daily.timer'"),
            (Rows{R"(["{}","[]","[]",0,"[]"])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT exec_start, environment_files, json_extract(install, '$.wanted_by') "
                  "FROM services WHERE unit = 'ssh.service'"),
            (Rows{R"(["[\"/usr/sbin/sshd -D $SSHD_OPTS\"]",)"
                  R"("[{\"optional\":true,\"path\":\"/etc/default/ssh\"}]",)"
                  R"("[\"multi-user.target\"]"])"}));

  // With the running manager's states (a live host; set here as the collector writes them): a
  // unit the manager has not loaded carries no keys and is inactive/dead.
  json& data = snapshot.sections["services"].data;
  data["manager"]["active_state_collected"] = true;
  for (json& unit : data["units"]) {
    if (unit["id"] == "unit:ssh.service") {
      unit["active_state"] = "active";
      unit["sub_state"] = "running";
    }
  }
  db = Loaded(snapshot);
  EXPECT_EQ(Query(*db,
                  "SELECT unit, active, active_state, sub_state, load_state FROM services "
                  "ORDER BY unit"),
            (Rows{R"(["app.service",0,"inactive","dead",null])",
                  R"(["apt-daily.timer",0,"inactive","dead",null])",
                  R"(["ssh.service",1,"active","running","loaded"])"}));
}

TEST(TablesSystemTest, PackagesFromTheDpkgStatusFile) {
  TempRoot root;
  root.Write("/var/lib/dpkg/status",
             "Package: bash\n"                       // 1
             "Status: install ok installed\n"        // 2
             "Architecture: amd64\n"                 // 3
             "Version: 5.2.15-2+b2\n"                // 4
             "\n"                                    // 5
             "Package: libssl3\n"                    // 6
             "Status: hold ok installed\n"           // 7
             "Architecture: amd64\n"                 // 8
             "Source: openssl (3.0.15-1~deb12u1)\n"  // 9
             "Version: 3.0.15-1~deb12u1+b1\n"        // 10
             "\n"                                    // 11
             "Package: telnetd\n"                    // 12
             "Status: deinstall ok config-files\n"   // 13
             "Architecture: amd64\n"                 // 14
             "Source: inetutils\n"                   // 15
             "Version: 2.4-2\n");                    // 16
  auto db = Loaded(Collect(root, "packages"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "packages"), "ok");
  EXPECT_EQ(
      Query(*db,
            "SELECT id, name, arch, version, installed, status_abbrev, want, eflag, status, "
            "source_package, source_version, source_file, source_line FROM packages"),
      (Rows{R"(["package:bash:amd64","bash","amd64","5.2.15-2+b2",1,"ii ","install","ok",)"
            R"("installed","bash","5.2.15-2+b2","/var/lib/dpkg/status",1])",
            R"(["package:libssl3:amd64","libssl3","amd64","3.0.15-1~deb12u1+b1",1,"hi ",)"
            R"("hold","ok","installed","openssl","3.0.15-1~deb12u1","/var/lib/dpkg/status",6])",
            R"(["package:telnetd:amd64","telnetd","amd64","2.4-2",0,"rc ","deinstall","ok",)"
            R"("config-files","inetutils","2.4-2","/var/lib/dpkg/status",12])"}));
}

TEST(TablesSystemTest, CronJobsFilesAndAllowDenyLists) {
  TempRoot root;
  WriteAccounts(root);
  root.Write("/etc/crontab",
             "SHELL=/bin/sh\n"                                         // 1
             "17 * * * * root cd / && run-parts /etc/cron.hourly\n");  // 2
  root.Write("/etc/cron.d/backup",
             "DB_PASSWORD=hunter2\n@daily root /usr/bin/backup --password x\n", 0664);
  root.Write("/var/spool/cron/crontabs/alice", "*/10 * * * * ~/bin/poll\n", 0600);
  root.Write("/etc/cron.daily/logrotate", "#!/bin/sh\n", 0755);
  root.Write("/etc/cron.daily/old.dpkg-old", "#!/bin/sh\n", 0755);
  root.Write("/etc/cron.allow", "root\n# comment\n alice \n", 0640);
  root.Write("/etc/at.deny", "nobody\n", 0640);
  auto db = Loaded(Collect(root, "cron"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(SectionStatus(*db, "cron"), "ok");

  EXPECT_EQ(
      Query(*db,
            "SELECT id, user, schedule, command, masked, kind, source_file, source_line "
            "FROM cron_jobs ORDER BY id"),
      (Rows{R"(["cron:/etc/cron.d/backup:2","root","@daily","/usr/bin/backup --password ***",)"
            R"(1,"cron_d","/etc/cron.d/backup",2])",
            R"(["cron:/etc/crontab:2","root","17 * * * *",)"
            R"("cd / && run-parts /etc/cron.hourly",0,"system","/etc/crontab",2])",
            R"(["cron:/var/spool/cron/crontabs/alice:1","alice","*/10 * * * *",)"
            R"("~/bin/poll",0,"user","/var/spool/cron/crontabs/alice",1])"}));
  EXPECT_EQ(Query(*db, "SELECT name, value, masked, source_line FROM cron_variables ORDER BY id"),
            (Rows{R"(["DB_PASSWORD","***",1,1])", R"(["SHELL","/bin/sh",0,1])"}));

  EXPECT_EQ(Query(*db,
                  "SELECT id, path, kind, user, mode, source_file, source_line FROM cron_files "
                  "ORDER BY path"),
            (Rows{R"(["cron_file:/etc/cron.d/backup","/etc/cron.d/backup","cron_d",null,436,)"
                  R"("/etc/cron.d/backup",null])",
                  R"(["cron_file:/etc/crontab","/etc/crontab","system",null,420,"/etc/crontab",)"
                  R"(null])",
                  R"(["cron_file:/var/spool/cron/crontabs/alice","/var/spool/cron/crontabs/alice",)"
                  R"("user","alice",384,"/var/spool/cron/crontabs/alice",null])"}));
  EXPECT_EQ(
      Query(*db,
            "SELECT cron_files.path, p.value FROM cron_files, json_each(cron_files.problems) AS p "
            "WHERE mode & 18"),
      (Rows{R"(["/etc/cron.d/backup","group_or_world_writable"])"}));

  EXPECT_EQ(Query(*db,
                  "SELECT id, directory, name, mode, would_run, problems, source_file "
                  "FROM cron_periodic ORDER BY name"),
            (Rows{R"(["cron_periodic:/etc/cron.daily/logrotate","/etc/cron.daily","logrotate",)"
                  R"(493,1,"[]","/etc/cron.daily/logrotate"])",
                  R"(["cron_periodic:/etc/cron.daily/old.dpkg-old","/etc/cron.daily",)"
                  R"("old.dpkg-old",493,0,"[\"bad_name\"]","/etc/cron.daily/old.dpkg-old"])"}));

  // One row per list file, present or not; an absent one has no metadata and no names.
  EXPECT_EQ(Query(*db,
                  "SELECT id, service, list, state, mode, names IS NULL, source_file, source_line "
                  "FROM cron_access ORDER BY path"),
            (Rows{R"(["cron_access:/etc/at.allow","at","allow","absent",null,1,"/etc/at.allow",)"
                  R"(null])",
                  R"(["cron_access:/etc/at.deny","at","deny","present",416,0,"/etc/at.deny",)"
                  R"(null])",
                  R"(["cron_access:/etc/cron.allow","cron","allow","present",416,0,)"
                  R"("/etc/cron.allow",null])",
                  R"(["cron_access:/etc/cron.deny","cron","deny","absent",null,1,)"
                  R"("/etc/cron.deny",null])"}));
  EXPECT_EQ(Query(*db,
                  "SELECT json_extract(n.value, '$.name'), json_extract(n.value, '$.line') "
                  "FROM cron_access, json_each(cron_access.names) AS n "
                  "WHERE service = 'cron' AND list = 'allow'"),
            (Rows{R"(["root",1])", R"(["alice",3])"}));
}

}  // namespace
}  // namespace tidemark::policy
