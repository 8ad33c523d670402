// Result and Status: how errors cross the plugin boundary (never as exceptions).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace archestra::sdk {

/// Category of a failure. Zero means "invalid" so an uninitialised code is never mistaken for a real one.
enum class ErrorCode : int {
    Invalid = 0,
    InvalidArgument = 1,   ///< the caller's input (config, id, value) is wrong
    NotFound = 2,          ///< the named thing does not exist
    AlreadyExists = 3,     ///< a thing with that name exists already
    PermissionDenied = 4,  ///< the backend refused the credentials
    Unavailable = 5,       ///< the backend could not be reached; retrying may help
    Unimplemented = 6,     ///< the plugin or host does not offer this operation
    Internal = 7,          ///< anything else, including an exception caught at the boundary
};

/// A failure: code plus a message that names the thing, the value and what was expected.
/// Value type; thread-compatible.
struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
};

/// Either a value of T or an Error. Value type, movable (T may be move-only, e.g. std::unique_ptr).
/// Thread-compatible: concurrent const access is safe, mutation is not.
/// value() on a failed Result throws std::logic_error; both sides of the boundary catch that, but callers
/// are expected to test ok() first.
template <class T>
class [[nodiscard]] Result {
  public:
    /// Success holding `value`.
    Result(T value) : _value(std::move(value)) {}  // NOLINT(google-explicit-constructor): return values
    /// Failure holding `error`.
    Result(Error error) : _error(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    /// True on success.
    bool ok() const noexcept { return _value.has_value(); }
    explicit operator bool() const noexcept { return ok(); }

    /// The value; precondition ok().
    T& value() & {
        check();
        return *_value;
    }
    const T& value() const& {
        check();
        return *_value;
    }
    T&& value() && {
        check();
        return std::move(*_value);
    }
    /// The error; meaningful only when !ok().
    const Error& error() const noexcept { return _error; }

  private:
    void check() const {
        if (!_value) throw std::logic_error("Result::value() called on a failure: " + _error.message);
    }
    std::optional<T> _value;
    Error _error;
};

/// Success or an Error, without a value.
template <>
class [[nodiscard]] Result<void> {
  public:
    /// Success.
    Result() = default;
    /// Failure holding `error`.
    Result(Error error) : _ok(false), _error(std::move(error)) {}  // NOLINT(google-explicit-constructor)

    bool ok() const noexcept { return _ok; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const noexcept { return _error; }

  private:
    bool _ok = true;
    Error _error;
};

/// Result without a value.
using Status = Result<void>;

/// Builds an Error; reads well in `return fail(ErrorCode::NotFound, "secret '" + id + "' not found");`.
inline Error fail(ErrorCode code, std::string message) {
    return Error{code, std::move(message)};
}

/// A successful Status.
inline Status okStatus() {
    return Status();
}

}  // namespace archestra::sdk
