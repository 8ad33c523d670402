// OpenApiExport: registers the routes on an unconnected platform and prints the OpenAPI document.
#include "core/app/OpenApiExport.h"

#include "core/api/OpenApi.h"
#include "core/app/Routes.h"
#include "core/db/Database.h"
#include "core/secrets/PluginSecretStore.h"

namespace archestra::app {

void exportOpenApi(Platform& platform, std::ostream& out) {
    // A socket directory that cannot exist and a zero pool wait: any background thread that tries the
    // database fails at once instead of delaying exit.
    platform.database =
        std::make_unique<db::Database>("host=/nonexistent/archestra-openapi-export dbname=none", 1, 0);
    // Modules that need the secrets backend register their routes only when a store exists: one without a
    // backend (each call would answer 503) declares them without loading a plugin.
    platform.secrets = std::make_shared<secrets::PluginSecretStore>(nullptr, secrets::SecretsSelection{},
                                                                    "not started (--print-openapi)");
    registerRoutes(platform);
    nlohmann::json document = api::buildOpenApiDocument(
        platform.apiRouter, {.serverUrl = platform.settings.get("ARCHESTRA_API_BASE_URL")});
    out << document.dump(2) << std::endl;
    for (auto it = platform.shutdownHooks.rbegin(); it != platform.shutdownHooks.rend(); ++it) (*it)();
    platform.shutdownHooks.clear();
}

}  // namespace archestra::app
