// Errors as values: library code returns Expected<T>; only the command layer
// prints, as "netwhy: <message>", and exits 2.
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace netwhy {

enum class ErrorKind {
  system,   // a system call failed; code is the errno
  input,    // the user asked for something that does not exist or is malformed
  kernel,   // the kernel answered a request with an error; code is the errno
  parse,    // text or bytes from the system could not be understood
};

struct Error {
  ErrorKind kind = ErrorKind::system;
  int code = 0;         // errno, or 0
  std::string context;  // what was being done: "open /run/netns/x"

  // "open /run/netns/x: No such file or directory"
  [[nodiscard]] std::string message() const;
};

[[nodiscard]] Error system_error(std::string context, int code = errno);
[[nodiscard]] Error input_error(std::string what);

// std::expected's spelling, for the subset we use (C++20 has no std::expected).
template <class T>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Expected(Error error) : v_(std::move(error)) {}        // NOLINT
  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }
  T&& operator*() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  [[nodiscard]] const Error& error() const { return std::get<1>(v_); }
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) const& {
    return has_value() ? std::get<0>(v_) : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  [[nodiscard]] T value_or(U&& fallback) && {
    return has_value() ? std::get<0>(std::move(v_)) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  [[nodiscard]] bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  [[nodiscard]] const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace netwhy
