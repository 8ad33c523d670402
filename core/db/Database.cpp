// Session pool and libpq statement execution (see Database.h for why libpq executes the statements).
#include "core/db/Database.h"

#include <Poco/Data/Session.h>
#include <Poco/Logger.h>
#include <Poco/NumberParser.h>

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <thread>

namespace archestra::db {
namespace {

std::string shortSql(const std::string& sql) {
    std::string s = sql.substr(0, 160);
    std::replace(s.begin(), s.end(), '\n', ' ');
    return sql.size() > 160 ? s + "..." : s;
}

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

// A session that sat idle may have lost its server (restart, failover) without libpq knowing yet: the socket
// is then readable (EOF or the server's termination notice). Checking costs one poll(), no round trip.
bool idleSessionAlive(PGconn* conn) {
    if (PQstatus(conn) != CONNECTION_OK) return false;
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    if (pfd.fd < 0) return false;
    int ready = ::poll(&pfd, 1, 0);
    if (ready == 0) return true;
    if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) return false;
    while (PGnotify* n = PQnotifies(conn)) PQfreemem(n);  // stray notifications are not ours to handle here
    return true;
}

}  // namespace

bool isUnavailableSqlState(const std::string& state) {
    return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

Row::Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
    : _columns(std::move(columns)), _values(std::move(values)) {}

const Value& Row::at(size_t index) const {
    if (index >= _values.size()) {
        throw Poco::RangeException("row column index " + std::to_string(index) +
                                   " is out of range; the row has " + std::to_string(_values.size()) +
                                   " columns");
    }
    return _values[index];
}

const Value& Row::at(const std::string& column) const {
    for (size_t i = 0; i < _columns->size(); ++i) {
        if ((*_columns)[i] == column) return _values[i];
    }
    std::string present;
    for (const auto& c : *_columns) present += (present.empty() ? "" : ", ") + c;
    throw Poco::NotFoundException("row has no column '" + column + "'; columns are: " + present);
}

Connection::Connection(std::unique_ptr<Poco::Data::Session> session, PGconn* conn)
    : _session(std::move(session)), _conn(conn) {}

Connection::~Connection() {
    _session.reset();
    PQfinish(_conn);
}

void Connection::check(void* resultPtr, const std::string& sql) {
    auto* result = static_cast<PGresult*>(resultPtr);
    ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return;
    std::string state = result && PQresultErrorField(result, PG_DIAG_SQLSTATE)
                            ? PQresultErrorField(result, PG_DIAG_SQLSTATE)
                            : "";
    std::string message = result ? trimmed(PQresultErrorMessage(result)) : "";
    if (message.empty()) message = trimmed(PQerrorMessage(_conn));
    if (result) PQclear(result);
    if (PQstatus(_conn) != CONNECTION_OK || isUnavailableSqlState(state) || !result) {
        _broken = true;
        throw DatabaseUnavailableException("PostgreSQL connection lost while running '" + shortSql(sql) +
                                           "': " + message);
    }
    throw DatabaseException("PostgreSQL rejected '" + shortSql(sql) + "'" +
                            (state.empty() ? "" : " (SQLSTATE " + state + ")") + ": " + message);
}

Rows Connection::query(const std::string& sql, const std::vector<Value>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* result = PQexecParams(_conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    check(result, sql);
    Rows rows;
    int nrows = PQntuples(result), ncols = PQnfields(result);
    auto columns = std::make_shared<std::vector<std::string>>();
    for (int c = 0; c < ncols; ++c) columns->push_back(PQfname(result, c));
    rows.reserve(nrows);
    for (int r = 0; r < nrows; ++r) {
        std::vector<Value> row;
        row.reserve(ncols);
        for (int c = 0; c < ncols; ++c) {
            if (PQgetisnull(result, r, c)) {
                row.emplace_back(std::nullopt);
            } else {
                row.emplace_back(std::string(PQgetvalue(result, r, c), PQgetlength(result, r, c)));
            }
        }
        rows.emplace_back(columns, std::move(row));
    }
    PQclear(result);
    return rows;
}

long long Connection::execute(const std::string& sql, const std::vector<Value>& params) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
    PGresult* result = PQexecParams(_conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    check(result, sql);
    Poco::Int64 affected = 0;
    const char* tuples = PQcmdTuples(result);
    if (tuples && *tuples) Poco::NumberParser::tryParse64(tuples, affected);
    PQclear(result);
    return affected;
}

void Connection::executeScript(const std::string& sql) {
    // PQexec returns only the last statement's result, but stops at the first error and reports it there.
    PGresult* result = PQexec(_conn, sql.c_str());
    check(result, sql);
    PQclear(result);
}

Database::Database(std::string connectionString, size_t maxSessions, long acquireTimeout_ms)
    : _connectionString(std::move(connectionString)),
      _capacity(std::max<size_t>(1, maxSessions)),
      _acquireTimeout_ms(acquireTimeout_ms) {
    if (_connectionString.find("connect_timeout") == std::string::npos) {
        _connectionString += (_connectionString.empty() ? "" : " ") + std::string("connect_timeout=5");
    }
}

Database::~Database() {
    std::lock_guard lock(_mutex);
    for (Connection* c : _idle) delete c;
    _idle.clear();
}

Connection* Database::open() {
    // libpq directly, not a Poco session: Poco 1.11's SessionHandle finishes its PGconn only while PQstatus
    // is CONNECTION_OK, so it leaked both a connection that failed to open (wrong credentials, a server going
    // away mid-connect) and every pooled session whose server went away (LeakSanitizer under the asan preset,
    // test_core_db and test_core_proxy_io). libpq's error text never repeats the password.
    PGconn* conn = PQconnectdb(_connectionString.c_str());
    if (!conn) throw DatabaseUnavailableException("cannot connect to PostgreSQL: libpq is out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string why = trimmed(PQerrorMessage(conn));
        PQfinish(conn);
        throw DatabaseUnavailableException("cannot connect to PostgreSQL: " + why);
    }
    // libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr by default; they are not
    // errors.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    return new Connection(nullptr, conn);
}

Connection* Database::acquire() {
    std::unique_lock lock(_mutex);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(_acquireTimeout_ms);
    while (true) {
        while (!_idle.empty()) {
            Connection* c = _idle.back();
            _idle.pop_back();
            if (idleSessionAlive(c->native())) {
                ++_inUse;
                return c;
            }
            // The server went away: the other idle sessions share its fate, drop them all.
            delete c;
            --_open;
            for (Connection* other : _idle) delete other;
            _open -= _idle.size();
            _idle.clear();
        }
        if (_open < _capacity) {
            ++_open;
            ++_inUse;
            lock.unlock();
            try {
                return open();
            } catch (...) {
                lock.lock();
                --_open;
                --_inUse;
                _available.notify_one();
                throw;
            }
        }
        if (_available.wait_until(lock, deadline) == std::cv_status::timeout && _idle.empty() &&
            _open >= _capacity) {
            throw DatabaseUnavailableException("no free database session within " +
                                               std::to_string(_acquireTimeout_ms) + " ms; all " +
                                               std::to_string(_capacity) + " sessions are in use");
        }
    }
}

void Database::release(Connection* conn) {
    bool keep = conn->healthy() && PQstatus(conn->native()) == CONNECTION_OK &&
                PQtransactionStatus(conn->native()) == PQTRANS_IDLE;
    if (!keep) delete conn;
    std::lock_guard lock(_mutex);
    --_inUse;
    if (keep) {
        _idle.push_back(conn);
    } else {
        --_open;
    }
    _available.notify_one();
}

Rows Database::query(const std::string& sql, const std::vector<Value>& params) {
    return withConnection([&](Connection& c) { return c.query(sql, params); });
}

long long Database::execute(const std::string& sql, const std::vector<Value>& params) {
    return withConnection([&](Connection& c) { return c.execute(sql, params); });
}

bool Database::ping() noexcept {
    try {
        auto rows = query("SELECT 1");
        return rows.size() == 1 && rows[0].at(0) == Value("1");
    } catch (...) {
        return false;
    }
}

void Database::notify(const std::string& channel, const std::string& payload) {
    query("SELECT pg_notify($1, $2)", {channel, payload});
}

size_t Database::sessionsInUse() const {
    std::lock_guard lock(_mutex);
    return _inUse;
}

size_t Database::sessionsOpen() const {
    std::lock_guard lock(_mutex);
    return _open;
}

void waitUntilReachable(Database& db, long timeout_ms, Poco::Logger& logger) {
    auto start = std::chrono::steady_clock::now();
    long delay_ms = 250;
    for (int attempt = 1;; ++attempt) {
        std::string why;
        try {
            db.query("SELECT 1");
            if (attempt > 1) logger.information("database reachable after %d attempts", attempt);
            return;
        } catch (const Poco::Exception& e) {
            why = e.displayText();
        }
        long elapsed_ms = static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                .count());
        if (timeout_ms > 0 && elapsed_ms >= timeout_ms) {
            throw DatabaseUnavailableException("database not reachable after " + std::to_string(elapsed_ms) +
                                               " ms (" + std::to_string(attempt) + " attempts): " + why);
        }
        logger.warning("database not reachable (attempt %d): %s; retrying in %ld ms", attempt, why, delay_ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        delay_ms = std::min(delay_ms * 2, 5000L);
    }
}

}  // namespace archestra::db
