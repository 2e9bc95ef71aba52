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

BoundedDomBuilder::BoundedDomBuilder(json& root, const JsonLimits& limits)
    : root_(root), guard_(limits) {}

bool BoundedDomBuilder::key(std::string& k) {
  if (!guard_.Key(k.size())) return false;
  // try_emplace leaves `k` as it is when the key is there already (for the message).
  auto [member, inserted] = stack_.back()->get_ref<json::object_t&>().try_emplace(k);
  if (!inserted) {
    return guard_.Fail("duplicate key \"" + EscapeControlBounded(k, 128) + "\" in an object");
  }
  member_ = &member->second;
  return true;
}

json* BoundedDomBuilder::Place(json&& v) {
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
