// The default database: a PostgreSQL server the platform initialises, starts, supervises and stops itself.
#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace Poco {
class Logger;
}

namespace archestra::db {

/// A private PostgreSQL under `dataDir` (initdb on first start), reachable only through a Unix socket (no
/// TCP). When the process runs as root the server runs as the `postgres` system user. Not copyable; stop() is
/// also called by the destructor.
class EmbeddedPostgres {
  public:
    explicit EmbeddedPostgres(std::string dataDir, Poco::Logger* logger = nullptr);
    ~EmbeddedPostgres();
    EmbeddedPostgres(const EmbeddedPostgres&) = delete;
    EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

    /// Finds the binaries, runs initdb if needed, starts the server and waits (up to 60 s) until it accepts
    /// connections, then makes sure the `archestra` database exists. Throws Poco::FileNotFoundException when
    /// PostgreSQL is not installed, Poco::IOException/SystemException when initdb or the server fails (with
    /// the tail of the server log).
    void start();
    /// Fast shutdown (SIGINT), escalating to SIGQUIT/SIGKILL after 30 s. Idempotent.
    void stop();
    /// Restarts the server whenever its process dies unexpectedly, logging each crash and restart.
    void superviseInBackground();

    /// libpq connection string for the `archestra` database (or `database`).
    std::string connectionString(const std::string& database = "archestra") const;
    /// postgresql:// form for logs; holds no secret (local trust authentication over a private socket).
    std::string url(const std::string& database = "archestra") const;

    const std::string& dataDir() const { return _dataDir; }
    const std::string& socketDir() const { return _socketDir; }
    const std::string& logFile() const { return _logFile; }
    /// Postmaster pid, 0 when not running.
    int pid() const { return _pid.load(); }
    /// How many crash restarts the supervisor performed.
    int restarts() const { return _restarts.load(); }

    /// pg_config --bindir if it holds initdb and postgres, else the newest /usr/lib/postgresql/<v>/bin.
    static std::string findBinDir();

  private:
    int launch();
    void waitUntilAccepting(int pid, long timeout_ms);
    void ensureDatabase(const std::string& name);
    void prepareDirectories();
    int spawn(const std::vector<std::string>& args, bool serverProcess);
    std::string logTail() const;
    void superviseLoop();

    std::string _dataDir;
    std::string _socketDir;
    std::string _logFile;
    std::string _binDir;
    Poco::Logger& _logger;
    bool _asPostgresUser = false;
    unsigned _uid = 0, _gid = 0;
    std::atomic<int> _pid{0};
    std::atomic<int> _restarts{0};
    std::atomic<bool> _stopping{false};
    std::mutex _processMutex;  // serialises waitpid/launch between the supervisor and stop()
    std::thread _supervisor;
};

}  // namespace archestra::db
