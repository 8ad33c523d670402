// OpenApiExport: registers the routes on an unconnected platform and prints the OpenAPI document.
#include "core/app/OpenApiExport.h"

#include "core/api/OpenApi.h"
#include "core/app/Routes.h"
#include "core/db/Database.h"

namespace archestra::app {

void exportOpenApi(Platform& platform, std::ostream& out) {
    // A socket directory that cannot exist and a zero pool wait: any background thread that tries the
    // database fails at once instead of delaying exit.
    platform.database =
        std::make_unique<db::Database>("host=/nonexistent/archestra-openapi-export dbname=none", 1, 0);
    registerRoutes(platform);
    nlohmann::json document = api::buildOpenApiDocument(
        platform.apiRouter, {.serverUrl = platform.settings.get("ARCHESTRA_API_BASE_URL")});
    out << document.dump(2) << std::endl;
    for (auto it = platform.shutdownHooks.rbegin(); it != platform.shutdownHooks.rend(); ++it) (*it)();
    platform.shutdownHooks.clear();
}

}  // namespace archestra::app
