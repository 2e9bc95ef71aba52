// `tidemarkctl who IDENTITY` (commands.h): where can this identity still get in, fleet-wide —
// across every host's latest state in the store (or its state at --at), or across snapshot
// files (common/policy/who.h finds the ways in).
#include "common/policy/who.h"

#include <ctime>
#include <memory>
#include <optional>

#include "collector/ctl/commands.h"
#include "collector/ctl/stored_facts.h"
#include "collector/sqlite_store.h"
#include "common/policy/evaluate.h"
#include "common/read_file.h"
#include "common/snapshot.h"

namespace tidemark::ctl {

namespace {

using json = nlohmann::json;

constexpr const char* kWhoFooter =
    "Answers \"where can this identity still get in?\" across every host's latest state in\n"
    "the store (or its state at --at TIME: RFC 3339 or a date, its start in UTC), or across\n"
    "--snapshot FILE (repeatable). IDENTITY is a user name, group:NAME, or an SSH key\n"
    "fingerprint SHA256:... as ssh-keygen -lf prints it. For a user: the accounts with that\n"
    "name (uid, shell, whether it is a login shell, the password's class), its groups\n"
    "(privileged ones marked), every sudo grant that applies to it (directly, through a\n"
    "group, uid or gid, through ALL; a line that excludes it with ! does not count), the\n"
    "keys that open the account, keys whose comment is the name or NAME@... in any user's\n"
    "file, cron jobs and services that run as it, sshd settings that Match blocks change for\n"
    "it. For a group: its members, its grants, its services. For a key: every file that\n"
    "holds it (the vendor's key in root's authorized_keys is the classic leftover).\n"
    "A host whose sections could not be read fully is named as incomplete: absence there is\n"
    "not proof. Text lists the hosts with access or incomplete; JSON is {identity, at,\n"
    "summary, hosts}. --host GLOB (fnmatch, repeatable) limits the hosts.\n"
    "Exit codes: 0 no access on any host, every one read fully; 3 access found; 4 no access\n"
    "found, but a host is incomplete; 1 an error; 2 usage.\n";

struct WhoOptions {
  std::string identity;
  std::optional<int64_t> at;
  std::vector<std::string> hosts;
  std::vector<std::string> snapshots;
  std::string format;
};

struct HostAccess {
  std::string host;
  std::string snapshot;  // the snapshot id, or the file
  std::optional<int64_t> received_at;
  policy::WhoResult result;
};

std::string Location(const policy::Access& a) {
  return policy::SourceLocation(a.source_file, a.source_line);
}

void PrintText(const WhoOptions& o, const policy::Identity& id, size_t checked,
               const std::vector<HostAccess>& hosts, std::ostream& out) {
  size_t with_access = 0;
  size_t incomplete = 0;
  for (const HostAccess& h : hosts) {
    with_access += h.result.access.empty() ? 0 : 1;
    incomplete += h.result.incomplete.empty() ? 0 : 1;
  }
  static const char* kKinds[] = {"a user", "a group", "a key"};
  out << "who " << Safe(o.identity) << " (" << kKinds[static_cast<int>(id.kind)] << ")";
  if (o.at) out << " at " << FormatRfc3339(*o.at);
  out << ": access on " << with_access << " of " << checked << " host(s); " << incomplete
      << " incomplete\n";
  for (const HostAccess& h : hosts) {
    out << "host " << Safe(h.host) << ": snapshot " << Safe(h.snapshot);
    if (h.received_at) out << " received " << FormatRfc3339(*h.received_at);
    out << (h.result.access.empty() ? ": no access found" : "") << "\n";
    for (const policy::Access& a : h.result.access) {
      out << "\t" << a.kind << (a.privileged ? " (privileged)" : "") << "\t"
          << Safe(a.detail, kMaxItemBytes);
      if (std::string at = Location(a); !at.empty()) out << "\t" << Safe(at, kMaxItemBytes);
      out << "\n";
    }
    for (const std::string& i : h.result.incomplete) {
      out << "\tincomplete: " << Safe(i, kMaxMessageBytes) << "\n";
    }
  }
}

void PrintJson(const WhoOptions& o, const policy::Identity& id, size_t checked,
               const std::vector<HostAccess>& hosts, std::ostream& out) {
  static const char* kKinds[] = {"user", "group", "key"};
  json list = json::array();
  size_t with_access = 0;
  size_t incomplete = 0;
  for (const HostAccess& h : hosts) {
    with_access += h.result.access.empty() ? 0 : 1;
    incomplete += h.result.incomplete.empty() ? 0 : 1;
    json access = json::array();
    for (const policy::Access& a : h.result.access) {
      access.push_back({{"kind", a.kind},
                        {"id", a.id},
                        {"detail", a.detail},
                        {"privileged", a.privileged},
                        {"source_file", a.source_file ? json(*a.source_file) : json()},
                        {"source_line", a.source_line ? json(*a.source_line) : json()}});
    }
    list.push_back({{"host", h.host},
                    {"snapshot", h.snapshot},
                    {"received_at", h.received_at ? json(FormatRfc3339(*h.received_at)) : json()},
                    {"access", std::move(access)},
                    {"incomplete", h.result.incomplete}});
  }
  json doc = {{"identity", o.identity},
              {"kind", kKinds[static_cast<int>(id.kind)]},
              {"at", o.at ? json(FormatRfc3339(*o.at)) : json()},
              {"summary",
               {{"hosts_checked", checked},
                {"hosts_with_access", with_access},
                {"hosts_incomplete", incomplete}}},
              {"hosts", std::move(list)}};
  out << doc.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

// Keeps `h` when it has something to say.
void Keep(HostAccess h, std::vector<HostAccess>& out) {
  if (!h.result.access.empty() || !h.result.incomplete.empty()) out.push_back(std::move(h));
}

// The store: every matching host's latest state at --at.
Status FromStore(const WhoOptions& o, const policy::Identity& id, CtlContext& ctx, size_t& checked,
                 std::vector<HostAccess>& out) {
  auto store = SqliteStore::OpenExisting(ctx.db);
  if (!store.ok()) return store.status();
  StoredFacts facts(**store, ctx.db);
  auto hosts = (*store)->ListHosts();
  if (!hosts.ok()) return hosts.status();
  for (const HostInfo& info : *hosts) {
    if (!HostMatches(o.hosts, info.id)) continue;
    auto state = (*store)->LatestState(info.id, o.at);
    if (!state.ok()) {
      if (state.status().code() == StatusCode::kNotFound) continue;  // nothing that early
      return Status(state.status().code(), info.id + ": " + state.status().message());
    }
    ++checked;
    HostAccess h{info.id, state->id, state->received_at, {}};
    StatusOr<const policy::FactDb*> db = facts.Load(*state);
    if (!db.ok()) {
      h.result.incomplete.push_back("snapshot cannot be read: " + db.status().message());
      Keep(std::move(h), out);
      continue;
    }
    StatusOr<policy::WhoResult> r = policy::FindAccess(**db, id);
    if (!r.ok()) return Status(r.status().code(), info.id + ": " + r.status().message());
    h.result = std::move(*r);
    Keep(std::move(h), out);
  }
  return Status::Ok();
}

// Snapshot files (--snapshot), each for the host it names.
Status FromFiles(const WhoOptions& o, const policy::Identity& id, size_t& checked,
                 std::vector<HostAccess>& out) {
  StatusOr<std::unique_ptr<policy::FactDb>> db = policy::FactDb::Open();
  if (!db.ok()) return db.status();
  for (const std::string& file : o.snapshots) {
    StatusOr<std::string> text = ReadRegularFile(file, kMaxSnapshotFileBytes);
    if (!text.ok()) return text.status();
    std::string hash;
    StatusOr<Snapshot> decoded = DecodeSnapshot(*text, &hash);
    if (!decoded.ok())
      return Status(decoded.status().code(), file + ": " + decoded.status().message());
    if (!HostMatches(o.hosts, decoded->host.id)) continue;
    auto snapshot = std::make_shared<const Snapshot>(std::move(*decoded));
    if (Status s = (*db)->Load(snapshot, std::move(hash)); !s.ok()) {
      return Status(s.code(), file + ": " + s.message());
    }
    ++checked;
    StatusOr<policy::WhoResult> r = policy::FindAccess(**db, id);
    if (!r.ok()) return Status(r.status().code(), file + ": " + r.status().message());
    Keep({snapshot->host.id, file, std::nullopt, std::move(*r)}, out);
  }
  return Status::Ok();
}

int RunWho(const WhoOptions& o, CtlContext& ctx) {
  StatusOr<policy::Identity> id = policy::ParseIdentity(o.identity);
  if (!id.ok()) return Usage(ctx.err, id.status().message(), "who");
  if (!o.snapshots.empty() && o.at)
    return Usage(ctx.err, "--at goes with the store, not --snapshot", "who");
  size_t checked = 0;
  std::vector<HostAccess> hosts;
  Status s = o.snapshots.empty() ? FromStore(o, *id, ctx, checked, hosts)
                                 : FromFiles(o, *id, checked, hosts);
  if (!s.ok()) return Fail(ctx.err, s);
  if (o.format == "json") {
    PrintJson(o, *id, checked, hosts, ctx.out);
  } else {
    PrintText(o, *id, checked, hosts, ctx.out);
  }
  bool access = false;
  bool incomplete = false;
  for (const HostAccess& h : hosts) {
    access |= !h.result.access.empty();
    incomplete |= !h.result.incomplete.empty();
  }
  return access ? 3 : incomplete ? 4 : 0;
}

}  // namespace

void AddWhoCommand(CLI::App& app, CtlContext& ctx) {
  auto o = std::make_shared<WhoOptions>();
  CLI::App* who = AddCommand(app, "Exceptions (docs/exceptions.md)", ctx, o, "who",
                             "where can this user, group or key still get in, fleet-wide?",
                             kWhoFooter, &RunWho);
  who->add_option("IDENTITY", o->identity, "a user name, group:NAME or SHA256:...")->required();
  AddAt(*who, o->at, "the time to look back to (default: now)");
  AddHostGlobs(*who, o->hosts);
  who->add_option("--snapshot", o->snapshots, "look in this snapshot file instead (repeatable)")
      ->type_name("FILE");
  AddFormat(*who, o->format, {"text", "json"});
}

}  // namespace tidemark::ctl
