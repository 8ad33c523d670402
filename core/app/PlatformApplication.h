// PlatformApplication: the archestra-platform process (options, ordered start-up, wait, ordered shutdown).
#pragma once

#include "core/app/Platform.h"
#include "core/app/Subsystems.h"

#include <Poco/Util/ServerApplication.h>

namespace archestra::app {

class PlatformApplication : public Poco::Util::ServerApplication {
  public:
    PlatformApplication();
    ~PlatformApplication() override;

  protected:
    void defineOptions(Poco::Util::OptionSet& options) override;
    void initialize(Poco::Util::Application& self) override;
    void uninitialize() override;
    int main(const std::vector<std::string>& args) override;

  private:
    void handleHelp(const std::string&, const std::string&);
    void handleVersion(const std::string&, const std::string&);
    void handleListPlugins(const std::string&, const std::string&);
    void handleConfig(const std::string&, const std::string& value);
    void handlePrintOpenApi(const std::string&, const std::string&);
    /// Loads settings from the environment and the properties file; false (and _exitCode) on a bad value.
    bool loadSettings();

    Platform _platform;
    std::vector<PlatformSubsystem*> _started;  ///< initialised subsystems, for reverse teardown
    std::vector<Poco::AutoPtr<PlatformSubsystem>> _steps;
    std::string _configFile;
    bool _help = false;
    bool _version = false;
    bool _listPlugins = false;
    bool _printOpenApi = false;
    int _exitCode = -1;  ///< set when start-up must end the process with this code
};

}  // namespace archestra::app
