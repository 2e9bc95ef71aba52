#include "common/json_bounded.h"

#include <new>
#include <utility>

#include "common/text.h"

namespace tidemark {

using nlohmann::json;

bool JsonLimitGuard::Fail(std::string message) {
  if (error_.ok()) error_ = Status(StatusCode::kInvalidArgument, std::move(message));
  return false;
}

bool JsonLimitGuard::Item() {
  if (open_.empty()) return true;
  if (++open_.back().items > limits_.max_container_items) {
    error_ =
        Status(StatusCode::kTooLarge, "a JSON array or object holds more than " +
                                          std::to_string(limits_.max_container_items) + " items");
    return false;
  }
  return true;
}

bool JsonLimitGuard::Scalar() {
  // An object's member is counted at its key, an array's element at its value.
  return open_.empty() || open_.back().is_object || Item();
}

bool JsonLimitGuard::String(size_t bytes) {
  if (bytes > limits_.max_string_bytes) {
    error_ = Status(StatusCode::kTooLarge, "a JSON string is longer than " +
                                               std::to_string(limits_.max_string_bytes) + " bytes");
    return false;
  }
  return Scalar();
}

bool JsonLimitGuard::Key(size_t bytes) {
  if (bytes > limits_.max_string_bytes) {
    error_ = Status(StatusCode::kTooLarge, "a JSON object key is longer than " +
                                               std::to_string(limits_.max_string_bytes) + " bytes");
    return false;
  }
  return Item();
}

bool JsonLimitGuard::Open(bool is_object) {
  if (!Scalar()) return false;
  if (open_.size() >= limits_.max_depth) {
    error_ = Status(StatusCode::kTooLarge,
                    "JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels");
    return false;
  }
  open_.push_back({is_object, 0});
  return true;
}

void JsonLimitGuard::Close() {
  if (!open_.empty()) open_.pop_back();
}

bool JsonLimitGuard::ParseError(const std::exception& ex) {
  // nlohmann quotes the last token read, which may be a long host-written string.
  return Fail("not valid JSON: " + EscapeControlBounded(ex.what(), 240));
}

namespace {

// Builds the DOM as nlohmann's json_sax_dom_parser does, under a JsonLimitGuard, refusing
// duplicate keys (nlohmann would keep the last one silently).
class BoundedDomBuilder {
 public:
  BoundedDomBuilder(json& root, const JsonLimits& limits) : root_(root), guard_(limits) {}

  bool null() { return guard_.Scalar() && Put(json(nullptr)); }
  bool boolean(bool v) { return guard_.Scalar() && Put(json(v)); }
  bool number_integer(json::number_integer_t v) { return guard_.Scalar() && Put(json(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return guard_.Scalar() && Put(json(v)); }
  bool number_float(json::number_float_t v, const std::string& /*text*/) {
    return guard_.Scalar() && Put(json(v));
  }
  bool string(std::string& v) { return guard_.String(v.size()) && Put(json(std::move(v))); }
  bool binary(json::binary_t& /*v*/) { return guard_.Fail("binary values are not JSON"); }
  bool start_object(std::size_t /*n*/) { return guard_.Open(true) && PutContainer(json::object()); }
  bool key(std::string& k) {
    if (!guard_.Key(k.size())) return false;
    json& object = *stack_.back();
    if (object.contains(k)) {
      return guard_.Fail("duplicate key \"" + EscapeControlBounded(k, 128) + "\" in an object");
    }
    member_ = &object[std::move(k)];
    return true;
  }
  bool end_object() {
    guard_.Close();
    stack_.pop_back();
    return true;
  }
  bool start_array(std::size_t /*n*/) { return guard_.Open(false) && PutContainer(json::array()); }
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
  json* Place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& parent = *stack_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return &parent.back();
    }
    *member_ = std::move(v);
    return member_;
  }
  bool Put(json&& v) {
    Place(std::move(v));
    return true;
  }
  bool PutContainer(json&& v) {
    stack_.push_back(Place(std::move(v)));
    return true;
  }

  json& root_;
  JsonLimitGuard guard_;
  std::vector<json*> stack_;
  json* member_ = nullptr;
};

}  // namespace

StatusOr<json> ParseJsonBounded(std::string_view text, const JsonLimits& limits) {
  try {
    json root;
    BoundedDomBuilder builder(root, limits);
    bool ok = json::sax_parse(text.data(), text.data() + text.size(), &builder,
                              json::input_format_t::json, /*strict=*/true);
    if (!ok || !builder.error().ok()) {
      if (!builder.error().ok()) return builder.error();
      return Status(StatusCode::kInvalidArgument, "not valid JSON");
    }
    return root;
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kTooLarge, "out of memory while parsing JSON");
  } catch (const std::exception& ex) {
    return Status(StatusCode::kInvalidArgument,
                  "not valid JSON: " + EscapeControlBounded(ex.what(), 240));
  }
}

}  // namespace tidemark
