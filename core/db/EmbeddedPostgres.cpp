// Embedded PostgreSQL: binaries discovery, initdb, a supervised postmaster on a private Unix socket.
#include "core/db/EmbeddedPostgres.h"

#include "core/db/DatabaseUrl.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>
#include <Poco/Path.h>

#include <libpq-fe.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>

namespace archestra::db {
namespace {

constexpr int kPort = 5432;
constexpr const char* kSuperuser = "archestra";
// sockaddr_un.sun_path is 108 bytes including the terminating NUL.
constexpr size_t kMaxSocketPath = 107;

bool hasServerBinaries(const std::string& dir) {
    return !dir.empty() && ::access((dir + "/postgres").c_str(), X_OK) == 0 &&
           ::access((dir + "/initdb").c_str(), X_OK) == 0;
}

std::string runCapture(const std::string& command) {
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
        char buf[512];
        while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        ::pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

std::string describeStatus(int status) {
    if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(std::string dataDir, Poco::Logger* logger)
    : _dataDir(Poco::Path(dataDir).absolute().toString(Poco::Path::PATH_UNIX)),
      _logger(logger ? *logger : Poco::Logger::get("archestra.db.embedded")) {
    while (_dataDir.size() > 1 && _dataDir.back() == '/') _dataDir.pop_back();
    _logFile = _dataDir + ".log";
    _socketDir = _dataDir;
    if (_socketDir.size() + std::string("/.s.PGSQL.5432").size() > kMaxSocketPath) {
        std::ostringstream hash;
        hash << std::hex << std::hash<std::string>{}(_dataDir);
        _socketDir = "/tmp/archestra-pg-" + hash.str().substr(0, 12);
    }
}

EmbeddedPostgres::~EmbeddedPostgres() {
    try {
        stop();
    } catch (...) {
        // Destructors must not throw; stop() already logged what went wrong.
    }
}

std::string EmbeddedPostgres::findBinDir() {
    std::string fromPgConfig = runCapture("pg_config --bindir 2>/dev/null");
    if (hasServerBinaries(fromPgConfig)) return fromPgConfig;
    std::string best;
    int bestVersion = -1;
    Poco::File root("/usr/lib/postgresql");
    if (root.exists() && root.isDirectory()) {
        std::vector<std::string> names;
        root.list(names);
        for (const auto& name : names) {
            int version = std::atoi(name.c_str());
            std::string dir = "/usr/lib/postgresql/" + name + "/bin";
            if (version > bestVersion && hasServerBinaries(dir)) {
                best = dir;
                bestVersion = version;
            }
        }
    }
    if (best.empty()) {
        throw Poco::FileNotFoundException(
            "PostgreSQL server binaries (initdb, postgres) not found: pg_config --bindir gave '" +
            fromPgConfig +
            "' and /usr/lib/postgresql/*/bin has none; install PostgreSQL (Debian: apt-get install "
            "postgresql) "
            "or set ARCHESTRA_DATABASE_URL to an external database");
    }
    return best;
}

void EmbeddedPostgres::prepareDirectories() {
    if (::geteuid() == 0) {
        // The server refuses to run as root, so a container running as root hands it to the postgres user.
        struct passwd* pw = ::getpwnam("postgres");
        if (!pw) {
            throw Poco::SystemException(
                "the embedded PostgreSQL cannot run as root and there is no 'postgres' system user; create "
                "it "
                "(the postgresql package does) or set ARCHESTRA_DATABASE_URL");
        }
        _asPostgresUser = true;
        _uid = pw->pw_uid;
        _gid = pw->pw_gid;
    }
    Poco::File(_dataDir).createDirectories();
    ::chmod(_dataDir.c_str(), 0700);
    if (_asPostgresUser) {
        if (::chown(_dataDir.c_str(), _uid, _gid) != 0) {
            throw Poco::SystemException("cannot chown the embedded PostgreSQL data directory " + _dataDir +
                                        " to user 'postgres'");
        }
        // Every ancestor must be searchable by the postgres user (a clone under /root, mode 700, is not).
        std::vector<std::string> granted;
        Poco::Path path(_dataDir);
        std::string prefix;
        for (int i = 0; i < path.depth(); ++i) {
            prefix += "/" + path[i];
            struct stat st {};
            if (::stat(prefix.c_str(), &st) != 0) continue;
            bool searchable = (st.st_uid == _uid && (st.st_mode & S_IXUSR)) ||
                              (st.st_gid == _gid && (st.st_mode & S_IXGRP)) || (st.st_mode & S_IXOTH);
            if (!searchable) {
                ::chmod(prefix.c_str(), (st.st_mode & 07777) | S_IXOTH);
                granted.push_back(prefix);
            }
        }
        if (!granted.empty()) {
            std::string list;
            for (const auto& g : granted) list += (list.empty() ? "" : ", ") + g;
            _logger.warning(
                "granted search permission (o+x) on %s so the 'postgres' user can reach the embedded "
                "PostgreSQL data directory %s",
                list, _dataDir);
        }
    }
    if (_socketDir != _dataDir) {
        _logger.information(
            "data directory path %s is too long for a Unix socket path (max %z bytes); using "
            "socket directory %s",
            _dataDir, kMaxSocketPath, _socketDir);
        Poco::File(_socketDir).createDirectories();
        ::chmod(_socketDir.c_str(), 0700);
        if (_asPostgresUser && ::chown(_socketDir.c_str(), _uid, _gid) != 0) {
            throw Poco::SystemException("cannot chown the socket directory " + _socketDir +
                                        " to user 'postgres'");
        }
    }
}

int EmbeddedPostgres::spawn(const std::vector<std::string>& args, bool serverProcess) {
    // Everything the child needs is prepared before fork: only async-signal-safe calls happen after it.
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    int logFd = ::open(_logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logFd < 0) throw Poco::IOException("cannot open the embedded PostgreSQL log file " + _logFile);
    int nullFd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::vector<gid_t> groups(64);
    int ngroups = static_cast<int>(groups.size());
    if (_asPostgresUser) {
        if (::getgrouplist("postgres", _gid, groups.data(), &ngroups) < 0) ngroups = 1, groups[0] = _gid;
    }
    long maxFd = std::min<long>(::sysconf(_SC_OPEN_MAX), 65536);
    bool asUser = _asPostgresUser;
    uid_t uid = _uid;
    gid_t gid = _gid;

    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(logFd);
        ::close(nullFd);
        throw Poco::SystemException("fork failed starting " + args[0]);
    }
    if (pid == 0) {
        ::setpgid(0, 0);  // our terminal's Ctrl-C must not reach the server: we stop it ourselves, in order
        sigset_t
            none;  // the platform blocks its termination signals (core/app/Main.cpp); the server must not
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::dup2(nullFd, 0);
        ::dup2(logFd, 1);
        ::dup2(logFd, 2);
        for (long fd = 3; fd < maxFd; ++fd) ::close(static_cast<int>(fd));
        if (asUser) {
            if (::setgroups(ngroups, groups.data()) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)
                ::_exit(126);
        }
        // Set after setuid (which clears it): if the platform dies, its server shuts down cleanly.
        if (serverProcess) ::prctl(PR_SET_PDEATHSIG, SIGINT);
        if (::chdir("/") != 0) ::_exit(126);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(logFd);
    ::close(nullFd);
    return pid;
}

std::string EmbeddedPostgres::logTail() const {
    std::ifstream in(_logFile);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::string out;
    for (size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i)
        out += "\n  " + lines[i];
    return out;
}

void EmbeddedPostgres::start() {
    if (_pid.load() > 0) return;
    _stopping = false;
    _binDir = findBinDir();
    prepareDirectories();
    if (!Poco::File(_dataDir + "/PG_VERSION").exists()) {
        _logger.information("initialising embedded PostgreSQL in %s (binaries %s)", _dataDir, _binDir);
        int pid = spawn({_binDir + "/initdb", "-D", _dataDir, "-U", kSuperuser, "-A", "trust", "-E", "UTF8",
                         "--locale=C", "--no-sync"},
                        false);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            throw Poco::IOException("initdb for the embedded PostgreSQL in " + _dataDir + " failed (" +
                                    describeStatus(status) + "); log " + _logFile + ":" + logTail());
        }
    }
    std::lock_guard lock(_processMutex);
    int pid = launch();
    try {
        waitUntilAccepting(pid, 60000);
    } catch (...) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        _pid = 0;
        throw;
    }
    ensureDatabase("archestra");
    _logger.information("embedded PostgreSQL running (pid %d) at %s", pid, url());
}

int EmbeddedPostgres::launch() {
    int pid = spawn(
        {_binDir + "/postgres", "-D", _dataDir, "-p", std::to_string(kPort), "-c", "listen_addresses=", "-c",
         "unix_socket_directories=" + _socketDir, "-c", "unix_socket_permissions=0700"},
        true);
    _pid = pid;
    return pid;
}

void EmbeddedPostgres::waitUntilAccepting(int pid, long timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    std::string conninfo = connectionString("postgres") + " connect_timeout=2";
    while (std::chrono::steady_clock::now() < deadline) {
        if (PQping(conninfo.c_str()) == PQPING_OK) return;
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            throw Poco::IOException("embedded PostgreSQL in " + _dataDir + " exited during start-up (" +
                                    describeStatus(status) + "); log " + _logFile + ":" + logTail());
        }
        ::usleep(100 * 1000);
    }
    throw Poco::TimeoutException("embedded PostgreSQL in " + _dataDir +
                                 " did not accept connections within " + std::to_string(timeout_ms) +
                                 " ms; log " + _logFile + ":" + logTail());
}

void EmbeddedPostgres::ensureDatabase(const std::string& name) {
    PGconn* conn = PQconnectdb(connectionString("postgres").c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string why = PQerrorMessage(conn);
        PQfinish(conn);
        throw Poco::IOException("cannot connect to the embedded PostgreSQL at " + url("postgres") + ": " +
                                why);
    }
    const char* params[] = {name.c_str()};
    PGresult* r = PQexecParams(conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, nullptr, params,
                               nullptr, nullptr, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    if (!exists) {
        char* ident = PQescapeIdentifier(conn, name.c_str(), name.size());
        r = PQexec(conn, ("CREATE DATABASE " + std::string(ident)).c_str());
        PQfreemem(ident);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        std::string why = PQresultErrorMessage(r);
        PQclear(r);
        // 42P04: created meanwhile by someone else, which is what we wanted.
        if (!ok && why.find("already exists") == std::string::npos) {
            PQfinish(conn);
            throw Poco::IOException("cannot create database '" + name +
                                    "' in the embedded PostgreSQL: " + why);
        }
    }
    PQfinish(conn);
}

void EmbeddedPostgres::stop() {
    _stopping = true;
    if (_supervisor.joinable()) _supervisor.join();
    std::lock_guard lock(_processMutex);
    int pid = _pid.load();
    if (pid <= 0) return;
    ::kill(pid, SIGINT);
    int status = 0;
    auto waitFor = [&](long ms) {
        for (long waited = 0; waited < ms; waited += 50) {
            if (::waitpid(pid, &status, WNOHANG) == pid) return true;
            ::usleep(50 * 1000);
        }
        return false;
    };
    if (!waitFor(30000)) {
        _logger.warning("embedded PostgreSQL (pid %d) did not stop within 30 s; sending SIGQUIT", pid);
        ::kill(pid, SIGQUIT);
        if (!waitFor(5000)) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        }
    }
    _pid = 0;
    _logger.information("embedded PostgreSQL (pid %d) stopped", pid);
}

void EmbeddedPostgres::superviseInBackground() {
    if (_supervisor.joinable()) return;
    _supervisor = std::thread([this] { superviseLoop(); });
}

void EmbeddedPostgres::superviseLoop() {
    while (!_stopping) {
        ::usleep(200 * 1000);
        std::lock_guard lock(_processMutex);
        int pid = _pid.load();
        int status = 0;
        if (_stopping || pid <= 0 || ::waitpid(pid, &status, WNOHANG) != pid) continue;
        _pid = 0;
        _logger.error("embedded PostgreSQL (pid %d) died unexpectedly (%s); restarting it", pid,
                      describeStatus(status));
        // Orphaned backends of a killed postmaster keep its shared memory for a moment, so early attempts may
        // fail.
        long delay_ms = 200;
        for (int attempt = 1; !_stopping; ++attempt) {
            try {
                int newPid = launch();
                waitUntilAccepting(newPid, 30000);
                ++_restarts;
                _logger.warning("embedded PostgreSQL restarted (pid %d) after %d attempt(s)", newPid,
                                attempt);
                break;
            } catch (const Poco::Exception& e) {
                if (_pid.load() > 0 && ::waitpid(_pid.load(), nullptr, WNOHANG) == 0) {
                    ::kill(_pid.load(), SIGKILL);
                    ::waitpid(_pid.load(), nullptr, 0);
                }
                _pid = 0;
                _logger.error("restarting embedded PostgreSQL failed (attempt %d): %s", attempt,
                              e.displayText());
                ::usleep(delay_ms * 1000);
                delay_ms = std::min(delay_ms * 2, 5000L);
            }
        }
    }
}

std::string EmbeddedPostgres::connectionString(const std::string& database) const {
    return "host=" + quoteConnectionValue(_socketDir) + " port=" + std::to_string(kPort) +
           " user=" + kSuperuser + " dbname=" + quoteConnectionValue(database);
}

std::string EmbeddedPostgres::url(const std::string& database) const {
    std::string out = "postgresql://";
    out.append(kSuperuser).append("@/").append(database).append("?host=").append(_socketDir);
    return out;
}

}  // namespace archestra::db
