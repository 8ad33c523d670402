// Routes: system routes (/health, /ready) and the registration of each module's routes.
#include "core/app/Routes.h"

#include "core/api/AgentToolsApi.h"
#include "core/api/AgentsApi.h"
#include "core/api/DualLlmApi.h"
#include "core/api/LimitsApi.h"
#include "core/api/OpenApi.h"
#include "core/api/OptimizationRulesApi.h"
#include "core/api/OrganizationApi.h"
#include "core/api/PoliciesApi.h"
#include "core/api/PromptsApi.h"
#include "core/api/SecretsApi.h"
#include "core/api/StatisticsApi.h"
#include "core/api/TeamsApi.h"
#include "core/api/TokenPricesApi.h"
#include "core/api/TokensApi.h"
#include "core/api/ToolsApi.h"
#include "core/app/TelemetryWiring.h"
#include "core/auth/AuthRoutes.h"
#include "core/auth/AuthService.h"
#include "core/auth/sso/HostHttpClient.h"
#include "core/auth/sso/SsoBroker.h"
#include "core/chat/ChatApi.h"
#include "core/gateway/McpGateway.h"
#include "core/http/Context.h"
#include "core/mcp/InstallationRequestsApi.h"
#include "core/mcp/McpApi.h"
#include "core/mcp/McpOAuth.h"
#include "core/mcp/McpRegistry.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"
#include "core/proxy/ProxyModule.h"
#include "core/secrets/PluginSecretStore.h"
#include "core/telemetry/TelemetryModule.h"

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
    platform.apiRouter.add(
        {.method = "GET",
         .path = "/ready",
         .operationId = "getReadiness",
         .tag = "System",
         .summary = "Readiness: 200 while this instance can take traffic (status ready, or degraded naming "
                    "what is reduced); 503 while starting, shutting down or unable to serve",
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
    // Telemetry first: /metrics on the metrics listener, exporters from the telemetry.* plugins; it stops
    // last.
    platform.telemetry = std::make_shared<telemetry::TelemetryModule>(platform.settings);
    platform.telemetry->registerRoutes(platform.metricsRouter);
    if (platform.plugins) platform.telemetry->attachPlugins(*platform.plugins);
    platform.shutdownHooks.push_back([&platform] { platform.telemetry->stop(); });
    if (platform.database) {  // the database subsystem always sets it; a bare Platform in a test may not
        platform.auth = std::make_shared<auth::AuthService>(
            *platform.database, auth::AuthOptions::fromSettings(platform.settings, platform.authSecret));
        auth::registerAuthRoutes(platform.apiRouter, platform.auth);
        auth::registerMemberRoutes(platform.apiRouter, platform.auth);
        // Team and organisation writes can switch TOON compression: the proxy (built below) reloads.
        auto toonChanged = [&platform] {
            if (platform.proxy) platform.proxy->cache().invalidate();
        };
        api::registerTeamRoutes(platform.apiRouter, platform.auth, toonChanged);
        api::registerOrganizationRoutes(platform.apiRouter, platform.auth, toonChanged);
        // Secrets backend status and the MCP gateway's organisation/team tokens (values in platform.secrets).
        if (auto store = std::dynamic_pointer_cast<secrets::PluginSecretStore>(platform.secrets)) {
            api::registerSecretsRoutes(platform.apiRouter, store);
            api::registerTokenRoutes(platform.apiRouter, platform.auth, store);
        }
        // Single sign-on: the broker (core/auth/sso) over the sso.* plugins, which get the host's HTTP
        // client.
        if (platform.host) platform.host->setHttpClient(auth::sso::sendHttpRequest);
        // The routes hold the broker (shared_from_this), so it lives as long as the router.
        auto ssoBroker = std::make_shared<auth::sso::SsoBroker>(
            platform.auth,
            [&platform](const std::string& plugin,
                        const std::string& config) -> sdk::Result<std::shared_ptr<sdk::SsoProvider>> {
                if (!platform.plugins)
                    return sdk::fail(sdk::ErrorCode::Unavailable, "the plugin manager is not running");
                return platform.plugins->createSso(plugin, config);
            },
            platform.settings.get("ARCHESTRA_API_BASE_URL"));
        ssoBroker->registerRoutes(platform.apiRouter);

        // LLM proxy: its cache and log threads start now, before the listeners open; the log flushes after
        // they close.
        platform.proxy = std::make_shared<proxy::ProxyModule>(platform.settings, *platform.database);
        platform.proxy->registerRoutes(platform.apiRouter, [&platform](const http::Context& c) {
            return platform.auth->hasPermission(c.requirePrincipal(), "profile", "admin");
        });
        platform.proxy->proxy().setObserver(platform.telemetry->llmObserver());
        addTelemetryGauges(platform);
        platform.proxy->start();
        platform.shutdownHooks.push_back([&platform] { platform.proxy->stop(); });
        // A spool directory that cannot be written (disk full) degrades durability, not the proxy: /ready
        // says so and stays 200.
        platform.readiness.add("interaction_spool", [&platform] {
            auto problem = platform.proxy->interactionLog().spoolProblem();
            if (problem) return CheckResult{true, *problem, true};
            return CheckResult{true, "writable"};
        });
        // Profile writes drop the proxy's cached profiles (read lazily: the proxy is built just above).
        api::registerAgentRoutes(platform.apiRouter, platform.auth, [&platform] {
            if (platform.proxy) platform.proxy->cache().invalidate();
        });
        api::registerPolicyRoutes(platform.apiRouter, platform.auth, [&platform] {
            if (platform.proxy) platform.proxy->cache().invalidate();
        });
        // MCP registry: orchestrator plugin, installs and tool discovery; its connections are the
        // ToolExecutor the MCP gateway calls. Stopped (servers killed) after the listeners close.
        platform.mcpRegistry = std::make_shared<mcp::McpRegistry>(
            platform.settings, *platform.database, platform.plugins.get(),
            [&platform] { return platform.secrets; },
            [&platform] {
                if (platform.proxy) platform.proxy->cache().invalidate();
            });
        platform.mcpRegistry->start();
        platform.auth->setOrchestratorSource(
            [registry = platform.mcpRegistry] { return registry->orchestratorName(); });
        platform.toolExecutor = platform.mcpRegistry->connections();
        mcp::registerMcpRoutes(platform.apiRouter, platform.auth, platform.mcpRegistry);
        mcp::registerInstallationRequestRoutes(platform.apiRouter, platform.auth, platform.mcpRegistry,
                                               [registry = platform.mcpRegistry](const nlohmann::json& body) {
                                                   return mcp::createCatalogItem(*registry, body);
                                               });
        platform.shutdownHooks.push_back([&platform] { platform.mcpRegistry->stop(); });
        // MCP OAuth: the browser comes back to the Admin UI's /oauth-callback page, which posts code+state.
        {
            mcp::McpOAuth::Options oauthOptions;
            oauthOptions.redirectUri =
                (platform.settings.frontendUrlExplicit()
                     ? platform.settings.frontendUrl()
                     : "http://localhost:" + std::to_string(platform.settings.uiPort())) +
                "/oauth-callback";
            auto oauth = std::make_shared<mcp::McpOAuth>(
                *platform.database, [&platform] { return platform.secrets; }, oauthOptions);
            oauth->onServerReauthorized(
                [registry = std::weak_ptr(platform.mcpRegistry)](const std::string& id) {
                    if (auto r = registry.lock()) r->connections()->drop(id);
                });
            platform.mcpRegistry->setAuthorizationSource(
                [oauth](const std::string& secretId, const std::string& rejected) {
                    return oauth->authorization(secretId, rejected);
                });
            platform.mcpRegistry->setSecretRevoker(
                [oauth](const std::string& secretId) { oauth->revoke(secretId); });
            mcp::registerOAuthRoutes(platform.apiRouter, oauth);
        }
        // Tools, costs, limits, optimization, statistics: writes reload the proxy's snapshot; the limit list
        // first resets the limits whose period is over.
        auto proxyChanged = [&platform] {
            if (platform.proxy) platform.proxy->cache().invalidate();
        };
        api::registerToolRoutes(platform.apiRouter, platform.auth);
        api::registerAgentToolRoutes(platform.apiRouter, platform.auth, proxyChanged);
        api::registerTokenPriceRoutes(platform.apiRouter, platform.auth, proxyChanged);
        api::registerLimitRoutes(platform.apiRouter, platform.auth,
                                 {.onChange = proxyChanged, .beforeRead = [&platform] {
                                      if (platform.proxy) platform.proxy->limits().cleanupDue();
                                  }});
        api::registerOptimizationRuleRoutes(platform.apiRouter, platform.auth, proxyChanged);
        api::registerStatisticsRoutes(platform.apiRouter, platform.auth);
        api::registerDualLlmRoutes(platform.apiRouter, platform.auth, proxyChanged);
        api::registerPromptRoutes(platform.apiRouter, platform.auth);
        // MCP gateway (/v1/mcp): judges calls with the proxy's profile cache, so both paths apply the same
        // policies; the tool executor is read per call.
        auto gatewayOptions = gateway::GatewayOptions::fromSettings(platform.settings);
        gatewayOptions.database = platform.database.get();
        gatewayOptions.auth = platform.auth;
        gatewayOptions.profiles = &platform.proxy->cache();
        gatewayOptions.toolExecutor = [&platform] { return platform.toolExecutor; };
        gatewayOptions.onPolicyChange = proxyChanged;
        gatewayOptions.limits = &platform.proxy->limits();
        gatewayOptions.tracing = platform.telemetry ? &platform.telemetry->pipeline() : nullptr;
        platform.gateway = std::make_shared<gateway::McpGateway>(std::move(gatewayOptions));
        platform.gateway->registerRoutes(platform.apiRouter);
        platform.stoppingHooks.push_back([gateway = platform.gateway] { gateway->stopStreams(); });
        // Chat: model calls through this process's own LLM proxy (the API listener), tools through the
        // gateway's in-process client, so the chat meets the same guardrails as any agent.
        chat::ChatOptions chatOptions;
        chatOptions.auth = platform.auth;
        chatOptions.secrets = [&platform] { return platform.secrets; };
        chatOptions.gateway = platform.gateway;
        std::string listen = platform.settings.get("ARCHESTRA_LISTEN_ADDRESS");
        chatOptions.proxyHost = listen.empty() || listen == "0.0.0.0" ? "127.0.0.1"
                                : listen == "::"                      ? "::1"
                                                                      : listen;
        chatOptions.proxyPort = platform.settings.apiPort();
        chatOptions.anthropicApiKey = platform.settings.get("ARCHESTRA_CHAT_ANTHROPIC_API_KEY");
        chatOptions.openAiApiKey = platform.settings.get("ARCHESTRA_CHAT_OPENAI_API_KEY");
        chatOptions.geminiApiKey = platform.settings.get("ARCHESTRA_CHAT_GEMINI_API_KEY");
        chat::registerChatRoutes(platform.apiRouter, std::move(chatOptions));
    }
    startTelemetry(platform);
    // Last: the document is a snapshot of the routes declared so far.
    api::registerOpenApiRoute(platform.apiRouter,
                              {.serverUrl = platform.settings.get("ARCHESTRA_API_BASE_URL")});
}

void configureDispatchers(Platform& platform) {
    for (auto* dispatcher : {platform.apiDispatcher.get(), platform.uiDispatcher.get()})
        if (dispatcher) dispatcher->setAuthenticator(platform.auth);
    for (auto* dispatcher : {platform.apiDispatcher.get(), platform.uiDispatcher.get()})
        if (dispatcher && platform.telemetry) dispatcher->addObserver(platform.telemetry->httpObserver());
}

}  // namespace archestra::app
