// The start-up steps of DESIGN.md as Poco subsystems: initialised in this order, torn down in reverse.
#pragma once

#include "core/app/Platform.h"

#include <Poco/Util/Subsystem.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace archestra::app {

/// Exit code for configuration mistakes (bad setting, unparsable database URL).
constexpr int kExitConfig = 2;
/// Exit code for other start-up failures (selected plugin broken, port taken, migration failed).
constexpr int kExitStartup = 1;

/// A start-up failure with the exit code it should produce.
class StartupError : public std::runtime_error {
  public:
    StartupError(int code, const std::string& message) : std::runtime_error(message), _code(code) {}
    int code() const { return _code; }

  private:
    int _code;
};

class PlatformSubsystem : public Poco::Util::Subsystem {
  public:
    explicit PlatformSubsystem(Platform& platform) : _platform(platform) {}
    // Public here (protected in Poco) so the application can drive the steps and stop after a failure.
    void initialize(Poco::Util::Application& app) override = 0;
    void uninitialize() override = 0;

  protected:
    Platform& _platform;
};

/// 2. Logging at ARCHESTRA_LOGGING_LEVEL.
class LoggingSubsystem : public PlatformSubsystem {
  public:
    using PlatformSubsystem::PlatformSubsystem;
    const char* name() const override { return "logging"; }
    void initialize(Poco::Util::Application&) override;
    void uninitialize() override {}
};

/// 3. Plugins: scan, check, load; selected ones must load.
class PluginSubsystem : public PlatformSubsystem {
  public:
    using PlatformSubsystem::PlatformSubsystem;
    const char* name() const override { return "plugins"; }
    void initialize(Poco::Util::Application&) override;
    void uninitialize() override;
    /// Plugin directories in scan order.
    static std::vector<std::string> pluginDirectories(const config::Settings& settings);
    /// Names configuration requires.
    static std::set<std::string> selectedPlugins(const config::Settings& settings);
};

/// 4. Database: external URL or the embedded server; connect (retrying in the background), migrate.
/// 5. Auth secret and first-run seeding run once the database answers.
class DatabaseSubsystem : public PlatformSubsystem {
  public:
    using PlatformSubsystem::PlatformSubsystem;
    const char* name() const override { return "database"; }
    void initialize(Poco::Util::Application&) override;
    void uninitialize() override;

  private:
    /// Connects, migrates and seeds; returns false when the database is unreachable (retry later).
    bool bringUp();
    void retryLoop();

    std::thread _retryThread;
    std::mutex _mutex;
    std::condition_variable _wake;
    bool _stopping = false;
};

/// 7. Listeners open last: API, UI, metrics.
class HttpSubsystem : public PlatformSubsystem {
  public:
    using PlatformSubsystem::PlatformSubsystem;
    const char* name() const override { return "http"; }
    void initialize(Poco::Util::Application&) override;
    void uninitialize() override;
};

}  // namespace archestra::app
