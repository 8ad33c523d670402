// /api/internal_mcp_catalog and /api/mcp_server: validation, storage (localConfig verbatim, explicit nulls
// kept), secret values moved to the secrets backend, and the hand-off to McpRegistry for runtime work.
#include "core/mcp/McpApi.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/secrets/SecretStore.h"

#include <Poco/Net/HTTPServerResponse.h>

#include <chrono>
#include <ostream>
#include <sstream>
#include <thread>

namespace archestra::mcp {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

// ---- JSON helpers ---------------------------------------------------------------------------------------

/// A jsonb column: SQL NULL and the JSON literal null both come back as null.
json jsonColumn(const db::Row& row, const std::string& column) {
    const auto& value = row.at(column);
    if (!value) return nullptr;
    json parsed = json::parse(*value, nullptr, false);
    return parsed.is_discarded() ? json(nullptr) : parsed;
}

std::string typeName(const json& value) {
    if (value.is_null()) return "null";
    if (value.is_boolean()) return "a boolean";
    if (value.is_number()) return "a number";
    if (value.is_string()) return "a string";
    if (value.is_array()) return "an array";
    return "an object";
}

[[noreturn]] void badField(const std::string& field, const std::string& expected, const json& got) {
    std::string shown = got.dump();
    if (shown.size() > 80) shown = shown.substr(0, 77) + "...";
    throw ApiError::badRequest("Field '" + field + "': expected " + expected + ", got " + typeName(got) +
                               (got.is_null() ? "" : " " + shown));
}

void expectString(const json& value, const std::string& field, bool nullable = true) {
    if ((nullable && value.is_null()) || value.is_string()) return;
    badField(field, nullable ? "a string or null" : "a string", value);
}

void expectEnum(const json& value, const std::string& field, const std::vector<std::string>& allowed) {
    if (value.is_string())
        for (const auto& option : allowed)
            if (value.get<std::string>() == option) return;
    std::string list;
    for (const auto& option : allowed) list += (list.empty() ? "" : ", ") + option;
    badField(field, "one of " + list, value);
}

void requireUuid(const json& value, const std::string& field) {
    if (!value.is_string() || !http::isUuidV4(value.get<std::string>())) badField(field, "a UUID", value);
}

std::shared_ptr<secrets::SecretStore> requireStore(McpRegistry& registry, const std::string& what) {
    auto store = registry.secretStore();
    if (!store)
        throw ApiError::unavailable("No secrets backend is available to store " + what +
                                    "; try again shortly");
    return store;
}

std::string storeSecret(secrets::SecretStore& store, const std::string& name, const json& value) {
    try {
        return store.create(name, value);
    } catch (const secrets::SecretsUnavailableError& error) {
        throw ApiError::unavailable(std::string("The secrets backend is unavailable: ") + error.what());
    }
}

// ---- catalog --------------------------------------------------------------------------------------------

const std::string kCatalogSelect =
    "SELECT c.id, c.name, c.version, c.description, c.repository, c.installation_command, c.requires_auth, "
    "c.auth_description, c.auth_fields, c.server_type, c.server_url, c.docs_url, c.client_secret_id, "
    "c.local_config_secret_id, c.local_config, c.user_config, c.oauth_config, " +
    isoSql("c.created_at") + " AS created_at, " + isoSql("c.updated_at") +
    " AS updated_at FROM internal_mcp_catalog c ";

json catalogJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"name", row.str("name")},
            {"version", auth::nullableString(row, "version")},
            {"description", auth::nullableString(row, "description")},
            {"repository", auth::nullableString(row, "repository")},
            {"installationCommand", auth::nullableString(row, "installation_command")},
            {"requiresAuth", row.boolean("requires_auth")},
            {"authDescription", auth::nullableString(row, "auth_description")},
            {"authFields", jsonColumn(row, "auth_fields")},
            {"serverType", row.str("server_type")},
            {"serverUrl", auth::nullableString(row, "server_url")},
            {"docsUrl", auth::nullableString(row, "docs_url")},
            {"clientSecretId", auth::nullableString(row, "client_secret_id")},
            {"localConfigSecretId", auth::nullableString(row, "local_config_secret_id")},
            {"localConfig", jsonColumn(row, "local_config")},
            {"userConfig", jsonColumn(row, "user_config")},
            {"oauthConfig", jsonColumn(row, "oauth_config")},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")}};
}

void validateLocalConfig(const json& config) {
    if (config.is_null()) return;
    if (!config.is_object()) badField("localConfig", "an object or null", config);
    auto optional = [&](const char* key) -> const json* {
        auto it = config.find(key);
        return it == config.end() || it->is_null() ? nullptr : &*it;
    };
    if (auto* v = optional("command")) expectString(*v, "localConfig.command");
    if (auto* v = optional("dockerImage")) expectString(*v, "localConfig.dockerImage");
    if (auto* v = optional("arguments")) {
        if (!v->is_array()) badField("localConfig.arguments", "an array of strings", *v);
        for (std::size_t i = 0; i < v->size(); ++i)
            expectString((*v)[i], "localConfig.arguments[" + std::to_string(i) + "]", false);
    }
    if (auto* v = optional("environment")) {
        if (!v->is_array()) badField("localConfig.environment", "an array of {key, type, ...}", *v);
        for (std::size_t i = 0; i < v->size(); ++i) {
            const json& entry = (*v)[i];
            std::string at = "localConfig.environment[" + std::to_string(i) + "]";
            if (!entry.is_object()) badField(at, "an object", entry);
            if (!entry.contains("key") || !entry["key"].is_string() ||
                entry["key"].get<std::string>().empty())
                badField(at + ".key", "a non-empty string", entry.value("key", json(nullptr)));
            if (entry.contains("type"))
                expectEnum(entry["type"], at + ".type", {"plain_text", "secret", "boolean", "number"});
            if (entry.contains("value") && !entry["value"].is_null() && !entry["value"].is_string())
                badField(at + ".value", "a string", entry["value"]);
            for (const char* flag : {"promptOnInstallation", "required"})
                if (entry.contains(flag) && !entry[flag].is_boolean() && !entry[flag].is_null())
                    badField(at + "." + flag, "a boolean", entry[flag]);
        }
    }
    if (auto* v = optional("transportType"))
        expectEnum(*v, "localConfig.transportType", {"stdio", "streamable-http"});
    if (auto* v = optional("httpPort"))
        if (!v->is_number_integer() || v->get<long long>() < 1 || v->get<long long>() > 65535)
            badField("localConfig.httpPort", "an integer port 1..65535", *v);
    if (auto* v = optional("httpPath")) expectString(*v, "localConfig.httpPath");
    bool hasCommand = config.contains("command") && config["command"].is_string() &&
                      !config["command"].get<std::string>().empty();
    bool hasImage = config.contains("dockerImage") && config["dockerImage"].is_string() &&
                    !config["dockerImage"].get<std::string>().empty();
    if (!hasCommand && !hasImage)
        throw ApiError::badRequest("Field 'localConfig': expected a 'command' or a 'dockerImage'");
}

/// Column updates parsed from a catalog body. Present fields only; explicit nulls are kept as null.
struct CatalogWrite {
    std::vector<std::pair<std::string, std::string>> columns;  ///< column -> SQL placeholder cast
    std::vector<db::Value> params;
    json localConfig;  ///< as it will be stored (secret values stripped)
    bool localConfigGiven = false;
    json localSecrets = json::object();  ///< key -> value moved out of localConfig
    json oauthConfig;
    bool oauthGiven = false;
    std::optional<std::string> clientSecret;

    void add(const std::string& column, db::Value value, const std::string& cast = "") {
        params.push_back(std::move(value));
        columns.emplace_back(column, "$" + std::to_string(params.size()) + cast);
    }
};

CatalogWrite parseCatalogBody(const json& body, bool create) {
    CatalogWrite w;
    if (create) {
        if (!body.contains("name")) throw ApiError::badRequest("Field 'name': required");
        if (!body.contains("serverType")) throw ApiError::badRequest("Field 'serverType': required");
    }
    static const std::vector<std::pair<std::string, std::string>> kText = {
        {"version", "version"},
        {"description", "description"},
        {"repository", "repository"},
        {"installationCommand", "installation_command"},
        {"authDescription", "auth_description"},
        {"serverUrl", "server_url"},
        {"docsUrl", "docs_url"}};
    if (body.contains("name")) {
        const json& name = body["name"];
        if (!name.is_string() || name.get<std::string>().empty())
            badField("name", "a non-empty string", name);
        w.add("name", name.get<std::string>());
    }
    if (body.contains("serverType")) {
        expectEnum(body["serverType"], "serverType", {"local", "remote"});
        w.add("server_type", body["serverType"].get<std::string>());
    }
    for (const auto& [field, column] : kText) {
        if (!body.contains(field)) continue;
        expectString(body[field], field);
        w.add(column, body[field].is_null() ? db::Value() : db::Value(body[field].get<std::string>()));
    }
    if (body.contains("requiresAuth")) {
        const json& v = body["requiresAuth"];
        if (!v.is_boolean() && !v.is_null()) badField("requiresAuth", "a boolean", v);
        w.add("requires_auth", v.is_boolean() && v.get<bool>() ? "true" : "false", "::boolean");
    }
    if (body.contains("authFields")) {
        const json& v = body["authFields"];
        if (!v.is_null() && !v.is_array()) badField("authFields", "an array or null", v);
        if (v.is_array())
            for (std::size_t i = 0; i < v.size(); ++i)
                if (!v[i].is_object()) badField("authFields[" + std::to_string(i) + "]", "an object", v[i]);
        w.add("auth_fields", v.dump(),
              "::jsonb");  // jsonb 'null' keeps an explicit null (column is NOT NULL)
    }
    if (body.contains("userConfig")) {
        const json& v = body["userConfig"];
        if (!v.is_null() && !v.is_object()) badField("userConfig", "an object or null", v);
        w.add("user_config", v.dump(), "::jsonb");
    }
    for (const auto& [field, column] : std::vector<std::pair<std::string, std::string>>{
             {"clientSecretId", "client_secret_id"}, {"localConfigSecretId", "local_config_secret_id"}}) {
        if (!body.contains(field)) continue;
        if (!body[field].is_null()) requireUuid(body[field], field);
        w.add(column, body[field].is_null() ? db::Value() : db::Value(body[field].get<std::string>()),
              "::uuid");
    }
    if (body.contains("localConfig")) {
        validateLocalConfig(body["localConfig"]);
        w.localConfigGiven = true;
        w.localConfig = body["localConfig"];
        // Static secret values go to the secrets backend; everything else is stored exactly as sent.
        if (w.localConfig.is_object() && w.localConfig.contains("environment") &&
            w.localConfig["environment"].is_array())
            for (auto& entry : w.localConfig["environment"])
                if (entry.value("type", std::string()) == "secret" &&
                    !entry.value("promptOnInstallation", false) && entry.contains("value") &&
                    entry["value"].is_string()) {
                    w.localSecrets[entry["key"].get<std::string>()] = entry["value"];
                    entry.erase("value");
                }
    }
    if (body.contains("oauthConfig")) {
        const json& v = body["oauthConfig"];
        if (!v.is_null() && !v.is_object()) badField("oauthConfig", "an object or null", v);
        w.oauthGiven = true;
        w.oauthConfig = v;
        if (v.is_object() && v.contains("client_secret")) {
            expectString(v["client_secret"], "oauthConfig.client_secret");
            if (v["client_secret"].is_string()) w.clientSecret = v["client_secret"].get<std::string>();
            w.oauthConfig.erase("client_secret");
        }
    }
    // A local entry without localConfig is accepted: installing it then reports the missing command.
    return w;
}

json loadCatalog(db::Database& db, const std::string& id) {
    auto rows = db.query(kCatalogSelect + "WHERE c.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Catalog item not found");
    return catalogJson(rows[0]);
}

json catalogSchema() {
    using namespace auth::schema;
    json anyObject = {{"type", "object"}, {"additionalProperties", true}};
    return object({{"id", string()},
                   {"name", string()},
                   {"version", nullableString()},
                   {"description", nullableString()},
                   {"repository", nullableString()},
                   {"installationCommand", nullableString()},
                   {"requiresAuth", boolean()},
                   {"authDescription", nullableString()},
                   {"authFields", nullable(array(anyObject))},
                   {"serverType", enumOf({"local", "remote"})},
                   {"serverUrl", nullableString()},
                   {"docsUrl", nullableString()},
                   {"clientSecretId", nullableString()},
                   {"localConfigSecretId", nullableString()},
                   {"localConfig", nullable(anyObject)},
                   {"userConfig", nullable(anyObject)},
                   {"oauthConfig", nullable(anyObject)},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "name", "serverType", "createdAt", "updatedAt"});
}

json catalogBodySchema(bool create) {
    using namespace auth::schema;
    json anyObject = {{"type", "object"}, {"additionalProperties", true}};
    json props = {{"name", string()},
                  {"version", nullableString()},
                  {"description", nullableString()},
                  {"repository", nullableString()},
                  {"installationCommand", nullableString()},
                  {"requiresAuth", boolean()},
                  {"authDescription", nullableString()},
                  {"authFields", nullable(array(anyObject))},
                  {"serverUrl", nullableString()},
                  {"docsUrl", nullableString()},
                  {"clientSecretId", nullableString()},
                  {"localConfigSecretId", nullableString()},
                  {"localConfig", nullable(anyObject)},
                  {"userConfig", nullable(anyObject)},
                  {"oauthConfig", nullable(anyObject)}};
    props["serverType"] = enumOf({"local", "remote"});
    return create ? object(props, {"name", "serverType"}) : object(props);
}

/// Moves the parsed secret values into the secrets backend and adds the id columns.
void storeCatalogSecrets(McpRegistry& registry, CatalogWrite& w, const std::string& name,
                         const std::optional<json>& existing) {
    if (w.localConfigGiven) {
        w.add("local_config", w.localConfig.is_null() ? db::Value() : db::Value(w.localConfig.dump()),
              "::jsonb");
        if (!w.localSecrets.empty()) {
            auto store = requireStore(registry, "the catalog item's secret environment values");
            w.add("local_config_secret_id", storeSecret(*store, name + "-local-config", w.localSecrets),
                  "::uuid");
        }
    }
    if (w.oauthGiven) {
        w.add("oauth_config", w.oauthConfig.is_null() ? db::Value() : db::Value(w.oauthConfig.dump()),
              "::jsonb");
        if (w.clientSecret) {
            auto store = requireStore(registry, "the OAuth client secret");
            w.add("client_secret_id",
                  storeSecret(*store, name + "-oauth-client-secret", {{"client_secret", *w.clientSecret}}),
                  "::uuid");
        }
    }
    (void)existing;
}

void checkSecretIds(db::Database& db, const json& body) {
    for (const char* field : {"clientSecretId", "localConfigSecretId"})
        if (body.contains(field) && body[field].is_string() &&
            db.query("SELECT 1 FROM secret WHERE id = $1::uuid", {body[field].get<std::string>()}).empty())
            throw ApiError::badRequest(std::string("Field '") + field + "': no secret with id " +
                                       body[field].get<std::string>());
}

// ---- installations --------------------------------------------------------------------------------------

const std::string kServerSelect =
    "SELECT s.id, s.name, s.catalog_id, s.server_type, s.secret_id, s.owner_id, s.reinstall_required, "
    "s.local_installation_status, s.local_installation_error, " +
    isoSql("s.created_at") + " AS created_at, " + isoSql("s.updated_at") +
    " AS updated_at, u.email AS owner_email, c.name AS catalog_name FROM mcp_server s "
    "LEFT JOIN \"user\" u ON u.id = s.owner_id LEFT JOIN internal_mcp_catalog c ON c.id = s.catalog_id ";

json serverJson(db::Database& db, const db::Row& row) {
    std::string id = row.str("id");
    json teams = json::array(), teamDetails = json::array(), users = json::array(),
         userDetails = json::array();
    for (const auto& t :
         db.query("SELECT st.team_id, t.name, " + isoSql("st.created_at") +
                      " AS created_at FROM mcp_server_team st JOIN team t ON t.id = st.team_id "
                      "WHERE st.mcp_server_id = $1::uuid ORDER BY st.created_at, st.team_id",
                  {id})) {
        teams.push_back(t.str("team_id"));
        teamDetails.push_back(
            {{"teamId", t.str("team_id")}, {"name", t.str("name")}, {"createdAt", t.str("created_at")}});
    }
    for (const auto& u :
         db.query("SELECT su.user_id, u.email, " + isoSql("su.created_at") +
                      " AS created_at FROM mcp_server_user su JOIN \"user\" u ON u.id = su.user_id "
                      "WHERE su.mcp_server_id = $1::uuid ORDER BY su.created_at, su.user_id",
                  {id})) {
        users.push_back(u.str("user_id"));
        userDetails.push_back(
            {{"userId", u.str("user_id")}, {"email", u.str("email")}, {"createdAt", u.str("created_at")}});
    }
    return {{"id", id},
            {"name", row.str("name")},
            {"catalogId", auth::nullableString(row, "catalog_id")},
            {"serverType", row.str("server_type")},
            {"secretId", auth::nullableString(row, "secret_id")},
            {"ownerId", auth::nullableString(row, "owner_id")},
            {"reinstallRequired", row.boolean("reinstall_required")},
            {"localInstallationStatus", row.str("local_installation_status")},
            {"localInstallationError", auth::nullableString(row, "local_installation_error")},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")},
            {"ownerEmail", auth::nullableString(row, "owner_email")},
            {"catalogName", auth::nullableString(row, "catalog_name")},
            {"teams", teams},
            {"users", users},
            {"userDetails", userDetails},
            {"teamDetails", teamDetails}};
}

/// SQL condition limiting servers to what the caller may see ($1 = caller's user id).
const std::string kVisibleToCaller =
    "(s.owner_id = $1 OR EXISTS (SELECT 1 FROM mcp_server_user su WHERE su.mcp_server_id = s.id AND "
    "su.user_id = $1) "
    "OR EXISTS (SELECT 1 FROM mcp_server_team st JOIN team_member tm ON tm.team_id = st.team_id "
    "WHERE st.mcp_server_id = s.id AND tm.user_id = $1))";

db::Row loadServerRow(db::Database& db, auth::AuthService& auth, const Context& c) {
    const auto& principal = c.requirePrincipal();
    bool all = auth.hasPermission(principal, "mcpServer", "admin");
    auto rows = all ? db.query(kServerSelect + "WHERE $1::text IS NOT NULL AND s.id = $2::uuid",
                               {principal.userId, c.param("id")})
                    : db.query(kServerSelect + "WHERE s.id = $2::uuid AND " + kVisibleToCaller,
                               {principal.userId, c.param("id")});
    if (rows.empty()) throw ApiError::notFound("MCP server not found");
    return rows[0];
}

json serverSchema() {
    using namespace auth::schema;
    return object(
        {{"id", string()},
         {"name", string()},
         {"catalogId", nullableString()},
         {"serverType", enumOf({"local", "remote"})},
         {"secretId", nullableString()},
         {"ownerId", nullableString()},
         {"reinstallRequired", boolean()},
         {"localInstallationStatus", enumOf({"idle", "pending", "discovering-tools", "success", "error"})},
         {"localInstallationError", nullableString()},
         {"createdAt", dateTime()},
         {"updatedAt", dateTime()},
         {"ownerEmail", nullableString()},
         {"catalogName", nullableString()},
         {"teams", array(string())},
         {"users", array(string())},
         {"userDetails",
          array(object({{"userId", string()}, {"email", string()}, {"createdAt", dateTime()}}))},
         {"teamDetails",
          array(object({{"teamId", string()}, {"name", string()}, {"createdAt", dateTime()}}))}},
        {"id", "name", "serverType", "reinstallRequired", "localInstallationStatus", "createdAt",
         "updatedAt"});
}

std::vector<std::string> stringArrayField(const json& body, const std::string& field, bool uuids) {
    std::vector<std::string> out;
    if (!body.contains(field) || body[field].is_null()) return out;
    if (!body[field].is_array())
        badField(field, uuids ? "an array of UUIDs" : "an array of strings", body[field]);
    for (std::size_t i = 0; i < body[field].size(); ++i) {
        const json& item = body[field][i];
        std::string at = field + "[" + std::to_string(i) + "]";
        if (uuids)
            requireUuid(item, at);
        else
            expectString(item, at, false);
        out.push_back(item.get<std::string>());
    }
    return out;
}

/// New lines of `now` after the part that overlaps `before` (both are tails of the same growing output).
std::string newLogLines(const std::vector<std::string>& before, const std::vector<std::string>& now) {
    std::size_t overlap = 0;
    for (std::size_t k = std::min(before.size(), now.size()); k > 0; --k)
        if (std::equal(before.end() - static_cast<long>(k), before.end(), now.begin())) {
            overlap = k;
            break;
        }
    std::string out;
    for (std::size_t i = overlap; i < now.size(); ++i) out += now[i] + "\n";
    return out;
}

std::vector<std::string> splitLines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

}  // namespace

json createCatalogItem(McpRegistry& registry, const json& body) {
    db::Database& db = registry.database();
    if (!body.is_object()) throw ApiError::badRequest("Body: expected a JSON object");
    CatalogWrite w = parseCatalogBody(body, true);
    checkSecretIds(db, body);
    storeCatalogSecrets(registry, w, body["name"].get<std::string>(), std::nullopt);
    std::string columns, values;
    for (const auto& [column, placeholder] : w.columns) {
        columns += (columns.empty() ? "" : ", ") + column;
        values += (values.empty() ? "" : ", ") + placeholder;
    }
    auto rows = db.query(
        "INSERT INTO internal_mcp_catalog (" + columns + ") VALUES (" + values + ") RETURNING id", w.params);
    return loadCatalog(db, rows[0].str("id"));
}

void registerMcpRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                       std::shared_ptr<McpRegistry> registry) {
    using namespace auth::schema;
    db::Database& db = registry->database();
    const std::string catalogTag = "MCP Catalog";
    const std::string serverTag = "MCP Server";

    // ---- catalog ----
    router.add({.method = "GET",
                .path = "/api/internal_mcp_catalog",
                .operationId = "getInternalMcpCatalog",
                .tag = catalogTag,
                .summary = "Every item of the private MCP registry",
                .access = Access::permission("internalMcpCatalog", "read"),
                .response = array(catalogSchema())},
               [&db](Context& c) {
                   json out = json::array();
                   for (const auto& row : db.query(kCatalogSelect + "ORDER BY c.created_at, c.id"))
                       out.push_back(catalogJson(row));
                   c.sendJson(200, out);
               });
    router.add({.method = "POST",
                .path = "/api/internal_mcp_catalog",
                .operationId = "createInternalMcpCatalogItem",
                .tag = catalogTag,
                .summary = "Add an MCP server to the private registry (localConfig stored exactly as sent)",
                .access = Access::permission("internalMcpCatalog", "create"),
                .requestBody = catalogBodySchema(true),
                .response = catalogSchema()},
               [registry](Context& c) { c.sendJson(200, createCatalogItem(*registry, c.jsonObject())); });
    router.add({.method = "GET",
                .path = "/api/internal_mcp_catalog/{id}",
                .operationId = "getInternalMcpCatalogItem",
                .tag = catalogTag,
                .summary = "One item of the private MCP registry",
                .access = Access::permission("internalMcpCatalog", "read"),
                .response = catalogSchema(),
                .uuidParams = {"id"}},
               [&db](Context& c) { c.sendJson(200, loadCatalog(db, c.param("id"))); });
    router.add(
        {.method = "PUT",
         .path = "/api/internal_mcp_catalog/{id}",
         .operationId = "updateInternalMcpCatalogItem",
         .tag = catalogTag,
         .summary = "Change a registry item; its installations need a reinstall and its tools are dropped",
         .access = Access::permission("internalMcpCatalog", "update"),
         .requestBody = catalogBodySchema(false),
         .response = catalogSchema(),
         .uuidParams = {"id"}},
        [&db, registry](Context& c) {
            json existing = loadCatalog(db, c.param("id"));
            const json& body = c.jsonObject();
            CatalogWrite w = parseCatalogBody(body, false);
            checkSecretIds(db, body);
            storeCatalogSecrets(*registry, w, existing["name"].get<std::string>(), existing);
            std::string sets;
            for (const auto& [column, placeholder] : w.columns) sets += column + " = " + placeholder + ", ";
            w.params.push_back(c.param("id"));
            std::string idParam = "$" + std::to_string(w.params.size());
            db.transaction([&](db::Connection& conn) {
                conn.execute("UPDATE internal_mcp_catalog SET " + sets +
                                 "updated_at = now() WHERE id = " + idParam + "::uuid",
                             w.params);
                conn.execute(
                    "UPDATE mcp_server SET reinstall_required = true, updated_at = now() WHERE catalog_id = "
                    "$1::uuid",
                    {c.param("id")});
                conn.execute("DELETE FROM tools WHERE catalog_id = $1::uuid AND agent_id IS NULL",
                             {c.param("id")});
                return 0;
            });
            c.sendJson(200, loadCatalog(db, c.param("id")));
        });
    router.add(
        {.method = "DELETE",
         .path = "/api/internal_mcp_catalog/{id}",
         .operationId = "deleteInternalMcpCatalogItem",
         .tag = catalogTag,
         .summary = "Remove a registry item, stopping and removing its installations",
         .access = Access::permission("internalMcpCatalog", "delete"),
         .response = success(),
         .uuidParams = {"id"}},
        [&db, registry](Context& c) {
            std::vector<std::string> installationSecrets;
            for (const auto& row : db.query(
                     "SELECT id, secret_id FROM mcp_server WHERE catalog_id = $1::uuid", {c.param("id")})) {
                registry->uninstall(row.str("id"));
                if (auto secretId = row.at("secret_id")) {
                    registry->revokeSecret(*secretId);  // OAuth tokens: RFC 7009, failures only logged
                    installationSecrets.push_back(*secretId);
                }
            }
            auto rows = db.query(
                "DELETE FROM internal_mcp_catalog WHERE id = $1::uuid RETURNING client_secret_id, "
                "local_config_secret_id",
                {c.param("id")});
            if (auto store = registry->secretStore(); store && !rows.empty()) {
                for (const char* column : {"client_secret_id", "local_config_secret_id"})
                    if (auto id = rows[0].at(column)) installationSecrets.push_back(*id);
                for (const auto& id : installationSecrets) try {
                        store->remove(id);
                    } catch (const std::exception&) {
                    }
            }
            c.sendJson(200, {{"success", !rows.empty()}});
        });

    // ---- installations ----
    router.add(
        {.method = "GET",
         .path = "/api/mcp_server",
         .operationId = "getMcpServers",
         .tag = serverTag,
         .summary = "Installed MCP servers the caller can see",
         .access = Access::permission("mcpServer", "read"),
         .response = array(serverSchema())},
        [&db, auth](Context& c) {
            const auto& principal = c.requirePrincipal();
            bool all = auth->hasPermission(principal, "mcpServer", "admin");
            auto rows =
                all ? db.query(kServerSelect + "WHERE $1::text IS NOT NULL ORDER BY s.created_at, s.id",
                               {principal.userId})
                    : db.query(kServerSelect + "WHERE " + kVisibleToCaller + " ORDER BY s.created_at, s.id",
                               {principal.userId});
            json out = json::array();
            for (const auto& row : rows) out.push_back(serverJson(db, row));
            c.sendJson(200, out);
        });
    router.add({.method = "GET",
                .path = "/api/mcp_server/{id}",
                .operationId = "getMcpServer",
                .tag = serverTag,
                .summary = "One installed MCP server",
                .access = Access::permission("mcpServer", "read"),
                .response = serverSchema(),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) { c.sendJson(200, serverJson(db, loadServerRow(db, *auth, c))); });
    router.add(
        {.method = "POST",
         .path = "/api/mcp_server",
         .operationId = "installMcpServer",
         .tag = serverTag,
         .summary =
             "Install an MCP server from the registry: local servers start on the orchestrator, then their "
             "tools are discovered",
         .access = Access::permission("mcpServer", "create"),
         .requestBody = object({{"name", string()},
                                {"catalogId", string()},
                                {"ownerId", nullableString()},
                                {"localInstallationError", nullableString()},
                                {"secretId", nullableString()},
                                {"accessToken", nullableString()},
                                {"agentIds", array(string())},
                                {"teams", array(string())},
                                {"userConfigValues", {{"type", "object"}, {"additionalProperties", true}}},
                                {"environmentValues", {{"type", "object"}, {"additionalProperties", true}}}},
                               {"name", "catalogId"}),
         .response = serverSchema()},
        [&db, registry](Context& c) {
            const json& body = c.jsonObject();
            const auto& principal = c.requirePrincipal();
            std::string name = auth::requiredStringField(body, "name");
            if (!body.contains("catalogId")) throw ApiError::badRequest("Field 'catalogId': required");
            requireUuid(body["catalogId"], "catalogId");
            std::string catalogId = body["catalogId"].get<std::string>();
            for (const char* field : {"ownerId", "localInstallationError", "accessToken"})
                if (body.contains(field)) expectString(body[field], field);
            std::optional<std::string> secretId;
            if (body.contains("secretId") && !body["secretId"].is_null()) {
                requireUuid(body["secretId"], "secretId");
                secretId = body["secretId"].get<std::string>();
            }
            auto agentIds = stringArrayField(body, "agentIds", true);
            auto teams = stringArrayField(body, "teams", false);
            json envValues = body.value("environmentValues", json::object());
            json userValues = body.value("userConfigValues", json::object());
            if (envValues.is_null()) envValues = json::object();
            if (userValues.is_null()) userValues = json::object();
            if (!envValues.is_object()) badField("environmentValues", "an object", envValues);
            if (!userValues.is_object()) badField("userConfigValues", "an object", userValues);

            auto catalogRows = db.query(
                "SELECT name, server_type, local_config FROM internal_mcp_catalog WHERE id = $1::uuid",
                {catalogId});
            if (catalogRows.empty()) throw ApiError::badRequest("Field 'catalogId': Catalog item not found");
            std::string serverType = catalogRows[0].str("server_type");
            json localConfig = jsonColumn(catalogRows[0], "local_config");
            if (localConfig.is_object() && localConfig.contains("environment") &&
                localConfig["environment"].is_array())
                for (const auto& entry : localConfig["environment"])
                    if (entry.is_object() && entry.value("promptOnInstallation", false) &&
                        entry.value("required", false)) {
                        std::string key = entry.value("key", std::string());
                        if (!envValues.contains(key) || envValues[key].is_null() ||
                            (envValues[key].is_string() && envValues[key].get<std::string>().empty()))
                            throw ApiError::badRequest("Field 'environmentValues." + key +
                                                       "': required by the catalog item");
                    }
            for (const auto& agent : agentIds)
                if (db.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agent}).empty())
                    throw ApiError::badRequest("Field 'agentIds': no profile with id " + agent);
            for (const auto& team : teams)
                if (db.query("SELECT 1 FROM team WHERE id = $1 AND organization_id = $2",
                             {team, principal.organizationId})
                        .empty())
                    throw ApiError::badRequest("Field 'teams': no team with id " + team);

            // Install-time values live in the server's secret (local: environment and user config; remote:
            // token).
            if (!secretId) {
                json secretValue = json::object();
                if (serverType == "local" && (!envValues.empty() || !userValues.empty()))
                    secretValue = {{"environmentValues", envValues}, {"userConfigValues", userValues}};
                if (body.contains("accessToken") && body["accessToken"].is_string())
                    secretValue["access_token"] = body["accessToken"];
                if (!secretValue.empty()) {
                    auto store = requireStore(*registry, "the installation's credentials and values");
                    secretId = storeSecret(*store, name + "-installation", secretValue);
                }
            }
            std::string installedName = serverType == "local" ? name + "-" + principal.userId : name;
            auto inserted = db.transaction([&](db::Connection& conn) {
                auto rows = conn.query(
                    "INSERT INTO mcp_server (name, catalog_id, server_type, secret_id, owner_id, "
                    "local_installation_status) "
                    "VALUES ($1, $2::uuid, $3, $4::uuid, $5, $6) RETURNING id",
                    {installedName, catalogId, serverType, secretId, principal.userId,
                     serverType == "local" ? "pending" : "discovering-tools"});
                std::string id = rows[0].str("id");
                for (const auto& team : teams)
                    conn.execute(
                        "INSERT INTO mcp_server_team (mcp_server_id, team_id) VALUES ($1::uuid, $2) ON "
                        "CONFLICT DO NOTHING",
                        {id, team});
                if (teams.empty())
                    conn.execute(
                        "INSERT INTO mcp_server_user (mcp_server_id, user_id) VALUES ($1::uuid, $2) ON "
                        "CONFLICT DO NOTHING",
                        {id, principal.userId});
                return id;
            });
            // Local: started now (pending or error), tools found in the background. Remote: tools found now.
            // Either way the answer is 200 with the status; a failure is in localInstallationError.
            registry->install(inserted, agentIds);
            auto rows = db.query(kServerSelect + "WHERE s.id = $1::uuid", {inserted});
            c.sendJson(200, serverJson(db, rows[0]));
        });
    router.add(
        {.method = "DELETE",
         .path = "/api/mcp_server/{id}",
         .operationId = "deleteMcpServer",
         .tag = serverTag,
         .summary = "Uninstall an MCP server (its process or pod is stopped)",
         .access = Access::permission("mcpServer", "delete"),
         .response = success(),
         .uuidParams = {"id"}},
        [&db, auth, registry](Context& c) {
            db::Row row = loadServerRow(db, *auth, c);
            std::string id = row.str("id");
            registry->uninstall(id);
            db.transaction([&](db::Connection& conn) {
                // Tools shared by the catalog's installations move to another one, or go with the last.
                conn.execute(
                    "UPDATE tools SET mcp_server_id = (SELECT o.id FROM mcp_server o WHERE o.catalog_id = "
                    "(SELECT catalog_id FROM mcp_server WHERE id = $1::uuid) AND o.id <> $1::uuid "
                    "ORDER BY o.created_at LIMIT 1) WHERE mcp_server_id = $1::uuid",
                    {id});
                conn.execute(
                    "DELETE FROM tools WHERE mcp_server_id IS NULL AND agent_id IS NULL AND catalog_id = "
                    "(SELECT catalog_id FROM mcp_server WHERE id = $1::uuid)",
                    {id});
                conn.execute("DELETE FROM mcp_server WHERE id = $1::uuid", {id});
                return 0;
            });
            if (auto secretId = row.at("secret_id"); secretId && registry->secretStore()) {
                registry->revokeSecret(*secretId);  // OAuth tokens: RFC 7009, failures only logged
                try {
                    registry->secretStore()->remove(*secretId);
                } catch (const std::exception&) {
                }
            }
            c.sendJson(200, {{"success", true}});
        });

    // ---- access: which teams and users may use an installation (mcp_server_team / mcp_server_user) ----
    // The catalog-scoped routes act on the installations of one catalog item owned by `userId` (default: the
    // caller), which is how the UI addresses "my server from this registry entry".
    auto catalogServers = [&db](const std::string& catalogId, const std::string& ownerId) {
        std::vector<std::string> ids;
        for (const auto& row :
             db.query("SELECT s.id::text FROM mcp_server s "
                      "WHERE s.catalog_id = $1::uuid AND s.owner_id = $2 ORDER BY s.created_at",
                      {catalogId, ownerId}))
            ids.push_back(row.str(0));
        if (ids.empty())
            throw ApiError::notFound("No MCP server installed from catalog item " + catalogId + " for user " +
                                     ownerId);
        return ids;
    };
    router.add({.method = "POST",
                .path = "/api/mcp_server/catalog/{catalogId}/teams",
                .operationId = "grantTeamMcpServerAccess",
                .tag = serverTag,
                .summary = "Give teams access to the caller's (or userId's) installation of a catalog item",
                .access = Access::permission("mcpServer", "update"),
                .requestBody = object({{"teamIds", {{"type", "array"}, {"minItems", 1}, {"items", string()}}},
                                       {"userId", string()}},
                                      {"teamIds"}),
                .response = success(),
                .uuidParams = {"catalogId"}},
               [&db, catalogServers](Context& c) {
                   const json& body = c.jsonObject();
                   const auto& principal = c.requirePrincipal();
                   auto teams = stringArrayField(body, "teamIds", false);
                   std::string owner = auth::optionalStringField(body, "userId").value_or(principal.userId);
                   for (const auto& team : teams)
                       if (db.query("SELECT 1 FROM team WHERE id = $1 AND organization_id = $2",
                                    {team, principal.organizationId})
                               .empty())
                           throw ApiError::badRequest("Field 'teamIds': no team with id " + team);
                   auto servers = catalogServers(c.param("catalogId"), owner);
                   db.transaction([&](db::Connection& conn) {
                       for (const auto& server : servers)
                           for (const auto& team : teams)
                               conn.execute(
                                   "INSERT INTO mcp_server_team (mcp_server_id, team_id) VALUES ($1::uuid, "
                                   "$2) ON CONFLICT DO NOTHING",
                                   {server, team});
                       return 0;
                   });
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "DELETE",
                .path = "/api/mcp_server/catalog/{catalogId}/teams",
                .operationId = "revokeAllTeamsMcpServerAccess",
                .tag = serverTag,
                .summary = "Remove every team's access to the caller's installation of a catalog item",
                .access = Access::permission("mcpServer", "update"),
                .response = success(),
                .uuidParams = {"catalogId"}},
               [&db, catalogServers](Context& c) {
                   auto servers = catalogServers(c.param("catalogId"), c.requirePrincipal().userId);
                   for (const auto& server : servers)
                       db.execute("DELETE FROM mcp_server_team WHERE mcp_server_id = $1::uuid", {server});
                   c.sendJson(200, {{"success", true}});
               });
    router.add({.method = "DELETE",
                .path = "/api/mcp_server/catalog/{catalogId}/user/{userId}",
                .operationId = "revokeUserMcpServerAccess",
                .tag = serverTag,
                .summary = "Remove a user's access to the installations of a catalog item",
                .access = Access::permission("mcpServer", "update"),
                .response = success(),
                .uuidParams = {"catalogId"}},
               [&db](Context& c) {
                   long long removed = db.execute(
                       "DELETE FROM mcp_server_user su USING mcp_server s WHERE su.mcp_server_id = s.id AND "
                       "s.catalog_id = $1::uuid AND su.user_id = $2",
                       {c.param("catalogId"), c.param("userId")});
                   if (removed == 0)
                       throw ApiError::notFound("User " + c.param("userId") +
                                                " has no access to an installation of this catalog item");
                   c.sendJson(200, {{"success", true}});
               });
    router.add(
        {.method = "DELETE",
         .path = "/api/mcp_server/{id}/team/{teamId}",
         .operationId = "revokeTeamMcpServerAccess",
         .tag = serverTag,
         .summary = "Remove one team's access to an installation",
         .access = Access::permission("mcpServer", "update"),
         .response = success(),
         .uuidParams = {"id"}},
        [&db, auth](Context& c) {
            db::Row row = loadServerRow(db, *auth, c);
            if (db.execute("DELETE FROM mcp_server_team WHERE mcp_server_id = $1::uuid AND team_id = $2",
                           {row.str("id"), c.param("teamId")}) == 0)
                throw ApiError::notFound("Team " + c.param("teamId") + " has no access to this MCP server");
            c.sendJson(200, {{"success", true}});
        });
    router.add(
        {.method = "GET",
         .path = "/api/mcp_server/{id}/installation-status",
         .operationId = "getMcpServerInstallationStatus",
         .tag = serverTag,
         .summary = "Where the installation is: idle, pending, discovering-tools, success or error",
         .access = Access::permission("mcpServer", "read"),
         .response =
             object({{"localInstallationStatus", string()}, {"localInstallationError", nullableString()}},
                    {"localInstallationStatus", "localInstallationError"}),
         .uuidParams = {"id"}},
        [&db, auth](Context& c) {
            db::Row row = loadServerRow(db, *auth, c);
            c.sendJson(200,
                       {{"localInstallationStatus", row.str("local_installation_status")},
                        {"localInstallationError", auth::nullableString(row, "local_installation_error")}});
        });
    router.add({.method = "GET",
                .path = "/api/mcp_server/{id}/tools",
                .operationId = "getMcpServerTools",
                .tag = serverTag,
                .summary = "Tools discovered on the server and the profiles they are assigned to",
                .access = Access::permission("mcpServer", "read"),
                .response = array(
                    object({{"id", string()},
                            {"name", string()},
                            {"description", nullableString()},
                            {"parameters", {{"type", "object"}, {"additionalProperties", true}}},
                            {"createdAt", dateTime()},
                            {"assignedAgentCount", integer()},
                            {"assignedAgents", array(object({{"id", string()}, {"name", string()}}))}})),
                .uuidParams = {"id"}},
               [&db, auth](Context& c) {
                   db::Row server = loadServerRow(db, *auth, c);
                   json out = json::array();
                   for (const auto& t : db.query(
                            "SELECT t.id, t.name, t.description, t.parameters, " + isoSql("t.created_at") +
                                " AS created_at, coalesce((SELECT jsonb_agg(jsonb_build_object('id', a.id, "
                                "'name', a.name) "
                                "ORDER BY a.name) FROM agent_tools at JOIN agents a ON a.id = at.agent_id "
                                "WHERE at.tool_id = t.id), "
                                "'[]'::jsonb) AS agents FROM tools t WHERE t.mcp_server_id = $1::uuid ORDER "
                                "BY t.name",
                            {server.str("id")})) {
                       json agents = jsonColumn(t, "agents");
                       out.push_back({{"id", t.str("id")},
                                      {"name", t.str("name")},
                                      {"description", auth::nullableString(t, "description")},
                                      {"parameters", jsonColumn(t, "parameters")},
                                      {"createdAt", t.str("created_at")},
                                      {"assignedAgentCount", agents.size()},
                                      {"assignedAgents", agents}});
                   }
                   c.sendJson(200, out);
               });
    router.add(
        {.method = "GET",
         .path = "/api/mcp_server/{id}/logs",
         .operationId = "getMcpServerLogs",
         .tag = serverTag,
         .summary = "Last lines of a local server's output; follow=true streams it as text/plain",
         .access = Access::permission("mcpServer", "read"),
         .response = object({{"logs", string()},
                             {"containerName", string()},
                             {"command", string()},
                             {"namespace", string()}},
                            {"logs", "containerName", "command", "namespace"}),
         .query = {{"lines",
                    {{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}},
                    false,
                    "how many lines (100)"},
                   {"follow", {{"type", "string"}, {"enum", {"true", "false"}}}, false, "stream new lines"}},
         .uuidParams = {"id"}},
        [&db, auth, registry](Context& c) {
            db::Row server = loadServerRow(db, *auth, c);
            std::string id = server.str("id");
            int lines = static_cast<int>(c.queryInt("lines", 1, 10000).value_or(100));
            auto follow = c.query("follow");
            if (follow && *follow != "true" && *follow != "false")
                throw ApiError::badRequest("Query 'follow': expected true or false, got '" + *follow + "'");
            ServerLogs logs;
            try {
                logs = registry->logs(id, lines);
            } catch (const McpUnavailableError& error) {
                throw ApiError::badRequest(error.what());
            }
            if (!follow || *follow == "false") {
                c.sendJson(200, {{"logs", logs.logs},
                                 {"containerName", logs.containerName},
                                 {"command", logs.command},
                                 {"namespace", logs.namespaceName}});
                return;
            }
            // Streamed: what is there now, then new lines as they come, until the client or server goes.
            auto& response = c.response();
            response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
            response.setContentType("text/plain; charset=utf-8");
            response.setChunkedTransferEncoding(true);
            response.set("Cache-Control", "no-cache");
            std::ostream& out = response.send();
            out << logs.logs;
            out.flush();
            std::vector<std::string> seen = splitLines(logs.logs);
            const int window = std::max(lines, 1000);
            while (out.good() && !registry->stopping()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                try {
                    auto now = splitLines(registry->logs(id, window).logs);
                    std::string fresh = newLogLines(seen, now);
                    if (!fresh.empty()) {
                        out << fresh;
                        out.flush();
                    }
                    seen = std::move(now);
                } catch (const McpUnavailableError&) {
                    break;  // uninstalled meanwhile
                }
            }
        });
    router.add({.method = "POST",
                .path = "/api/mcp_server/{id}/restart",
                .operationId = "restartMcpServer",
                .tag = serverTag,
                .summary = "Restart the server and discover its tools again",
                .access = Access::permission("mcpServer", "update"),
                .response = object({{"success", boolean()}, {"message", string()}}, {"success", "message"}),
                .uuidParams = {"id"}},
               [&db, auth, registry](Context& c) {
                   db::Row server = loadServerRow(db, *auth, c);
                   try {
                       std::string message = registry->restart(server.str("id"));
                       db.execute("UPDATE mcp_server SET reinstall_required = false WHERE id = $1::uuid",
                                  {server.str("id")});
                       c.sendJson(200, {{"success", true}, {"message", message}});
                   } catch (const McpUnavailableError& error) {
                       throw ApiError::unavailable(error.what());
                   }
               });
}

}  // namespace archestra::mcp
