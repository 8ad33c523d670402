// Bounded pool of PostgreSQL sessions with a small text-in/text-out query API.
#pragma once

#include "core/db/DatabaseException.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

typedef struct pg_conn PGconn;

namespace Poco {
class Logger;
namespace Data {
class Session;
}
}  // namespace Poco

namespace archestra::db {

/// Text form of a column or parameter; nullopt is SQL NULL. Cast in SQL where a type matters ($1::uuid).
using Value = std::optional<std::string>;

/// One result row. Columns come back in PostgreSQL's text format (bool is "t"/"f", timestamptz is
/// "2024-01-02 03:04:05.123+00", jsonb is its JSON text).
class Row {
  public:
    Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values);
    const Value& at(size_t index) const;
    /// Throws Poco::NotFoundException naming the column and the columns present.
    const Value& at(const std::string& column) const;
    bool isNull(size_t index) const { return !at(index).has_value(); }
    bool isNull(const std::string& column) const { return !at(column).has_value(); }
    /// The value, or `fallback` when NULL.
    std::string str(size_t index, const std::string& fallback = "") const {
        return at(index).value_or(fallback);
    }
    std::string str(const std::string& column, const std::string& fallback = "") const {
        return at(column).value_or(fallback);
    }
    /// PostgreSQL's "t" is true; NULL and anything else false.
    bool boolean(const std::string& column) const { return at(column) == Value("t"); }
    bool boolean(size_t index) const { return at(index) == Value("t"); }
    size_t size() const { return _values.size(); }
    const std::vector<std::string>& columns() const { return *_columns; }

  private:
    std::shared_ptr<const std::vector<std::string>> _columns;
    std::vector<Value> _values;
};
using Rows = std::vector<Row>;

/// One pooled session lent out for a sequence of statements (a transaction, an advisory lock). Not
/// thread-safe; valid only inside the Database::withConnection / transaction callback that received it.
class Connection {
  public:
    /// Runs one statement with $1..$n text parameters.
    Rows query(const std::string& sql, const std::vector<Value>& params = {});
    /// Runs one statement; returns the number of affected rows (0 for statements that report none).
    long long execute(const std::string& sql, const std::vector<Value>& params = {});
    /// Runs several ;-separated statements without parameters (simple query protocol), e.g. a migration file.
    void executeScript(const std::string& sql);
    /// False once the server connection was lost; the pool then discards the session.
    bool healthy() const { return !_broken; }
    /// The libpq connection, for what this API does not cover.
    PGconn* native() const { return _conn; }

  private:
    friend class Database;
    Connection(std::unique_ptr<Poco::Data::Session> session, PGconn* conn);
    ~Connection();
    void check(void* result, const std::string& sql);

    std::unique_ptr<Poco::Data::Session> _session;
    PGconn* _conn;
    bool _broken = false;
};
using Transaction = Connection;

/// Thread-safe bounded pool of libpq connections (not Poco sessions: Poco 1.11 leaks failed and lost ones);
/// statements run through libpq too, because Poco 1.11's PostgreSQL statements rewrite every '?'
/// into a $n placeholder (breaking jsonb's ? operator and literals containing '?'), prepare every statement
/// (so a multi-statement migration cannot run) and offer no LISTEN/NOTIFY. Broken sessions are discarded, so
/// the pool reconnects by itself when the server comes back.
class Database {
  public:
    /// `connectionString` is a libpq keyword=value string (DatabaseUrl::connectionString,
    /// EmbeddedPostgres::connectionString); connect_timeout=5 is added unless present.
    explicit Database(std::string connectionString, size_t maxSessions = 16, long acquireTimeout_ms = 10000);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    /// Throws DatabaseUnavailableException when the server cannot be reached, DatabaseException on SQL
    /// errors.
    Rows query(const std::string& sql, const std::vector<Value>& params = {});
    long long execute(const std::string& sql, const std::vector<Value>& params = {});

    /// f(Connection&) on one session; no transaction.
    template <class F>
    auto withConnection(F&& f) {
        Lease lease(*this);
        return f(*lease.conn);
    }

    /// f(Transaction&) inside BEGIN/COMMIT; rolled back when f throws (the exception propagates).
    template <class F>
    auto transaction(F&& f) {
        Lease lease(*this);
        Connection& c = *lease.conn;
        c.execute("BEGIN");
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F, Connection&>>) {
                f(c);
                c.execute("COMMIT");
            } else {
                auto result = f(c);
                c.execute("COMMIT");
                return result;
            }
        } catch (...) {
            if (c.healthy()) {
                try {
                    c.execute("ROLLBACK");
                } catch (...) {
                    // The original error matters more; a failed rollback marks the session broken.
                }
            }
            throw;
        }
    }

    /// SELECT 1 on a pooled session; false on any failure. Never throws.
    bool ping() noexcept;
    /// pg_notify(channel, payload): delivered to every Listener on that channel, in any replica.
    void notify(const std::string& channel, const std::string& payload);

    size_t sessionsInUse() const;
    size_t sessionsOpen() const;
    size_t capacity() const { return _capacity; }
    const std::string& connectionString() const { return _connectionString; }

  private:
    struct Lease {
        explicit Lease(Database& db) : db(db), conn(db.acquire()) {}
        ~Lease() { db.release(conn); }
        Database& db;
        Connection* conn;
    };
    Connection* acquire();
    void release(Connection* conn);
    Connection* open();

    std::string _connectionString;
    size_t _capacity;
    long _acquireTimeout_ms;
    mutable std::mutex _mutex;
    std::condition_variable _available;
    std::vector<Connection*> _idle;
    size_t _open = 0;  // idle + lent out + being opened
    size_t _inUse = 0;
};

/// Pings until the database answers, logging each failed attempt with the next delay (backoff 250 ms doubling
/// to 5 s). Throws DatabaseUnavailableException after `timeout_ms` (<= 0: wait forever).
void waitUntilReachable(Database& db, long timeout_ms, Poco::Logger& logger);

/// True for SQLSTATEs meaning the server is gone or not accepting yet (class 08, 57P01-57P03).
bool isUnavailableSqlState(const std::string& sqlState);

}  // namespace archestra::db
