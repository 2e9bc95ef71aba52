// The snapshot model: one host's collected state at one moment, as a versioned JSON document.
//
// Layout (docs/snapshot.md documents every field):
//   {"schema": "tidemark.snapshot/1", "host": {...}, "collected_at": "...", "agent": {...},
//    "content_hash": "sha256:...", "sections": ["accounts", ...],
//    "accounts": {<data>, "status": "ok", "errors": [...], "duration_ms": 3}, ...}
// The canonical form covers the sections only (sorted keys, no volatile metadata such as
// duration_ms or times); its SHA-256 is the content hash by which later stages deduplicate,
// diff and sign snapshots. Plain values; no shared state.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tidemark {

inline constexpr std::string_view kSnapshotSchema = "tidemark.snapshot/1";
inline constexpr int kSnapshotMajorVersion = 1;

enum class SectionStatus { kOk, kPartial, kError, kNotApplicable };

std::string_view SectionStatusName(SectionStatus status);
std::optional<SectionStatus> ParseSectionStatus(std::string_view name);

// One problem met while collecting a section. `message` names what was wrong; it never quotes
// the content of secret files.
struct SectionError {
  std::string path;             // in-root path; empty when not about a file
  std::optional<int64_t> line;  // 1-based line, when known
  std::string message;

  bool operator==(const SectionError&) const = default;
};

// An array of items that grows with the host (users, grants, keys), held as canonical text:
// each item is serialized when it is added, so a section with 10,000 users never holds a JSON
// tree of all of them. Its text is exactly what the item would be inside a json array.
class ItemArray {
 public:
  void push_back(const nlohmann::json& item);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Returns the compact items joined by commas, without the brackets.
  const std::string& text() const { return text_; }
  // Returns the items as a json array (parses the text back).
  nlohmann::json ToJson() const;
  // Returns how many strings push_back cut to the decoder's limit (BoundStrings) since the last
  // call, and starts counting again: Section::Finish reports them.
  size_t TakeCutStrings() { return std::exchange(cut_strings_, 0); }

 private:
  std::string text_;
  size_t size_ = 0;
  size_t cut_strings_ = 0;
};

// Cuts every string value in `j` that could be longer than a decoder accepts (1 MiB,
// docs/snapshot.md "Decoding limits") once written, each byte that is not UTF-8 counted as three
// (U+FFFD; the writer makes at most that of it), with Utf8Bounded (common/text.h); returns how
// many it cut. A host writes lines of up to 1 MiB into files the agent reads: without this
// one such line could make the collector refuse the host's whole snapshot.
size_t BoundStrings(nlohmann::json& j);

// The most errors a section reports (a host can make any number: one per bad line of any number
// of files); the last one says how many there were. Of more, the first ones and the last
// kLastSectionErrors are kept: a collector reports where it stopped (a limit that cut a file or
// a walk) after the errors of what it read, and that must survive the cut.
inline constexpr size_t kMaxSectionErrors = 1000;
inline constexpr size_t kLastSectionErrors = 10;

// The result of one collector: its data (a JSON object whose keys are section-specific) plus the
// common envelope.
struct Section {
  nlohmann::json data = nlohmann::json::object();
  // Large arrays of the data, kept as text; keys must not also be in `data`. In the document
  // they are ordinary data keys.
  std::map<std::string, ItemArray> items;
  SectionStatus status = SectionStatus::kOk;
  std::vector<SectionError> errors;
  int64_t duration_ms = 0;
  // What the collector observed that changes while the host's configuration does not (process
  // ids, counters of a scan): written as the section's "volatile" object, and like duration_ms
  // not part of the canonical form, so it never changes the content hash. Empty: not written.
  nlohmann::json volatile_data = nlohmann::json::object();

  // Errors beyond kMaxSectionErrors - 1 that AddError did not keep (see Finish()), and the last
  // kLastSectionErrors of them.
  size_t dropped_errors = 0;
  std::deque<SectionError> last_dropped;

  // Records an error, or once kMaxSectionErrors - 1 are kept only counts it (keeping the last
  // kLastSectionErrors for Finish()). The caller decides the status; see Finish().
  void AddError(std::string path, std::optional<int64_t> line, std::string message);
  // Records that the list `list` of this section (a data or items key a local user can grow)
  // was cut at `limit` items although the host has `total`: data["truncated"][list] =
  // {"limit": limit, "total": total} and an error naming the list, so the section is `partial`
  // (docs/snapshot.md, "Bounded lists"). `total` may be a lower bound when counting stopped.
  void NoteTruncated(const std::string& list, size_t limit, size_t total);
  // Moves `items` into `data` as json arrays, for consumers that read the data in memory.
  void Materialize();
  // Cuts the errors, whoever added them, to their first kMaxSectionErrors - 1 -
  // kLastSectionErrors, their last kLastSectionErrors and one saying how many there were (with
  // data["truncated"]["errors"]); then sets status from the
  // errors unless it was set to kError or kNotApplicable explicitly: no errors -> kOk,
  // otherwise kPartial.
  void Finish();
};

struct HostIdentity {
  std::string id;        // --host-id, else the root's /etc/hostname, else the live host name
  std::string hostname;  // the name the host calls itself (may equal id)
  std::string root;      // "/" for a live host, else the audited directory as given
};

struct Snapshot {
  HostIdentity host;
  std::string collected_at;  // RFC 3339 UTC, e.g. "2026-11-28T19:00:00Z"
  std::string agent_version;
  std::map<std::string, Section> sections;  // key: section name as in --only
};

// Returns the JSON document for `snapshot`, including its content hash.
nlohmann::json EncodeSnapshot(const Snapshot& snapshot);

// Streams a snapshot document as compact JSON text, one section at a time, so that a large
// host's snapshot is never held in memory twice (as data and as text) and the canonical form is
// hashed as it goes. The sections come first, the envelope (with content_hash) last: readers
// must not depend on key order. Used by one thread at a time.
class SnapshotWriter {
 public:
  // Receives the text in pieces; an error stops the writer.
  using Sink = std::function<Status(std::string_view)>;

  explicit SnapshotWriter(Sink sink);
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  // Writes one section. REQUIRES: names strictly increasing (the canonical order).
  Status AddSection(const std::string& name, const Section& section);
  // Writes the envelope and closes the document (with a final newline).
  Status Finish(const HostIdentity& host, const std::string& collected_at,
                const std::string& agent_version);
  // Returns "sha256:..." over the canonical form. REQUIRES: Finish() was called.
  const std::string& content_hash() const { return content_hash_; }

 private:
  struct State;
  // Gives buffered output to the sink when it is large, or whenever `all`.
  Status Flush(bool all);

  Sink sink_;
  std::unique_ptr<State> state_;
  std::string content_hash_;
};

// Returns the document as SnapshotWriter writes it: the same JSON value as EncodeSnapshot().
std::string SerializeSnapshot(const Snapshot& snapshot);

// Parses a document produced by EncodeSnapshot or SnapshotWriter. Refuses, naming the first
// problem, everything VerifySnapshotText refuses (common/snapshot_verify.h; docs/snapshot.md
// "Decoding errors" and "Decoding limits"): malformed JSON, a limit crossed, duplicate or unknown
// keys, a field of the wrong type, an unknown schema or major version, keys out of canonical
// order, a content hash that does not match. Never throws.
StatusOr<Snapshot> DecodeSnapshot(std::string_view text);
// The same, and sets `*content_hash` to the verified content hash ("sha256:..."), so that it is
// not computed again (FactDb::Load).
StatusOr<Snapshot> DecodeSnapshot(std::string_view text, std::string* content_hash);

// Returns the JSON object of a section with its envelope (status, errors, duration_ms).
nlohmann::json EncodeSection(const Section& section);

// Returns the canonical text of the sections: a JSON object section name -> section object
// without duration_ms and volatile, keys sorted, no whitespace, UTF-8.
std::string CanonicalSections(const Snapshot& snapshot);

// Returns "sha256:" + the lowercase hex SHA-256 of CanonicalSections(snapshot).
std::string ContentHash(const Snapshot& snapshot);

// Returns the current time in RFC 3339 UTC with seconds precision.
std::string NowRfc3339();

}  // namespace tidemark
