// CrudRoutes: the shared input schemas, update merge, field checks and delete-by-id route.
#include "core/api/CrudRoutes.h"

#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"

namespace archestra::api {

using nlohmann::json;

InputSchemas inputSchemas(json resource, std::initializer_list<const char*> serverSet, const json& required) {
    for (const char* field : serverSet) resource["properties"].erase(field);
    InputSchemas out{resource, resource};
    out.create["required"] = required;
    out.update.erase("required");
    return out;
}

json mergePresentFields(json current, const json& body, std::initializer_list<const char*> fields) {
    for (const char* field : fields)
        if (auto it = body.find(field); it != body.end()) current[field] = *it;
    return current;
}

json mergePresentFields(json current, const json& body, const std::vector<std::string>& fields) {
    for (const auto& field : fields)
        if (auto it = body.find(field); it != body.end()) current[field] = *it;
    return current;
}

std::string enumField(const json& body, const std::string& field, const std::vector<std::string>& allowed) {
    auto value = auth::optionalStringField(body, field);
    for (const auto& a : allowed)
        if (value && *value == a) return a;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw http::ApiError::badRequest("Field '" + field + "': expected one of " + list +
                                     (value ? ", got '" + *value + "'" : std::string(", missing")));
}

void requireEntityExists(db::Database& db, const std::string& entityType, const std::string& entityId) {
    bool exists = false;
    if (entityType == "organization")
        exists = !db.query("SELECT 1 FROM organization WHERE id = $1", {entityId}).empty();
    else if (entityType == "team")
        exists = !db.query("SELECT 1 FROM team WHERE id = $1", {entityId}).empty();
    else
        exists = http::isUuidV4(entityId) &&
                 !db.query("SELECT 1 FROM agents WHERE id = $1::uuid", {entityId}).empty();
    if (!exists)
        throw http::ApiError::badRequest("Field 'entityId': no " + entityType + " with id '" + entityId +
                                         "'");
}

void addDeleteByIdRoute(http::Router& router, db::Database& db, const DeleteByIdRoute& route,
                        std::function<void()> changed) {
    const std::string sql = "DELETE FROM " + route.table + " WHERE id = $1::uuid";
    router.add({.method = "DELETE",
                .path = route.path,
                .operationId = route.operationId,
                .tag = route.tag,
                .summary = route.summary,
                .access = route.access,
                .response = auth::schema::success(),
                .uuidParams = {"id"}},
               [&db, sql, notFound = route.notFoundMessage, changed = std::move(changed)](http::Context& c) {
                   if (db.execute(sql, {c.param("id")}) == 0) throw http::ApiError::notFound(notFound);
                   if (changed) changed();
                   c.sendJson(200, {{"success", true}});
               });
}

}  // namespace archestra::api
