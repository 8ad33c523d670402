// Host services: what the platform offers every plugin (logging, SQL, data directory, HTTP, secret lookup).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archestra/sdk/result.h"

namespace archestra::sdk {

/// Severity of a log message. Zero is invalid.
enum class LogLevel : int { Invalid = 0, Trace = 1, Debug = 2, Info = 3, Warning = 4, Error = 5 };

/// Writes to the platform's log. Owned by the host; valid as long as the Host that returned it.
/// Thread-safe. Never throws. Plugins must not log secret values.
class Logger {
  public:
    virtual ~Logger() = default;
    /// Logs `message` at `level`; the host adds time, level and the plugin's name.
    virtual void log(LogLevel level, const std::string& message) noexcept = 0;
};

/// One SQL parameter or cell: text, or nullopt for SQL NULL.
using SqlValue = std::optional<std::string>;
/// One result row, cells in column order.
using SqlRow = std::vector<SqlValue>;

/// What a statement returned. Value type. Append-only: check struct_size (sdk::hasField) before reading
/// fields added after ABI 1.0.
struct SqlResult {
    std::uint32_t struct_size = sizeof(SqlResult);
    std::vector<std::string> columns;  ///< column names, in order
    std::vector<SqlRow> rows;          ///< every row, text encoded (PostgreSQL text format)
    std::int64_t affected_rows = 0;    ///< rows changed by INSERT/UPDATE/DELETE, else 0
};

/// A small SQL executor on the platform's PostgreSQL database (used e.g. by a database-backed secrets
/// plugin). Owned by the host; valid as long as the Host. Thread-safe: each call takes its own pooled
/// connection.
class SqlExecutor {
  public:
    virtual ~SqlExecutor() = default;
    /// Runs one statement with positional parameters `$1..$n`, all passed as text (cast in SQL: `$1::jsonb`).
    /// Errors come back as Result (Unavailable: no database; InvalidArgument: SQL error).
    virtual Result<SqlResult> execute(const std::string& sql, const std::vector<SqlValue>& params) = 0;
};

/// An outgoing HTTP request. Value type, append-only (struct_size).
struct HttpRequest {
    std::uint32_t struct_size = sizeof(HttpRequest);
    std::string method = "GET";                                ///< GET, POST, PUT, DELETE, ...
    std::string url;                                           ///< absolute http:// or https:// URL
    std::vector<std::pair<std::string, std::string>> headers;  ///< sent as given, in order
    std::string body;                                          ///< sent when non-empty
    std::int64_t timeout_ms = 30000;                           ///< whole-request timeout
};

/// The answer to an HttpRequest. Value type, append-only (struct_size).
struct HttpResponse {
    std::uint32_t struct_size = sizeof(HttpResponse);
    int status = 0;                                            ///< HTTP status code
    std::vector<std::pair<std::string, std::string>> headers;  ///< as received
    std::string body;                                          ///< whole body
};

/// A blocking HTTP client (TLS verified with the system trust store). Owned by the host; valid as long as
/// the Host. Thread-safe.
class HttpClient {
  public:
    virtual ~HttpClient() = default;
    /// Sends `request` and waits for the whole response. A non-2xx status is a successful Result; only
    /// transport failures (Unavailable) and bad requests (InvalidArgument) are errors.
    virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
};

/// Services the platform offers every plugin; passed to each factory's create().
/// Owned by the host; outlives every plugin instance. Thread-safe.
class Host {
  public:
    virtual ~Host() = default;
    /// The platform's logger.
    virtual Logger& logger() noexcept = 0;
    /// SQL executor, or nullptr when this host offers no database. Until the database is up its calls fail
    /// with Unavailable, so a plugin may keep the pointer from create() on.
    virtual SqlExecutor* sql() noexcept = 0;
    /// HTTP client, or nullptr when the host offers none.
    virtual HttpClient* http() noexcept = 0;
    /// Absolute path of the platform's data directory; a plugin keeps its files under a subfolder of it.
    virtual std::string dataDirectory() const = 0;
    /// Value (JSON text) of the platform secret with id `secret_id`, from the active secrets backend.
    /// Unimplemented when no secrets backend is active.
    virtual Result<std::string> lookupSecret(const std::string& secret_id) = 0;
};

}  // namespace archestra::sdk
