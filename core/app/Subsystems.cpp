// Start-up subsystems: each step of DESIGN.md's start-up order and its teardown.
#include "core/app/Subsystems.h"
#include "core/BuildPaths.h"

#include "core/app/Routes.h"
#include "core/app/SecretsWiring.h"
#include "core/app/TelemetryWiring.h"
#include "core/auth/Password.h"
#include "core/config/Logging.h"
#include "core/db/AuthSecret.h"
#include "core/db/Database.h"
#include "core/db/DatabaseException.h"
#include "core/db/DatabaseUrl.h"
#include "core/db/EmbeddedPostgres.h"
#include "core/db/Migrator.h"
#include "core/db/Seed.h"
#include "core/http/FileLimit.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"
#include "core/proxy/InteractionLog.h"
#include "core/proxy/ProxyModule.h"
#include "core/secrets/SecretStore.h"
#include "core/ui/StaticFiles.h"

#include <Poco/Logger.h>
#include <Poco/Path.h>
#include <Poco/String.h>
#include <Poco/StringTokenizer.h>

#include <algorithm>
#include <chrono>

namespace archestra::app {

namespace {
Poco::Logger& startupLog() {
    return Poco::Logger::get("startup");
}
}  // namespace

// ---- logging ---------------------------------------------------------------------------------------------

void LoggingSubsystem::initialize(Poco::Util::Application&) {
    config::configureLogging(_platform.settings.get("ARCHESTRA_LOGGING_LEVEL"),
                             _platform.settings.get("ARCHESTRA_LOG_FORMAT"));
}

// ---- plugins ---------------------------------------------------------------------------------------------

std::vector<std::string> PluginSubsystem::pluginDirectories(const config::Settings& settings) {
    std::vector<std::string> dirs;
    Poco::StringTokenizer parts(settings.get("ARCHESTRA_PLUGINS_DIR"), ":",
                                Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    for (const auto& part : parts) dirs.push_back(part);
    dirs.emplace_back(ARCHESTRA_INSTALLED_PLUGIN_DIR);
    return dirs;
}

std::set<std::string> PluginSubsystem::selectedPlugins(const config::Settings& settings) {
    std::set<std::string> selected;
    Poco::StringTokenizer parts(settings.get("ARCHESTRA_PLUGINS_ENABLED"), ",",
                                Poco::StringTokenizer::TOK_IGNORE_EMPTY | Poco::StringTokenizer::TOK_TRIM);
    for (const auto& part : parts) selected.insert(part);
    return selected;
}

void PluginSubsystem::initialize(Poco::Util::Application&) {
    _platform.host = std::make_unique<plugins::HostServices>(_platform.settings.dataDir());
    _platform.plugins = std::make_unique<plugins::PluginManager>(*_platform.host);
    auto selected = selectedPlugins(_platform.settings);
    try {
        _platform.plugins->loadDirectories(pluginDirectories(_platform.settings), selected);
    } catch (const plugins::PluginException& error) {
        throw StartupError(kExitStartup, "a selected plugin failed to load: " + error.message());
    }
    for (const auto& record : _platform.plugins->records()) {
        if (record.status == "loaded") {
            startupLog().information("plugin " + record.name + " (" + record.kind + " " + record.version +
                                     ") loaded from " + record.file);
        } else {
            startupLog().warning("plugin " + (record.name.empty() ? record.file : record.name) + " " +
                                 record.status + ": " + record.reason);
        }
    }
    _platform.readiness.add("plugins", [this] {
        std::string broken;
        for (const auto& record : _platform.plugins->records()) {
            if (record.status != "loaded")
                broken += (broken.empty() ? "" : "; ") + (record.name.empty() ? record.file : record.name) +
                          " " + record.status + ": " + record.reason;
        }
        // Broken plugins that configuration does not select degrade nothing: report them, stay ready.
        return CheckResult{true, broken.empty() ? "all plugins loaded" : broken};
    });
}

void PluginSubsystem::uninitialize() {
    _platform.plugins.reset();
    _platform.host.reset();
}

// ---- database
// ----------------------------------------------------------------------------------------------

void DatabaseSubsystem::initialize(Poco::Util::Application&) {
    const auto& settings = _platform.settings;
    std::map<std::string, std::string> urls;
    for (const char* name : {"ARCHESTRA_DATABASE_URL", "DATABASE_URL"})
        if (settings.isSet(name)) urls[name] = settings.get(name);
    std::string connection;
    if (auto chosen = db::selectDatabaseUrl(urls)) {
        try {
            db::DatabaseUrl url = db::DatabaseUrl::parse(chosen->second);
            connection = url.connectionString();
            _platform.databaseDescription = url.redacted();
        } catch (const Poco::Exception& error) {
            throw StartupError(kExitConfig, chosen->first +
                                                " is not a valid PostgreSQL URL: " + error.message() +
                                                " (expected postgresql://user:password@host:port/database)");
        }
    } else {
        std::string dir = Poco::Path(settings.dataDir()).makeAbsolute().append("postgres").toString();
        _platform.embeddedPostgres = std::make_unique<db::EmbeddedPostgres>(dir);
        try {
            _platform.embeddedPostgres->start();
        } catch (const Poco::Exception& error) {
            throw StartupError(kExitStartup, "embedded PostgreSQL did not start: " + error.displayText());
        }
        _platform.embeddedPostgres->superviseInBackground();
        connection = _platform.embeddedPostgres->connectionString();
        _platform.databaseDescription = "embedded PostgreSQL (" + _platform.embeddedPostgres->url() + ")";
    }
    startupLog().information("database: " + _platform.databaseDescription);
    _platform.database = std::make_unique<db::Database>(connection, 16);

    try {
        _platform.authSecret =
            db::resolveAuthSecret(settings.isSet("ARCHESTRA_AUTH_SECRET")
                                      ? std::optional<std::string>(settings.get("ARCHESTRA_AUTH_SECRET"))
                                      : std::nullopt,
                                  settings.dataDir(), startupLog());
    } catch (const Poco::InvalidArgumentException& error) {
        throw StartupError(kExitConfig, error.message());
    }
    // The secrets backend keys its encryption with the auth secret; its SQL waits for the database itself.
    startSecrets(_platform, startupLog());

    // Once the schema is in place, a database that stops answering degrades the instance but does not take it
    // out of its Service: the proxy keeps serving from its in-memory snapshots and spools interactions to
    // disk for replay, and every replica shares the database, so removing them all would turn a blip into an
    // outage. Not ready (503) only when this instance really cannot take traffic: before the schema is in
    // place, and when the database is away while the spool cannot be written either (nothing acknowledged
    // would be kept beyond the in-memory backlog).
    _platform.readiness.add("database", [this] {
        if (!_platform.databaseReady) return CheckResult{false, "waiting for the database to answer"};
        if (_platform.database->ping()) return CheckResult{true, "ok"};
        std::optional<std::string> spoolProblem;
        if (_platform.proxy) spoolProblem = _platform.proxy->interactionLog().spoolProblem();
        if (spoolProblem)
            return CheckResult{false,
                               "database does not answer, and the interaction spool cannot be written (" +
                                   *spoolProblem + ")"};
        return CheckResult{
            true,
            "database does not answer; the proxy serves from its snapshots, interactions spool to "
            "disk until it returns, API calls that need it answer 503",
            true};
    });
    _platform.readiness.add("shutdown", [this] {
        if (_platform.stopping) return CheckResult{false, "shutting down: draining in-flight requests"};
        return CheckResult{true, "running"};
    });

    if (!bringUp()) {
        startupLog().warning("database is unreachable; retrying in the background (" +
                             _platform.databaseDescription + ")");
        _retryThread = std::thread([this] { retryLoop(); });
    }
}

bool DatabaseSubsystem::bringUp() {
    try {
        if (!_platform.database->ping()) return false;
        db::Migrator migrator(*_platform.database, db::Migrator::defaultMigrationsDir());
        int applied = migrator.migrate();
        startupLog().information("database schema at version " + std::to_string(migrator.currentVersion()) +
                                 " (" + std::to_string(applied) + " migrations applied now)");
        const auto& settings = _platform.settings;
        db::SeedResult seeded = db::seed(*_platform.database, settings.get("ARCHESTRA_AUTH_ADMIN_EMAIL"),
                                         settings.get("ARCHESTRA_AUTH_ADMIN_PASSWORD"));
        if (seeded.adminHasDefaultPassword)
            startupLog().warning("the admin account " + settings.get("ARCHESTRA_AUTH_ADMIN_EMAIL") +
                                 " still has the default password: change it in Settings > Account");
        ensureSeededTokens(_platform, startupLog());
        _platform.databaseReady = true;
        return true;
    } catch (const db::SchemaTooNewException& error) {
        throw StartupError(kExitStartup, error.message());
    } catch (const db::DatabaseUnavailableException& error) {
        startupLog().warning("database unavailable: " + error.message());
        return false;
    }
}

void DatabaseSubsystem::retryLoop() {
    auto delay = std::chrono::milliseconds(500);
    while (true) {
        {
            std::unique_lock lock(_mutex);
            if (_wake.wait_for(lock, delay, [this] { return _stopping; })) return;
        }
        try {
            if (bringUp()) {
                startupLog().information("database is reachable now; the platform is ready");
                return;
            }
        } catch (const std::exception& error) {
            startupLog().error(std::string("database bring-up failed: ") + error.what());
        }
        delay = std::min(delay * 2, std::chrono::milliseconds(10000));
        startupLog().information("database still unreachable; next attempt in " +
                                 std::to_string(delay.count()) + " ms");
    }
}

void DatabaseSubsystem::uninitialize() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    if (_retryThread.joinable()) _retryThread.join();
    _platform.database.reset();
    if (_platform.embeddedPostgres) {
        _platform.embeddedPostgres->stop();
        _platform.embeddedPostgres.reset();
    }
}

// ---- http
// --------------------------------------------------------------------------------------------------

void HttpSubsystem::initialize(Poco::Util::Application&) {
    const auto& settings = _platform.settings;
    registerRoutes(_platform);

    http::DispatcherOptions apiOptions;
    apiOptions.name = "api";
    apiOptions.maxBodyBytes = static_cast<std::size_t>(settings.getInt("ARCHESTRA_HTTP_MAX_BODY_BYTES"));
    if (settings.frontendUrlExplicit()) apiOptions.cors.origins = {settings.frontendUrl()};
    _platform.apiDispatcher = std::make_unique<http::Dispatcher>(_platform.apiRouter, apiOptions);
    http::DispatcherOptions uiOptions = apiOptions;
    uiOptions.name = "ui";
    _platform.uiDispatcher = std::make_unique<http::Dispatcher>(_platform.apiRouter, uiOptions);
    http::DispatcherOptions metricsOptions;
    metricsOptions.name = "metrics";
    metricsOptions.maxBodyBytes = 4096;
    _platform.metricsDispatcher = std::make_unique<http::Dispatcher>(_platform.metricsRouter, metricsOptions);

    for (auto* dispatcher : {_platform.apiDispatcher.get(), _platform.uiDispatcher.get()}) {
        dispatcher->addExceptionMapper([](const std::exception& error) -> std::optional<http::ApiError> {
            if (const auto* unavailable = dynamic_cast<const db::DatabaseUnavailableException*>(&error))
                return http::ApiError::unavailable("The database is unavailable, try again shortly (" +
                                                   unavailable->message() + ")");
            if (const auto* secrets = dynamic_cast<const secrets::SecretsUnavailableError*>(&error))
                return http::ApiError::unavailable(std::string("The secrets backend is unavailable: ") +
                                                   secrets->what());
            return std::nullopt;
        });
    }
    configureDispatchers(_platform);

    std::string uiDir = settings.get("ARCHESTRA_UI_DIR");
    if (uiDir.empty()) uiDir = ARCHESTRA_INSTALLED_UI_DIR;
    auto staticFiles = std::make_shared<ui::StaticFiles>(uiDir);
    _platform.uiDispatcher->setFallback(
        [staticFiles](http::Context& context) { return staticFiles->serve(context); });

    int threads = settings.getInt("ARCHESTRA_HTTP_MAX_THREADS");
    const std::string& address = settings.listenAddress();
    // A proxied stream holds two descriptors (the client's and the upstream's) for its whole length; Docker
    // and systemd start processes with a soft limit of 1,024, which a full pool would exceed.
    http::FileLimit files = http::raiseOpenFileLimit();
    const std::uint64_t wanted = 2 * static_cast<std::uint64_t>(threads + std::max(16, threads / 4)) + 256;
    if (files.soft < wanted) {
        startupLog().warning("the open-file limit is " + std::to_string(files.soft) + " (hard " +
                             std::to_string(files.hard) + "), below the " + std::to_string(wanted) +
                             " that " + std::to_string(threads) +
                             " API threads may need (two per proxied stream): raise it (ulimit -n, systemd "
                             "LimitNOFILE, docker --ulimit nofile) or lower ARCHESTRA_HTTP_MAX_THREADS");
    }
    struct Spec {
        const char* name;
        int port;
        http::Dispatcher* dispatcher;
        int threads;
    };
    for (const Spec& spec :
         {Spec{"api", settings.apiPort(), _platform.apiDispatcher.get(), threads},
          Spec{"ui", settings.uiPort(), _platform.uiDispatcher.get(), std::max(16, threads / 4)},
          Spec{"metrics", settings.metricsPort(), _platform.metricsDispatcher.get(), 4}}) {
        http::ListenerOptions options;
        options.name = spec.name;
        options.address = address;
        options.port = spec.port;
        options.maxThreads = spec.threads;
        options.headerTimeout_s = settings.getInt("ARCHESTRA_HTTP_HEADER_TIMEOUT_S");
        options.readTimeout_s = settings.getInt("ARCHESTRA_HTTP_READ_TIMEOUT_S");
        options.keepAliveTimeout_s = settings.getInt("ARCHESTRA_HTTP_KEEPALIVE_TIMEOUT_S");
        auto listener = std::make_unique<http::HttpListener>(options, *spec.dispatcher);
        try {
            listener->start();
        } catch (const Poco::Exception& error) {
            throw StartupError(kExitStartup, error.message());
        }
        _platform.listeners.push_back(std::move(listener));
    }
    addListenerGauges(_platform);
    auto& log = startupLog();
    log.information("Archestra Platform " + std::string(ARCHESTRA_VERSION) + " is up");
    std::string uiUrl = settings.frontendUrlExplicit()
                            ? settings.frontendUrl()
                            : "http://localhost:" + std::to_string(settings.uiPort());
    log.information("  Admin UI: " + uiUrl + " (listening on " + address + ":" +
                    std::to_string(settings.uiPort()) + ")");
    log.information("  API:      " + settings.get("ARCHESTRA_API_BASE_URL") + " (listening on " + address +
                    ":" + std::to_string(settings.apiPort()) + ")");
    log.information("  Metrics:  " + address + ":" + std::to_string(settings.metricsPort()) + "/metrics");
}

void HttpSubsystem::uninitialize() {
    _platform.stopping = true;
    for (auto& hook : _platform.stoppingHooks) hook();
    _platform.stoppingHooks.clear();
    // Let in-flight requests and streams finish within one bound for all listeners together
    // (ARCHESTRA_SHUTDOWN_GRACE_S): each listener stops accepting and gets what is left of it.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::seconds(_platform.settings.getInt("ARCHESTRA_SHUTDOWN_GRACE_S"));
    for (auto& listener : _platform.listeners) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        listener->stop(std::max<long>(0, static_cast<long>(left.count())));
    }
    _platform.listeners.clear();
    for (auto hook = _platform.shutdownHooks.rbegin(); hook != _platform.shutdownHooks.rend(); ++hook)
        (*hook)();
    _platform.shutdownHooks.clear();
    _platform.apiDispatcher.reset();
    _platform.uiDispatcher.reset();
    _platform.metricsDispatcher.reset();
}

}  // namespace archestra::app
