// SecretsWiring: selection, creation and readiness of the secrets backend plugin.
#include "core/app/SecretsWiring.h"

#include "core/api/TokensApi.h"
#include "core/app/Platform.h"
#include "core/app/PluginSql.h"
#include "core/db/Database.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"
#include "core/secrets/PluginSecretStore.h"
#include "core/secrets/SecretsSelection.h"

#include <Poco/Logger.h>

#include <chrono>
#include <mutex>
#include <optional>

namespace archestra::app {

void startSecrets(Platform& platform, Poco::Logger& log) {
    if (!platform.host || !platform.plugins || !platform.database) return;
    platform.host->setSqlExecutor(
        [&platform](const std::string& sql, const std::vector<sdk::SqlValue>& params) {
            return runPluginSql(*platform.database, sql, params);
        });

    auto selection = secrets::selectSecretsBackend(platform.settings, platform.authSecret);
    if (selection.fallbackReason)
        log.warning("secrets: ARCHESTRA_SECRETS_MANAGER=Vault but using the database instead: " +
                    *selection.fallbackReason);
    auto store = secrets::createSecretStore(*platform.plugins, selection);
    if (store->available()) {
        log.information("secrets: backend " + selection.plugin + " active");
    } else {
        log.error("secrets: no secrets backend: " + store->unavailableReason() +
                  "; secret reads and writes answer 503");
    }
    platform.secrets = store;
    platform.host->setSecretLookup([store](const std::string& id) -> sdk::Result<std::string> {
        try {
            auto value = store->get(id);
            if (!value) return sdk::fail(sdk::ErrorCode::NotFound, "secret '" + id + "' not found");
            return value->dump();
        } catch (const std::exception& error) {
            return sdk::fail(sdk::ErrorCode::Unavailable, error.what());
        }
    });
    // A backend that is selected but fails its connectivity check (Vault sealed, the plugin throwing, the
    // database away) degrades secret reads and writes only: the proxy with client keys, the API and the UI
    // keep working, and every replica shares the backend, so it is listed under "degraded" with the reason
    // (200), not a reason to take this instance out of its Service. A backend that could not be created at
    // all (plugin missing, bad config) is a configuration error: failing (503). The check runs at most every
    // 5 s (a Vault round trip per probe would be wasteful).
    struct Probe {
        std::mutex mutex;
        std::chrono::steady_clock::time_point at{};
        std::optional<std::string> problem;
    };
    platform.readiness.add("secrets", [store, probe = std::make_shared<Probe>()] {
        if (!store->available()) return CheckResult{false, store->unavailableReason()};
        std::string detail = store->selection().plugin + " active";
        if (store->selection().fallbackReason)
            detail += " (Vault requested, using the database: " + *store->selection().fallbackReason + ")";
        std::lock_guard lock(probe->mutex);
        auto now = std::chrono::steady_clock::now();
        if (probe->at == std::chrono::steady_clock::time_point{} ||
            now - probe->at >= std::chrono::seconds(5)) {
            probe->at = now;
            try {
                store->checkConnectivity();
                probe->problem.reset();
            } catch (const std::exception& error) {
                probe->problem = error.what();
            }
        }
        if (probe->problem) return CheckResult{true, detail + ", but failing: " + *probe->problem, true};
        return CheckResult{true, detail};
    });
}

void ensureSeededTokens(Platform& platform, Poco::Logger& log) {
    if (!platform.secrets || !platform.database) return;
    // Once at start-up: the backend warns about stored secrets it cannot read (the auth secret changed).
    if (auto* store = dynamic_cast<secrets::PluginSecretStore*>(platform.secrets.get());
        store && store->available()) {
        try {
            store->checkConnectivity();
        } catch (const std::exception& error) {
            log.warning(std::string("secrets: backend check failed: ") + error.what());
        }
    }
    try {
        for (const auto& row : platform.database->query("SELECT id FROM organization ORDER BY created_at"))
            api::ensureTeamTokens(*platform.database, *platform.secrets, row.str("id"));
    } catch (const std::exception& error) {
        log.warning(std::string("secrets: organisation and team tokens not created yet: ") + error.what());
    }
}

}  // namespace archestra::app
