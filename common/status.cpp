#include "common/status.h"

#include <cstring>

namespace tidemark {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kPermissionDenied:
      return "permission_denied";
    case StatusCode::kWrongType:
      return "wrong_type";
    case StatusCode::kTooLarge:
      return "too_large";
    case StatusCode::kLoop:
      return "loop";
    case StatusCode::kEscapes:
      return "escapes_root";
    case StatusCode::kInvalidArgument:
      return "invalid_argument";
    case StatusCode::kIoError:
      return "io_error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kInternal:
      return "internal";
    case StatusCode::kCancelled:
      return "cancelled";
    case StatusCode::kRejected:
      return "rejected";
    case StatusCode::kDataLoss:
      return "data_loss";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

Status IoError(const std::string& what, int err) {
  return {StatusCode::kIoError, what + ": " + std::strerror(err)};
}

}  // namespace tidemark
