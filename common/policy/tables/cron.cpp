// Tables of the `cron` section (docs/sections/cron.md): jobs and variables of the crontabs, the
// crontab files themselves, what run-parts would run from /etc/cron.{hourly,...}, and the cron/at
// allow and deny lists.
#include "common/policy/tables.h"
#include "common/policy/tables/file_items.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// Rows of the items of cron.`key` that describe files, with their modes as integers.
Status CronFileRows(const json& data, std::string_view key, ItemSink& sink,
                    const std::function<void(json&)>& more = nullptr) {
  const json* items = nullptr;
  if (Status s = SectionItems(data, "cron", key, &items); !s.ok() || items == nullptr) return s;
  for (const json& item : *items) {
    json row;
    if (Status s = FileItem(item, StringAt(item, "path"), "cron." + std::string(key), row);
        !s.ok()) {
      return s;
    }
    if (more) more(row);
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

Status CronFiles(const json& data, ItemSink& sink) { return CronFileRows(data, "files", sink); }

Status CronPeriodic(const json& data, ItemSink& sink) {
  return CronFileRows(data, "periodic", sink);
}

// The access files are fixed paths: /etc/cron.allow, /etc/cron.deny, /etc/at.allow, /etc/at.deny.
Status CronAccess(const json& data, ItemSink& sink) {
  return CronFileRows(data, "access", sink, [](json& row) {
    std::string path = StringAt(row, "path");
    std::string base = path.substr(path.rfind('/') + 1);  // npos + 1 == 0
    size_t dot = base.find('.');
    if (dot == std::string::npos) return;
    row["service"] = base.substr(0, dot);
    row["list"] = base.substr(dot + 1);
  });
}

std::vector<Column> MetaColumns() {
  return {
      {"type", T::kText, "the file's type (`regular`, `symlink`, ...)"},
      {"mode", T::kInteger, "permission bits (`mode & 18`: group or world writable)"},
      {"uid", T::kInteger, "the owner's uid"},
      {"owner", T::kText, "the owner's name; NULL when no user has the uid"},
      {"gid", T::kInteger, "the group's gid"},
      {"group", T::kText, "the group's name; NULL when no group has the gid"},
  };
}

}  // namespace

void AddCronTables(std::vector<Table>& out) {
  out.push_back(
      Table{.name = "cron_jobs",
            .section = "cron",
            .meaning = "Jobs of `/etc/crontab`, `/etc/cron.d/*` and the user crontabs in "
                       "`/var/spool/cron/crontabs`, as cron would run them; lines cron ignores are "
                       "not here. The source is the job's line.",
            .items = "/entries",
            .columns = {
                {"user", T::kText, "the user the command runs as"},
                {"schedule", T::kText,
                 "the five time fields joined by one space, or `@reboot`, `@daily`, ..."},
                {"command", T::kText, "the command as written, secrets replaced by `***`"},
                {"masked", T::kBoolean, "a secret was masked in the command"},
                {"kind", T::kText,
                 "the crontab's kind: `system` (/etc/crontab), `cron_d`, `user` (spool)"},
            }});
  out.push_back(Table{
      .name = "cron_variables",
      .section = "cron",
      .meaning = "Variable settings (`NAME = value`: MAILTO, PATH, SHELL, CRON_TZ, ...) of the "
                 "crontabs. The source is the setting's line.",
      .items = "/variables",
      .columns = {
          {"name", T::kText, "the variable"},
          {"value", T::kText,
           "its value; `***` when the name holds a secret word, URL passwords masked"},
          {"masked", T::kBoolean, "something of the value was masked"},
          {"kind", T::kText, "the crontab's kind: `system`, `cron_d`, `user`"},
      }});
  out.push_back(Table{
      .name = "cron_files",
      .section = "cron",
      .meaning = "The crontab files: `/etc/crontab`, `/etc/cron.d/*`, the user crontabs, with "
                 "why Debian's cron would refuse one. The source is the file itself.",
      .rows = CronFiles,
      .columns = ConcatColumns(
          {
              {"path", T::kText, "the file"},
              {"kind", T::kText, "`system`, `cron_d`, `user`"},
              {"user", T::kText, "for user crontabs, the user cron runs it as (the file name)"},
              {"state", T::kText, "`present`, `absent` (/etc/crontab only), `error`"},
              {"reason", T::kText, "why absent or error"},
              {"symlink", T::kBoolean, "the entry itself is a symlink (metadata: its target)"},
          },
          ConcatColumns(MetaColumns(),
                        {
                            {"problems", T::kJson,
                             "why cron would refuse it: `bad_name`, `not_regular`, "
                             "`not_owned_by_root`, `group_or_world_writable`, `unknown_user`, "
                             "`not_owned_by_user`, `bad_mode`, `hard_links`"},
                            {"would_load", T::kBoolean, "read and no problems"},
                        })),
  });
  out.push_back(Table{
      .name = "cron_periodic",
      .section = "cron",
      .meaning = "The files of `/etc/cron.{hourly,daily,weekly,monthly}` and whether run-parts "
                 "(as `/etc/crontab` calls it) would run them. The source is the file itself.",
      .rows = CronPeriodic,
      .columns = ConcatColumns(
          {
              {"path", T::kText, "the file"},
              {"directory", T::kText, "`/etc/cron.hourly`, `/etc/cron.daily`, ..."},
              {"name", T::kText, "the file name"},
          },
          ConcatColumns(MetaColumns(),
                        {
                            {"problems", T::kJson,
                             "why run-parts skips it: `bad_name`, `not_regular`, `not_executable`, "
                             "`unreadable`"},
                            {"would_run", T::kBoolean, "no problems: run-parts runs it"},
                            {"reason", T::kText, "why it could not be stat()ed"},
                        })),
  });
  out.push_back(Table{
      .name = "cron_access",
      .section = "cron",
      .meaning = "The cron and at allow and deny lists: one row for each of `/etc/cron.allow`, "
                 "`/etc/cron.deny`, `/etc/at.allow`, `/etc/at.deny`, present or not (with an "
                 "allow file only listed users may use crontab(1)/at(1); else the deny file "
                 "excludes; with neither, Debian allows everyone). The source is the file itself.",
      .rows = CronAccess,
      .columns = ConcatColumns(
          {
              {"path", T::kText, "the file"},
              {"service", T::kText, "`cron` or `at`"},
              {"list", T::kText, "`allow` or `deny`"},
              {"state", T::kText, "`present`, `absent`, `error`"},
              {"reason", T::kText, "why error"},
          },
          ConcatColumns(
              MetaColumns(),
              {
                  {"names", T::kJson,
                   "the names listed `[{name, line}]` (empty and `#` lines skipped); NULL "
                   "when the file is not present"},
              })),
  });
}

}  // namespace tidemark::policy
