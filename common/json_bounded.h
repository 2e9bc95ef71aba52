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
#include <utility>
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

// A SAX handler (nlohmann::json::sax_parse) that builds the DOM as nlohmann's own parser does,
// under a JsonLimitGuard, and refuses an object holding the same key twice (nlohmann would keep
// the last one silently). ParseJsonBounded uses it; the snapshot verifier feeds it the events it
// accepted, so that one pass both verifies a snapshot and builds its tree. Single use.
class BoundedDomBuilder {
 public:
  BoundedDomBuilder(nlohmann::json& root, const JsonLimits& limits);

  bool null() { return guard_.Scalar() && Put(nlohmann::json(nullptr)); }
  bool boolean(bool v) { return guard_.Scalar() && Put(nlohmann::json(v)); }
  bool number_integer(nlohmann::json::number_integer_t v) {
    return guard_.Scalar() && Put(nlohmann::json(v));
  }
  bool number_unsigned(nlohmann::json::number_unsigned_t v) {
    return guard_.Scalar() && Put(nlohmann::json(v));
  }
  bool number_float(nlohmann::json::number_float_t v, const std::string& /*text*/) {
    return guard_.Scalar() && Put(nlohmann::json(v));
  }
  // Takes the string (moves from `v`).
  bool string(std::string& v) {
    return guard_.String(v.size()) && Put(nlohmann::json(std::move(v)));
  }
  bool binary(nlohmann::json::binary_t& /*v*/) { return guard_.Fail("binary values are not JSON"); }
  bool start_object(std::size_t /*n*/) {
    return guard_.Open(true) && PutContainer(nlohmann::json::object());
  }
  // Copies the key (leaves `k` as it is).
  bool key(std::string& k);
  bool end_object() {
    guard_.Close();
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*n*/) {
    return guard_.Open(false) && PutContainer(nlohmann::json::array());
  }
  bool end_array() {
    guard_.Close();
    stack_.pop_back();
    return true;
  }
  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& ex) {
    return guard_.ParseError(ex);
  }

  const Status& error() const { return guard_.error(); }

 private:
  // Places a value where the parser is: the root, the next array element or the member whose
  // key was just read.
  nlohmann::json* Place(nlohmann::json&& v);
  bool Put(nlohmann::json&& v) {
    Place(std::move(v));
    return true;
  }
  bool PutContainer(nlohmann::json&& v) {
    stack_.push_back(Place(std::move(v)));
    return true;
  }

  nlohmann::json& root_;
  JsonLimitGuard guard_;
  std::vector<nlohmann::json*> stack_;
  nlohmann::json* member_ = nullptr;
};

// Parses `text` as exactly one JSON value (nothing but whitespace after it) within `limits`.
// Refuses invalid JSON (incl. invalid UTF-8), a limit crossed and a duplicate object key, with
// kInvalidArgument naming the problem (for a limit: kTooLarge). Never throws.
StatusOr<nlohmann::json> ParseJsonBounded(std::string_view text, const JsonLimits& limits);

}  // namespace tidemark
