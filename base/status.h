// Status and Result<T>: how every Paddock library reports failure.
//
// Libraries never throw across their public boundary; a function that can fail returns a Status
// (nothing to hand back) or a Result<T> (a value or the Status that explains why there is none).
// A Status carries a code, which callers branch on, and a message, which people read.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace paddock {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // the caller's input is wrong; retrying the same input fails again
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the thing to create exists already
  kConflict,            // a concurrent change won; the caller may retry
  kFailedPrecondition,  // the system is not in a state that allows the operation
  kPermissionDenied,    // the caller may not do this
  kResourceExhausted,   // a limit was hit (disk full, quota)
  kUnavailable,         // a peer or service cannot be reached now
  kIoError,             // the operating system refused; the message has the errno text
  kInternal,            // a bug or an invariant broken
};

// Returns a short stable name for a code, e.g. "invalid_argument".
std::string_view StatusCodeName(StatusCode code);

class Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  // "<what>: <strerror(err)>", code kIoError (kResourceExhausted for ENOSPC/EDQUOT,
  // kPermissionDenied for EACCES/EPERM, kNotFound for ENOENT).
  static Status FromErrno(std::string_view what, int err = errno);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "ok" or "<code name>: <message>".
  std::string ToString() const;
  // Same code, message prefixed with "<context>: ".
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value of type T, or the non-OK Status that says why there is none.
// Accessing value() of a failed Result is a bug (checked by assert in debug builds).
template <typename T>
class Result {
 public:
  Result(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {}  // NOLINT: implicit by design
  Result(StatusCode code, std::string m) : data_(Status(code, std::move(m))) {}

  bool ok() const { return std::holds_alternative<T>(data_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(data_);
  }
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace paddock

// Returns early from the enclosing function when `expr` (a Status) is not OK.
#define PADDOCK_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::paddock::Status paddock_status_ = (expr);        \
    if (!paddock_status_.ok()) return paddock_status_; \
  } while (0)
