// Routes: system routes (/health, /ready) and the registration of each module's routes.
#include "core/app/Routes.h"

#include "core/http/Context.h"

namespace archestra::app {

namespace {

void registerSystemRoutes(Platform& platform) {
    nlohmann::json healthSchema = {{"type", "object"},
                                   {"properties",
                                    {{"name", {{"type", "string"}}},
                                     {"status", {{"type", "string"}}},
                                     {"version", {{"type", "string"}}}}}};
    const std::string healthBody = nlohmann::json{
        {"name", "Archestra Platform API"},
        {"status", "ok"},
        {"version", ARCHESTRA_VERSION}}.dump();
    platform.apiRouter.add({.method = "GET",
                            .path = "/health",
                            .operationId = "getHealth",
                            .tag = "System",
                            .summary = "Liveness: the process answers",
                            .access = http::Access::publicRoute(),
                            .response = healthSchema},
                           [healthBody](http::Context& context) {
                               context.send(200, "application/json; charset=utf-8", healthBody);
                           });
    platform.apiRouter.add({.method = "GET",
                            .path = "/ready",
                            .operationId = "getReadiness",
                            .tag = "System",
                            .summary = "Readiness: the database and every selected plugin are up",
                            .access = http::Access::publicRoute(),
                            .response = {{"type", "object"}}},
                           [&platform](http::Context& context) {
                               bool ready = false;
                               nlohmann::json report = platform.readiness.report(ready);
                               context.sendJson(ready ? 200 : 503, report);
                           });
    platform.metricsRouter.add({.method = "GET",
                                .path = "/health",
                                .operationId = "getMetricsHealth",
                                .access = http::Access::publicRoute(),
                                .hidden = true},
                               [](http::Context& context) {
                                   context.send(200, "application/json; charset=utf-8", R"({"status":"ok"})");
                               });
}

}  // namespace

void registerRoutes(Platform& platform) {
    registerSystemRoutes(platform);
}

void configureDispatchers(Platform& platform) {}

}  // namespace archestra::app
