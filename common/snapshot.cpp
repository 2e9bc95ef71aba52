#include "common/snapshot.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <memory>
#include <new>

#include "common/identity.h"
#include "common/json_bounded.h"
#include "common/sha256.h"
#include "common/snapshot_verify.h"
#include "common/text.h"
#include "common/time.h"

namespace tidemark {
namespace {

using nlohmann::json;

// Keys of a section object that belong to the envelope, not to the section's data.
constexpr std::array<std::string_view, 4> kEnvelopeKeys = {"status", "errors", "duration_ms",
                                                           "volatile"};

// A host can make an error's path or message long (a message quotes what it refused) or not
// UTF-8: written bounded as the decoder requires (docs/snapshot.md, "Decoding limits"), so that
// no error makes the whole snapshot one the collector refuses.
json EncodeError(const SectionError& e) {
  json j = {{"path", Utf8Bounded(e.path, kMaxErrorPathBytes)},
            {"message", Utf8Bounded(e.message, kMaxErrorMessageBytes)}};
  j["line"] = e.line ? json(*e.line) : json(nullptr);
  return j;
}

Status Malformed(const std::string& what) {
  return {StatusCode::kInvalidArgument, "malformed snapshot: " + what};
}

// Builds a section from its object, moving the data out of `j`. The structure was checked by
// VerifySnapshotText; the access is checked again here, so that a gap between the two can
// only refuse, never throw.
StatusOr<Section> DecodeSection(const std::string& name, json& j) {
  if (!j.is_object()) return Malformed("section '" + name + "' is not an object");
  Section s;
  auto status = j.find("status");
  if (status == j.end() || !status->is_string()) {
    return Malformed("section '" + name + "' has no status");
  }
  auto parsed = ParseSectionStatus(status->get_ref<const std::string&>());
  if (!parsed) return Malformed("section '" + name + "' has an unknown status");
  s.status = *parsed;
  auto errors = j.find("errors");
  if (errors == j.end() || !errors->is_array()) {
    return Malformed("section '" + name + "' has no errors array");
  }
  for (auto& e : *errors) {
    auto message = e.is_object() ? e.find("message") : e.end();
    auto path = e.is_object() ? e.find("path") : e.end();
    auto line = e.is_object() ? e.find("line") : e.end();
    if (!e.is_object() || message == e.end() || !message->is_string() || path == e.end() ||
        !path->is_string() || line == e.end() || !(line->is_null() || line->is_number_integer())) {
      return Malformed("section '" + name + "' has a malformed error");
    }
    SectionError err;
    err.message = std::move(message->get_ref<std::string&>());
    err.path = std::move(path->get_ref<std::string&>());
    if (line->is_number_integer()) err.line = line->get<int64_t>();
    s.errors.push_back(std::move(err));
  }
  auto duration = j.find("duration_ms");
  if (duration != j.end()) {
    if (!duration->is_number_integer()) return Malformed("section '" + name + "' duration_ms");
    s.duration_ms = duration->get<int64_t>();
  }
  auto observed = j.find("volatile");
  if (observed != j.end()) {
    if (!observed->is_object()) return Malformed("section '" + name + "' volatile");
    s.volatile_data = std::move(*observed);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool envelope = false;
    for (auto k : kEnvelopeKeys) envelope = envelope || it.key() == k;
    if (!envelope) s.data[it.key()] = std::move(it.value());
  }
  return s;
}

// Appends the compact text of `j` to `out` directly (no temporary string for large values).
void DumpInto(const json& j, std::string& out) {
  nlohmann::detail::serializer<json> serializer(nlohmann::detail::output_adapter<char>(out), ' ',
                                                json::error_handler_t::replace);
  serializer.dump(j, /*pretty_print=*/false, /*ensure_ascii=*/false, /*indent_step=*/0);
}

std::string DumpCompact(const json& j) {
  std::string out;
  DumpInto(j, out);
  return out;
}

// Writes the canonical text of a section object in pieces through `chunk`: its data keys and
// item arrays merged, in sorted order, with the envelope keys except the volatile ones, without
// copying the data. When `doc_only` is given, the volatile entries of the document are written
// through it at their sorted places: `"duration_ms":N,` before the first member that sorts after
// it ("errors" always does, so that entry is never last) and `,"volatile":{...}` after the last
// member that sorts before it ("errors" always does, so that entry is never first).
void WriteCanonicalSection(const Section& section,
                           const std::function<void(std::string_view)>& chunk,
                           const std::function<void(std::string_view)>* doc_only) {
  json errors = json::array();
  for (const auto& e : section.errors) errors.push_back(EncodeError(e));
  json status = SectionStatusName(section.status);
  // One sorted list of every member: data values, item arrays and the envelope.
  struct Member {
    std::string_view key;
    const json* value;
    const ItemArray* items;
  };
  std::vector<Member> members = {{"errors", &errors, nullptr}, {"status", &status, nullptr}};
  if (section.data.is_object()) {
    for (auto it = section.data.begin(); it != section.data.end(); ++it) {
      bool reserved = false;
      for (auto k : kEnvelopeKeys) reserved = reserved || it.key() == k;
      if (!reserved && section.items.count(it.key()) == 0) {
        members.push_back({it.key(), &it.value(), nullptr});
      }
    }
  }
  for (const auto& [key, items] : section.items) {
    bool reserved = false;
    for (auto k : kEnvelopeKeys) reserved = reserved || key == k;
    if (!reserved) members.push_back({key, nullptr, &items});
  }
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.key < b.key; });
  constexpr std::string_view kDuration = "duration_ms";
  constexpr std::string_view kVolatile = "volatile";
  bool duration_placed = doc_only == nullptr;
  bool volatile_placed =
      doc_only == nullptr || !section.volatile_data.is_object() || section.volatile_data.empty();
  std::string buf = "{";
  auto place_volatile = [&] {
    chunk(buf);
    buf.clear();
    std::string text = ",\"volatile\":";
    DumpInto(section.volatile_data, text);
    (*doc_only)(text);
    volatile_placed = true;
  };
  for (size_t i = 0; i < members.size(); ++i) {
    if (!volatile_placed && kVolatile < members[i].key) place_volatile();
    if (i) buf += ',';
    if (!duration_placed && kDuration < members[i].key) {
      chunk(buf);
      buf.clear();
      (*doc_only)("\"duration_ms\":" + std::to_string(section.duration_ms) + ",");
      duration_placed = true;
    }
    DumpInto(json(members[i].key), buf);
    buf += ':';
    if (members[i].items != nullptr) {
      buf += '[';
      chunk(buf);
      buf.clear();
      chunk(members[i].items->text());
      buf += ']';
    } else {
      DumpInto(*members[i].value, buf);
      chunk(buf);
      buf.clear();
    }
  }
  if (!volatile_placed) place_volatile();
  buf += '}';
  chunk(buf);
}

}  // namespace

std::string_view SectionStatusName(SectionStatus status) {
  switch (status) {
    case SectionStatus::kOk:
      return "ok";
    case SectionStatus::kPartial:
      return "partial";
    case SectionStatus::kError:
      return "error";
    case SectionStatus::kNotApplicable:
      return "not_applicable";
  }
  return "error";
}

std::optional<SectionStatus> ParseSectionStatus(std::string_view name) {
  for (auto s : {SectionStatus::kOk, SectionStatus::kPartial, SectionStatus::kError,
                 SectionStatus::kNotApplicable}) {
    if (SectionStatusName(s) == name) return s;
  }
  return std::nullopt;
}

void Section::AddError(std::string path, std::optional<int64_t> line, std::string message) {
  if (errors.size() + 1 >= kMaxSectionErrors) {
    ++dropped_errors;
    last_dropped.push_back({std::move(path), line, std::move(message)});
    if (last_dropped.size() > kLastSectionErrors) last_dropped.pop_front();
    return;
  }
  errors.push_back({std::move(path), line, std::move(message)});
}

void Section::NoteTruncated(const std::string& list, size_t limit, size_t total) {
  if (!data.is_object()) data = json::object();
  data["truncated"][list] = {{"limit", limit}, {"total", total}};
  AddError("", std::nullopt,
           "list '" + list + "' truncated: " + std::to_string(limit) + " of " +
               std::to_string(total) + " items kept");
}

size_t BoundStrings(json& j) {
  constexpr size_t kMax = kSnapshotJsonLimits.max_string_bytes;
  if (j.is_structured()) {
    size_t cut = 0;
    for (json& v : j) cut += BoundStrings(v);
    return cut;
  }
  if (!j.is_string()) return 0;
  std::string& s = j.get_ref<std::string&>();
  // Only a string of more than a third of the limit can pass it as written; one over the
  // limit already does (U+FFFD never makes a string shorter).
  if (s.size() <= kMax / 3) return 0;
  if (s.size() <= kMax && Utf8WrittenLength(s) <= kMax) return 0;
  s = Utf8Bounded(s, kMax);
  return 1;
}

void ItemArray::push_back(const json& item) {
  if (size_ > 0) text_ += ',';
  size_t at = text_.size();
  DumpInto(item, text_);
  // The written item is at least as long as any string in it: most items need no second look.
  if (text_.size() - at > kSnapshotJsonLimits.max_string_bytes / 3) {
    json bounded = item;
    if (size_t cut = BoundStrings(bounded); cut != 0) {
      text_.resize(at);
      DumpInto(bounded, text_);
      cut_strings_ += cut;
    }
  }
  ++size_;
}

json ItemArray::ToJson() const {
  json parsed = json::parse("[" + text_ + "]", nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json::array() : parsed;
}

void Section::Materialize() {
  for (auto& [key, array] : items) data[key] = array.ToJson();
  items.clear();
}

void Section::Finish() {
  size_t cut = BoundStrings(data);
  for (auto& [key, array] : items) cut += array.TakeCutStrings();
  if (cut != 0) {
    AddError("", std::nullopt,
             std::to_string(cut) + " string(s) longer than " +
                 std::to_string(kSnapshotJsonLimits.max_string_bytes) +
                 " bytes of UTF-8 cut to that length (ending in …(N bytes))");
  }
  size_t total = errors.size() + dropped_errors;
  if (total >= kMaxSectionErrors) {
    // errors, then the last of those AddError only counted: the latest ones in order.
    errors.insert(errors.end(), std::make_move_iterator(last_dropped.begin()),
                  std::make_move_iterator(last_dropped.end()));
    constexpr size_t kFirst = kMaxSectionErrors - 1 - kLastSectionErrors;
    errors.erase(errors.begin() + kFirst, errors.end() - kLastSectionErrors);
    dropped_errors = 0;
    last_dropped.clear();
    // Appends the last error without AddError's cut.
    if (!data.is_object()) data = json::object();
    data["truncated"]["errors"] = {{"limit", kMaxSectionErrors - 1}, {"total", total}};
    errors.push_back({"", std::nullopt,
                      "list 'errors' truncated: " + std::to_string(kMaxSectionErrors - 1) + " of " +
                          std::to_string(total) + " errors kept (the first " +
                          std::to_string(kFirst) + " and the last " +
                          std::to_string(kLastSectionErrors) + ")"});
  }
  if (status == SectionStatus::kError || status == SectionStatus::kNotApplicable) return;
  status = errors.empty() ? SectionStatus::kOk : SectionStatus::kPartial;
}

json EncodeSection(const Section& section) {
  json j = section.data.is_object() ? section.data : json::object();
  for (const auto& [key, array] : section.items) j[key] = array.ToJson();
  j["status"] = SectionStatusName(section.status);
  json errors = json::array();
  for (const auto& e : section.errors) errors.push_back(EncodeError(e));
  j["errors"] = std::move(errors);
  j["duration_ms"] = section.duration_ms;
  if (section.volatile_data.is_object() && !section.volatile_data.empty()) {
    j["volatile"] = section.volatile_data;
  }
  return j;
}

struct SnapshotWriter::State {
  Sha256Stream hash;
  std::vector<std::string> names;
  std::string out;  // output not yet given to the sink
  Status status;    // the first sink error
};

namespace {
constexpr size_t kSinkChunk = 64 * 1024;
}  // namespace

SnapshotWriter::SnapshotWriter(Sink sink) : sink_(std::move(sink)), state_(new State) {}
SnapshotWriter::~SnapshotWriter() = default;

Status SnapshotWriter::Flush(bool all) {
  if (!state_->status.ok()) return state_->status;
  if (state_->out.size() >= kSinkChunk || (all && !state_->out.empty())) {
    state_->status = sink_(state_->out);
    state_->out.clear();
  }
  return state_->status;
}

Status SnapshotWriter::AddSection(const std::string& name, const Section& section) {
  if (!state_->names.empty() && !(state_->names.back() < name)) {
    return {StatusCode::kInternal, "sections must be added in increasing name order: " + name};
  }
  if (!state_->status.ok()) return state_->status;
  std::string head = state_->names.empty() ? "{" : ",";
  DumpInto(json(name), head);
  head += ':';
  state_->hash.Update(head);
  state_->out += head;
  state_->names.push_back(name);
  auto chunk = [this](std::string_view piece) {
    state_->hash.Update(piece);
    if (piece.size() >= kSinkChunk) {  // large item arrays go straight to the sink
      if (Flush(true).ok()) state_->status = sink_(piece);
      return;
    }
    state_->out += piece;
    Flush(false);
  };
  // The document's text is the canonical text with the volatile entries spliced in.
  std::function<void(std::string_view)> doc_only = [this](std::string_view text) {
    state_->out += text;
  };
  WriteCanonicalSection(section, chunk, &doc_only);
  return Flush(false);
}

Status SnapshotWriter::Finish(const HostIdentity& host, const std::string& collected_at,
                              const std::string& agent_version) {
  state_->hash.Update(state_->names.empty() ? "{}" : "}");
  content_hash_ = "sha256:" + state_->hash.HexDigest();
  json envelope = json::object();
  envelope["schema"] = kSnapshotSchema;
  envelope["host"] = {{"id", host.id}, {"hostname", host.hostname}, {"root", host.root}};
  envelope["collected_at"] = collected_at;
  envelope["agent"] = {{"version", agent_version}};
  envelope["content_hash"] = content_hash_;
  envelope["sections"] = state_->names;
  std::string text = DumpCompact(envelope);  // "{...}"
  // Continue the open object: the envelope's members follow the sections.
  text.front() = state_->names.empty() ? '{' : ',';
  text += '\n';
  state_->out += text;
  return Flush(true);
}

namespace {

// Runs a whole in-memory snapshot through a SnapshotWriter into a string.
std::string WriteToString(const Snapshot& snapshot) {
  std::string out;
  SnapshotWriter writer([&out](std::string_view piece) {
    out += piece;
    return Status::Ok();
  });
  for (const auto& [name, section] : snapshot.sections) {
    (void)writer.AddSection(name, section);  // a string sink cannot fail; names are sorted
  }
  (void)writer.Finish(snapshot.host, snapshot.collected_at, snapshot.agent_version);
  return out;
}

}  // namespace

std::string CanonicalSections(const Snapshot& snapshot) {
  std::string out = "{";
  bool first = true;
  for (const auto& [name, section] : snapshot.sections) {
    if (!first) out += ',';
    first = false;
    DumpInto(json(name), out);
    out += ':';
    WriteCanonicalSection(
        section, [&out](std::string_view piece) { out += piece; }, nullptr);
  }
  out += '}';
  return out;
}

std::string ContentHash(const Snapshot& snapshot) {
  return "sha256:" + Sha256Hex(CanonicalSections(snapshot));
}

std::string SerializeSnapshot(const Snapshot& snapshot) { return WriteToString(snapshot); }

json EncodeSnapshot(const Snapshot& snapshot) {
  json j = json::object();
  j["schema"] = kSnapshotSchema;
  j["host"] = {
      {"id", snapshot.host.id}, {"hostname", snapshot.host.hostname}, {"root", snapshot.host.root}};
  j["collected_at"] = snapshot.collected_at;
  j["agent"] = {{"version", snapshot.agent_version}};
  j["content_hash"] = ContentHash(snapshot);
  json names = json::array();
  for (const auto& [name, section] : snapshot.sections) {
    names.push_back(name);
    j[name] = EncodeSection(section);
  }
  j["sections"] = std::move(names);
  return j;
}

StatusOr<Snapshot> DecodeSnapshot(std::string_view text) { return DecodeSnapshot(text, nullptr); }

StatusOr<Snapshot> DecodeSnapshot(std::string_view text, std::string* content_hash) {
  try {
    // Every rule, every limit and the content hash in one streaming pass, which builds the tree
    // of what it accepted as it goes: what decodes is exactly what the collector accepts, and
    // the tree never holds more than the limits allow (no recursive step below can meet more
    // than 64 levels).
    json j;
    auto verified = VerifySnapshotText(text, &j);
    if (!verified.ok()) return verified.status();
    Snapshot s;
    s.host = std::move(verified->host);
    s.collected_at = std::move(verified->collected_at);
    s.agent_version = std::move(verified->agent_version);
    for (const std::string& name : verified->sections) {
      auto it = j.find(name);
      if (it == j.end()) return Malformed("listed section '" + name + "' is missing");
      auto section = DecodeSection(name, *it);
      if (!section.ok()) return section.status();
      s.sections.emplace(name, std::move(section).value());
    }
    if (content_hash != nullptr) *content_hash = std::move(verified->content_hash);
    return s;
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kTooLarge, "malformed snapshot: out of memory while decoding");
  } catch (const std::exception& ex) {
    return Malformed(std::string("cannot be decoded: ") + EscapeControlBounded(ex.what(), 200));
  }
}

std::string NowRfc3339() { return FormatRfc3339(NowSeconds()); }

}  // namespace tidemark
