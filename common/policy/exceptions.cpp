#include "common/policy/exceptions.h"

#include <fnmatch.h>

#include <algorithm>
#include <functional>
#include <tuple>

#include "common/time.h"

namespace tidemark::policy {

namespace {

using json = nlohmann::json;

bool HasGlobCharacter(std::string_view text) {
  return text.find_first_of("*?[") != std::string_view::npos;
}

std::string Quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The SELECT that finds a table cover's rows: every `where` column equal to its value (text
// with a glob character: GLOB), each value a parameter.
std::string CoverQuery(const Cover& c, FactDb::QueryParams& params) {
  std::string sql = "SELECT id, source_file, source_line FROM " + Quoted(c.table) + " WHERE ";
  int n = 0;
  for (const auto& [column, value] : c.where) {
    std::string param = "w" + std::to_string(n);
    sql += (n++ == 0 ? "" : " AND ") + Quoted(column);
    sql += value.is_string() && HasGlobCharacter(value.get<std::string>()) ? " GLOB :" : " = :";
    sql += param;
    params[param] = value;
  }
  return sql + " ORDER BY id";
}

std::string Day(int64_t seconds) { return FormatRfc3339(seconds); }

// "3 days" / "1 day" / "26 hours": a duration as people read it (whole days from two days on
// or when exact, else whole hours, minutes or seconds; rounded down).
std::string Span(int64_t seconds) {
  if (seconds < 0) seconds = -seconds;
  if (seconds >= int64_t{2} * 86400) return std::to_string(seconds / 86400) + " days";
  if (seconds == 86400) return "1 day";
  if (seconds >= int64_t{2} * 3600) return std::to_string(seconds / 3600) + " hours";
  if (seconds >= 120) return std::to_string(seconds / 60) + " minutes";
  return std::to_string(seconds) + " seconds";
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

int Rank(ExceptionStatus s) {
  switch (s) {
    case ExceptionStatus::kLeftover:
      return 0;
    case ExceptionStatus::kUnverified:
      return 1;
    case ExceptionStatus::kActive:
      return 2;
    case ExceptionStatus::kRevoked:
      return 3;
  }
  return 4;
}

}  // namespace

std::string_view ExceptionStatusName(ExceptionStatus status) {
  switch (status) {
    case ExceptionStatus::kActive:
      return "active";
    case ExceptionStatus::kLeftover:
      return "leftover";
    case ExceptionStatus::kRevoked:
      return "revoked";
    case ExceptionStatus::kUnverified:
      return "unverified";
  }
  return "unverified";
}

std::optional<ExceptionStatus> ParseExceptionStatus(std::string_view name) {
  for (ExceptionStatus s : {ExceptionStatus::kActive, ExceptionStatus::kLeftover,
                            ExceptionStatus::kRevoked, ExceptionStatus::kUnverified}) {
    if (ExceptionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

StatusOr<CoverCheck> CheckCovers(const FactDb& db, const MigrationException& e,
                                 const std::string& host, const PolicySet* rules,
                                 const QueryLimits& limits) {
  CoverCheck check;
  std::optional<std::vector<SelectedRule>> selected;  // the host's rules, when a cover needs them
  for (const Cover& c : e.covers) {
    if (!c.rule.empty()) {
      const Rule* rule = rules != nullptr ? rules->FindRule(c.rule) : nullptr;
      if (rule == nullptr) {
        return Status{StatusCode::kInvalidArgument, e.file + ":" + std::to_string(c.line) +
                                                        ": exception " + e.id +
                                                        ": covers unknown rule '" + c.rule + "'"};
      }
      if (!selected) {
        StatusOr<std::vector<SelectedRule>> s = SelectRules(*rules, host);
        if (!s.ok()) return s.status();
        selected = std::move(*s);
      }
      SelectedRule run{rule, rule->vars};
      for (const SelectedRule& s : *selected) {
        if (s.rule == rule) run = s;
      }
      RuleResult r = RunRule(db, run, limits);
      if (r.outcome == Outcome::kFail) {
        for (FindingItem& i : r.items) {
          check.items.push_back(
              {"", c.rule, std::move(i.id), std::move(i.source_file), i.source_line, c.line});
        }
      } else if (r.outcome == Outcome::kUnknown || r.outcome == Outcome::kError) {
        check.unreadable.push_back("rule " + c.rule + " is " + std::string(OutcomeName(r.outcome)) +
                                   ": " + r.message);
      }
      continue;
    }
    FactDb::QueryParams params;
    std::string sql = CoverQuery(c, params);
    StatusOr<QueryResult> q = db.Query(sql, params, limits);
    if (!q.ok()) {
      return Status{q.status().code(), e.file + ":" + std::to_string(c.line) + ": exception " +
                                           e.id + ": " + q.status().message()};
    }
    for (const auto& row : q->rows) {
      CoveredItem item;
      item.table = c.table;
      item.id = row[0].is_string() ? row[0].get<std::string>() : row[0].dump();
      if (row[1].is_string()) item.source_file = row[1].get<std::string>();
      if (row[2].is_number_integer()) item.source_line = row[2].get<int64_t>();
      item.cover_line = c.line;
      check.items.push_back(std::move(item));
    }
    SectionProblems problems = ProblemsOf(db, {c.table});
    // A row found in a partial section is there; absence is readable only from a complete one.
    if (!problems.absent.empty()) {
      check.unreadable.push_back("table " + c.table + ": " + problems.absent);
    } else if (q->rows.empty() && !problems.partial.empty()) {
      check.unreadable.push_back("table " + c.table + ": " + problems.partial);
    }
  }
  return check;
}

ExceptionVerdict DecideStatus(const MigrationException& e, const std::string& host,
                              const std::optional<StateEvidence>& state,
                              const std::optional<CoverCheck>& check, int64_t now,
                              int64_t max_age) {
  ExceptionVerdict v;
  v.exception = &e;
  v.host = host;
  v.decided_at = now;
  const int64_t expiry = e.effective_expiry;
  const bool expired = now >= expiry;
  if (!state || !check) {
    v.status = ExceptionStatus::kUnverified;
    v.reason = "no snapshot of this host received by " + Day(now);
    return v;
  }
  v.evidence = state;
  v.items = check->items;
  const bool present = !check->items.empty();
  const bool complete = check->unreadable.empty();
  const bool fresh = now - state->confirmed_at <= max_age;
  // Absence proves a revocation only in a complete state reported within --max-age.
  auto absence_unproven = [&] {
    if (!complete) {
      v.status = ExceptionStatus::kUnverified;
      v.reason = "absence cannot be read: " + Join(check->unreadable);
      return true;
    }
    if (!fresh) {
      v.status = ExceptionStatus::kUnverified;
      v.reason = "no covered item present, but the latest snapshot was last reported " +
                 Day(state->confirmed_at) + ", " + Span(now - state->confirmed_at) + " before " +
                 Day(now) + " (more than --max-age " + Span(max_age) + ")";
      return true;
    }
    return false;
  };
  if (!expired) {
    if (present) {
      v.status = ExceptionStatus::kActive;
      v.reason = std::to_string(check->items.size()) + " covered item(s) present; expires " +
                 Day(expiry) + ", in " + Span(expiry - now);
    } else if (!absence_unproven()) {
      v.status = ExceptionStatus::kRevoked;
      v.early = true;
      v.absent_since = state->received_at;
      v.reason = "revoked early: no covered item present since " + Day(state->received_at) +
                 " (before the expiry " + Day(expiry) + ")";
    }
    return v;
  }
  if (state->confirmed_at < expiry) {
    v.status = ExceptionStatus::kUnverified;
    v.reason = "no snapshot reported since the expiry " + Day(expiry) +
               " (the latest was last reported " + Day(state->confirmed_at) + ")";
  } else if (present) {
    v.status = ExceptionStatus::kLeftover;
    v.reason = std::to_string(check->items.size()) + " covered item(s) still present " +
               Span(state->confirmed_at - expiry) + " after the expiry " + Day(expiry);
  } else if (!absence_unproven()) {
    v.status = ExceptionStatus::kRevoked;
    v.absent_since = state->received_at;
    v.reason = "no covered item present in the snapshot reported " + Day(state->confirmed_at) +
               ", after the expiry " + Day(expiry);
  }
  return v;
}

ExceptionVerdict NoHostInScope(const MigrationException& e) {
  ExceptionVerdict v;
  v.exception = &e;
  v.status = ExceptionStatus::kUnverified;
  std::string globs;
  for (const std::string& g : e.hosts) globs += (globs.empty() ? "" : ", ") + g;
  v.reason = "no known host matches its hosts (" + globs + ")";
  return v;
}

bool InScope(const MigrationException& e, const std::string& host) {
  return std::any_of(e.hosts.begin(), e.hosts.end(), [&](const std::string& g) {
    return fnmatch(g.c_str(), host.c_str(), 0) == 0;
  });
}

namespace {

bool IsNamedHost(const std::string& glob) {
  return !HasGlobCharacter(glob) && glob.find('\\') == std::string::npos;
}

}  // namespace

std::vector<std::string> NamedHosts(const MigrationException& e) {
  std::vector<std::string> out;
  for (const std::string& g : e.hosts) {
    if (IsNamedHost(g)) out.push_back(g);
  }
  return out;
}

std::vector<std::string> HostPatterns(const MigrationException& e) {
  std::vector<std::string> out;
  for (const std::string& g : e.hosts) {
    if (!IsNamedHost(g)) out.push_back(g);
  }
  return out;
}

void ApplyVerdicts(Evaluation& e, const std::vector<ExceptionVerdict>& verdicts) {
  auto covering = [&](const RuleResult& r, const FindingItem& item) -> const ExceptionVerdict* {
    const ExceptionVerdict* found = nullptr;
    for (const ExceptionVerdict& v : verdicts) {
      if (v.status != ExceptionStatus::kActive && v.status != ExceptionStatus::kLeftover) continue;
      bool covers = std::any_of(v.items.begin(), v.items.end(), [&](const CoveredItem& c) {
        return c.rule.empty() ? c.id == item.id : c.rule == r.rule_id && c.id == item.id;
      });
      // A leftover outweighs an active exception covering the same item.
      if (covers && (found == nullptr || v.status == ExceptionStatus::kLeftover)) found = &v;
    }
    return found;
  };
  for (RuleResult& r : e.results) {
    if (r.outcome != Outcome::kFail) continue;
    bool all_active = !r.items.empty();
    for (FindingItem& item : r.items) {
      const ExceptionVerdict* v = covering(r, item);
      if (v == nullptr) {
        all_active = false;
        continue;
      }
      item.exception = v->exception->id;
      item.exception_status = std::string(ExceptionStatusName(v->status));
      item.exception_note = ExceptionNote(*v);
      all_active &= v->status == ExceptionStatus::kActive;
    }
    r.tolerated = all_active;
  }
  for (const ExceptionVerdict& v : verdicts) {
    if (v.status != ExceptionStatus::kLeftover) continue;
    const MigrationException& x = *v.exception;
    RuleResult r;
    r.rule_id = "exception:" + x.id;
    r.severity = Severity::kCritical;
    r.outcome = Outcome::kFail;
    r.title = "Exception " + x.id + " expired " + FormatRfc3339(x.effective_expiry) +
              " and is still in place (owner " + x.owner.name +
              (x.owner.email.empty() ? "" : " <" + x.owner.email + ">") +
              (x.owner.phone.empty() ? "" : " " + x.owner.phone) +
              (x.contact ? "; contact " + x.contact->name : "") + "; ticket " + x.ticket + ")";
    r.message = v.reason;
    for (const CoveredItem& c : v.items) {
      FindingItem item;
      item.id = c.id;
      item.detail = c.table.empty() ? "rule " + c.rule : c.table;
      item.source_file = c.source_file;
      item.source_line = c.source_line;
      item.exception = x.id;
      item.exception_status = "leftover";
      item.exception_note = ExceptionNote(v);
      r.items.push_back(std::move(item));
    }
    e.results.push_back(std::move(r));
  }
  std::sort(e.results.begin(), e.results.end(),
            [](const RuleResult& a, const RuleResult& b) { return a.rule_id < b.rule_id; });
}

std::string ExceptionNote(const ExceptionVerdict& v) {
  const MigrationException& e = *v.exception;
  int64_t days = (v.decided_at >= e.effective_expiry ? v.decided_at - e.effective_expiry
                                                     : e.effective_expiry - v.decided_at) /
                 86400;
  std::string when = std::to_string(days) + (days == 1 ? " day" : " days");
  std::string out =
      std::string(ExceptionStatusName(v.status)) + ": " + e.id + ", " +
      (v.decided_at >= e.effective_expiry ? "expired " + when + " ago" : when + " left") +
      ", owner " + e.owner.name;
  if (e.contact) out += ", contact " + e.contact->name;
  return out + ", ticket " + e.ticket;
}

void SortVerdicts(std::vector<ExceptionVerdict>& verdicts) {
  std::stable_sort(
      verdicts.begin(), verdicts.end(), [](const ExceptionVerdict& a, const ExceptionVerdict& b) {
        int64_t ea = a.status == ExceptionStatus::kActive ? a.exception->effective_expiry : 0;
        int64_t eb = b.status == ExceptionStatus::kActive ? b.exception->effective_expiry : 0;
        return std::make_tuple(Rank(a.status), ea, std::cref(a.exception->id), std::cref(a.host)) <
               std::make_tuple(Rank(b.status), eb, std::cref(b.exception->id), std::cref(b.host));
      });
}

}  // namespace tidemark::policy
