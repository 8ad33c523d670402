// PlatformProcess: starts the real archestra-platform binary for a test, with its own ports and data
// directory.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace archestra::test {

/// One platform process. Ports are picked free on 127.0.0.1; the data directory is a fresh temporary one
/// unless given. The destructor stops the process (SIGTERM, then SIGKILL) and removes what it created.
class PlatformProcess {
  public:
    /// `env` entries override the defaults this class sets (ports, listen address, data dir, log level).
    explicit PlatformProcess(std::map<std::string, std::string> env = {}, std::string dataDir = "");
    ~PlatformProcess();

    /// Starts the process; returns immediately.
    void start(const std::vector<std::string>& args = {});
    /// Waits until GET /health on the API port answers 200; false on timeout or early exit.
    bool waitHealthy(int timeout_ms = 60000);
    /// Waits until /ready answers 200.
    bool waitReady(int timeout_ms = 60000);
    /// Runs to completion (for processes that should exit by themselves); returns the exit code or -1 on
    /// timeout.
    int waitExit(int timeout_ms);
    /// Sends SIGTERM and waits for the exit code (-1 if it had to be killed after timeout_ms).
    int terminate(int timeout_ms = 20000);
    bool running() const;

    int apiPort() const { return _apiPort; }
    int uiPort() const { return _uiPort; }
    int metricsPort() const { return _metricsPort; }
    const std::string& dataDir() const { return _dataDir; }
    /// Everything the process wrote to stdout and stderr so far.
    std::string output() const;

  private:
    std::map<std::string, std::string> _env;
    std::string _dataDir;
    bool _ownsDataDir = false;
    std::string _logFile;
    int _apiPort = 0;
    int _uiPort = 0;
    int _metricsPort = 0;
    pid_t _pid = 0;
    std::optional<int> _exitCode;
};

}  // namespace archestra::test
