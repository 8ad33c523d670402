// Platform: the objects start-up builds, owned in one place and torn down in reverse order.
#pragma once

#include "core/app/Readiness.h"
#include "core/config/Settings.h"
#include "core/http/Dispatcher.h"
#include "core/http/HttpListener.h"
#include "core/http/Router.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace archestra::db {
class Database;
class EmbeddedPostgres;
}  // namespace archestra::db
namespace archestra::plugins {
class PluginManager;
class HostServices;
}  // namespace archestra::plugins

namespace archestra::app {

/// Filled by the subsystems in start-up order; read by later subsystems and route modules.
struct Platform {
    config::Settings settings;
    Readiness readiness;

    std::unique_ptr<plugins::HostServices> host;
    std::unique_ptr<plugins::PluginManager> plugins;

    std::unique_ptr<db::EmbeddedPostgres> embeddedPostgres;
    std::unique_ptr<db::Database> database;
    std::atomic<bool> databaseReady{false};  ///< connected, migrated and seeded
    std::string databaseDescription;         ///< redacted URL or "embedded (...)" for logs

    std::string authSecret;

    http::Router apiRouter;      ///< 9000, and 3000 in front of the static UI
    http::Router metricsRouter;  ///< 9050
    std::unique_ptr<http::Dispatcher> apiDispatcher;
    std::unique_ptr<http::Dispatcher> uiDispatcher;
    std::unique_ptr<http::Dispatcher> metricsDispatcher;
    std::vector<std::unique_ptr<http::HttpListener>> listeners;
};

}  // namespace archestra::app
