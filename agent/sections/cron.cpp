#include "agent/sections/cron.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "agent/bounded_items.h"
#include "agent/conf_files.h"
#include "agent/file_meta.h"
#include "agent/parsers/crontab.h"
#include "agent/parsers/lines.h"
#include "common/compact_form.h"

namespace tidemark::agent {
namespace {

using nlohmann::json;

constexpr std::string_view kCrontab = "/etc/crontab";
constexpr std::string_view kCronDDir = "/etc/cron.d";
constexpr std::string_view kSpool = "/var/spool/cron/crontabs";
constexpr uint64_t kMaxCrontabBytes = 4ull << 20;
// Bounds of the lists (docs/sections/cron.md): a user's crontab (crontab(1)) may hold 4 MiB of
// one-line entries. Per file, so one user cannot crowd out the system's entries; in total, so
// the snapshot stays deliverable. System files come first in the walk order.
constexpr size_t kMaxEntriesPerFile = 1000;
constexpr size_t kMaxEntries = 20000;
constexpr size_t kMaxEntriesBytes = 2u << 20;
constexpr size_t kMaxVariables = 5000;
constexpr size_t kMaxVariablesBytes = 512u << 10;
constexpr size_t kMaxFiles = 5000;
constexpr size_t kMaxFilesBytes = 1u << 20;
constexpr size_t kMaxPeriodic = 5000;
constexpr size_t kMaxPeriodicBytes = 512u << 10;
constexpr size_t kMaxAccessNames = 10000;

// run-parts(8) without --lsbsysinit, and Debian cron for /etc/cron.d: names made only of
// ASCII letters, digits, underscores and hyphens.
bool RunPartsName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

enum class Kind { kSystem, kCronD, kUser };

std::string_view KindName(Kind k) {
  switch (k) {
    case Kind::kSystem:
      return "system";
    case Kind::kCronD:
      return "cron_d";
    case Kind::kUser:
      return "user";
  }
  return "system";
}

struct Ctx {
  const Fs& fs;
  const AccountDb& db;
  Section& out;
  BoundedItems files{kMaxFiles, kMaxFilesBytes};
  BoundedItems entries{kMaxEntries, kMaxEntriesBytes};
  BoundedItems variables{kMaxVariables, kMaxVariablesBytes};
  size_t per_file_cut_total = 0;  // lines of the files cut at kMaxEntriesPerFile
  bool per_file_cut = false;
};

json Source(const std::string& path, std::optional<int64_t> line) {
  json j = SourceJson(path, line);
  j["file"] = HostName(path);
  return j;
}

// Reads and parses one crontab; `user` is the owner for user crontabs.
void ReadCrontab(Ctx& c, const std::string& path, Kind kind, const std::string& user) {
  json jf = {{"id", "cron_file:" + HostName(path)},
             {"kind", KindName(kind)},
             {"user", kind == Kind::kUser ? json(HostName(user)) : json(nullptr)},
             {"source", Source(path, std::nullopt)}};
  SetHostName(jf, "path", path);
  StatusOr<FileInfo> lst = c.fs.Stat(path, false);
  jf["symlink"] = lst.ok() && lst->type == FileType::kSymlink;
  ConfFile f = ReadConf(c.fs, path, c.out, kMaxCrontabBytes);
  jf["state"] = ConfStateName(f.state);
  jf["reason"] = f.reason.empty() ? json(nullptr) : json(HostName(f.reason));
  std::optional<FileInfo> info = f.info;
  if (!info) {
    StatusOr<FileInfo> st = c.fs.Stat(path, true);
    if (st.ok()) info = *st;
  }
  AddFileMeta(jf, info, c.db);
  // Debian cron's checks before it loads a file (database.c), best effort: names for
  // /etc/cron.d, ownership, mode and link count.
  json problems = json::array();
  if (kind == Kind::kCronD && !RunPartsName(BaseName(path))) problems.push_back("bad_name");
  if (info) {
    if (info->type != FileType::kRegular) problems.push_back("not_regular");
    if (kind == Kind::kUser) {
      const PasswdEntry* pw = c.db.FindUser(user);
      if (!pw) {
        problems.push_back("unknown_user");
      } else if (info->uid != pw->uid) {
        problems.push_back("not_owned_by_user");
      }
      if ((info->mode & 07777) != 0600) problems.push_back("bad_mode");
    } else {
      if (info->uid != 0) problems.push_back("not_owned_by_root");
      if (info->mode & 022) problems.push_back("group_or_world_writable");
    }
    if (info->type == FileType::kRegular && info->nlink > 1) problems.push_back("hard_links");
  }
  jf["problems"] = problems;
  jf["would_load"] = f.state == ConfState::kPresent && problems.empty();
  c.files.Add(std::move(jf), kind != Kind::kUser);
  if (f.state != ConfState::kPresent) return;

  std::vector<SectionError> errs;
  std::vector<cron::CronEntry> parsed = cron::ParseCrontab(f.data, path, kind != Kind::kUser, errs);
  LineErrorSink sink(path);
  sink.Take(c.out, errs);
  sink.Flush(c.out);
  size_t in_file = 0;
  for (const cron::CronEntry& e : parsed) {
    std::string id = HostName(path) + ":" + std::to_string(e.line);
    if (++in_file > kMaxEntriesPerFile) {
      (e.is_variable ? c.variables : c.entries).CountMore(1);
      continue;
    }
    const bool system = kind != Kind::kUser;
    if (e.is_variable) {
      c.variables.Add({{"id", "cron_var:" + id},
                       {"name", HostName(e.name)},
                       {"value", HostName(e.value)},
                       {"masked", e.masked},
                       {"kind", KindName(kind)},
                       {"source", Source(path, e.line)}},
                      system);
    } else {
      c.entries.Add({{"id", "cron:" + id},
                     {"kind", KindName(kind)},
                     {"schedule", HostName(e.schedule)},
                     {"user", HostName(kind == Kind::kUser ? user : e.user)},
                     {"command", HostName(e.command)},
                     {"masked", e.masked},
                     {"source", Source(path, e.line)}},
                    system);
    }
  }
  if (in_file > kMaxEntriesPerFile) {
    c.per_file_cut = true;
    c.per_file_cut_total += in_file;
    c.out.AddError(path, std::nullopt,
                   std::to_string(in_file) + " entries and variables; only the first " +
                       std::to_string(kMaxEntriesPerFile) + " are listed");
  }
}

json AccessFile(const Fs& fs, const AccountDb& db, Section& out, std::string_view path) {
  // Compact (docs/sections/cron.md): the item is its own source ({file: path}); nulls omitted.
  json j = {{"id", "cron_access:" + std::string(path)}, {"path", std::string(path)}};
  size_t listed = 0, total = 0;
  ConfFile f = ReadConf(fs, path, out, 1ull << 20);
  j["state"] = ConfStateName(f.state);
  j["reason"] =
      f.reason.empty() || f.state == ConfState::kAbsent ? json(nullptr) : json(HostName(f.reason));
  AddFileMeta(j, f.info, db);
  json names = json::array();
  if (f.state == ConfState::kPresent) {
    ForEachAcceptedLine(f.data, std::string(path), 256, out,
                        [&](std::string_view raw, int64_t number) {
                          std::string_view name = TrimBlank(raw);
                          if (name.empty() || name.front() == '#') return true;
                          // Only root writes these files; bounded all the same.
                          if (++total > kMaxAccessNames) return true;
                          ++listed;
                          names.push_back({{"name", HostName(name)}, {"line", number}});
                          return true;
                        });
  }
  j["names"] = f.state == ConfState::kPresent ? names : json(nullptr);
  if (total > listed) {
    out.AddError(
        std::string(path), std::nullopt,
        std::to_string(total) + " names; only the first " + std::to_string(listed) + " are listed");
  }
  OmitDefaults(j);
  return j;
}

}  // namespace

void CronReader::Collect(CollectContext& ctx, Section& out) {
  Ctx c{ctx.fs(), ctx.accounts(), out};
  BoundedItems periodic(kMaxPeriodic, kMaxPeriodicBytes);

  ReadCrontab(c, std::string(kCrontab), Kind::kSystem, "");

  json dirs = json::object();
  auto list = [&](std::string_view dir) -> std::vector<std::string> {
    StatusOr<std::vector<std::string>> names = c.fs.ListDir(dir);
    if (names.ok()) {
      dirs[std::string(dir)] = {{"state", "present"}, {"reason", nullptr}};
      return *names;
    }
    bool absent = names.status().code() == StatusCode::kNotFound;
    dirs[std::string(dir)] = {{"state", absent ? "absent" : "error"},
                              {"reason", names.status().message()}};
    if (!absent)
      out.AddError(std::string(dir), std::nullopt, "cannot list: " + names.status().message());
    return {};
  };

  for (const std::string& name : list(kCronDDir)) {
    if (name.front() == '.') continue;  // Debian cron skips hidden files
    ReadCrontab(c, JoinPath(kCronDDir, name), Kind::kCronD, "");
  }
  for (const std::string& name : list(kSpool)) {
    if (name.front() == '.') continue;
    ReadCrontab(c, JoinPath(kSpool, name), Kind::kUser, name);
  }

  for (std::string_view dir :
       {"/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly"}) {
    for (const std::string& name : list(dir)) {
      std::string path = JoinPath(dir, name);
      if (periodic.total() >= kMaxPeriodic) {
        periodic.CountMore(1);
        continue;
      }
      json j = {{"id", "cron_periodic:" + HostName(path)},
                {"directory", std::string(dir)},
                {"name", HostName(name)},
                {"source", Source(path, std::nullopt)}};
      SetHostName(j, "path", path);
      StatusOr<FileInfo> st = c.fs.Stat(path, true);
      std::optional<FileInfo> info;
      if (st.ok()) info = *st;
      AddFileMeta(j, info, c.db);
      json problems = json::array();
      if (!RunPartsName(name)) problems.push_back("bad_name");
      if (!st.ok()) {
        problems.push_back("unreadable");
        j["reason"] = HostName(st.status().message());
        if (st.status().code() != StatusCode::kNotFound)
          out.AddError(path, std::nullopt, "cannot stat: " + st.status().message());
      } else {
        j["reason"] = nullptr;
        if (st->type != FileType::kRegular) problems.push_back("not_regular");
        if ((st->mode & 0111) == 0) problems.push_back("not_executable");
      }
      j["problems"] = problems;
      j["would_run"] = problems.empty();
      periodic.Add(std::move(j));
    }
  }

  json access = json::array();
  for (std::string_view path :
       {"/etc/cron.allow", "/etc/cron.deny", "/etc/at.allow", "/etc/at.deny"}) {
    access.push_back(AccessFile(c.fs, c.db, out, path));
  }

  out.data["directories"] = std::move(dirs);
  out.data["access"] = std::move(access);
  out.data["limits"] = {{"max_entries_per_file", kMaxEntriesPerFile},
                        {"max_entries", kMaxEntries},
                        {"max_entries_bytes", kMaxEntriesBytes},
                        {"max_variables", kMaxVariables},
                        {"max_files", kMaxFiles},
                        {"max_periodic", kMaxPeriodic}};
  out.items["files"] = c.files.Take();
  out.items["entries"] = c.entries.Take();
  out.items["variables"] = c.variables.Take();
  out.items["periodic"] = periodic.Take();
  c.files.Report(out, "files");
  c.entries.Report(out, "entries");
  c.variables.Report(out, "variables");
  periodic.Report(out, "periodic");
  if (c.per_file_cut) {
    out.NoteTruncated("entries_per_file", kMaxEntriesPerFile, c.per_file_cut_total);
  }
  EscapeErrorNames(out);
}

}  // namespace tidemark::agent
