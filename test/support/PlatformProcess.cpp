// PlatformProcess: fork/exec of the platform with redirected output, readiness polling and teardown.
#include "support/PlatformProcess.h"
#include "core/BuildPaths.h"

#include "support/HttpTestClient.h"

#include <Poco/File.h>
#include <Poco/TemporaryFile.h>
#include <Poco/Thread.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>

namespace archestra::test {

PlatformProcess::PlatformProcess(std::map<std::string, std::string> env, std::string dataDir)
    : _dataDir(std::move(dataDir)) {
    if (_dataDir.empty()) {
        _dataDir = Poco::TemporaryFile::tempName("/tmp/archestra-test-");
        _ownsDataDir = true;
    }
    Poco::File(_dataDir).createDirectories();
    _logFile =
        _dataDir + "/platform-" + std::to_string(::getpid()) + "-" + std::to_string(freePort()) + ".log";
    _apiPort = freePort();
    _uiPort = freePort();
    _metricsPort = freePort();
    _env = {{"ARCHESTRA_API_BASE_URL", "http://localhost:" + std::to_string(_apiPort)},
            {"ARCHESTRA_UI_PORT", std::to_string(_uiPort)},
            {"ARCHESTRA_METRICS_PORT", std::to_string(_metricsPort)},
            {"ARCHESTRA_LISTEN_ADDRESS", "127.0.0.1"},
            {"ARCHESTRA_DATA_DIR", _dataDir},
            {"ARCHESTRA_ANALYTICS", "disabled"},
            {"ARCHESTRA_LOGGING_LEVEL", "info"}};
    for (auto& [key, value] : env) _env[key] = value;
    // The bundled plugins (the secrets backend every platform needs) come after any directory the test names.
    std::string bundled = std::string(ARCHESTRA_TEST_BINARY_DIR) + "/plugins-out";
    auto& pluginDirs = _env["ARCHESTRA_PLUGINS_DIR"];
    pluginDirs = pluginDirs.empty() ? bundled : pluginDirs + ":" + bundled;
    if (_env.count("ARCHESTRA_API_BASE_URL")) {
        const std::string& url = _env["ARCHESTRA_API_BASE_URL"];
        auto colon = url.rfind(':');
        if (colon != std::string::npos && colon > 6) _apiPort = std::atoi(url.c_str() + colon + 1);
    }
}

PlatformProcess::~PlatformProcess() {
    if (running()) terminate(15000);
    if (_ownsDataDir) {
        try {
            Poco::File(_dataDir).remove(true);
        } catch (...) {
        }
    }
}

void PlatformProcess::start(const std::vector<std::string>& args) {
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        int fd = ::open(_logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::close(fd);
        }
        // Start from the test's environment minus any ARCHESTRA_* / DATABASE_URL the developer may have set.
        std::vector<std::string> envStrings;
        for (char** item = environ; *item != nullptr; ++item) {
            std::string line(*item);
            if (line.rfind("ARCHESTRA_", 0) == 0 || line.rfind("DATABASE_URL=", 0) == 0) continue;
            envStrings.push_back(line);
        }
        for (const auto& [key, value] : _env) envStrings.push_back(key + "=" + value);
        std::vector<char*> envp;
        for (auto& s : envStrings) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::vector<std::string> argStrings{ARCHESTRA_PLATFORM_BINARY};
        argStrings.insert(argStrings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argStrings) argv.push_back(s.data());
        argv.push_back(nullptr);
        ::setpgid(0, 0);
        ::execve(ARCHESTRA_PLATFORM_BINARY, argv.data(), envp.data());
        ::_exit(127);
    }
    _pid = pid;
}

bool PlatformProcess::running() const {
    if (_pid <= 0 || _exitCode) return false;
    int status = 0;
    pid_t r = ::waitpid(_pid, &status, WNOHANG);
    if (r == _pid) {
        const_cast<PlatformProcess*>(this)->_exitCode =
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return false;
    }
    return true;
}

bool PlatformProcess::waitHealthy(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return false;
        try {
            if (httpRequest(_apiPort, "GET", "/health", "", {}, 2000).status == 200) return true;
        } catch (const std::exception&) {
        }
        Poco::Thread::sleep(100);
    }
    return false;
}

bool PlatformProcess::waitReady(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return false;
        try {
            if (httpRequest(_apiPort, "GET", "/ready", "", {}, 2000).status == 200) return true;
        } catch (const std::exception&) {
        }
        Poco::Thread::sleep(100);
    }
    return false;
}

int PlatformProcess::waitExit(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return *_exitCode;
        Poco::Thread::sleep(50);
    }
    return -1;
}

int PlatformProcess::terminate(int timeout_ms) {
    if (!running()) return _exitCode.value_or(-1);
    ::kill(_pid, SIGTERM);
    int code = waitExit(timeout_ms);
    if (code == -1) {
        ::kill(-_pid, SIGKILL);
        ::kill(_pid, SIGKILL);
        waitExit(5000);
        return -1;
    }
    return code;
}

std::string PlatformProcess::output() const {
    std::ifstream in(_logFile);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

}  // namespace archestra::test
