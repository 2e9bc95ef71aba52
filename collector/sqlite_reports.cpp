// SqliteStore: the report runs (store.h, docs/store.md "Reports").
#include <sqlite3.h>
#include <zstd.h>

#include <limits>

#include "collector/sqlite_store.h"
#include "collector/sqlite_store_impl.h"

namespace tidemark {

using sqlite_store_internal::kMaxBodyBytes;
using sqlite_store_internal::Stmt;

Status SqliteStore::PutReport(const ReportRecord& r) {
  if (static_cast<int64_t>(r.document.size()) > kMaxBodyBytes) {
    return Status(StatusCode::kTooLarge, "report document larger than the store's bound");
  }
  std::string packed(ZSTD_compressBound(r.document.size()), '\0');
  size_t n = ZSTD_compress(packed.data(), packed.size(), r.document.data(), r.document.size(), 3);
  if (ZSTD_isError(n)) return Status(StatusCode::kInternal, "zstd: cannot compress the report");
  packed.resize(n);
  Impl& d = *impl_;
  auto done = d.InTransaction<bool>([&]() -> StatusOr<bool> {
    auto p = d.Prepare(
        "INSERT INTO reports (generated_at, generated_at_text, options, summary, "
        "document_encoding, document_size, document) VALUES (?1, ?2, ?3, ?4, 'zstd', ?5, ?6)");
    if (!p.ok()) return p.status();
    Stmt s(*p);
    s.Bind(1, r.generated_at);
    s.Bind(2, std::string_view(FormatRfc3339(r.generated_at)));
    s.Bind(3, std::string_view(r.options));
    s.Bind(4, std::string_view(r.summary));
    s.Bind(5, static_cast<int64_t>(r.document.size()));
    s.BindBlob(6, packed);
    if (s.Step() != SQLITE_DONE) return d.Error("record report");
    return true;
  });
  return done.status();
}

StatusOr<std::optional<ReportRecord>> SqliteStore::LatestReport(std::optional<int64_t> before) {
  Impl& d = *impl_;
  auto p = d.Prepare(
      "SELECT generated_at, options, summary, document_size, document FROM reports WHERE "
      "generated_at < ?1 ORDER BY generated_at DESC, seq DESC LIMIT 1");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, before.value_or(std::numeric_limits<int64_t>::max()));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<ReportRecord>();
  if (rc != SQLITE_ROW) return d.Error("read report");
  ReportRecord r;
  r.generated_at = s.Int(0);
  r.options = s.Text(1);
  r.summary = s.Text(2);
  int64_t size = s.Int(3);
  std::string_view packed = s.Blob(4);
  if (size < 0 || size > kMaxBodyBytes ||
      ZSTD_getFrameContentSize(packed.data(), packed.size()) != static_cast<uint64_t>(size)) {
    return Status(StatusCode::kIoError, "a stored report has a corrupted document (size)");
  }
  r.document.resize(static_cast<size_t>(size));
  size_t n = ZSTD_decompress(r.document.data(), r.document.size(), packed.data(), packed.size());
  if (ZSTD_isError(n) || n != r.document.size()) {
    return Status(StatusCode::kIoError, "a stored report has a corrupted document (zstd)");
  }
  return std::optional<ReportRecord>(std::move(r));
}

StatusOr<std::vector<ReportRecord>> SqliteStore::ReportSummaries(int64_t from, int64_t to) {
  Impl& d = *impl_;
  auto p = d.Prepare(
      "SELECT generated_at, summary FROM reports WHERE generated_at >= ?1 AND generated_at < ?2 "
      "ORDER BY generated_at, seq");
  if (!p.ok()) return p.status();
  Stmt s(*p);
  s.Bind(1, from);
  s.Bind(2, to);
  std::vector<ReportRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    ReportRecord r;
    r.generated_at = s.Int(0);
    r.summary = s.Text(1);
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return d.Error("read report summaries");
  return out;
}

}  // namespace tidemark
