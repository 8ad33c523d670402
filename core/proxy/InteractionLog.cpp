// Interaction log: write-ahead segment + bounded queue -> writer thread -> batched INSERT; a spool file while
// the database is away.
#include "core/proxy/InteractionLog.h"

#include "core/proxy/JsonParse.h"

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
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
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

// A row's columns in the order of its COPY line, with their types (the staging table and the jsonb record).
const std::string kRowColumnTypes =
    "id uuid, profile_id uuid, external_agent_id text, request json, processed_request json, response "
    "json, type text, model text, original_model text, optimized_model text, provider text, input_tokens "
    "integer, output_tokens integer, baseline_cost numeric, cost numeric, blocked boolean, status_code "
    "integer, duration_ms integer, time_to_first_token_ms integer, decisions json, toon_tokens_before "
    "integer, toon_tokens_after integer, toon_cost_savings numeric, created_at timestamptz";
const std::string kRowColumns =
    "id, profile_id, external_agent_id, request, processed_request, response, type, model, original_model, "
    "optimized_model, provider, input_tokens, output_tokens, baseline_cost, cost, blocked, status_code, "
    "duration_ms, time_to_first_token_ms, decisions, toon_tokens_before, toon_tokens_after, "
    "toon_cost_savings, created_at";
constexpr std::size_t kRowColumnCount = 24;
constexpr std::size_t kProfileColumn = 1, kModelColumn = 7, kInputTokensColumn = 11, kOutputTokensColumn = 12;

// The idempotent insert of rows `r` (a FROM item) and the usage counters of the rows it really inserted, in
// one statement: a replayed row is skipped (ON CONFLICT) and not counted twice; a profile deleted meanwhile
// is stored as NULL.
std::string insertFrom(const std::string& rows) {
    return "WITH ins AS (INSERT INTO interactions (" + kRowColumns +
           ") SELECT r.id, (SELECT a.id FROM agents a WHERE a.id = r.profile_id FOR KEY SHARE), "
           "r.external_agent_id, "
           "COALESCE(r.request, '{}'::json), r.processed_request, r.response, r.type, r.model, "
           "r.original_model, r.optimized_model, r.provider, r.input_tokens, r.output_tokens, "
           "r.baseline_cost, r.cost, COALESCE(r.blocked, false), r.status_code, r.duration_ms, "
           "r.time_to_first_token_ms, r.decisions, r.toon_tokens_before, r.toon_tokens_after, "
           "r.toon_cost_savings, COALESCE(r.created_at, now()) FROM " +
           rows + " ON CONFLICT (id) DO NOTHING RETURNING profile_id, model, input_tokens, output_tokens), " +
           kUsageFromIns;
}

// Rows given as a jsonb array of objects: spool lines written before rows were COPY lines.
const std::string kInsertJsonSql = insertFrom("jsonb_to_recordset($1::jsonb) AS r(" + kRowColumnTypes + ")");

// The staging table: per session (temporary), emptied by each commit. COPY into it never meets a duplicate
// id, and the INSERT from it skips ids already stored.
const std::string kCreateStagingSql = "CREATE TEMPORARY TABLE IF NOT EXISTS interaction_staging (" +
                                      kRowColumnTypes + ") ON COMMIT DELETE ROWS";
const std::string kCopyStagingSql = "COPY interaction_staging (" + kRowColumns + ") FROM STDIN";
const std::string kInsertStagedSql = insertFrom("interaction_staging r");

// The fast path: the batch's profiles locked, the batch's rows by COPY straight into the table, then the
// usage of those rows (COPY is all or nothing, so every one of them was inserted), in one transaction. A
// duplicate id (a replay), a profile deleted meanwhile or any other rejected row makes it fail; the batch
// then goes through the staging table, which skips duplicates, stores a deleted profile as NULL and isolates
// a bad row.
//
// interactions.profile_id has no foreign key (migration 0011): its per-row check was about a third of the
// database's CPU per interaction. The batch takes the lock that check took (KEY SHARE on each of its
// profiles, usually one) once instead, so a profile cannot be deleted between the check and the commit, and
// the agents delete trigger then removes the rows committed before it, as ON DELETE CASCADE did.
const std::string kLockProfilesSql =
    "SELECT count(*) FROM (SELECT 1 FROM agents WHERE id IN (SELECT "
    "json_array_elements_text($1::json)::uuid) "
    "FOR KEY SHARE) locked";
const std::string kCopySql = "COPY interactions (" + kRowColumns + ") FROM STDIN";
const std::string kCopyUsageSql =
    "WITH ins AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(profile_id uuid, model text, input_tokens "
    "bigint, output_tokens bigint)), " +
    kUsageFromIns;

/// value.dump(-1, ' ', false, replace), by the faster writer of the same bytes (JsonParse.h).
std::string dumpJson(const nlohmann::json& value) {
    return compactJson(value);
}

/// Whether one of the 8 bytes in `word` may need a COPY escape: a byte below 0x0E (tab, newline and carriage
/// return among them) or a backslash. Exact for "any byte"; which byte is left to the caller.
inline bool mayNeedCopyEscape(std::uint64_t word) {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
    const std::uint64_t below = (word - kOnes * 0x0E) & ~word & kHigh;
    const std::uint64_t x = word ^ (kOnes * static_cast<unsigned char>('\\'));
    const std::uint64_t backslash = (x - kOnes) & ~x & kHigh;
    return (below | backslash) != 0;
}

/// Appends `text` as one COPY text-format field (backslash, tab, newline and carriage return escaped), in
/// runs between the characters that need it. Eight bytes are checked at a time: the bodies (most of a row)
/// have long runs without any, and a byte-by-byte switch over them was a tenth of a request's instructions.
void appendCopyField(std::string& out, std::string_view text) {
    std::size_t from = 0;
    std::size_t i = 0;
    auto escapeAt = [&](std::size_t at) {
        const char* escaped = nullptr;
        switch (text[at]) {
            case '\\':
                escaped = "\\\\";
                break;
            case '\t':
                escaped = "\\t";
                break;
            case '\n':
                escaped = "\\n";
                break;
            case '\r':
                escaped = "\\r";
                break;
            default:
                return;
        }
        out.append(text.data() + from, at - from);
        out.append(escaped, 2);
        from = at + 1;
    };
    while (i + 8 <= text.size()) {
        std::uint64_t word;
        std::memcpy(&word, text.data() + i, sizeof word);
        if (mayNeedCopyEscape(word))
            for (std::size_t j = i; j < i + 8; ++j) escapeAt(j);
        i += 8;
    }
    for (; i < text.size(); ++i) escapeAt(i);
    out.append(text.data() + from, text.size() - from);
}

/// The fields of a COPY line, still escaped ("\N" is NULL); the trailing newline is not part of the last one.
std::vector<std::string_view> copyFields(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    std::vector<std::string_view> fields;
    fields.reserve(kRowColumnCount);
    while (true) {
        std::size_t tab = line.find('\t');
        fields.push_back(line.substr(0, tab));
        if (tab == std::string_view::npos) break;
        line.remove_prefix(tab + 1);
    }
    return fields;
}

/// A COPY field's text (escapes undone); nullopt for NULL.
std::optional<std::string> copyFieldText(std::string_view field) {
    if (field == "\\N") return std::nullopt;
    std::string text;
    text.reserve(field.size());
    for (std::size_t i = 0; i < field.size(); ++i) {
        if (field[i] != '\\' || i + 1 == field.size()) {
            text += field[i];
            continue;
        }
        char c = field[++i];
        text += c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : c;
    }
    return text;
}

/// A spool line written before rows were COPY lines (a JSON object).
bool isJsonRow(const std::string& line) {
    return !line.empty() && line.front() == '{';
}

/// The row's id, for log lines.
std::string rowId(const std::string& line) {
    if (!isJsonRow(line)) return std::string(line.substr(0, line.find('\t')));
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    return row.is_object() ? row.value("id", "") : "";
}

/// What the COPY path needs to know about a batch of COPY lines.
struct BatchFacts {
    /// The token_cost usage, summed per (profile, model) as the kCopyUsageSql parameter; empty when no row
    /// carries tokens.
    std::string usageJson;
    /// The distinct profile ids as a JSON array (the kLockProfilesSql parameter), and how many.
    std::string profilesJson;
    long long profileCount = 0;
};

BatchFacts factsOf(const std::vector<std::string>& rows) {
    BatchFacts facts;
    std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> sums;
    std::set<std::string> profiles;
    for (const auto& row : rows) {
        auto fields = copyFields(row);
        if (fields.size() != kRowColumnCount) continue;
        auto profile = copyFieldText(fields[kProfileColumn]);
        if (profile) profiles.insert(*profile);
        auto model = copyFieldText(fields[kModelColumn]);
        auto input = copyFieldText(fields[kInputTokensColumn]);
        auto output = copyFieldText(fields[kOutputTokensColumn]);
        if (!profile || !model || model->empty() || (!input && !output)) continue;
        // Never throws: a field that is no integer (only a damaged spool line) counts 0 here, and the COPY
        // rejects the row anyway.
        auto integer = [](const std::optional<std::string>& text) {
            std::int64_t value = 0;
            if (text) std::from_chars(text->data(), text->data() + text->size(), value);
            return value;
        };
        auto& sum = sums[{*profile, *model}];
        sum.first += integer(input);
        sum.second += integer(output);
    }
    if (!profiles.empty()) {
        facts.profilesJson = dumpJson(nlohmann::json(profiles));
        facts.profileCount = static_cast<long long>(profiles.size());
    }
    if (sums.empty()) return facts;
    nlohmann::json usage = nlohmann::json::array();
    for (const auto& [key, sum] : sums)
        usage.push_back({{"profile_id", key.first},
                         {"model", key.second},
                         {"input_tokens", sum.first},
                         {"output_tokens", sum.second}});
    facts.usageJson = dumpJson(usage);
    return facts;
}

/// COPY ... FROM STDIN of `rows` (COPY text lines) on the transaction's session (libpq directly: the db API
/// has no COPY). Throws DatabaseException when the server rejects it, DatabaseUnavailableException when the
/// connection is lost (the transaction's ROLLBACK then marks the session broken).
void copyIn(db::Connection& c, const std::string& sql, const std::vector<std::string>& rows) {
    PGconn* conn = c.native();
    auto message = [&](PGresult* r) {
        std::string text = r ? PQresultErrorMessage(r) : "";
        if (text.empty()) text = PQerrorMessage(conn);
        while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
        return text;
    };
    PGresult* start = PQexec(conn, sql.c_str());
    if (!start || PQresultStatus(start) != PGRES_COPY_IN) {
        std::string why = message(start);
        PQclear(start);
        if (PQstatus(conn) != CONNECTION_OK)
            throw db::DatabaseUnavailableException("COPY interactions: " + why);
        throw db::DatabaseException("COPY interactions: " + why);
    }
    PQclear(start);
    // Row by row: libpq buffers them into protocol messages, so the batch is never joined in memory.
    bool sent = true;
    for (const auto& row : rows) {
        if (PQputCopyData(conn, row.data(), static_cast<int>(row.size())) != 1) {
            sent = false;
            break;
        }
    }
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

/// The row as its COPY text line, built once on the request thread: each body is the text received (a
/// UTF-8 byte order mark, which the parser skips and PostgreSQL refuses, dropped) or dumped once.
std::string serialise(InteractionRecord&& record) {
    auto withoutBom = [](std::string_view text) {
        if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.remove_prefix(3);
        return text;
    };
    // A body: the text received when there is one, else the DOM dumped (kept in `storage`), else NULL.
    auto body = [&](const nlohmann::json& value, const std::string& original, std::string& storage,
                    const char* ifNull) -> std::optional<std::string_view> {
        if (!original.empty()) return withoutBom(original);
        if (value.is_null()) return ifNull ? std::optional<std::string_view>(ifNull) : std::nullopt;
        storage = dumpJson(value);
        return std::string_view(storage);
    };
    std::string requestDump, processedDump, responseDump, decisionsDump;
    auto request = body(record.request, record.requestText, requestDump, "{}");  // the column is NOT NULL
    auto processed = body(record.processedRequest, {}, processedDump, nullptr);
    auto response = body(record.response, record.responseText, responseDump, nullptr);
    auto decisions = body(record.decisions, {}, decisionsDump, nullptr);
    auto integer = [](const std::optional<std::int64_t>& v) -> std::optional<std::string> {
        return v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt;
    };
    auto number = [](const std::optional<double>& v) -> std::optional<std::string> {
        if (!v) return std::nullopt;
        std::string text = nlohmann::json(*v).dump();
        return text == "null" ? std::nullopt : std::optional<std::string>(text);  // NaN/infinity
    };
    auto optional = [](const std::optional<std::string>& v) -> std::optional<std::string_view> {
        return v ? std::optional<std::string_view>(*v) : std::nullopt;
    };
    if (record.createdAt.empty()) record.createdAt = nowRfc3339();
    auto inputTokens = integer(record.inputTokens), outputTokens = integer(record.outputTokens);
    auto baselineCost = number(record.baselineCost), cost = number(record.cost);
    auto statusCode = integer(record.statusCode), duration = integer(record.duration_ms);
    auto ttft = integer(record.timeToFirstToken_ms);
    auto toonBefore = integer(record.toonTokensBefore), toonAfter = integer(record.toonTokensAfter);
    auto toonSavings = number(record.toonCostSavings);
    const std::optional<std::string_view> fields[kRowColumnCount] = {
        record.id,
        record.profileId.empty() ? std::nullopt : std::optional<std::string_view>(record.profileId),
        optional(record.externalAgentId),
        request,
        processed,
        response,
        record.type,
        record.model,
        optional(record.originalModel),
        optional(record.optimizedModel),
        record.provider,
        optional(inputTokens),
        optional(outputTokens),
        optional(baselineCost),
        optional(cost),
        record.blocked ? "t" : "f",
        optional(statusCode),
        optional(duration),
        optional(ttft),
        decisions,
        optional(toonBefore),
        optional(toonAfter),
        optional(toonSavings),
        record.createdAt,
    };
    // Escapes add a little (a JSON body's own escapes gain a backslash each): room for 1 in 16 bytes.
    std::size_t size = 2 * kRowColumnCount;
    for (const auto& f : fields) size += f ? f->size() : 0;
    std::string line;
    line.reserve(size + size / 16);
    for (std::size_t i = 0; i < kRowColumnCount; ++i) {
        if (i) line += '\t';
        if (fields[i])
            appendCopyField(line, *fields[i]);
        else
            line += "\\N";
    }
    line += '\n';
    return line;
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
    return rfc3339Millis(
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

std::string rfc3339Millis(std::int64_t ms) {
    std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    // "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" written digit by digit: snprintf's format parsing was most of
    // this function's cost, and it runs once per proxied call. Years outside 0..9999 (never, from the system
    // clock) and times before 1970 (a negative remainder) keep snprintf.
    const int year = tm.tm_year + 1900;
    if (ms < 0 || year > 9999) {
        char buffer[80];
        std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
        return buffer;
    }
    char text[] = "0000-00-00T00:00:00.000Z";
    auto put = [&](std::size_t at, int value, int width) {
        for (int i = width - 1; i >= 0; --i, value /= 10)
            text[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    };
    put(0, year, 4);
    put(5, tm.tm_mon + 1, 2);
    put(8, tm.tm_mday, 2);
    put(11, tm.tm_hour, 2);
    put(14, tm.tm_min, 2);
    put(17, tm.tm_sec, 2);
    put(20, static_cast<int>(ms % 1000), 3);
    return std::string(text, sizeof text - 1);
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
      _replayFile(_spoolDir + "/interactions.replay.jsonl"),
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
    if (::fstat(_spoolFd, &info) == 0) _spoolFileBytes = static_cast<std::uint64_t>(info.st_size);
    _spoolBytes = _spoolFileBytes;
    // A replay that a stopped or killed process did not finish: the writer replays it first.
    if (::stat(_replayFile.c_str(), &info) == 0) _spoolBytes += static_cast<std::uint64_t>(info.st_size);
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
    // Serialised here, once: the same text goes to the segment, the queue, the spool and the COPY.
    std::string line = serialise(std::move(record));
    // The write(2) to the segment happens outside _mutex: held across it, every other request thread
    // finishing meanwhile slept on the lock (a futex wait and a wake-up each). The room is reserved first,
    // so the segment cannot be deleted, emptied or closed under the write.
    SegmentSlot slot;
    {
        std::lock_guard lock(_mutex);
        // The byte bound lets one row in even when it alone is larger: an empty queue is never "full".
        if (_queue.size() >= _options.capacity ||
            (!_queue.empty() && _queueBytes + line.capacity() > _options.capacityBytes)) {
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
    _queueBytes += line.capacity();
    _queue.push_back({std::move(line), slot.number});
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

std::size_t InteractionLog::queueBytes() const {
    std::lock_guard lock(_mutex);
    return _queueBytes;
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
                _queueBytes -= _queue.front().line.capacity();
                taken.push_back(std::move(_queue.front()));
                _queue.pop_front();
            }
            _busy = !taken.empty();
            if (stopping && taken.empty()) break;
        }
        std::vector<std::string> batch;
        std::map<std::uint64_t, std::uint64_t> bySegment;
        batch.reserve(taken.size());
        for (auto& pending : taken) {
            if (pending.segment) ++bySegment[pending.segment];
            batch.push_back(std::move(pending.line));
        }
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
        if (!batch.empty()) writeBatch(batch);
        if (_backlogSize > 0) drainBacklog(lastBacklogTry);
        {
            // Inserted, spooled with fdatasync, or dropped as bad: the segments no longer need these rows.
            std::lock_guard lock(_mutex);
            for (const auto& [segment, count] : bySegment) segmentCommitted(segment, count);
            _busy = false;
        }
        _drained.notify_all();
    }
    // Rows spilled while the last batches were written: into the database now rather than at the next start.
    if (!_databaseDown && _spoolBytes > 0) replaySpool();
    // Last chance for rows kept in memory: the database or the spool (one attempt each).
    if (_backlogSize > 0) {
        lastBacklogTry = {};
        drainBacklog(lastBacklogTry);
    }
    _drained.notify_all();
}

void InteractionLog::writeBatch(const std::vector<std::string>& rows) {
    if (!_databaseDown) {
        try {
            writeRows(rows);
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

bool InteractionLog::copy(const std::vector<std::string>& rows) {
    BatchFacts facts = factsOf(rows);
    try {
        long long usageRows = _db.transaction([&](db::Connection& c) {
            if (facts.profileCount > 0 &&
                std::stoll(c.query(kLockProfilesSql, {facts.profilesJson}).at(0).str(0)) !=
                    facts.profileCount)
                throw db::DatabaseException("a profile of the batch no longer exists");
            copyIn(c, kCopySql, rows);
            return facts.usageJson.empty() ? 0LL : c.execute(kCopyUsageSql, {facts.usageJson});
        });
        _written += rows.size();
        ++_copiedBatches;
        if (usageRows > 0 && _onUsageChanged) _onUsageChanged();
        return true;
    } catch (const db::DatabaseUnavailableException&) {
        throw;
    } catch (const std::exception& error) {
        // A replayed id, a deleted profile, a value PostgreSQL rejects: the row-tolerant store decides.
        _logger.debug(
            std::string("COPY of an interaction batch failed, storing through the staging table: ") +
            error.what());
        return false;
    }
}

void InteractionLog::writeRows(const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    if (isJsonRow(rows.front()) || !copy(rows)) store(rows);
}

void InteractionLog::store(const std::vector<std::string>& rows) {
    if (rows.empty()) return;
    try {
        long long usageRows = isJsonRow(rows.front()) ? _db.execute(kInsertJsonSql, {joinRows(rows)})
                                                      : _db.transaction([&](db::Connection& c) {
                                                            c.execute(kCreateStagingSql);
                                                            copyIn(c, kCopyStagingSql, rows);
                                                            return c.execute(kInsertStagedSql);
                                                        });
        _written += rows.size();
        if (usageRows > 0 && _onUsageChanged) _onUsageChanged();
    } catch (const db::DatabaseUnavailableException&) {
        throw;
    } catch (const std::exception& error) {
        // One bad row must not sink the batch: write them one by one and drop (with a log line) what fails.
        if (rows.size() == 1) {
            ++_dropped;
            _logger.error("interaction " + rowId(rows[0]) + " dropped: " + error.what());
            return;
        }
        for (const auto& row : rows) store({row});
    }
}

void InteractionLog::appendToSpool(const std::vector<std::string>& lines, bool sync) {
    std::lock_guard lock(_spoolMutex);
    std::string joined;
    if (lines.size() > 1)
        for (const auto& line : lines) joined += line;
    const std::string& buffer = lines.size() == 1 ? lines.front() : joined;
    if (!writeAll(_spoolFd, buffer.data(), buffer.size())) {
        int error = errno;
        // Cut a partial write back so the next line starts on a line of its own.
        if (::ftruncate(_spoolFd, static_cast<off_t>(_spoolFileBytes)) != 0) {
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
    _spoolFileBytes += buffer.size();
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
                writeRows(batch);
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

bool InteractionLog::rotateSpool() {
    if (::access(_replayFile.c_str(), F_OK) == 0) return true;  // an unfinished replay goes first
    if (_spoolFileBytes == 0) return false;
    if (::rename(_spoolFile.c_str(), _replayFile.c_str()) != 0) {
        _logger.error("interaction spool " + _spoolFile + ": cannot rename for the replay (" +
                      std::strerror(errno) + ")");
        return false;
    }
    int fd = ::open(_spoolFile.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        // No new spool file: keep the old one where it was (its rows wait for the next attempt).
        int error = errno;
        if (::rename(_replayFile.c_str(), _spoolFile.c_str()) != 0) {
            // Both names gone wrong: the start() of the next process replays the replay file.
        }
        noteSpoolWrite(_spoolFile, error);
        return false;
    }
    ::close(_spoolFd);
    _spoolFd = fd;
    _spoolFileBytes = 0;
    return true;
}

bool InteractionLog::replaySpool() {
    {
        std::lock_guard lock(_spoolMutex);
        if (!rotateSpool())
            return true;  // nothing to replay, or the directory's fault (noted), not the database's
    }
    struct stat info {};
    const std::uint64_t size =
        ::stat(_replayFile.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
    std::ifstream in(_replayFile, std::ios::binary);
    std::vector<std::string> batch;
    std::string line;
    std::size_t replayed = 0;
    auto flush = [&] {
        writeRows(batch);
        replayed += batch.size();
        batch.clear();
    };
    try {
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            // A torn last line from a crash (never acknowledged: the response waited for the write).
            bool whole =
                isJsonRow(line) ? nlohmann::json::accept(line) : copyFields(line).size() == kRowColumnCount;
            if (!whole) {
                ++_dropped;
                continue;
            }
            // A batch is all COPY lines or all JSON lines (a spool from before rows were COPY lines).
            if (!batch.empty() && isJsonRow(batch.front()) != isJsonRow(line)) flush();
            line += '\n';
            batch.push_back(std::move(line));
            if (batch.size() >= _options.batchSize) flush();
        }
        flush();
    } catch (const db::DatabaseUnavailableException& error) {
        // The replay file stays; rows already inserted are skipped next time by ON CONFLICT (id).
        _logger.warning("database unavailable (" + error.message() + ") while replaying the spool " +
                        _replayFile + "; it is replayed again when the database returns");
        return false;
    }
    ::unlink(_replayFile.c_str());
    _spoolBytes -= std::min<std::uint64_t>(_spoolBytes, size);
    _logger.information("replayed " + std::to_string(replayed) + " spooled interactions");
    return true;
}

}  // namespace archestra::proxy
