// Interaction log: bounded queue -> writer thread -> batched INSERT; a spool file while the database is away.
#include "core/proxy/InteractionLog.h"

#include "core/db/Database.h"
#include "core/db/DatabaseException.h"

#include <Poco/File.h>
#include <Poco/Logger.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>

namespace archestra::proxy {

namespace {

// The insert and the token_cost usage counters (limit_model_usage) in one statement; only rows really
// inserted count, so a replayed spool never counts usage twice.
const char* const kInsertSql =
    "WITH ins AS (INSERT INTO interactions (id, profile_id, external_agent_id, request, processed_request, "
    "response, type, "
    "model, original_model, optimized_model, provider, input_tokens, output_tokens, baseline_cost, cost, "
    "blocked, "
    "status_code, duration_ms, time_to_first_token_ms, decisions, created_at) "
    "SELECT r.id, (SELECT a.id FROM agents a WHERE a.id = r.profile_id), r.external_agent_id, "
    "COALESCE(r.request, '{}'::jsonb), r.processed_request, r.response, r.type, r.model, r.original_model, "
    "r.optimized_model, r.provider, r.input_tokens, r.output_tokens, r.baseline_cost, r.cost, "
    "COALESCE(r.blocked, false), r.status_code, r.duration_ms, r.time_to_first_token_ms, r.decisions, "
    "COALESCE(r.created_at, now()) "
    "FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, profile_id uuid, external_agent_id text, request "
    "jsonb, "
    "processed_request jsonb, response jsonb, type text, model text, original_model text, optimized_model "
    "text, "
    "provider text, input_tokens integer, output_tokens integer, baseline_cost numeric, cost numeric, "
    "blocked boolean, status_code integer, duration_ms integer, time_to_first_token_ms integer, decisions "
    "jsonb, "
    "created_at timestamptz) "
    "ON CONFLICT (id) DO NOTHING RETURNING profile_id, model, input_tokens, output_tokens), "
    "usage AS (SELECT l.id AS limit_id, ins.model, sum(COALESCE(ins.input_tokens, 0)) AS tokens_in, "
    "sum(COALESCE(ins.output_tokens, 0)) AS tokens_out FROM ins JOIN limits l ON l.limit_type = 'token_cost' "
    "AND (l.model IS NULL OR jsonb_typeof(l.model) <> 'array' OR jsonb_array_length(l.model) = 0 "
    "OR l.model ? ins.model) "
    "AND ((l.entity_type = 'agent' AND l.entity_id = ins.profile_id::text) "
    "OR (l.entity_type = 'team' AND l.entity_id IN (SELECT team_id FROM agent_team WHERE agent_id = "
    "ins.profile_id)) "
    "OR (l.entity_type = 'organization' AND l.entity_id IN (SELECT t.organization_id FROM agent_team x "
    "JOIN team t ON t.id = x.team_id WHERE x.agent_id = ins.profile_id))) "
    "WHERE ins.model IS NOT NULL AND (ins.input_tokens IS NOT NULL OR ins.output_tokens IS NOT NULL) "
    "GROUP BY l.id, ins.model) "
    "INSERT INTO limit_model_usage (limit_id, model, current_usage_tokens_in, current_usage_tokens_out) "
    "SELECT limit_id, model, tokens_in, tokens_out FROM usage ON CONFLICT (limit_id, model) DO UPDATE SET "
    "current_usage_tokens_in = limit_model_usage.current_usage_tokens_in + EXCLUDED.current_usage_tokens_in, "
    "current_usage_tokens_out = limit_model_usage.current_usage_tokens_out + "
    "EXCLUDED.current_usage_tokens_out, "
    "updated_at = now()";

std::string dumpLine(const nlohmann::json& row) {
    return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string nowRfc3339() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buffer[80];
    std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return buffer;
}

nlohmann::json InteractionRecord::toJson() const {
    auto optional = [](const auto& value) -> nlohmann::json {
        if (value) return *value;
        return nullptr;
    };
    return {{"id", id},
            {"profile_id", profileId.empty() ? nlohmann::json(nullptr) : nlohmann::json(profileId)},
            {"external_agent_id", optional(externalAgentId)},
            {"request", request},
            {"processed_request", processedRequest},
            {"response", response},
            {"type", type},
            {"model", model},
            {"original_model", optional(originalModel)},
            {"optimized_model", optional(optimizedModel)},
            {"provider", provider},
            {"input_tokens", optional(inputTokens)},
            {"output_tokens", optional(outputTokens)},
            {"baseline_cost", optional(baselineCost)},
            {"cost", optional(cost)},
            {"blocked", blocked},
            {"status_code", statusCode},
            {"duration_ms", duration_ms},
            {"time_to_first_token_ms", optional(timeToFirstToken_ms)},
            {"decisions", decisions},
            {"created_at", createdAt}};
}

InteractionLog::InteractionLog(db::Database& database, std::string spoolDir, InteractionLogOptions options)
    : _db(database),
      _spoolDir(std::move(spoolDir)),
      _spoolFile(_spoolDir + "/interactions.jsonl"),
      _options(options),
      _logger(Poco::Logger::get("proxy.interactions")) {}

InteractionLog::~InteractionLog() {
    stop();
    if (_spoolFd >= 0) ::close(_spoolFd);
}

void InteractionLog::start() {
    Poco::File(_spoolDir).createDirectories();
    _spoolFd = ::open(_spoolFile.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (_spoolFd < 0)
        throw Poco::CreateFileException("interaction spool " + _spoolFile + ": cannot open for appending");
    struct stat info {};
    if (::fstat(_spoolFd, &info) == 0) _spoolBytes = static_cast<std::uint64_t>(info.st_size);
    if (_spoolBytes > 0)
        _logger.information("interaction spool " + _spoolFile + " holds " +
                            std::to_string(_spoolBytes.load()) +
                            " bytes from an earlier run; replaying once the database answers");
    {
        std::lock_guard lock(_mutex);
        _stopping = false;
    }
    _writer = std::thread([this] { run(); });
}

void InteractionLog::stop() {
    {
        std::lock_guard lock(_mutex);
        if (!_writer.joinable()) return;
        _stopping = true;
    }
    _wake.notify_all();
    _writer.join();
    if (_spoolBytes > 0)
        _logger.warning("interaction log stopped with " + std::to_string(_spoolBytes.load()) +
                        " bytes spooled in " + _spoolFile + "; they are written at the next start");
}

void InteractionLog::enqueue(InteractionRecord record) {
    {
        std::lock_guard lock(_mutex);
        if (_queue.size() < _options.capacity) {
            _queue.push_back(std::move(record));
            if (_queue.size() == 1 || _queue.size() >= _options.batchSize) _wake.notify_one();
            return;
        }
    }
    // Full: never make the request wait for the database; the record goes to disk and is replayed later.
    appendToSpool({dumpLine(record.toJson())}, false);
    ++_spooled;
}

std::size_t InteractionLog::queueDepth() const {
    std::lock_guard lock(_mutex);
    return _queue.size() + (_busy ? 1 : 0);
}

bool InteractionLog::waitUntilDrained(long timeout_ms) {
    std::unique_lock lock(_mutex);
    _wake.notify_all();
    return _drained.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [this] { return _queue.empty() && !_busy && _spoolBytes.load() == 0; });
}

void InteractionLog::run() {
    auto lastProbe = std::chrono::steady_clock::time_point{};
    while (true) {
        std::vector<InteractionRecord> taken;
        bool stopping = false;
        {
            std::unique_lock lock(_mutex);
            _wake.wait_for(lock, std::chrono::milliseconds(_options.flushInterval_ms),
                           [this] { return _stopping || _queue.size() >= _options.batchSize; });
            stopping = _stopping;
            std::size_t n = std::min(_queue.size(), _options.batchSize);
            taken.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                taken.push_back(std::move(_queue.front()));
                _queue.pop_front();
            }
            _busy = !taken.empty();
            if (stopping && taken.empty()) break;
        }
        std::vector<nlohmann::json> rows;
        rows.reserve(taken.size());
        for (const auto& record : taken) rows.push_back(record.toJson());
        taken.clear();

        if (_databaseDown) {
            auto now = std::chrono::steady_clock::now();
            if (now - lastProbe >= std::chrono::milliseconds(_options.retry_ms)) {
                lastProbe = now;
                if (_db.ping()) {
                    _databaseDown = false;
                    _logger.information("database is back; writing interactions again");
                }
            }
        }
        if (!_databaseDown && _spoolBytes > 0 && !replaySpool()) _databaseDown = true;
        if (!rows.empty()) writeBatch(rows);
        {
            std::lock_guard lock(_mutex);
            _busy = false;
        }
        _drained.notify_all();
    }
    _drained.notify_all();
}

void InteractionLog::writeBatch(std::vector<nlohmann::json>& rows) {
    if (!_databaseDown) {
        try {
            insert(rows);
            return;
        } catch (const db::DatabaseUnavailableException& error) {
            _databaseDown = true;
            _logger.warning("database unavailable (" + error.message() + "); spooling interactions to " +
                            _spoolFile);
        }
    }
    std::vector<std::string> lines;
    lines.reserve(rows.size());
    for (const auto& row : rows) lines.push_back(dumpLine(row));
    appendToSpool(lines, true);
    _spooled += rows.size();
}

void InteractionLog::insert(const std::vector<nlohmann::json>& rows) {
    if (rows.empty()) return;
    try {
        long long usageRows = _db.execute(kInsertSql, {dumpLine(nlohmann::json(rows))});
        _written += rows.size();
        if (usageRows > 0 && _onUsageChanged) _onUsageChanged();
    } catch (const db::DatabaseUnavailableException&) {
        throw;
    } catch (const std::exception& error) {
        // One bad row must not sink the batch: write them one by one and drop (with a log line) what fails.
        if (rows.size() == 1) {
            ++_dropped;
            _logger.error(std::string("interaction ") + rows[0].value("id", "") +
                          " dropped: " + error.what());
            return;
        }
        for (const auto& row : rows) {
            try {
                insert({row});
            } catch (const db::DatabaseUnavailableException&) {
                throw;
            }
        }
    }
}

void InteractionLog::appendToSpool(const std::vector<std::string>& lines, bool sync) {
    std::lock_guard lock(_spoolMutex);
    std::string buffer;
    for (const auto& line : lines) buffer += line;
    const char* data = buffer.data();
    std::size_t left = buffer.size();
    while (left > 0) {
        ssize_t n = ::write(_spoolFd, data, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            _dropped += lines.size();
            _logger.critical("interaction spool " + _spoolFile + ": write failed (errno " +
                             std::to_string(errno) + "); " + std::to_string(lines.size()) +
                             " interactions lost");
            return;
        }
        data += n;
        left -= static_cast<std::size_t>(n);
        _spoolBytes += static_cast<std::uint64_t>(n);
    }
    if (sync) ::fdatasync(_spoolFd);
}

bool InteractionLog::replaySpool() {
    std::lock_guard lock(_spoolMutex);
    std::ifstream in(_spoolFile, std::ios::binary);
    std::vector<nlohmann::json> batch;
    std::string line;
    std::size_t replayed = 0;
    try {
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            try {
                batch.push_back(nlohmann::json::parse(line));
            } catch (const nlohmann::json::exception&) {
                ++_dropped;  // a torn last line from a crash: nothing to recover
                continue;
            }
            if (batch.size() >= _options.batchSize) {
                insert(batch);
                replayed += batch.size();
                batch.clear();
            }
        }
        insert(batch);
        replayed += batch.size();
    } catch (const db::DatabaseUnavailableException& error) {
        // Rows already inserted are skipped next time by ON CONFLICT (id).
        return false;
    }
    if (::ftruncate(_spoolFd, 0) == 0) {
        ::fdatasync(_spoolFd);
        _spoolBytes = 0;
    }
    _logger.information("replayed " + std::to_string(replayed) + " spooled interactions");
    return true;
}

}  // namespace archestra::proxy
