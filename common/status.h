// Status and StatusOr<T>: the error values every fallible function in tidemark returns.
//
// A Status carries a code and a human-readable message that names what failed (a path, a line, a
// peer) but never quotes secret content. Host data, network input and permissions never abort:
// they come back as a Status. Values are immutable and safe to copy across threads.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tidemark {

enum class StatusCode {
  kOk,
  kNotFound,          // the path does not exist
  kPermissionDenied,  // the OS (or a simulated owner) may not read it
  kWrongType,         // a directory, FIFO, socket or device where a regular file was expected
  kTooLarge,          // over the size bound for this input
  kLoop,              // symlink or include loop, or depth limit
  kEscapes,           // a path that would leave the audited root
  kInvalidArgument,   // bad usage or malformed input
  kIoError,           // any other I/O failure
  kUnavailable,       // the facility does not exist here (e.g. a syscall)
  kInternal,          // a programmer error surfaced as a value
  kCancelled,         // stopped on request (a signal, Ctrl-C) before it finished
  kRejected,          // well-formed, but a value that a rule refuses for good (e.g. an invalid
                      // snapshot id in a valid frame): do not retry it
  kDataLoss,          // stored data is damaged (a corrupted database file): restore a backup
};

// Returns the stable lowercase name of `code` ("not_found", "permission_denied", ...).
std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns "code: message", or "ok".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// kIoError "WHAT: strerror(err)", for a failed system call whose errno the caller keeps.
Status IoError(const std::string& what, int err);

// Holds either a value or a non-ok Status.
template <typename T>
class StatusOr {
 public:
  StatusOr(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  StatusOr(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "StatusOr needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // Returns the error, or Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  // REQUIRES: ok().
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace tidemark
