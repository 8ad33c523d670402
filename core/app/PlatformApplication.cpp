// PlatformApplication: option handling, the start-up sequence and shutdown.
#include "core/app/PlatformApplication.h"
#include "core/BuildPaths.h"

#include "core/app/OpenApiExport.h"
#include "core/app/Subsystems.h"
#include "core/config/Logging.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"

#include <Poco/AutoPtr.h>
#include <Poco/File.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <iostream>

namespace archestra::app {

PlatformApplication::PlatformApplication() {
    setUnixOptions(true);
    // Subsystems are driven by initialize()/uninitialize() below so that a failure tears down only what
    // started.
}

PlatformApplication::~PlatformApplication() = default;

void PlatformApplication::defineOptions(Poco::Util::OptionSet& options) {
    ServerApplication::defineOptions(options);
    using Poco::Util::Option;
    using Poco::Util::OptionCallback;
    options.addOption(
        Option("help", "h", "print every setting with its default and source, then exit")
            .required(false)
            .repeatable(false)
            .callback(OptionCallback<PlatformApplication>(this, &PlatformApplication::handleHelp)));
    options.addOption(
        Option("version", "v", "print the version, then exit")
            .required(false)
            .repeatable(false)
            .callback(OptionCallback<PlatformApplication>(this, &PlatformApplication::handleVersion)));
    options.addOption(
        Option("list-plugins", "", "print the plugins found (name, kind, version, file, status), then exit")
            .required(false)
            .repeatable(false)
            .callback(OptionCallback<PlatformApplication>(this, &PlatformApplication::handleListPlugins)));
    options.addOption(
        Option("print-openapi", "",
               "print the OpenAPI document /openapi.json serves (no database needed), then exit")
            .required(false)
            .repeatable(false)
            .callback(OptionCallback<PlatformApplication>(this, &PlatformApplication::handlePrintOpenApi)));
    options.addOption(
        Option("config", "c", "read settings from a properties FILE (environment still wins)")
            .required(false)
            .repeatable(false)
            .argument("FILE")
            .callback(OptionCallback<PlatformApplication>(this, &PlatformApplication::handleConfig)));
}

void PlatformApplication::handleHelp(const std::string&, const std::string&) {
    _help = true;
    stopOptionsProcessing();
}
void PlatformApplication::handleVersion(const std::string&, const std::string&) {
    _version = true;
    stopOptionsProcessing();
}
void PlatformApplication::handleListPlugins(const std::string&, const std::string&) {
    _listPlugins = true;
}
void PlatformApplication::handlePrintOpenApi(const std::string&, const std::string&) {
    _printOpenApi = true;
}
void PlatformApplication::handleConfig(const std::string&, const std::string& value) {
    _configFile = value;
}

bool PlatformApplication::loadSettings() {
    Poco::AutoPtr<Poco::Util::PropertyFileConfiguration> file;
    std::string path = _configFile;
    if (path.empty() && Poco::File(ARCHESTRA_INSTALLED_CONF).exists()) path = ARCHESTRA_INSTALLED_CONF;
    if (!path.empty()) {
        try {
            file = new Poco::Util::PropertyFileConfiguration(path);
        } catch (const Poco::Exception& error) {
            std::cerr << "archestra-platform: cannot read settings file " << path << ": "
                      << error.displayText() << std::endl;
            _exitCode = kExitConfig;
            return false;
        }
    }
    try {
        _platform.settings = config::Settings::load(config::Settings::environment(), file.get());
    } catch (const config::SettingsException& error) {
        std::cerr << "archestra-platform: " << error.message() << std::endl;
        _exitCode = kExitConfig;
        return false;
    }
    return true;
}

void PlatformApplication::initialize(Poco::Util::Application& self) {
    // Poco's own initialisation (configuration of the application object) without its subsystem loop.
    Poco::Util::Application::initialize(self);
    if (_help || _version) return;
    if (!loadSettings()) return;
    if (_listPlugins || _printOpenApi) {
        config::configureLogging("error", "text");
        return;
    }

    _steps.emplace_back(new LoggingSubsystem(_platform));
    _steps.emplace_back(new PluginSubsystem(_platform));
    _steps.emplace_back(new DatabaseSubsystem(_platform));
    _steps.emplace_back(new HttpSubsystem(_platform));
    for (auto& step : _steps) {
        try {
            step->initialize(self);
            _started.push_back(step.get());
        } catch (const StartupError& error) {
            Poco::Logger::get("startup").fatal(std::string("start-up failed: ") + error.what());
            _exitCode = error.code();
            break;
        } catch (const Poco::Exception& error) {
            Poco::Logger::get("startup").fatal("start-up failed in " + std::string(step->name()) + ": " +
                                               error.displayText());
            _exitCode = kExitStartup;
            break;
        } catch (const std::exception& error) {
            Poco::Logger::get("startup").fatal("start-up failed in " + std::string(step->name()) + ": " +
                                               error.what());
            _exitCode = kExitStartup;
            break;
        }
    }
}

void PlatformApplication::uninitialize() {
    for (auto it = _started.rbegin(); it != _started.rend(); ++it) {
        try {
            (*it)->uninitialize();
        } catch (const std::exception& error) {
            Poco::Logger::get("shutdown").error(std::string((*it)->name()) + ": " + error.what());
        }
    }
    _started.clear();
    Poco::Util::Application::uninitialize();
}

int PlatformApplication::main(const std::vector<std::string>&) {
    if (_help) {
        Poco::Util::HelpFormatter formatter(options());
        formatter.setCommand(commandName());
        formatter.setUsage("[options]");
        formatter.setHeader(
            "Archestra Platform: security gateway for AI agents, LLM providers and MCP servers.");
        formatter.format(std::cout);
        std::cout << "\nSettings (environment > settings file > default):\n";
        try {
            std::cout << config::Settings::load(config::Settings::environment(), nullptr).describe();
        } catch (const config::SettingsException& error) {
            std::cout << "  (current environment has an invalid value: " << error.message() << ")\n"
                      << config::Settings::forTest().describe();
        }
        return EXIT_OK;
    }
    if (_version) {
        std::cout << "archestra-platform " << ARCHESTRA_VERSION << std::endl;
        return EXIT_OK;
    }
    if (_exitCode >= 0) return _exitCode;
    if (_listPlugins) {
        plugins::HostServices host(_platform.settings.dataDir());
        plugins::PluginManager manager(host);
        try {
            manager.loadDirectories(PluginSubsystem::pluginDirectories(_platform.settings), {});
        } catch (const std::exception& error) {
            std::cerr << error.what() << std::endl;
        }
        std::cout << plugins::formatPluginTable(manager.records());
        return EXIT_OK;
    }
    if (_printOpenApi) {
        exportOpenApi(_platform, std::cout);
        return EXIT_OK;
    }
    waitForTerminationRequest();
    Poco::Logger::get("shutdown").information("termination requested; stopping");
    return EXIT_OK;
}

}  // namespace archestra::app
