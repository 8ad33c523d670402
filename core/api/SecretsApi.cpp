// /api/secrets/type and /api/secrets/check-connectivity over the active secrets backend.
#include "core/api/SecretsApi.h"

#include "core/auth/Schema.h"
#include "core/http/Context.h"
#include "core/secrets/PluginSecretStore.h"

namespace archestra::api {

void registerSecretsRoutes(http::Router& router, std::shared_ptr<secrets::PluginSecretStore> store) {
    using namespace auth::schema;
    using http::Access;
    using http::Context;
    using nlohmann::json;
    const std::string tag = "Secrets";

    router.add({.method = "GET",
                .path = "/api/secrets/type",
                .operationId = "getSecretsType",
                .tag = tag,
                .summary = "The active secrets backend (DB or Vault) and its non-secret settings",
                .access = Access::permission("organization", "read"),
                .response = object({{"type", enumOf({"DB", "Vault"})},
                                    {"meta", {{"type", "object"}, {"additionalProperties", string()}}}},
                                   {"type", "meta"})},
               [store](Context& c) {
                   auto description = store->describe();
                   json meta = json::object();
                   for (const auto& [key, value] : description.meta) meta[key] = value;
                   c.sendJson(200, json{{"type", description.type}, {"meta", meta}});
               });
    router.add({.method = "POST",
                .path = "/api/secrets/check-connectivity",
                .operationId = "checkSecretsConnectivity",
                .tag = tag,
                .summary = "Reach the secrets backend and count the secrets it holds",
                .access = Access::permission("organization", "update"),
                .response = object({{"secretCount", integer()}}, {"secretCount"})},
               [store](Context& c) {
                   c.sendJson(200, json{{"secretCount", store->checkConnectivity()}});
               });
}

}  // namespace archestra::api
