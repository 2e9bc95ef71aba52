// Bounded JSON parsing for text that an agent, a collector or a host wrote: a nesting depth, a
// string length and a container size are enforced WHILE parsing (nlohmann's SAX parser is
// iterative), before any recursive step such as a copy, a comparison or a dump could overflow
// the stack, and an object holding the same key twice is refused. Pure functions and
// single-use handler state; no shared state, safe on any thread. Never throws.
#pragma once

#include <cstddef>
#include <exception>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemark {

struct JsonLimits {
  size_t max_depth = 64;                   // nested arrays/objects; the top-level value is 1
  size_t max_string_bytes = 1u << 20;      // each string value and each object key
  size_t max_container_items = 1'000'000;  // elements of one array, members of one object
};

// The limits of snapshot documents (docs/snapshot.md, "Decoding limits"): the deepest real
// snapshot nests 7 levels and its longest string is a few KB, its longest array a few thousand
// items; these leave a wide margin for larger hosts while keeping every recursive step shallow.
inline constexpr JsonLimits kSnapshotJsonLimits{64, 1u << 20, 1'000'000};
// The limits of protocol payloads (hello, offer, ack, error ...): flat objects of short fields.
inline constexpr JsonLimits kPayloadJsonLimits{8, 64u << 10, 4096};

// Counts nesting and sizes for a SAX handler. Each method returns false once a limit is
// crossed; error() then names the limit. Used by ParseJsonBounded and by the streaming
// snapshot verifier, so that both refuse exactly the same documents.
class JsonLimitGuard {
 public:
  explicit JsonLimitGuard(const JsonLimits& limits) : limits_(limits) {}

  // A scalar value (string: its byte length) in the current container.
  bool Scalar();
  bool String(size_t bytes);
  // An object's key; counts a member of the current object.
  bool Key(size_t bytes);
  // A container starts (it is an item of its parent) / ends.
  bool Open(bool is_object);
  void Close();
  size_t depth() const { return open_.size(); }

  // Records the failure of a handler rule other than a limit (a duplicate key, ...).
  bool Fail(std::string message);
  // Returns the first failure: a limit, Fail(), or the parser's own error given to ParseError.
  const Status& error() const { return error_; }
  // Records nlohmann's parse error (message bounded and escaped: it may quote the input).
  bool ParseError(const std::exception& ex);

 private:
  bool Item();

  JsonLimits limits_;
  struct Level {
    bool is_object;
    size_t items;  // counted so far
  };
  std::vector<Level> open_;
  Status error_;
};

// Parses `text` as exactly one JSON value (nothing but whitespace after it) within `limits`.
// Refuses invalid JSON (incl. invalid UTF-8), a limit crossed and a duplicate object key, with
// kInvalidArgument naming the problem (for a limit: kTooLarge). Never throws.
StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, const JsonLimits& limits);

}  // namespace tidemark
