// Tables of the `files` section (docs/sections/files.md: the security-relevant paths and the trust
// files) and of the `sweep` section (docs/sections/sweep.md: SUID/SGID, world-writable and
// unowned files of one walk of the local filesystems).
#include "common/policy/tables.h"
#include "common/policy/tables/file_items.h"

namespace tidemark::policy {

namespace {

using T = ColumnType;
using json = nlohmann::json;

// The path of an item whose path is not written (files.files: rule 5 of the compact form) or is:
// the id without its prefix. Returns "" when the id does not start with `prefix`.
std::string PathFromId(const json& item, std::string_view prefix) {
  std::string id = StringAt(item, "id");
  if (id.compare(0, prefix.size(), prefix) != 0) return "";
  return id.substr(prefix.size());
}

// Rows of the items of data[key] describing files, each with its `mode` as an integer and
// {file: path} as its source; `prefix` is the prefix of their ids before the path. `more` adds
// derived keys to an item, or refuses it.
Status FileRows(const json& data, std::string_view section, std::string_view key,
                std::string_view prefix, ItemSink& sink,
                const std::function<Status(json&)>& more = nullptr) {
  const json* items = nullptr;
  if (Status s = SectionItems(data, section, key, &items); !s.ok() || items == nullptr) return s;
  std::string where = std::string(section) + "." + std::string(key);
  for (const json& item : *items) {
    std::string path = PathFromId(item, prefix);
    if (path.empty()) {
      return {StatusCode::kInvalidArgument,
              where + " has an item whose id is not " + std::string(prefix) + "PATH"};
    }
    json row;
    if (Status s = FileItem(item, path, where, row); !s.ok()) return s;
    if (more) {
      if (Status s = more(row); !s.ok()) return s;
    }
    sink.Add(std::move(row));
  }
  return Status::Ok();
}

Status Files(const json& data, ItemSink& sink) {
  return FileRows(data, "files", "files", "file:", sink, [](json& row) -> Status {
    // `hash_state` "hashed" is omitted only beside a `sha256` (absent files have neither).
    RestoreDefaults(row, CompactKind::kFile);
    return Status::Ok();
  });
}

Status TrustFiles(const json& data, ItemSink& sink) {
  return FileRows(data, "files", "trust_files", "trust_file:", sink);
}

Status SuidFiles(const json& data, ItemSink& sink) {
  return FileRows(data, "sweep", "setid_files", "sweep:setid:", sink, [](json& row) -> Status {
    // `package` as `dpkg -S` names the owners: "a, b"; NULL when no package owns the file.
    auto packages = row.find("packages");
    if (packages == row.end() || packages->is_null()) return Status::Ok();
    if (!packages->is_array()) {
      return {StatusCode::kInvalidArgument, "sweep.setid_files[].packages is not an array"};
    }
    std::string joined;
    for (const json& p : *packages) {
      if (!p.is_string()) {
        return {StatusCode::kInvalidArgument, "sweep.setid_files[].packages has a non-string"};
      }
      if (!joined.empty()) joined += ", ";
      joined += p.get<std::string>();
    }
    if (!joined.empty()) row["package"] = joined;
    return Status::Ok();
  });
}

// world_writable: the world-writable files, then the world-writable directories without the
// sticky bit: both are places any local user can write into.
Status WorldWritable(const json& data, ItemSink& sink) {
  if (Status s =
          FileRows(data, "sweep", "world_writable_files", "sweep:world_writable_file:", sink);
      !s.ok()) {
    return s;
  }
  return FileRows(data, "sweep", "world_writable_dirs", "sweep:world_writable_dir:", sink);
}

Status UnownedFiles(const json& data, ItemSink& sink) {
  return FileRows(data, "sweep", "unowned_files", "sweep:unowned:", sink);
}

// The columns of a file's metadata that the items of both sections share.
std::vector<Column> OwnerColumns() {
  return {
      {"uid", T::kInteger, "the owner's uid"},
      {"owner", T::kText, "the owner's name in the root's passwd; NULL when no user has the uid"},
      {"gid", T::kInteger, "the group's gid"},
      {"group", T::kText, "the group's name in the root's group; NULL when no group has the gid"},
  };
}

// Columns are built when the registry is (no global objects with constructors).
Column PathColumn() {
  return {"path", T::kText, "the in-root path (escaped form of docs/snapshot.md when not UTF-8)"};
}
Column PathB64Column() {
  return {"path_b64", T::kText, "the path's bytes in base64 when not UTF-8"};
}
Column ModeColumn() {
  return {"mode", T::kInteger,
          "permission bits with setuid (2048), setgid (1024) and sticky (512)"};
}

}  // namespace

// Long, and kept whole: it is the declaration of five tables (docs/tables.md is generated from
// it), one initializer per table and column, read top to bottom like the document it makes.
void AddFilesTables(std::vector<Table>& out) {
  out.push_back(Table{
      .name = "files",
      .section = "files",
      .meaning = "Metadata (lstat: a symlink is described itself) and, where safe, the SHA-256 of "
                 "the security-relevant paths: the default list (account databases, sudoers, "
                 "sshd, cron, PAM, login.defs, security, audit, trust files, homes and their dot "
                 "files) and `--files-extra`. The source is the file itself.",
      .rows = Files,
      .columns = ConcatColumns(
          {PathColumn(),
           PathB64Column(),
           {"category", T::kText,
            "`account_db`, `sudo`, `sshd`, `ssh_host_key`, `cron`, `pam`, `login`, `security`, "
            "`audit`, `trust`, `home`, `extra`"},
           {"user", T::kText, "the user whose home the path lies under"},
           {"state", T::kText, "`present`, `absent` (a listed path that does not exist), `error`"},
           {"reason", T::kText, "why, for `error`"},
           {"type", T::kText,
            "`regular`, `directory`, `symlink`, `fifo`, `socket`, `char_device`, "
            "`block_device`"},
           ModeColumn()},
          ConcatColumns(
              OwnerColumns(),
              {
                  {"size", T::kInteger, "size in bytes"},
                  {"mtime", T::kInteger, "modification time, seconds since the epoch", "",
                   /*changes_by_itself=*/true},
                  {"link_target", T::kText, "the target of a symlink as stored"},
                  {"sha256", T::kText,
                   "lowercase hex SHA-256 of the content; NULL when not "
                   "hashed (`hash_state` says why)"},
                  {"hash_state", T::kText,
                   "`hashed`, `not_regular`, `private_key`, `may_hold_secrets`, `too_large`, "
                   "`unreadable_by_owner`, `symlink_in_path`, `changed`, `error`; NULL when "
                   "absent or error"},
              })),
      .compact = {CompactKind::kFile},
  });
  out.push_back(Table{
      .name = "trust_files",
      .section = "files",
      .meaning = "Files that extend trust or redirect mail when they exist: `.rhosts`, "
                 "`.shosts`, `.netrc`, `.forward` in root's and each login user's home, "
                 "`/etc/hosts.equiv`, `/etc/ssh/shosts.equiv`. The source is the file itself.",
      .rows = TrustFiles,
      .columns = ConcatColumns(
          {PathColumn(),
           PathB64Column(),
           {"name", T::kText, "the base name (`.rhosts`, `hosts.equiv`, ...)"},
           {"user", T::kText, "the user whose home holds it; NULL for the system files"},
           {"type", T::kText, "the file's type (lstat)"},
           ModeColumn()},
          ConcatColumns(OwnerColumns(),
                        {
                            {"size", T::kInteger, "size in bytes"},
                            {"mtime", T::kInteger, "modification time, seconds since the epoch", "",
                             /*changes_by_itself=*/true},
                        })),
  });
  out.push_back(Table{
      .name = "suid_files",
      .section = "sweep",
      .meaning = "Regular files with the setuid or setgid bit (`find -xdev -type f \\( -perm "
                 "-4000 -o -perm -2000 \\)` over the sweep's roots), with their SHA-256 and "
                 "owning Debian packages. The source is the file itself.",
      .rows = SuidFiles,
      .columns = ConcatColumns(
          {PathColumn(),
           PathB64Column(),
           ModeColumn(),
           {"setuid", T::kBoolean, "the setuid bit is set"},
           {"setgid", T::kBoolean, "the setgid bit is set"}},
          ConcatColumns(
              OwnerColumns(),
              {
                  {"size", T::kInteger, "size in bytes"},
                  {"mtime", T::kInteger, "modification time, seconds since the epoch", "",
                   /*changes_by_itself=*/true},
                  {"sha256", T::kText, "lowercase hex SHA-256; NULL when not hashed"},
                  {"not_hashed", T::kText, "why it was not hashed (size cap, budget, I/O)"},
                  {"package", T::kText,
                   "the owning packages as `dpkg -S` names them (`a, b`); NULL when no "
                   "package owns the file or the root has no dpkg database"},
                  {"packages", T::kJson,
                   "the owning packages, sorted; `[]` when none owns it; NULL without dpkg"},
                  {"dpkg_path", T::kText,
                   "the name dpkg records (`/bin/su` for `/usr/bin/su` on merged /usr)"},
                  {"diversion", T::kJson, "the dpkg-divert record `{from, to, by, local}`"},
              })),
  });
  out.push_back(Table{
      .name = "world_writable",
      .section = "sweep",
      .meaning = "World-writable entries of the sweep's walk: files of any type but symlinks "
                 "(`-perm -0002 ! -type d ! -type l`), then directories without the sticky bit "
                 "(`-type d -perm -0002 ! -perm -1000`). The source is the file itself.",
      .rows = WorldWritable,
      .columns = ConcatColumns({PathColumn(),
                                PathB64Column(),
                                {"type", T::kText,
                                 "`regular`, `directory`, `fifo`, `socket`, `char_device`, "
                                 "`block_device`"},
                                ModeColumn()},
                               OwnerColumns()),
  });
  out.push_back(Table{
      .name = "unowned_files",
      .section = "sweep",
      .meaning = "Entries of the sweep's walk (symlinks included) whose uid is not in the root's "
                 "`/etc/passwd` or whose gid is not in its `/etc/group` (`-nouser -o -nogroup`). "
                 "The source is the file itself.",
      .rows = UnownedFiles,
      .columns = ConcatColumns(ConcatColumns({PathColumn(),
                                              PathB64Column(),
                                              {"type", T::kText, "the entry's type (lstat)"},
                                              ModeColumn()},
                                             OwnerColumns()),
                               {
                                   {"no_user", T::kBoolean, "no passwd entry has the uid"},
                                   {"no_group", T::kBoolean, "no group entry has the gid"},
                               }),
  });
}

}  // namespace tidemark::policy
