// One pass, no tree: the SAX events of nlohmann's iterative parser drive a small state machine
// (a stack of open containers, each knowing what it is: the document, host, agent, the section
// list, a section, its errors, data). The canonical text is not built: it is fed to SHA-256 in
// 64 KiB pieces as the document is read. That is possible because the document must already be
// in canonical order inside the sections (docs/snapshot.md, "Key order"), which every tidemark
// writer guarantees and which this pass checks: a key not greater than the previous one of its
// object is out of order, or a duplicate.
#include "common/snapshot_verify.h"

#include <array>
#include <charconv>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include "common/identity.h"
#include "common/json_bounded.h"
#include "common/sha256.h"
#include "common/text.h"

namespace tidemark {
namespace {

using nlohmann::json;

Status Malformed(const std::string& what) {
  return {StatusCode::kInvalidArgument, "malformed snapshot: " + what};
}

// Host text quoted in an error message: escaped and short.
std::string Quote(std::string_view text) { return "'" + EscapeControlBounded(text, 80) + "'"; }

// Keys of a section that are not part of the canonical form (docs/snapshot.md, "Section
// envelope"): duration_ms (an integer) and volatile (an object).
bool IsExcludedSectionKey(std::string_view key) {
  return key == "duration_ms" || key == "volatile";
}

// The refusal of a wrong type for an excluded key.
std::string ExcludedTypeError(std::string_view key) {
  return key == "duration_ms" ? "section duration_ms is not an integer"
                              : "section volatile is not an object";
}

constexpr std::array<std::string_view, 6> kTopKeys = {"schema", "host",         "collected_at",
                                                      "agent",  "content_hash", "sections"};

int TopKeyIndex(std::string_view key) {
  for (size_t i = 0; i < kTopKeys.size(); ++i) {
    if (kTopKeys[i] == key) return static_cast<int>(i);
  }
  return -1;
}

// Parses "tidemark.snapshot/MAJOR[.MINOR]" and returns MAJOR, or -1.
int SchemaMajor(std::string_view schema) {
  constexpr std::string_view kPrefix = "tidemark.snapshot/";
  if (schema.substr(0, kPrefix.size()) != kPrefix) return -1;
  std::string_view version = schema.substr(kPrefix.size());
  int major = -1;
  auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), major);
  if (ec != std::errc() || ptr == version.data()) return -1;
  if (ptr != version.data() + version.size() && *ptr != '.') return -1;
  return major;
}

class Verifier {
 public:
  explicit Verifier(BoundedDomBuilder* tree = nullptr)
      : guard_(kSnapshotJsonLimits),
        tree_(tree),
        out_(std::make_unique_for_overwrite<char[]>(kChunk)) {}

  // SAX interface (nlohmann::json::sax_parse). An event the checks accept goes on to the tree
  // builder, when there is one; the checks leave the parser's strings and keys to it.
  bool null() {
    return guard_.Scalar() && OnScalar(Scalar::kNull, "null") && (!tree_ || tree_->null());
  }
  bool boolean(bool v) {
    return guard_.Scalar() && OnScalar(Scalar::kBool, v ? "true" : "false") &&
           (!tree_ || tree_->boolean(v));
  }
  bool number_integer(json::number_integer_t v) {
    return guard_.Scalar() && OnInteger(v) && (!tree_ || tree_->number_integer(v));
  }
  bool number_unsigned(json::number_unsigned_t v) {
    return guard_.Scalar() && OnInteger(v) && (!tree_ || tree_->number_unsigned(v));
  }
  bool number_float(json::number_float_t /*v*/, const std::string& /*text*/) {
    return Fail("a number that is not an integer (snapshots hold integers only)");
  }
  bool string(std::string& v) {
    return guard_.String(v.size()) && OnString(v) && (!tree_ || tree_->string(v));
  }
  bool binary(json::binary_t& /*v*/) { return Fail("binary value"); }
  bool start_object(std::size_t n) {
    return guard_.Open(true) && OnOpen(true) && (!tree_ || tree_->start_object(n));
  }
  bool start_array(std::size_t n) {
    return guard_.Open(false) && OnOpen(false) && (!tree_ || tree_->start_array(n));
  }
  bool key(std::string& k) {
    if (k.size() > kMaxKeyBytes) {
      return Fail("an object key is longer than " + std::to_string(kMaxKeyBytes) + " bytes");
    }
    return guard_.Key(k.size()) && OnKey(k) && (!tree_ || tree_->key(k));
  }
  bool end_object() {
    guard_.Close();
    return OnClose() && (!tree_ || tree_->end_object());
  }
  bool end_array() {
    guard_.Close();
    return OnClose() && (!tree_ || tree_->end_array());
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    return guard_.ParseError(ex);
  }

  Status error() const {
    const Status& e = guard_.error();
    if (e.ok()) return e;
    return {e.code(), "malformed snapshot: " + e.message()};
  }
  const std::optional<std::string>& schema() const { return schema_; }
  // Checks what needs the whole document. REQUIRES: the parse succeeded.
  StatusOr<VerifiedSnapshot> Finish();

 private:
  // Keys longer than this are refused: each open object keeps its last key to check the order.
  static constexpr size_t kMaxKeyBytes = 64u << 10;
  static constexpr size_t kChunk = 64u << 10;

  enum class Kind { kDocument, kHost, kAgent, kSectionList, kSection, kErrors, kError, kData };
  enum class Scalar { kNull, kBool, kInteger, kString };
  struct Frame {
    Frame(Kind k, bool object, bool hash) : kind(k), is_object(object), hashed(hash) {}
    Kind kind;
    bool is_object;
    bool hashed;            // its canonical text goes to the digest
    bool first = true;      // no member/element emitted yet
    bool has_last = false;  // last_key holds the previous ordered key
    std::string last_key;   // the previous key, for the order check
    std::string key;        // the key of the value being read (envelope objects only)
    unsigned seen = 0;      // bit set of fixed keys seen (document, host, agent, error)
  };

  bool Fail(std::string message) { return guard_.Fail(std::move(message)); }

  // Appends `text` to the canonical text (in place in the chunk: this runs for every token).
  void Emit(std::string_view text) {
    if (text.empty()) return;
    if (text.size() > kChunk - used_) {
      Flush();
      if (text.size() >= kChunk) {
        hash_.Update(text);
        return;
      }
    }
    std::memcpy(out_.get() + used_, text.data(), text.size());
    used_ += text.size();
  }
  void Flush() {
    hash_.Update(std::string_view(out_.get(), used_));
    used_ = 0;
  }
  // Appends `s` as nlohmann::json::dump() writes a string (ensure_ascii=false): the input was
  // valid UTF-8 (the parser checks), so only '"', '\\' and C0 controls are escaped; the runs
  // between them are appended whole.
  void EmitEscaped(std::string_view s) {
    Emit("\"");
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      Emit(s.substr(run, i - run));
      run = i + 1;
      switch (c) {
        case '"':
          Emit("\\\"");
          break;
        case '\\':
          Emit("\\\\");
          break;
        case '\b':
          Emit("\\b");
          break;
        case '\f':
          Emit("\\f");
          break;
        case '\n':
          Emit("\\n");
          break;
        case '\r':
          Emit("\\r");
          break;
        case '\t':
          Emit("\\t");
          break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          const char escaped[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
          Emit(std::string_view(escaped, sizeof escaped));
        }
      }
    }
    Emit(s.substr(run));
    Emit("\"");
  }
  // A value starts inside a hashed array: its separator.
  void ElementSeparator(Frame& f) {
    if (!f.is_object && f.hashed) {
      if (!f.first) Emit(",");
      f.first = false;
    }
  }

  // Where a new value goes: returns its role, or fails.
  std::string_view Path() const;
  bool OnScalar(Scalar type, std::string_view text);
  bool OnInteger(int64_t v);
  bool OnInteger(uint64_t v);
  bool OnString(std::string& v);
  bool OnOpen(bool is_object);
  bool OnKey(std::string& k);
  bool OnClose();
  bool EnvelopeString(std::string& v);

  JsonLimitGuard guard_;
  BoundedDomBuilder* tree_;  // null: verify only
  std::vector<Frame> stack_;
  Sha256Stream hash_;
  std::unique_ptr<char[]> out_;  // canonical text not yet given to the digest: kChunk bytes
  size_t used_ = 0;

  std::optional<std::string> schema_, collected_at_, content_hash_;
  std::optional<std::string> host_id_, hostname_, root_, agent_version_;
  bool host_seen_ = false, agent_seen_ = false;
  std::optional<std::vector<std::string>> listed_;
  std::vector<std::string> present_;  // section objects met, in document order (increasing)
};

bool Verifier::OnInteger(int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return OnScalar(Scalar::kInteger, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

bool Verifier::OnInteger(uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return OnScalar(Scalar::kInteger, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
}

bool Verifier::OnScalar(Scalar type, std::string_view text) {
  if (stack_.empty()) return Fail("the document is not a JSON object");
  Frame& f = stack_.back();
  switch (f.kind) {
    case Kind::kDocument: {
      int top = TopKeyIndex(f.key);
      if (top < 0) return Fail("section " + Quote(f.key) + " is not an object");
      return Fail(std::string(kTopKeys[static_cast<size_t>(top)]) + " has the wrong type");
    }
    case Kind::kHost:
      return Fail("host." + f.key + " is not a string");
    case Kind::kAgent:
      return Fail("agent." + f.key + " is not a string");
    case Kind::kSectionList:
      return Fail("a section name is not a string");
    case Kind::kSection:
      if (f.key == "status") return Fail("section status is not a string");
      if (f.key == "errors") return Fail("section errors is not an array");
      if (IsExcludedSectionKey(f.key)) {
        if (f.key != "duration_ms" || type != Scalar::kInteger) {
          return Fail(ExcludedTypeError(f.key));
        }
        return true;  // not part of the canonical form
      }
      Emit(text);
      return true;
    case Kind::kErrors:
      return Fail("a section error is not an object");
    case Kind::kError:
      if (f.key == "line") {
        if (type != Scalar::kInteger && type != Scalar::kNull) {
          return Fail("a section error's line is neither an integer nor null");
        }
        Emit(text);
        return true;
      }
      return Fail("a section error's " + f.key + " is not a string");
    case Kind::kData:
      ElementSeparator(f);
      if (f.hashed) Emit(text);
      return true;
  }
  return Fail("unexpected value");
}

bool Verifier::EnvelopeString(std::string& v) {
  Frame& f = stack_.back();
  auto bounded = [&](std::optional<std::string>& field, const char* name, size_t max) {
    if (v.size() > max) {
      return Fail(std::string(name) + " is longer than " + std::to_string(max) + " bytes");
    }
    field = v;
    return true;
  };
  if (f.kind == Kind::kHost) {
    if (f.key == "id") return bounded(host_id_, "host.id", kMaxHostIdBytes);
    if (f.key == "hostname") return bounded(hostname_, "host.hostname", kMaxHostnameBytes);
    return bounded(root_, "host.root", kMaxRootBytes);
  }
  if (f.kind == Kind::kAgent) {
    return bounded(agent_version_, "agent.version", kMaxAgentVersionBytes);
  }
  // The document's own string fields.
  if (f.key == "schema") return bounded(schema_, "schema", 128);
  if (f.key == "collected_at") {
    if (!IsRfc3339Timestamp(v)) {
      return Fail("collected_at " + Quote(v) + " is not an RFC 3339 time of at most " +
                  std::to_string(kMaxTimestampBytes) + " bytes");
    }
    collected_at_ = v;
    return true;
  }
  if (f.key == "content_hash") return bounded(content_hash_, "content_hash", 128);
  int top = TopKeyIndex(f.key);
  if (top < 0) return Fail("section " + Quote(f.key) + " is not an object");
  return Fail(std::string(kTopKeys[static_cast<size_t>(top)]) + " has the wrong type");
}

bool Verifier::OnString(std::string& v) {
  if (stack_.empty()) return Fail("the document is not a JSON object");
  Frame& f = stack_.back();
  switch (f.kind) {
    case Kind::kDocument:
    case Kind::kHost:
    case Kind::kAgent:
      return EnvelopeString(v);
    case Kind::kSectionList: {
      if (!IsValidSectionName(v)) return Fail("section name " + Quote(v) + " is not valid");
      auto& list = *listed_;
      if (!list.empty() && !(list.back() < v)) {
        return Fail(list.back() == v ? "section " + Quote(v) + " is listed twice"
                                     : "the sections list is not sorted");
      }
      list.push_back(v);
      return true;
    }
    case Kind::kSection:
      if (f.key == "status") {
        if (!ParseSectionStatus(v)) return Fail("section has unknown status " + Quote(v));
        f.seen |= 1;
      } else if (f.key == "errors") {
        return Fail("section errors is not an array");
      } else if (IsExcludedSectionKey(f.key)) {
        return Fail(ExcludedTypeError(f.key));
      }
      EmitEscaped(v);
      return true;
    case Kind::kErrors:
      return Fail("a section error is not an object");
    case Kind::kError:
      if (f.key == "line") return Fail("a section error's line is neither an integer nor null");
      if (v.size() > (f.key == "path" ? kMaxErrorPathBytes : kMaxErrorMessageBytes)) {
        return Fail("a section error's " + f.key + " is longer than " +
                    std::to_string(f.key == "path" ? kMaxErrorPathBytes : kMaxErrorMessageBytes) +
                    " bytes");
      }
      EmitEscaped(v);
      return true;
    case Kind::kData:
      ElementSeparator(f);
      if (f.hashed) {
        EmitEscaped(v);
      }
      return true;
  }
  return Fail("unexpected string");
}

bool Verifier::OnOpen(bool is_object) {
  if (stack_.empty()) {
    if (!is_object) return Fail("the document is not a JSON object");
    stack_.emplace_back(Kind::kDocument, true, false);
    return true;
  }
  Frame& f = stack_.back();
  Frame child{Kind::kData, is_object, f.hashed};
  switch (f.kind) {
    case Kind::kDocument: {
      int top = TopKeyIndex(f.key);
      if (top < 0) {
        // A section: its canonical text is "name":{...} inside the canonical object.
        if (!is_object) return Fail("section " + Quote(f.key) + " is not an object");
        Emit(present_.empty() ? "{" : ",");
        EmitEscaped(f.key);
        Emit(":{");
        present_.push_back(f.key);
        child.kind = Kind::kSection;
        child.hashed = true;
        break;
      }
      if (f.key == "host" && is_object) {
        child.kind = Kind::kHost;
        host_seen_ = true;
      } else if (f.key == "agent" && is_object) {
        child.kind = Kind::kAgent;
        agent_seen_ = true;
      } else if (f.key == "sections" && !is_object) {
        child.kind = Kind::kSectionList;
        listed_.emplace();
      } else {
        return Fail(f.key + " has the wrong type");
      }
      child.hashed = false;
      break;
    }
    case Kind::kHost:
      return Fail("host." + f.key + " is not a string");
    case Kind::kAgent:
      return Fail("agent." + f.key + " is not a string");
    case Kind::kSectionList:
      return Fail("a section name is not a string");
    case Kind::kSection:
      if (f.key == "status") return Fail("section status is not a string");
      if (IsExcludedSectionKey(f.key)) {
        if (f.key != "volatile" || !is_object) return Fail(ExcludedTypeError(f.key));
        child.hashed = false;  // checked like data, not part of the canonical form
        break;
      }
      if (f.key == "errors") {
        if (is_object) return Fail("section errors is not an array");
        child.kind = Kind::kErrors;
        f.seen |= 2;
      }
      Emit(is_object ? "{" : "[");
      break;
    case Kind::kErrors:
      if (!is_object) return Fail("a section error is not an object");
      ElementSeparator(f);
      child.kind = Kind::kError;
      Emit("{");
      break;
    case Kind::kError:
      if (f.key == "line") return Fail("a section error's line is neither an integer nor null");
      return Fail("a section error's " + f.key + " is not a string");
    case Kind::kData:
      ElementSeparator(f);
      if (f.hashed) Emit(is_object ? "{" : "[");
      break;
  }
  stack_.push_back(std::move(child));
  return true;
}

bool Verifier::OnKey(std::string& k) {
  Frame& f = stack_.back();
  // Keys whose order is free (the envelope's, and the excluded keys of a section) are checked
  // against a fixed list, once each; all others must be strictly increasing.
  auto once = [&](unsigned bit, std::string_view where) {
    if (f.seen & bit) return Fail("duplicate key " + Quote(k) + std::string(where));
    f.seen |= bit;
    f.key = k;
    return true;
  };
  auto ordered = [&](std::string_view where) {
    if (f.has_last && !(f.last_key < k)) {
      return Fail((f.last_key == k ? "duplicate key " : "key out of canonical order ") + Quote(k) +
                  std::string(where));
    }
    f.has_last = true;
    f.last_key = k;
    return true;
  };
  switch (f.kind) {
    case Kind::kDocument: {
      int top = TopKeyIndex(k);
      if (top >= 0) return once(1u << top, " in the document");
      if (!IsValidSectionName(k)) {
        return Fail("top-level key " + Quote(k) + " is neither an envelope field nor a section");
      }
      if (!ordered(" (sections must be in name order)")) return false;
      f.key = k;
      return true;
    }
    case Kind::kHost:
      if (k == "id") return once(1, " in host");
      if (k == "hostname") return once(2, " in host");
      if (k == "root") return once(4, " in host");
      return Fail("unknown key " + Quote(k) + " in host");
    case Kind::kAgent:
      if (k == "version") return once(1, " in agent");
      return Fail("unknown key " + Quote(k) + " in agent");
    case Kind::kSection:
      if (IsExcludedSectionKey(k)) return once(k == "duration_ms" ? 4 : 8, " in a section");
      if (!ordered(" in a section")) return false;
      if (!f.first) Emit(",");
      f.first = false;
      EmitEscaped(k);
      Emit(":");
      f.key = k;
      return true;
    case Kind::kError:
      if (k != "line" && k != "message" && k != "path") {
        return Fail("unknown key " + Quote(k) + " in a section error");
      }
      if (!ordered(" in a section error")) return false;
      f.seen |= k == "line" ? 1 : k == "message" ? 2 : 4;
      if (!f.first) Emit(",");
      f.first = false;
      EmitEscaped(k);
      Emit(":");
      f.key = k;
      return true;
    case Kind::kData:
      if (!ordered("")) return false;
      if (f.hashed) {
        if (!f.first) Emit(",");
        EmitEscaped(k);
        Emit(":");
      }
      f.first = false;
      return true;
    case Kind::kSectionList:
    case Kind::kErrors:
      break;
  }
  return Fail("unexpected key");
}

bool Verifier::OnClose() {
  Frame f = std::move(stack_.back());
  stack_.pop_back();
  switch (f.kind) {
    case Kind::kDocument:
      Emit(present_.empty() ? "{}" : "}");
      Flush();
      return true;
    case Kind::kHost:
    case Kind::kAgent:
    case Kind::kSectionList:
      return true;
    case Kind::kSection:
      if (!(f.seen & 1)) return Fail("section " + Quote(present_.back()) + " has no status");
      if (!(f.seen & 2)) return Fail("section " + Quote(present_.back()) + " has no errors array");
      Emit("}");
      return true;
    case Kind::kError:
      if (f.seen != 7) return Fail("a section error lacks path, line or message");
      Emit("}");
      return true;
    case Kind::kErrors:
      Emit("]");
      return true;
    case Kind::kData:
      if (f.hashed) Emit(f.is_object ? "}" : "]");
      return true;
  }
  return true;
}

StatusOr<VerifiedSnapshot> Verifier::Finish() {
  if (!schema_) return Malformed("no \"schema\" string");
  int major = SchemaMajor(*schema_);
  if (major < 0) return Malformed("unknown schema " + Quote(*schema_));
  if (major != kSnapshotMajorVersion) {
    return Status(StatusCode::kInvalidArgument,
                  "unsupported snapshot schema '" + EscapeControlBounded(*schema_, 80) +
                      "': this build reads major version " + std::to_string(kSnapshotMajorVersion));
  }
  if (!host_id_) return Malformed("no host.id");
  if (!IsValidHostId(*host_id_)) return Malformed("host.id " + Quote(*host_id_) + " is not valid");
  if (!collected_at_) return Malformed("no collected_at");
  if (!listed_) return Malformed("no sections list");
  // Both lists are strictly increasing: walk them together.
  size_t i = 0, j = 0;
  while (i < listed_->size() || j < present_.size()) {
    if (j == present_.size() || (i < listed_->size() && (*listed_)[i] < present_[j])) {
      return Malformed("listed section " + Quote((*listed_)[i]) + " is missing");
    }
    if (i == listed_->size() || present_[j] < (*listed_)[i]) {
      return Malformed("top-level key " + Quote(present_[j]) + " is not a listed section");
    }
    ++i;
    ++j;
  }
  std::string digest = hash_.HexDigest();
  VerifiedSnapshot v;
  v.content_hash = "sha256:" + digest;
  if (content_hash_ && *content_hash_ != v.content_hash) {
    return Malformed("content_hash does not match the sections (expected " + v.content_hash + ")");
  }
  v.host.id = std::move(*host_id_);
  v.host.hostname = hostname_.value_or("");
  v.host.root = root_.value_or("/");
  v.collected_at = std::move(*collected_at_);
  v.agent_version = agent_version_.value_or("");
  v.sections = std::move(*listed_);
  return v;
}

// Reads only the top-level "schema" string: when a document fails the structural checks, a
// foreign major version is the better explanation (a later format may differ in structure).
class SchemaOnly {
 public:
  bool null() { return true; }
  bool boolean(bool /*v*/) { return true; }
  bool number_integer(json::number_integer_t /*v*/) { return true; }
  bool number_unsigned(json::number_unsigned_t /*v*/) { return true; }
  bool number_float(json::number_float_t /*v*/, const std::string& /*s*/) { return true; }
  bool string(std::string& v) {
    if (depth_ == 1 && at_schema_) schema = std::move(v);
    at_schema_ = false;
    return true;
  }
  bool binary(json::binary_t& /*v*/) { return false; }
  bool start_object(std::size_t /*n*/) { return Open(); }
  bool start_array(std::size_t /*n*/) { return Open(); }
  bool key(std::string& k) {
    at_schema_ = depth_ == 1 && k == "schema";
    return true;
  }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t /*p*/, const std::string& /*t*/,
                   const nlohmann::detail::exception& /*e*/) {
    return false;
  }
  std::optional<std::string> schema;

 private:
  bool Open() {
    at_schema_ = false;
    return ++depth_ <= kSnapshotJsonLimits.max_depth;
  }
  bool Close() {
    --depth_;
    return true;
  }
  size_t depth_ = 0;
  bool at_schema_ = false;
};

}  // namespace

bool IsValidSectionName(std::string_view name) {
  if (name.empty() || name.size() > 64 || TopKeyIndex(name) >= 0) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

StatusOr<VerifiedSnapshot> VerifySnapshotText(std::string_view text) {
  return VerifySnapshotText(text, nullptr);
}

StatusOr<VerifiedSnapshot> VerifySnapshotText(std::string_view text, json* tree) {
  try {
    std::optional<BoundedDomBuilder> builder;
    if (tree != nullptr) builder.emplace(*tree, kSnapshotJsonLimits);
    Verifier v(builder ? &*builder : nullptr);
    bool ok = json::sax_parse(text.data(), text.data() + text.size(), &v,
                              json::input_format_t::json, /*strict=*/true);
    if (ok && v.error().ok()) return v.Finish();
    // The checks passed the event on and the tree refused it (a duplicate key where no order is
    // checked).
    if (v.error().ok() && builder && !builder->error().ok()) {
      return Malformed(builder->error().message());
    }
    Status error = v.error().ok() ? Malformed("not valid JSON") : v.error();
    // A later major version may differ in structure: name it rather than the first difference.
    std::optional<std::string> schema = v.schema();
    if (!schema) {
      SchemaOnly s;
      (void)json::sax_parse(text.data(), text.data() + text.size(), &s, json::input_format_t::json,
                            /*strict=*/false);
      schema = std::move(s.schema);
    }
    if (schema && SchemaMajor(*schema) >= 0 && SchemaMajor(*schema) != kSnapshotMajorVersion) {
      return Status(StatusCode::kInvalidArgument, "unsupported snapshot schema '" +
                                                      EscapeControlBounded(*schema, 80) +
                                                      "': this build reads major version " +
                                                      std::to_string(kSnapshotMajorVersion));
    }
    return error;
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kTooLarge, "malformed snapshot: out of memory while verifying");
  } catch (const std::exception& ex) {
    return Malformed(std::string("cannot be verified: ") + EscapeControlBounded(ex.what(), 200));
  }
}

}  // namespace tidemark
