// Status and StatusOr: the error type that crosses every stage boundary instead of exceptions.
//
// A Status is ok() or carries a code and a human-readable message meant for operators (never for
// secrets). StatusOr<T> holds either a T or a non-ok Status. Both are cheap values, usable from
// any thread. Both are [[nodiscard]]: a caller handles the result or discards it explicitly
// with IgnoreStatus(), naming why.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace imapgate {

enum class StatusCode { kOk, kInvalidArgument, kNotFound, kUnavailable, kInternal, kResourceExhausted };

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(StatusCode::kInvalidArgument, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(StatusCode::kUnavailable, std::move(m)); }
inline Status Internal(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }

// Discards a Status on purpose; `why` documents the reason at the call site.
inline void IgnoreStatus(const Status& status, const char* why) {
  (void)status;
  (void)why;
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // A StatusOr built from an OK status holds no value: that is a caller bug, and it becomes an
  // internal error (never a StatusOr that claims ok() without a value).
  StatusOr(Status status) : status_(std::move(status)) {
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "StatusOr built from an OK status without a value");
  }
  StatusOr(T value) : value_(std::move(value)) {}
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace imapgate
