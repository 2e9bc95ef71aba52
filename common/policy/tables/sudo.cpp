// Tables of the `sudo` section (docs/sections/sudo.md): grants after alias expansion, and every
// Defaults entry.
#include "common/policy/tables.h"

namespace tidemark::policy {

void AddSudoTables(std::vector<Table>& out) {
  using T = ColumnType;
  out.push_back(Table{
      .name = "sudo_grants",
      .section = "sudo",
      .meaning = "Who may run what through sudo: one row per (principal, host, runas, command) "
                 "after alias expansion, in file order, as `cvtsudoers -e` expands them.",
      .items = "/grants",
      .columns = {
          {"principal", T::kText,
           "`user:NAME`, `uid:N`, `group:NAME`, `gid:N`, `nonunixgroup:NAME`, `netgroup:NAME`, "
           "`ALL`; a negated member keeps a leading `!`"},
          {"host", T::kText, "as written, or `ALL`"},
          {"runas_users", T::kJson, "users the command may run as, same forms as principal"},
          {"runas_groups", T::kJson, "groups the command may run as"},
          {"runas_default", T::kBoolean, "no Runas_Spec applies (runs as root by default)"},
          {"command", T::kText, "path and arguments, `ALL`, a directory, `sudoedit ...`"},
          {"nopasswd", T::kBoolean, "effective: no password is asked"},
          {"nopasswd_reason", T::kText, "`tag`, `defaults` or `default`"},
          {"tags", T::kJson, "tags set or carried over (`nopasswd`, `noexec`, `setenv`, ...)"},
          {"options", T::kJson,
           "`cwd`, `chroot`, `role`, `type`, `timeout`, `notbefore`, "
           "`notafter` when set"},
          {"digests", T::kJson, "the Digest_List `[{algorithm, value}]` when given"},
      }});
  out.push_back(Table{.name = "sudo_defaults",
                      .section = "sudo",
                      .meaning = "Every `Defaults` parameter of sudoers, in file order.",
                      .items = "/defaults",
                      .columns = {
                          {"type", T::kText, "`global`, `user`, `host`, `runas` or `command`"},
                          {"binding", T::kJson, "the binding list with aliases expanded"},
                          {"name", T::kText, "the parameter"},
                          {"value", T::kText, "its value; NULL for a flag"},
                          {"operator", T::kText, "`=`, `+=`, `-=`; NULL for a flag"},
                          {"negated", T::kBoolean, "written `!name`"},
                      }});
}

}  // namespace tidemark::policy
