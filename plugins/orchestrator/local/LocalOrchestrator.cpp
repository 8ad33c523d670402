// orchestrator.local: runs each MCP server as a child process of the platform (own process group, working
// directory under the data dir), speaks newline-delimited JSON-RPC over its stdin/stdout, keeps its stderr
// for logs, restarts it with backoff when it dies and kills it on stop and when the orchestrator is
// destroyed.
#include "archestra/sdk/plugin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using namespace archestra::sdk;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLogLines = 2000;
constexpr std::size_t kMaxLogLineBytes = 8192;
constexpr std::size_t kMaxInboxLines = 10000;
constexpr auto kStopGrace = std::chrono::milliseconds(3000);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
/// A run at least this long counts as healthy: the next crash restarts after the shortest delay again.
constexpr auto kHealthyRun = std::chrono::seconds(30);

std::string errnoText(int error) {
    return std::strerror(error);
}

/// Lower-case letters, digits and '-' only (process and directory names derive from server names).
std::string sanitize(const std::string& text) {
    std::string out;
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (std::isalnum(u))
            out += static_cast<char>(std::tolower(u));
        else if (!out.empty() && out.back() != '-')
            out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out.empty() ? "server" : out;
}

std::string describeExit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "ended (status " + std::to_string(status) + ")";
}

/// One supervised server: the current child process, its output, and the restart loop.
class ProcessServer : public std::enable_shared_from_this<ProcessServer> {
  public:
    ProcessServer(McpServerSpec spec, std::string work_dir, Host& host)
        : _spec(std::move(spec)), _workDir(std::move(work_dir)), _host(host) {}

    ~ProcessServer() { stop(); }

    /// First launch, synchronously so a command that cannot start is reported to the caller.
    Status launch() {
        std::string error;
        {
            std::unique_lock lock(_mutex);
            if (!spawnLocked(error)) {
                _state = McpServerState::Failed;
                _error = error;
                return fail(ErrorCode::InvalidArgument, error);
            }
        }
        _supervisor = std::thread([self = shared_from_this()] { self->supervise(); });
        return okStatus();
    }

    void stop() {
        pid_t pid;
        {
            std::lock_guard lock(_mutex);
            if (_stopping) {
                pid = -1;
            } else {
                _stopping = true;
                pid = _pid;
            }
            _changed.notify_all();
        }
        if (pid > 0) {
            ::kill(-pid, SIGTERM);
            std::unique_lock lock(_mutex);
            if (!_changed.wait_for(lock, kStopGrace, [&] { return _pid != pid; })) {
                appendLogLocked("[orchestrator.local] process group " + std::to_string(pid) +
                                " did not stop within 3 s of SIGTERM: killed");
                ::kill(-pid, SIGKILL);
            }
        }
        if (_supervisor.joinable()) {
            // The supervisor holds a reference too; if it turns out to be the last one, it cannot join
            // itself.
            if (_supervisor.get_id() == std::this_thread::get_id())
                _supervisor.detach();
            else
                _supervisor.join();
        }
    }

    McpServerStatus status() {
        std::lock_guard lock(_mutex);
        McpServerStatus s;
        s.state = _state;
        s.error = _error;
        s.runtime_name = "mcp-" + sanitize(_spec.name);
        if (_state == McpServerState::Running)
            s.message = "Process is running (pid " + std::to_string(_pid) + ")";
        else if (_state == McpServerState::Pending)
            s.message = "Process is restarting";
        else if (_state == McpServerState::Failed)
            s.message = "Process failed";
        else
            s.message = "Process stopped";
        if (_spec.transport == "streamable-http")
            s.endpoint_url = "http://127.0.0.1:" + std::to_string(_spec.http_port) + _spec.http_path;
        return s;
    }

    std::string logs(int lines) {
        std::lock_guard lock(_mutex);
        std::size_t count =
            std::min<std::size_t>(lines < 0 ? 0 : static_cast<std::size_t>(lines), _logs.size());
        std::string out;
        for (auto it = _logs.end() - static_cast<long>(count); it != _logs.end(); ++it) out += *it + "\n";
        return out;
    }

    /// The generation a new channel talks to; fails when no process runs now.
    Result<std::uint64_t> attach() {
        std::lock_guard lock(_mutex);
        if (_pid <= 0 || _state != McpServerState::Running)
            return fail(ErrorCode::Unavailable, "MCP server '" + _spec.name + "' is not running" +
                                                    (_error.empty() ? "" : ": " + _error));
        _inbox.clear();  // answers meant for an earlier client are of no use to the new one
        return _generation;
    }

    Status send(std::uint64_t generation, const std::string& line) {
        int fd;
        {
            std::lock_guard lock(_mutex);
            if (generation != _generation || _stdinFd < 0)
                return fail(ErrorCode::Unavailable, "MCP server '" + _spec.name + "' has exited" +
                                                        (_error.empty() ? "" : ": " + _error));
            fd = ::dup(_stdinFd);  // the supervisor may close the original when the process exits
        }
        if (fd < 0) return fail(ErrorCode::Unavailable, "cannot write to MCP server: " + errnoText(errno));
        std::string data = line + "\n";
        std::size_t written = 0;
        std::lock_guard writeLock(_writeMutex);
        while (written < data.size()) {
            ssize_t n = ::send(fd, data.data() + written, data.size() - written, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                int error = errno;
                ::close(fd);
                return fail(ErrorCode::Unavailable,
                            "cannot write to MCP server '" + _spec.name + "': " + errnoText(error));
            }
            written += static_cast<std::size_t>(n);
        }
        ::close(fd);
        return okStatus();
    }

    Result<std::optional<std::string>> receive(std::uint64_t generation, std::int64_t timeout_ms) {
        std::unique_lock lock(_mutex);
        auto ready = [&] { return generation != _generation || !_inbox.empty() || _outputClosed; };
        _changed.wait_for(lock, std::chrono::milliseconds(std::max<std::int64_t>(timeout_ms, 0)), ready);
        if (generation == _generation && !_inbox.empty()) {
            std::string line = std::move(_inbox.front());
            _inbox.pop_front();
            return std::optional<std::string>(std::move(line));
        }
        if (generation != _generation || _outputClosed)
            return fail(ErrorCode::Unavailable,
                        "MCP server '" + _spec.name + "' has exited" + (_error.empty() ? "" : ": " + _error));
        return std::optional<std::string>();
    }

  private:
    void appendLogLocked(std::string line) {
        if (line.size() > kMaxLogLineBytes) line = line.substr(0, kMaxLogLineBytes) + "...";
        _logs.push_back(std::move(line));
        while (_logs.size() > kMaxLogLines) _logs.pop_front();
    }

    std::vector<std::string> childEnvironment() const {
        std::map<std::string, std::string> env;
        for (char** entry = environ; entry && *entry; ++entry) {
            std::string text = *entry;
            auto eq = text.find('=');
            if (eq == std::string::npos) continue;
            std::string key = text.substr(0, eq);
            // The platform's own settings (database URL, auth secret, keys) are not the server's business.
            if (key.rfind("ARCHESTRA_", 0) == 0 || key == "DATABASE_URL") continue;
            env[key] = text.substr(eq + 1);
        }
        for (const auto& [key, value] : _spec.env) env[key] = value;
        std::vector<std::string> out;
        for (const auto& [key, value] : env) out.push_back(key + "=" + value);
        return out;
    }

    /// Starts a child for the next generation. Holds _mutex. On failure `error` says why.
    bool spawnLocked(std::string& error) {
        std::error_code ec;
        std::filesystem::create_directories(_workDir, ec);
        if (ec) {
            error = "cannot create working directory " + _workDir + ": " + ec.message();
            return false;
        }
        int in[2], out[2], err[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
            error = "socketpair failed: " + errnoText(errno);
            return false;
        }
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
            error = "pipe failed: " + errnoText(errno);
            ::close(in[0]);
            ::close(in[1]);
            return false;
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[1], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_adddup2(&actions, err[1], 2);
        posix_spawn_file_actions_addchdir_np(&actions, _workDir.c_str());
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT}) sigaddset(&defaults, sig);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setpgroup(&attr, 0);  // own process group: stop() signals the server and its children
        posix_spawnattr_setflags(&attr,
                                 POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

        std::vector<std::string> argvText = {_spec.command};
        argvText.insert(argvText.end(), _spec.arguments.begin(), _spec.arguments.end());
        std::vector<char*> argv;
        for (auto& a : argvText) argv.push_back(a.data());
        argv.push_back(nullptr);
        std::vector<std::string> envText = childEnvironment();
        std::vector<char*> envp;
        for (auto& e : envText) envp.push_back(e.data());
        envp.push_back(nullptr);

        pid_t pid = -1;
        int rc = ::posix_spawnp(&pid, _spec.command.c_str(), &actions, &attr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        ::close(in[1]);
        ::close(out[1]);
        ::close(err[1]);
        if (rc != 0) {
            ::close(in[0]);
            ::close(out[0]);
            ::close(err[0]);
            error = "cannot run command '" + _spec.command + "': " + errnoText(rc);
            appendLogLocked("[orchestrator.local] " + error);
            return false;
        }
        ++_generation;
        _pid = pid;
        _stdinFd = in[0];
        _stdoutFd = out[0];
        _stderrFd = err[0];
        _outputClosed = false;
        _inbox.clear();
        _state = McpServerState::Running;
        _error.clear();
        _startedAt = Clock::now();
        std::string commandLine;
        for (const auto& a : argvText) commandLine += (commandLine.empty() ? "" : " ") + a;
        appendLogLocked("[orchestrator.local] started pid " + std::to_string(pid) + " in " + _workDir + ": " +
                        commandLine);
        return true;
    }

    /// Reads the child's stdout (JSON-RPC lines to the inbox, anything else to the log) and stderr (log)
    /// until both end.
    void pump(int stdoutFd, int stderrFd, std::uint64_t generation) {
        std::string outBuffer, errBuffer;
        bool outOpen = true, errOpen = true;
        char chunk[65536];
        while (outOpen || errOpen) {
            pollfd fds[2] = {{outOpen ? stdoutFd : -1, POLLIN, 0}, {errOpen ? stderrFd : -1, POLLIN, 0}};
            int n = ::poll(fds, 2, 500);
            if (n < 0 && errno != EINTR) break;
            for (int i = 0; i < 2; ++i) {
                if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                ssize_t got = ::read(fds[i].fd, chunk, sizeof chunk);
                if (got <= 0) {
                    (i == 0 ? outOpen : errOpen) = false;
                    continue;
                }
                std::string& buffer = i == 0 ? outBuffer : errBuffer;
                buffer.append(chunk, static_cast<std::size_t>(got));
                std::size_t start = 0;
                std::vector<std::string> lines;
                for (std::size_t nl = buffer.find('\n'); nl != std::string::npos;
                     nl = buffer.find('\n', start)) {
                    std::string line = buffer.substr(start, nl - start);
                    if (!line.empty() && line.back() == '\r') line.pop_back();
                    lines.push_back(std::move(line));
                    start = nl + 1;
                }
                buffer.erase(0, start);
                if (lines.empty()) continue;
                std::lock_guard lock(_mutex);
                for (auto& line : lines) {
                    auto first = line.find_first_not_of(" \t");
                    bool jsonRpc = i == 0 && first != std::string::npos && line[first] == '{';
                    if (jsonRpc && generation == _generation) {
                        _inbox.push_back(std::move(line));
                        while (_inbox.size() > kMaxInboxLines) _inbox.pop_front();
                    } else if (!line.empty()) {
                        appendLogLocked(std::move(line));
                    }
                }
                _changed.notify_all();
            }
        }
        std::lock_guard lock(_mutex);
        if (!errBuffer.empty()) appendLogLocked(errBuffer);
        if (!outBuffer.empty()) appendLogLocked(outBuffer);
    }

    void supervise() {
        auto backoff = std::chrono::milliseconds(1000);
        while (true) {
            pid_t pid;
            int outFd, errFd;
            std::uint64_t generation;
            {
                std::lock_guard lock(_mutex);
                pid = _pid;
                outFd = _stdoutFd;
                errFd = _stderrFd;
                generation = _generation;
            }
            if (pid > 0) {
                std::thread reader([&] { pump(outFd, errFd, generation); });
                int status = 0;
                while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
                }
                ::kill(-pid, SIGKILL);  // leftovers of the group (children the server started) go with it
                reader.join();
                std::lock_guard lock(_mutex);
                ::close(outFd);
                ::close(errFd);
                ::close(_stdinFd);
                _stdinFd = _stdoutFd = _stderrFd = -1;
                _pid = -1;
                _outputClosed = true;
                std::string what = "process " + std::to_string(pid) + " " + describeExit(status);
                if (Clock::now() - _startedAt >= kHealthyRun) backoff = std::chrono::milliseconds(1000);
                if (_stopping) {
                    appendLogLocked("[orchestrator.local] " + what + " (stopped)");
                    _state = McpServerState::Succeeded;
                } else {
                    // Keep the last thing the server said on stderr: it usually names the problem.
                    std::string last;
                    for (auto it = _logs.rbegin(); it != _logs.rend(); ++it)
                        if (it->rfind("[orchestrator.local]", 0) != 0) {
                            last = *it;
                            break;
                        }
                    _error = what + (last.empty() ? "" : " (last output: " + last + ")");
                    _state = McpServerState::Failed;
                    appendLogLocked("[orchestrator.local] " + what + "; restarting in " +
                                    std::to_string(backoff.count()) + " ms");
                    _host.logger().log(LogLevel::Warning, "MCP server '" + _spec.name + "' " + what);
                }
                _changed.notify_all();
            }
            std::unique_lock lock(_mutex);
            if (_stopping) return;
            if (_changed.wait_for(lock, backoff, [&] { return _stopping; })) return;
            backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
            std::string error;
            if (!spawnLocked(error)) {
                _state = McpServerState::Failed;
                _error = error;
            }
            _changed.notify_all();
        }
    }

    McpServerSpec _spec;
    std::string _workDir;
    Host& _host;
    std::mutex _mutex;
    std::mutex _writeMutex;
    std::condition_variable _changed;
    McpServerState _state = McpServerState::Pending;
    std::string _error;
    pid_t _pid = -1;
    int _stdinFd = -1, _stdoutFd = -1, _stderrFd = -1;
    bool _outputClosed = false;
    bool _stopping = false;
    std::uint64_t _generation = 0;
    Clock::time_point _startedAt;
    std::deque<std::string> _inbox;
    std::deque<std::string> _logs;
    std::thread _supervisor;
};

class ProcessChannel : public McpChannel {
  public:
    ProcessChannel(std::shared_ptr<ProcessServer> server, std::uint64_t generation)
        : _server(std::move(server)), _generation(generation) {}
    Status send(const std::string& line) override {
        if (_closed) return fail(ErrorCode::Unavailable, "channel closed");
        return _server->send(_generation, line);
    }
    Result<std::optional<std::string>> receive(std::int64_t timeout_ms) override {
        if (_closed) return fail(ErrorCode::Unavailable, "channel closed");
        return _server->receive(_generation, timeout_ms);
    }
    void close() noexcept override { _closed = true; }

  private:
    std::shared_ptr<ProcessServer> _server;
    std::uint64_t _generation;
    std::atomic<bool> _closed{false};
};

class LocalOrchestrator : public Orchestrator {
  public:
    LocalOrchestrator(Host& host) : _host(host) {}
    ~LocalOrchestrator() override {
        std::map<std::string, std::shared_ptr<ProcessServer>> servers;
        {
            std::lock_guard lock(_mutex);
            servers.swap(_servers);
        }
        // Stop them in parallel: each may take the SIGTERM grace period.
        std::vector<std::thread> stoppers;
        for (auto& [id, server] : servers) stoppers.emplace_back([server = server] { server->stop(); });
        for (auto& t : stoppers) t.join();
    }

    Result<McpServerStatus> start(const McpServerSpec& spec) override {
        if (spec.command.empty()) {
            if (!spec.image.empty())
                return fail(
                    ErrorCode::InvalidArgument,
                    "orchestrator.local runs commands, not container images: MCP server '" + spec.name +
                        "' has dockerImage '" + spec.image +
                        "' and no command (add a command to the catalog item, or run the platform with "
                        "ARCHESTRA_ORCHESTRATOR=kubernetes)");
            return fail(ErrorCode::InvalidArgument, "MCP server '" + spec.name + "' has no command to run");
        }
        std::shared_ptr<ProcessServer> server;
        {
            std::lock_guard lock(_mutex);
            auto it = _servers.find(spec.server_id);
            if (it != _servers.end()) {
                auto current = it->second->status();
                if (current.state == McpServerState::Running || current.state == McpServerState::Pending)
                    return current;  // reuse the running server, as the interface promises
            }
        }
        (void)stop(spec.server_id);  // a failed one is replaced
        server = std::make_shared<ProcessServer>(spec, workDirOf(spec.server_id), _host);
        {
            std::lock_guard lock(_mutex);
            _servers[spec.server_id] = server;
        }
        auto launched = server->launch();
        if (!launched.ok()) {
            // Keep the failed server registered so its logs and error stay readable.
            return fail(launched.error().code, launched.error().message);
        }
        if (!spec.image.empty())
            _host.logger().log(LogLevel::Info, "MCP server '" + spec.name +
                                                   "': running its command locally; dockerImage '" +
                                                   spec.image + "' is ignored by orchestrator.local");
        return server->status();
    }

    Status stop(const std::string& server_id) override {
        std::shared_ptr<ProcessServer> server;
        {
            std::lock_guard lock(_mutex);
            auto it = _servers.find(server_id);
            if (it == _servers.end())
                return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' is not running");
            server = it->second;
            _servers.erase(it);
        }
        server->stop();
        std::error_code ec;
        std::filesystem::remove_all(workDirOf(server_id), ec);
        return okStatus();
    }

    Result<McpServerStatus> restart(const McpServerSpec& spec) override {
        auto stopped = stop(spec.server_id);
        if (!stopped.ok() && stopped.error().code != ErrorCode::NotFound) return stopped.error();
        return start(spec);
    }

    Result<McpServerStatus> status(const std::string& server_id) override {
        auto server = find(server_id);
        if (!server) {
            McpServerStatus s;
            s.state = McpServerState::NotCreated;
            s.message = "Process not created";
            return s;
        }
        return server->status();
    }

    Result<std::string> logs(const std::string& server_id, int lines) override {
        auto server = find(server_id);
        if (!server) return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' is not running here");
        return server->logs(lines);
    }

    Result<std::unique_ptr<McpChannel>> connect(const std::string& server_id) override {
        auto server = find(server_id);
        if (!server) return fail(ErrorCode::NotFound, "MCP server '" + server_id + "' is not running");
        auto generation = server->attach();
        if (!generation.ok()) return generation.error();
        return std::unique_ptr<McpChannel>(std::make_unique<ProcessChannel>(server, generation.value()));
    }

  private:
    std::shared_ptr<ProcessServer> find(const std::string& id) {
        std::lock_guard lock(_mutex);
        auto it = _servers.find(id);
        return it == _servers.end() ? nullptr : it->second;
    }
    std::string workDirOf(const std::string& server_id) const {
        return _host.dataDirectory() + "/mcp-servers/" + sanitize(server_id);
    }

    Host& _host;
    std::mutex _mutex;
    std::map<std::string, std::shared_ptr<ProcessServer>> _servers;
};

Status registerFactories(Registrar& registrar) {
    OrchestratorFactory factory;
    factory.name = "local";
    factory.config_schema_json = R"({"type":"object"})";
    factory.create = [](Host& host, const std::string&) -> Result<std::unique_ptr<Orchestrator>> {
        return std::unique_ptr<Orchestrator>(std::make_unique<LocalOrchestrator>(host));
    };
    return registrar.addOrchestrator(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
