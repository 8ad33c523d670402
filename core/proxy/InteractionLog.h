// Interaction log: every proxied LLM call, appended to a write-ahead segment file on the request thread (so a
// killed process loses nothing it acknowledged), written asynchronously in batches; spooled to disk while the
// database is away and replayed when it returns.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace Poco {
class Logger;
}
namespace archestra::db {
class Database;
}

namespace archestra::proxy {

/// One row of `interactions`. Built by the request thread, serialised by the writer thread.
struct InteractionRecord {
    std::string id;  ///< UUID v4, chosen at enqueue time so a replayed spool never duplicates a row
    std::string profileId;
    std::optional<std::string> externalAgentId;
    std::string
        type;  ///< openai:chatCompletions | anthropic:messages | gemini:generateContent | <p>:passthrough
    std::string provider;                      ///< openai | anthropic | gemini
    std::string model;                         ///< what went upstream
    std::optional<std::string> originalModel;  ///< the client's model when an optimization rule changed it
    std::optional<std::string> optimizedModel;
    nlohmann::json request;  ///< client body (null when it was not JSON)
    /// The client's body text when `request` is its parse (unchanged): the row stores this text instead of
    /// serialising the DOM again. Empty: `request` is serialised.
    std::string requestText;
    nlohmann::json processedRequest;  ///< body sent upstream when it differs; else null
    nlohmann::json response;          ///< upstream body, blocked body, or the assembled stream message
    std::string responseText;         ///< like requestText, for `response`
    int statusCode = 0;
    std::optional<std::int64_t> inputTokens;
    std::optional<std::int64_t> outputTokens;
    std::optional<double> baselineCost;
    std::optional<double> cost;
    std::optional<std::int64_t> toonTokensBefore;  ///< estimated tokens of the tool results TOON replaced
    std::optional<std::int64_t> toonTokensAfter;
    std::optional<double> toonCostSavings;  ///< (before - after) at the model's input price, USD
    bool blocked = false;
    std::int64_t duration_ms = 0;
    std::optional<std::int64_t> timeToFirstToken_ms;
    nlohmann::json decisions;  ///< {"context":..., "toolCalls":[...]} with reasons; null when none
    std::string createdAt;     ///< RFC 3339 UTC with milliseconds

    nlohmann::json toJson() const&;  ///< the row as a JSON object (snake_case columns)
    nlohmann::json toJson() &&;      ///< the same, moving the bodies instead of copying them
};

struct InteractionLogOptions {
    std::size_t capacity = 20000;  ///< queued records; beyond this they go straight to the spool file
    /// Bytes of queued rows; beyond this they go straight to the spool file too. What bounds the memory
    /// while the database falls behind (a row is its body sizes plus ~0.3 KB).
    std::size_t capacityBytes = 4u << 20;
    std::size_t batchSize = 200;
    long flushInterval_ms = 100;
    long retry_ms = 1000;  ///< while the database is away: how often to probe it
    /// Write-ahead segments: a new one starts when the current one passes this size, so a segment whose
    /// entries are all committed can be deleted even under steady load.
    std::uint64_t segmentBytes = 4u << 20;
    bool writeAhead = true;  ///< false: the pre-WAL behaviour (entries only in memory until written)
    /// Rows kept in memory while neither the database nor the spool file can take them (disk full and the
    /// database away); written as soon as either comes back. Rows beyond it are dropped and counted.
    std::size_t backlogRows = 20000;
};

/// Thread-safe; enqueue() never waits for the database (a full queue spills to the spool file instead).
///
/// Durability: enqueue() appends the row to this process's write-ahead segment (<spool dir>/wal-*.jsonl) with
/// one write(2) before it returns, and the proxy calls it before the response's last bytes go out. No fsync:
/// the page cache survives a killed process (SIGKILL, OOM kill, crash), not a power cut or a kernel panic.
/// A segment is deleted once every row in it is committed (or moved to the fsync'd spool while the database
/// is away). At start(), segments left by a dead process (those nobody holds an flock on) are appended to the
/// spool and replayed; rows carry their id, so a row that did reach the database is skipped (ON CONFLICT).
///
/// A row has one form from enqueue() on: a line of COPY text (tab-separated columns, newline-terminated), the
/// same bytes in the queue, the segments, the spool and the COPY. A batch (fresh or replayed) is written with
/// one COPY straight into `interactions` (all or nothing); a batch the server rejects (a replayed id among
/// others) goes through a per-session temporary staging table and INSERT ... ON CONFLICT (id) DO NOTHING,
/// which stores each id once and counts token usage only for rows it inserted. So a batch whose COMMIT reply
/// was lost (committed or not, the writer cannot tell) is spooled and replayed without duplicates or losses.
class InteractionLog {
  public:
    /// `spoolDir` is created when needed (<data dir>/spool).
    InteractionLog(db::Database& database, std::string spoolDir, InteractionLogOptions options = {});
    ~InteractionLog();
    InteractionLog(const InteractionLog&) = delete;
    InteractionLog& operator=(const InteractionLog&) = delete;

    /// Called on the writer thread after limit usage counters changed (the profile cache reloads them).
    void setUsageListener(std::function<void()> listener) { _onUsageChanged = std::move(listener); }

    void start();
    /// Writes everything queued (to the database, or the spool when it is away) and stops the writer.
    void stop();

    void enqueue(InteractionRecord record);

    /// Blocks until the queue is empty and nothing is spooled, or the timeout passes; true when drained.
    /// For tests and shutdown reporting.
    bool waitUntilDrained(long timeout_ms);

    std::size_t queueDepth() const;
    /// Bytes held by the queued rows (bounded by capacityBytes).
    std::size_t queueBytes() const;
    std::uint64_t spoolBytes() const { return _spoolBytes.load(); }
    std::uint64_t rowsWritten() const { return _written.load(); }
    std::uint64_t rowsDropped() const { return _dropped.load(); }
    /// Rows held in memory because neither the database nor the spool file could take them.
    std::uint64_t backlogRows() const { return _backlogSize.load(); }
    std::uint64_t rowsSpooled() const { return _spooled.load(); }
    /// Batches written by COPY (the fast path); the others went through the row-tolerant INSERT.
    std::uint64_t batchesCopied() const { return _copiedBatches.load(); }
    bool databaseAvailable() const { return !_databaseDown.load(); }
    const std::string& spoolFile() const { return _spoolFile; }
    /// Rows recovered at start() from segments a killed process left behind.
    std::uint64_t rowsRecovered() const { return _recovered.load(); }
    /// Failed writes to the spool directory (write-ahead segments and the spool file), e.g. ENOSPC.
    std::uint64_t spoolWriteErrors() const { return _spoolWriteErrors.load(); }
    /// Why the spool directory cannot be written, when the last write to it failed (cleared by the next write
    /// that succeeds); nullopt while it is healthy. While it fails, acknowledged rows live only in memory
    /// until written (the database is up), or are lost (it is away).
    std::optional<std::string> spoolProblem() const;

  private:
    /// One row waiting for the writer: its COPY text line and the segment that holds it.
    struct Pending {
        std::string line;
        std::uint64_t segment = 0;
    };
    struct Segment {
        std::string path;
        int fd = -1;
        std::uint64_t bytes = 0;        ///< reserved (lines written or being written)
        std::uint64_t uncommitted = 0;  ///< rows reserved and not yet committed by the writer
        bool broken = false;            ///< a write failed part way: the next row starts a new segment
    };
    /// Room for one line in a segment, reserved under _mutex and written without it.
    struct SegmentSlot {
        std::uint64_t number = 0;  ///< 0: the row goes into no segment (write-ahead off or cannot open)
        int fd = -1;
        std::uint64_t offset = 0;  ///< the segment's size before the reservation
    };
    /// Under _mutex: reserves `size` bytes in the current segment (opening a new one when needed). The
    /// reservation counts as uncommitted, so the segment (and its fd) outlives the write.
    SegmentSlot reserveInSegment(std::size_t size);
    /// Under _mutex: the reserved write finished (`error` = errno, 0 when the whole line went out).
    void segmentWritten(const SegmentSlot& slot, std::size_t size, int error);
    /// Under _mutex: the writer finished with `count` rows of `segment`; deletes a finished old segment and
    /// empties the current one when it holds nothing uncommitted.
    void segmentCommitted(std::uint64_t segment, std::uint64_t count);
    /// Before the writer starts: moves segments of dead processes into the spool file.
    void recoverSegments();
    void closeSegments();
    void run();
    void writeBatch(const std::vector<std::string>& rows);
    /// The fast path: COPY of the whole batch plus its usage counters in one transaction. False when the
    /// server rejected it (the caller stores the rows instead); throws DatabaseUnavailableException.
    bool copy(const std::vector<std::string>& rows);
    /// Writes rows: by copy() when they are COPY lines, else (or when the COPY is rejected) by store().
    void writeRows(const std::vector<std::string>& rows);
    /// Stores rows idempotently (ON CONFLICT (id) DO NOTHING), all COPY lines or all JSON object lines (a
    /// spool written before rows were COPY lines); a batch the server rejects is retried row by row and a
    /// row it rejects alone is dropped and counted. Throws DatabaseUnavailableException when the server is
    /// gone.
    void store(const std::vector<std::string>& rows);
    void appendToSpool(const std::vector<std::string>& lines, bool sync);
    /// Records the outcome of a write to the spool directory (`error` = errno, 0 when it succeeded).
    void noteSpoolWrite(const std::string& path, int error);
    /// Replays the spool: under _spoolMutex the spool file becomes the replay file and a fresh spool file
    /// takes what request threads spill meanwhile (they never wait for the database); the replay file is
    /// then written without the lock and deleted. False when the database went away meanwhile.
    bool replaySpool();
    /// Under _spoolMutex: renames the spool file to the replay file and opens a new spool file. True when
    /// there is a replay file to replay (just renamed, or left by a replay that did not finish).
    bool rotateSpool();
    /// Under _spoolMutex: keeps rows no one could take in the backlog, up to its bound; drops and counts
    /// the rest.
    void keepInBacklog(std::vector<std::string> lines);
    /// Writer thread: hands the backlog to the database (when up) or the spool file (at most every
    /// retry_ms while the database is away); what still fails goes back to the backlog.
    void drainBacklog(std::chrono::steady_clock::time_point& lastTry);

    db::Database& _db;
    std::string _spoolDir;
    std::string _spoolFile;
    std::string _replayFile;  // the spool being replayed (<spool dir>/interactions.replay.jsonl)
    InteractionLogOptions _options;
    Poco::Logger& _logger;

    mutable std::mutex _mutex;
    std::condition_variable _wake;
    std::condition_variable _drained;
    std::deque<Pending> _queue;
    std::size_t _queueBytes = 0;                 // capacity of the queued lines (under _mutex)
    std::map<std::uint64_t, Segment> _segments;  // by number; the last one is current
    std::uint64_t _nextSegment = 1;
    std::uint64_t _segmentWriters = 0;      // enqueue() calls writing a reserved line (under _mutex)
    std::condition_variable _segmentsIdle;  // _segmentWriters reached 0 while closeSegments() waits
    bool _closingSegments = false;
    std::string _segmentPrefix;  // <spool dir>/wal-<start ms>-<pid>-
    bool _stopping = false;
    bool _busy = false;  // the writer holds records taken from the queue

    std::mutex _spoolMutex;
    int _spoolFd = -1;
    std::uint64_t _spoolFileBytes =
        0;  // size of the spool file (under _spoolMutex); _spoolBytes adds the replay
    std::deque<std::string> _backlog;  // under _spoolMutex
    std::atomic<std::uint64_t> _backlogSize{0};
    std::atomic<std::uint64_t> _spoolBytes{0};
    std::atomic<std::uint64_t> _written{0};
    std::atomic<std::uint64_t> _dropped{0};
    std::atomic<std::uint64_t> _spooled{0};
    std::atomic<std::uint64_t> _copiedBatches{0};
    std::atomic<std::uint64_t> _recovered{0};
    std::atomic<bool> _databaseDown{false};
    std::atomic<std::uint64_t> _spoolWriteErrors{0};
    mutable std::mutex _problemMutex;
    std::optional<std::string> _spoolProblem;   // under _problemMutex
    std::atomic<bool> _hasSpoolProblem{false};  // _spoolProblem is set: a success must take the lock
    std::function<void()> _onUsageChanged;
    std::thread _writer;
};

/// Now as RFC 3339 UTC with milliseconds ("2025-01-02T03:04:05.678Z").
std::string nowRfc3339();
/// The same for `ms` milliseconds since the Unix epoch.
std::string rfc3339Millis(std::int64_t ms);

}  // namespace archestra::proxy
