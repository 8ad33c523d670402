// Interaction log: write-ahead segment + bounded queue -> writer thread -> batched INSERT; a spool file while
// the database is away.
#include "core/proxy/InteractionLog.h"

#include "core/db/Database.h"
#include "core/db/DatabaseException.h"

#include <Poco/File.h>
#include <Poco/Logger.h>

#include <libpq-fe.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <string_view>
#include <utility>

namespace archestra::proxy {

namespace {

// The token_cost usage counters (limit_model_usage) from a CTE `ins` of (profile_id, model, input_tokens,
// output_tokens) rows: one upsert per limit and model.
const std::string kUsageFromIns =
    "usage AS (SELECT l.id AS limit_id, ins.model, sum(COALESCE(ins.input_tokens, 0)) AS tokens_in, "
    "sum(COALESCE(ins.output_tokens, 0)) AS tokens_out FROM ins JOIN limits l ON l.limit_type = "
    "'token_cost' AND (l.model IS NULL OR jsonb_typeof(l.model) <> 'array' OR "
    "jsonb_array_length(l.model) = 0 OR l.model ? ins.model) AND ((l.entity_type = 'agent' AND "
    "l.entity_id = ins.profile_id::text) OR (l.entity_type = 'team' AND l.entity_id IN (SELECT team_id "
    "FROM agent_team WHERE agent_id = ins.profile_id)) OR (l.entity_type = 'organization' AND "
    "l.entity_id IN (SELECT t.organization_id FROM agent_team x JOIN team t ON t.id = x.team_id WHERE "
    "x.agent_id = ins.profile_id))) WHERE ins.model IS NOT NULL AND (ins.input_tokens IS NOT NULL OR "
    "ins.output_tokens IS NOT NULL) GROUP BY l.id, ins.model) INSERT INTO limit_model_usage (limit_id, "
    "model, current_usage_tokens_in, current_usage_tokens_out) SELECT limit_id, model, tokens_in, "
    "tokens_out FROM usage ON CONFLICT (limit_id, model) DO UPDATE SET current_usage_tokens_in = "
    "limit_model_usage.current_usage_tokens_in + EXCLUDED.current_usage_tokens_in, "
    "current_usage_tokens_out = limit_model_usage.current_usage_tokens_out + "
    "EXCLUDED.current_usage_tokens_out, updated_at = now()";

// The insert and the usage counters in one statement; only rows really inserted count, so a replayed spool
// never counts usage twice. Used for the spool replay and as the fallback of the COPY path.
const std::string kInsertSql =
    "WITH ins AS (INSERT INTO interactions (id, profile_id, external_agent_id, request, "
    "processed_request, response, type, model, original_model, optimized_model, provider, input_tokens, "
    "output_tokens, baseline_cost, cost, blocked, status_code, duration_ms, time_to_first_token_ms, "
    "decisions, toon_tokens_before, toon_tokens_after, toon_cost_savings, created_at) SELECT r.id, "
    "(SELECT a.id FROM agents a WHERE a.id = r.profile_id), r.external_agent_id, COALESCE(r.request, "
    "'{}'::jsonb), r.processed_request, r.response, r.type, r.model, r.original_model, "
    "r.optimized_model, r.provider, r.input_tokens, r.output_tokens, r.baseline_cost, r.cost, "
    "COALESCE(r.blocked, false), r.status_code, r.duration_ms, r.time_to_first_token_ms, r.decisions, "
    "r.toon_tokens_before, r.toon_tokens_after, r.toon_cost_savings, COALESCE(r.created_at, now()) FROM "
    "jsonb_to_recordset($1::jsonb) AS r(id uuid, profile_id uuid, external_agent_id text, request jsonb, "
    "processed_request jsonb, response jsonb, type text, model text, original_model text, "
    "optimized_model text, provider text, input_tokens integer, output_tokens integer, baseline_cost "
    "numeric, cost numeric, blocked boolean, status_code integer, duration_ms integer, "
    "time_to_first_token_ms integer, decisions jsonb, toon_tokens_before integer, toon_tokens_after "
    "integer, toon_cost_savings numeric, created_at timestamptz) ON CONFLICT (id) DO NOTHING RETURNING "
    "profile_id, model, input_tokens, output_tokens), " +
    kUsageFromIns;

// The fast path: the batch's rows as COPY text (no jsonb array for the server to parse and unpack), then the
// usage of those rows (COPY is all or nothing, so every one of them was inserted), in one transaction. A
// duplicate id (a replay), a profile deleted meanwhile or any other rejected row makes the COPY fail; the
// batch then goes through kInsertSql, which skips duplicates and isolates a bad row.
const char* const kCopySql =
    "COPY interactions (id, profile_id, external_agent_id, request, processed_request, response, type, "
    "model, "
    "original_model, optimized_model, provider, input_tokens, output_tokens, baseline_cost, cost, blocked, "
    "status_code, duration_ms, time_to_first_token_ms, decisions, toon_tokens_before, toon_tokens_after, "
    "toon_cost_savings, created_at) FROM STDIN";
const std::string kCopyUsageSql =
    "WITH ins AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(profile_id uuid, model text, input_tokens "
    "bigint, output_tokens bigint)), " +
    kUsageFromIns;

std::string dumpJson(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// A JSON text that parsed, as it goes into the row instead of its re-serialised parse: line breaks can
/// only be whitespace between tokens in valid JSON (inside strings they are escaped), so they become spaces
/// (a spool line is one row); a UTF-8 byte order mark, which the parser skips and jsonb refuses, is dropped.
std::string rowJsonText(std::string_view text) {
    if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.remove_prefix(3);
    std::string out(text);
    for (char& c : out)
        if (c == '\n' || c == '\r') c = ' ';
    return out;
}

/// Appends `text` as one COPY text-format field (backslash, tab, newline and carriage return escaped).
void appendCopyField(std::string& out, std::string_view text) {
    for (char c : text) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += c;
        }
    }
}

/// COPY ... FROM STDIN of `data` (text format) on the transaction's session (libpq directly: the db API has
/// no COPY). Throws DatabaseException when the server rejects it, DatabaseUnavailableException when the
/// connection is lost (the transaction's ROLLBACK then marks the session broken).
void copyIn(db::Connection& c, const char* sql, const std::string& data) {
    PGconn* conn = c.native();
    auto message = [&](PGresult* r) {
        std::string text = r ? PQresultErrorMessage(r) : "";
        if (text.empty()) text = PQerrorMessage(conn);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    };
    PGresult* start = PQexec(conn, sql);
    if (!start || PQresultStatus(start) != PGRES_COPY_IN) {
        std::string why = message(start);
        PQclear(start);
        if (PQstatus(conn) != CONNECTION_OK)
            throw db::DatabaseUnavailableException("COPY interactions: " + why);
        throw db::DatabaseException("COPY interactions: " + why);
    }
    PQclear(start);
    bool sent = PQputCopyData(conn, data.data(), static_cast<int>(data.size())) == 1;
    if (PQputCopyEnd(conn, sent ? nullptr : "client could not send the rows") != 1) sent = false;
    // Read every result up to nullptr so the session is idle again; keep the first failure.
    std::string failure;
    while (PGresult* r = PQgetResult(conn)) {
        ExecStatusType status = PQresultStatus(r);
        if (status == PGRES_COPY_IN) {  // the end message never went out: the session is unusable
            PQclear(r);
            sent = false;
            break;
        }
        if (status != PGRES_COMMAND_OK && failure.empty()) failure = message(r);
        PQclear(r);
    }
    if (!sent || PQstatus(conn) != CONNECTION_OK)
        throw db::DatabaseUnavailableException("COPY interactions: " + std::string(PQerrorMessage(conn)));
    if (!failure.empty()) throw db::DatabaseException("COPY interactions: " + failure);
}

/// The row's JSON object text (the spool line, newline-terminated) and its COPY text row, from the same
/// serialised pieces (each body is dumped once). The COPY row is empty when the record cannot take the fast
/// path (no created_at: the insert uses now()).
std::pair<std::string, std::string> serialise(InteractionRecord&& record) {
    struct Field {
        const char* name;
        std::optional<std::string> json;  ///< JSON text of the value; nullopt = null
        std::optional<std::string> copy;  ///< COPY text (unescaped); nullopt = \N
    };
    auto str = [](const std::string& v) -> Field { return {nullptr, dumpJson(v), v}; };
    auto optStr = [&](const std::optional<std::string>& v) -> Field {
        return v ? str(*v) : Field{nullptr, std::nullopt, std::nullopt};
    };
    auto optInt = [](const std::optional<std::int64_t>& v) -> Field {
        if (!v) return {nullptr, std::nullopt, std::nullopt};
        std::string text = std::to_string(*v);
        return {nullptr, text, text};
    };
    auto optNum = [](const std::optional<double>& v) -> Field {
        if (!v) return {nullptr, std::nullopt, std::nullopt};
        std::string text = nlohmann::json(*v).dump();
        if (text == "null") return {nullptr, std::nullopt, std::nullopt};  // NaN/infinity
        return {nullptr, text, text};
    };
    auto body = [](const nlohmann::json& v, const std::string& original = {}) -> Field {
        if (!original.empty()) {
            std::string text = rowJsonText(original);
            return {nullptr, text, std::move(text)};
        }
        if (v.is_null()) return {nullptr, std::nullopt, std::nullopt};
        std::string text = dumpJson(v);
        return {nullptr, text, std::move(text)};
    };
    auto named = [](const char* name, Field f) {
        f.name = name;
        return f;
    };
    Field request = body(record.request, record.requestText);
    if (!request.copy) request.copy = "{}";  // the column is NOT NULL; kInsertSql stores {} too
    std::vector<Field> fields = {
        named("id", str(record.id)),
        named("profile_id", record.profileId.empty() ? Field{} : str(record.profileId)),
        named("external_agent_id", optStr(record.externalAgentId)),
        named("request", std::move(request)),
        named("processed_request", body(record.processedRequest)),
        named("response", body(record.response, record.responseText)),
        named("type", str(record.type)),
        named("model", str(record.model)),
        named("original_model", optStr(record.originalModel)),
        named("optimized_model", optStr(record.optimizedModel)),
        named("provider", str(record.provider)),
        named("input_tokens", optInt(record.inputTokens)),
        named("output_tokens", optInt(record.outputTokens)),
        named("baseline_cost", optNum(record.baselineCost)),
        named("cost", optNum(record.cost)),
        named("blocked", Field{nullptr, record.blocked ? "true" : "false", record.blocked ? "t" : "f"}),
        named("status_code", optInt(record.statusCode)),
        named("duration_ms", optInt(record.duration_ms)),
        named("time_to_first_token_ms", optInt(record.timeToFirstToken_ms)),
        named("decisions", body(record.decisions)),
        named("toon_tokens_before", optInt(record.toonTokensBefore)),
        named("toon_tokens_after", optInt(record.toonTokensAfter)),
        named("toon_cost_savings", optNum(record.toonCostSavings)),
        named("created_at", str(record.createdAt)),
    };
    std::size_t size = 64;
    for (const auto& f : fields) size += std::strlen(f.name) + 8 + (f.json ? f.json->size() : 4);
    std::string line;
    line.reserve(size);
    std::string copy;
    copy.reserve(size);
    line += '{';
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const Field& f = fields[i];
        if (i) {
            line += ',';
            copy += '\t';
        }
        line += '"';
        line += f.name;
        line += "\":";
        line += f.json ? *f.json : "null";
        if (f.copy)
            appendCopyField(copy, *f.copy);
        else
            copy += "\\N";
    }
    line += "}\n";
    copy += '\n';
    if (record.createdAt.empty()) copy.clear();
    return {std::move(line), std::move(copy)};
}

/// Writes all of `data` (retrying short writes and EINTR); false with errno set on failure.
bool writeAll(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

/// A JSON array text of rows given as newline-terminated object texts (newlines are JSON whitespace).
std::string joinRows(const std::vector<std::string>& lines) {
    std::size_t size = 2;
    for (const auto& line : lines) size += line.size() + 1;
    std::string body;
    body.reserve(size);
    body += '[';
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (i) body += ',';
        body += lines[i];
    }
    body += ']';
    return body;
}

std::int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
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

nlohmann::json InteractionRecord::toJson() const& {
    InteractionRecord copy = *this;
    return std::move(copy).toJson();
}

nlohmann::json InteractionRecord::toJson() && {
    auto optional = [](const auto& value) -> nlohmann::json {
        if (value) return *value;
        return nullptr;
    };
    return {{"id", id},
            {"profile_id", profileId.empty() ? nlohmann::json(nullptr) : nlohmann::json(profileId)},
            {"external_agent_id", optional(externalAgentId)},
            {"request", std::move(request)},
            {"processed_request", std::move(processedRequest)},
            {"response", std::move(response)},
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
            {"decisions", std::move(decisions)},
            {"toon_tokens_before", optional(toonTokensBefore)},
            {"toon_tokens_after", optional(toonTokensAfter)},
            {"toon_cost_savings", optional(toonCostSavings)},
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
    closeSegments();
    if (_spoolFd >= 0) ::close(_spoolFd);
}

void InteractionLog::start() {
    Poco::File(_spoolDir).createDirectories();
    _spoolFd = ::open(_spoolFile.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (_spoolFd < 0)
        throw Poco::CreateFileException("interaction spool " + _spoolFile + ": cannot open for appending");
    struct stat info {};
    if (::fstat(_spoolFd, &info) == 0) _spoolBytes = static_cast<std::uint64_t>(info.st_size);
    recoverSegments();
    if (_options.writeAhead) {
        std::lock_guard lock(_mutex);
        _segmentPrefix =
            _spoolDir + "/wal-" + std::to_string(nowMs()) + "-" + std::to_string(::getpid()) + "-";
    }
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
    closeSegments();
    if (std::uint64_t lost = _backlogSize.exchange(0); lost > 0) {
        _dropped += lost;
        _logger.critical("interaction log stopped with " + std::to_string(lost) +
                         " interactions in memory that neither the database nor the spool could take: lost");
    }
    if (_spoolBytes > 0)
        _logger.warning("interaction log stopped with " + std::to_string(_spoolBytes.load()) +
                        " bytes spooled in " + _spoolFile + "; they are written at the next start");
}

void InteractionLog::enqueue(InteractionRecord record) {
    // Serialised here, once: the same text goes to the segment, the spool and the INSERT.
    Usage usage{record.profileId, record.model, record.inputTokens, record.outputTokens};
    auto [line, copyRow] = serialise(std::move(record));
    // The write(2) to the segment happens outside _mutex: held across it, every other request thread
    // finishing meanwhile slept on the lock (a futex wait and a wake-up each). The room is reserved first,
    // so the segment cannot be deleted, emptied or closed under the write.
    SegmentSlot slot;
    {
        std::lock_guard lock(_mutex);
        if (_queue.size() >= _options.capacity) {
            slot.number = ~std::uint64_t{0};  // full
        } else {
            slot = reserveInSegment(line.size());
            if (slot.number) ++_segmentWriters;
        }
    }
    if (slot.number == ~std::uint64_t{0}) {
        // Full: never make the request wait for the database; the record goes to disk and is replayed later.
        appendToSpool({line}, false);
        ++_spooled;
        return;
    }
    int error = 0;
    if (slot.number && !writeAll(slot.fd, line.data(), line.size())) error = errno ? errno : EIO;
    std::lock_guard lock(_mutex);
    if (slot.number) {
        segmentWritten(slot, line.size(), error);
        if (error) slot.number = 0;
        if (--_segmentWriters == 0 && _closingSegments) _segmentsIdle.notify_all();
    }
    // Past capacity by at most the requests between the two locks: still bounded.
    _queue.push_back({std::move(line), slot.number, std::move(copyRow), std::move(usage)});
    // The writer wakes for a full batch, else on its flushInterval_ms timer: one wake-up (a futex call and
    // a context switch on the request thread) per batch, not per request.
    if (_queue.size() == _options.batchSize) _wake.notify_one();
}

InteractionLog::SegmentSlot InteractionLog::reserveInSegment(std::size_t size) {
    if (_segmentPrefix.empty()) return {};
    auto current = _segments.empty() ? _segments.end() : std::prev(_segments.end());
    if (current == _segments.end() || current->second.bytes >= _options.segmentBytes ||
        current->second.broken) {
        std::uint64_t number = _nextSegment++;
        std::string path = _segmentPrefix + std::to_string(number) + ".jsonl";
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            int error = errno;
            if (!spoolProblem())
                _logger.error("interaction write-ahead segment " + path + ": cannot open (" +
                              std::strerror(error) + ")");
            noteSpoolWrite(path, error);
            return {};
        }
        // Held while this process lives: a process sharing the directory must not take a live segment.
        ::flock(fd, LOCK_EX | LOCK_NB);
        if (current != _segments.end() && current->second.uncommitted == 0) {
            ::unlink(current->second.path.c_str());
            ::close(current->second.fd);
            _segments.erase(current);
        }
        current = _segments.emplace(number, Segment{path, fd, 0, 0, false}).first;
    }
    Segment& segment = current->second;
    SegmentSlot slot{current->first, segment.fd, segment.bytes};
    segment.bytes += size;
    ++segment.uncommitted;
    return slot;
}

void InteractionLog::segmentWritten(const SegmentSlot& slot, std::size_t size, int error) {
    auto it = _segments.find(slot.number);
    if (it == _segments.end()) return;  // cannot happen: an uncommitted reservation keeps it
    Segment& segment = it->second;
    if (error == 0) {
        noteSpoolWrite(segment.path, 0);
        return;
    }
    // The row is not in the segment. A partial line must not glue onto the next row: when no other line
    // was reserved after this one, cut the segment back; either way the next row opens a new segment.
    --segment.uncommitted;
    if (segment.bytes == slot.offset + size) {
        if (::ftruncate(segment.fd, static_cast<off_t>(slot.offset)) == 0) segment.bytes = slot.offset;
        // Else unlikely (truncating frees space); recovery drops a torn line as unparsable.
    }
    segment.broken = true;
    if (!spoolProblem())
        _logger.error("interaction write-ahead segment " + segment.path + ": write failed (" +
                      std::strerror(error) + "); rows are only in memory until written");
    noteSpoolWrite(segment.path, error);
}

void InteractionLog::segmentCommitted(std::uint64_t number, std::uint64_t count) {
    auto it = _segments.find(number);
    if (it == _segments.end()) return;
    Segment& segment = it->second;
    segment.uncommitted -= std::min(segment.uncommitted, count);
    if (segment.uncommitted > 0) return;
    bool current = std::next(it) == _segments.end();
    if (!current) {
        ::unlink(segment.path.c_str());
        ::close(segment.fd);
        _segments.erase(it);
    } else if (segment.bytes > 0 && ::ftruncate(segment.fd, 0) == 0) {
        segment.bytes = 0;  // O_APPEND: the next row goes to offset 0
    }
}

void InteractionLog::closeSegments() {
    std::unique_lock lock(_mutex);
    // No new reservations; the writes in progress finish before their fds close.
    _segmentPrefix.clear();
    _closingSegments = true;
    _segmentsIdle.wait(lock, [this] { return _segmentWriters == 0; });
    _closingSegments = false;
    for (auto& [number, segment] : _segments) {
        // Rows still uncommitted (a writer that could not finish) stay on disk for the next start.
        if (segment.uncommitted == 0) ::unlink(segment.path.c_str());
        ::close(segment.fd);
    }
    _segments.clear();
    _segmentPrefix.clear();
}

void InteractionLog::recoverSegments() {
    DIR* dir = ::opendir(_spoolDir.c_str());
    if (!dir) return;
    std::vector<std::string> paths;
    while (dirent* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name.rfind("wal-", 0) == 0 && name.size() > 6 && name.compare(name.size() - 6, 6, ".jsonl") == 0)
            paths.push_back(_spoolDir + "/" + name);
    }
    ::closedir(dir);
    std::sort(paths.begin(), paths.end());
    for (const auto& path : paths) {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a live process owns it
            ::close(fd);
            continue;
        }
        std::string content;
        char buffer[65536];
        ssize_t n;
        while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
            content.append(buffer, static_cast<std::size_t>(n));
        ::close(fd);
        if (n < 0) {
            _logger.error("interaction write-ahead segment " + path + ": cannot read; left in place");
            continue;
        }
        std::uint64_t rows = static_cast<std::uint64_t>(std::count(content.begin(), content.end(), '\n'));
        // A torn last line (killed inside write(2)) must not glue onto the next spool line; alone, the
        // replay drops it (it was never acknowledged: the response waits for the write).
        if (!content.empty() && content.back() != '\n') content += '\n';
        if (!content.empty()) {
            appendToSpool({content}, true);
            _recovered += rows;
        }
        ::unlink(path.c_str());
        if (rows > 0)
            _logger.warning("recovered " + std::to_string(rows) + " interactions from " + path +
                            " (left by a process that did not stop cleanly)");
    }
}

std::size_t InteractionLog::queueDepth() const {
    std::lock_guard lock(_mutex);
    return _queue.size() + (_busy ? 1 : 0);
}

bool InteractionLog::waitUntilDrained(long timeout_ms) {
    std::unique_lock lock(_mutex);
    _wake.notify_all();
    return _drained.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] {
        return _queue.empty() && !_busy && _spoolBytes.load() == 0 && _backlogSize.load() == 0;
    });
}

void InteractionLog::run() {
    auto lastProbe = std::chrono::steady_clock::time_point{};
    auto lastBacklogTry = std::chrono::steady_clock::time_point{};
    while (true) {
        std::vector<Pending> taken;
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
        Batch batch;
        std::map<std::uint64_t, std::uint64_t> bySegment;
        batch.lines.reserve(taken.size());
        batch.usage.reserve(taken.size());
        bool copyable = !taken.empty();
        for (auto& pending : taken) {
            if (pending.segment) ++bySegment[pending.segment];
            if (pending.copyRow.empty()) copyable = false;
            if (copyable) batch.copyRows += pending.copyRow;
            batch.lines.push_back(std::move(pending.line));
            batch.usage.push_back(std::move(pending.usage));
        }
        if (!copyable) batch.copyRows.clear();
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
        if (!batch.lines.empty()) writeBatch(batch);
        if (_backlogSize > 0) drainBacklog(lastBacklogTry);
        {
            // Inserted, spooled with fdatasync, or dropped as bad: the segments no longer need these rows.
            std::lock_guard lock(_mutex);
            for (const auto& [segment, count] : bySegment) segmentCommitted(segment, count);
            _busy = false;
        }
        _drained.notify_all();
    }
    // Last chance for rows kept in memory: the database or the spool (one attempt each).
    if (_backlogSize > 0) {
        lastBacklogTry = {};
        drainBacklog(lastBacklogTry);
    }
    _drained.notify_all();
}

void InteractionLog::writeBatch(const Batch& batch) {
    const auto& rows = batch.lines;
    if (!_databaseDown) {
        try {
            if (batch.copyRows.empty() || !copy(batch)) insert(rows);
            return;
        } catch (const db::DatabaseUnavailableException& error) {
            _databaseDown = true;
            _logger.warning("database unavailable (" + error.message() + "); spooling interactions to " +
                            _spoolFile);
        }
    }
    appendToSpool(rows, true);
    _spooled += rows.size();
}

bool InteractionLog::copy(const Batch& batch) {
    // Usage per (profile, model) of the rows that carry tokens; sent only when there is some.
    std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> sums;
    for (const auto& u : batch.usage) {
        if (u.profileId.empty() || u.model.empty() || (!u.inputTokens && !u.outputTokens)) continue;
        auto& sum = sums[{u.profileId, u.model}];
        sum.first += u.inputTokens.value_or(0);
        sum.second += u.outputTokens.value_or(0);
    }
    std::string usageJson;
    if (!sums.empty()) {
        nlohmann::json usage = nlohmann::json::array();
        for (const auto& [key, sum] : sums)
            usage.push_back({{"profile_id", key.first},
                             {"model", key.second},
                             {"input_tokens", sum.first},
                             {"output_tokens", sum.second}});
        usageJson = dumpJson(usage);
    }
    try {
        long long usageRows = _db.transaction([&](db::Connection& c) {
            copyIn(c, kCopySql, batch.copyRows);
            return usageJson.empty() ? 0LL : c.execute(kCopyUsageSql, {usageJson});
        });
        _written += batch.lines.size();
        ++_copiedBatches;
        if (usageRows > 0 && _onUsageChanged) _onUsageChanged();
        return true;
    } catch (const db::DatabaseUnavailableException&) {
        throw;
    } catch (const std::exception& error) {
        // A replayed id, a deleted profile, a value PostgreSQL rejects: the row-tolerant INSERT decides.
        _logger.debug(std::string("COPY of an interaction batch failed, inserting instead: ") + error.what());
        return false;
    }
}

void InteractionLog::insert(const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    try {
        long long usageRows = _db.execute(kInsertSql, {joinRows(rows)});
        _written += rows.size();
        if (usageRows > 0 && _onUsageChanged) _onUsageChanged();
    } catch (const db::DatabaseUnavailableException&) {
        throw;
    } catch (const std::exception& error) {
        // One bad row must not sink the batch: write them one by one and drop (with a log line) what fails.
        if (rows.size() == 1) {
            ++_dropped;
            nlohmann::json row = nlohmann::json::parse(rows[0], nullptr, false);
            std::string id = row.is_object() ? row.value("id", "") : "";
            _logger.error("interaction " + id + " dropped: " + error.what());
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
    if (!writeAll(_spoolFd, buffer.data(), buffer.size())) {
        int error = errno;
        // Cut a partial write back so the next line starts on a line of its own.
        if (::ftruncate(_spoolFd, static_cast<off_t>(_spoolBytes.load())) != 0) {
            // the replay drops a torn line as unparsable
        }
        const bool wasEmpty = _backlog.empty();
        noteSpoolWrite(_spoolFile, error);
        if (wasEmpty)
            _logger.error("interaction spool " + _spoolFile + ": write failed (" + std::strerror(error) +
                          "); keeping interactions in memory (up to " + std::to_string(_options.backlogRows) +
                          " rows) until the database or the spool can take them");
        keepInBacklog(lines);
        return;
    }
    noteSpoolWrite(_spoolFile, 0);
    _spoolBytes += buffer.size();
    if (sync) ::fdatasync(_spoolFd);
}

void InteractionLog::keepInBacklog(std::vector<std::string> lines) {
    std::size_t room = _options.backlogRows > _backlog.size() ? _options.backlogRows - _backlog.size() : 0;
    std::size_t kept = std::min(room, lines.size());
    for (std::size_t i = 0; i < kept; ++i) _backlog.push_back(std::move(lines[i]));
    _backlogSize = _backlog.size();
    std::size_t lost = lines.size() - kept;
    if (lost > 0) {
        _dropped += lost;
        _logger.critical("interaction log: neither the database nor the spool " + _spoolFile +
                         " can take rows and the in-memory backlog is full (" +
                         std::to_string(_options.backlogRows) + " rows); " + std::to_string(lost) +
                         " interactions lost");
    }
}

void InteractionLog::drainBacklog(std::chrono::steady_clock::time_point& lastTry) {
    auto now = std::chrono::steady_clock::now();
    if (_databaseDown && now - lastTry < std::chrono::milliseconds(_options.retry_ms)) return;
    lastTry = now;
    std::vector<std::string> rows;
    {
        std::lock_guard lock(_spoolMutex);
        rows.reserve(_backlog.size());
        for (auto& line : _backlog) rows.push_back(std::move(line));
        _backlog.clear();
        _backlogSize = 0;
    }
    if (rows.empty()) return;
    if (!_databaseDown) {
        try {
            for (std::size_t i = 0; i < rows.size(); i += _options.batchSize) {
                std::vector<std::string> batch(rows.begin() + static_cast<std::ptrdiff_t>(i),
                                               rows.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                                  rows.size(), i + _options.batchSize)));
                insert(batch);
            }
            _logger.information("wrote " + std::to_string(rows.size()) +
                                " interactions kept in memory to the database");
            return;
        } catch (const db::DatabaseUnavailableException&) {
            // Rows already inserted are skipped by ON CONFLICT (id) when they come round again.
            _databaseDown = true;
        }
    }
    std::uint64_t before = _spoolBytes;
    appendToSpool(rows, true);  // on failure they go back to the backlog
    if (_spoolBytes > before)
        _logger.information("moved " + std::to_string(rows.size()) +
                            " interactions kept in memory to the spool");
}

void InteractionLog::noteSpoolWrite(const std::string& path, int error) {
    // Every row's segment write reports here: a healthy directory takes no lock.
    if (error == 0 && !_hasSpoolProblem.load(std::memory_order_acquire)) return;
    std::lock_guard lock(_problemMutex);
    if (error == 0) {
        if (_spoolProblem) {
            _logger.information("interaction spool directory " + _spoolDir + " is writable again");
            _spoolProblem.reset();
            _hasSpoolProblem = false;
        }
        return;
    }
    _hasSpoolProblem = true;
    ++_spoolWriteErrors;
    _spoolProblem = "cannot write " + path + ": " + std::strerror(error) +
                    (_databaseDown ? "; the database is away, so interactions are kept in memory (up to " +
                                         std::to_string(_options.backlogRows) + " rows) until either returns"
                                   : "; interactions are written to the database but not to the "
                                     "write-ahead log (a crash now would lose the queued ones)");
}

std::optional<std::string> InteractionLog::spoolProblem() const {
    std::lock_guard lock(_problemMutex);
    return _spoolProblem;
}

bool InteractionLog::replaySpool() {
    std::lock_guard lock(_spoolMutex);
    std::ifstream in(_spoolFile, std::ios::binary);
    std::vector<std::string> batch;
    std::string line;
    std::size_t replayed = 0;
    try {
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            if (!nlohmann::json::accept(line)) {
                ++_dropped;  // a torn last line from a crash: nothing to recover
                continue;
            }
            line += '\n';
            batch.push_back(std::move(line));
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
