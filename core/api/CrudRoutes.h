// CrudRoutes: what several management resources share word for word: the create/update input schemas, the
// "fields left out keep their value" merge of an update, the one-of and entity checks of their validation,
// and the delete-by-id route.
#pragma once

#include "core/db/Database.h"
#include "core/http/Router.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace archestra::api {

/// `DELETE <path>` with a `{id}` UUID parameter: deletes the row of `table` whose uuid `id` matches, answers
/// `{"success":true}`, or 404 with `notFoundMessage` when there was none. `changed` runs after a delete
/// (cache invalidation).
struct DeleteByIdRoute {
    std::string path;  ///< e.g. "/api/limits/{id}"
    std::string operationId;
    std::string tag;
    std::string summary;
    http::Access access;
    std::string table;  ///< SQL table name, a constant of the caller (never request data)
    std::string notFoundMessage;
};

/// The request schemas of a resource whose response schema is `resource`: its properties without the ones the
/// server sets (`serverSet`, e.g. id, createdAt, updatedAt); `create` requires `required`, `update` requires
/// nothing (any subset of the fields).
struct InputSchemas {
    nlohmann::json create;
    nlohmann::json update;
};
InputSchemas inputSchemas(nlohmann::json resource, std::initializer_list<const char*> serverSet,
                          const nlohmann::json& required);

/// An update's merged body: `current` (the stored resource as the API shows it) with each of `fields` that
/// `body` carries replaced by the body's value; the caller validates the result as a whole.
nlohmann::json mergePresentFields(nlohmann::json current, const nlohmann::json& body,
                                  std::initializer_list<const char*> fields);
nlohmann::json mergePresentFields(nlohmann::json current, const nlohmann::json& body,
                                  const std::vector<std::string>& fields);

/// A string field that must be one of `allowed`; 400 "Field '<field>': expected one of a, b, got 'x'" (or
/// ", missing") otherwise.
std::string enumField(const nlohmann::json& body, const std::string& field,
                      const std::vector<std::string>& allowed);

/// 400 "Field 'entityId': no <type> with id '<id>'" unless the organization, team or agent (profile) named by
/// `entityType` ("organization", "team" or "agent") and `entityId` exists.
void requireEntityExists(db::Database& db, const std::string& entityType, const std::string& entityId);

void addDeleteByIdRoute(http::Router& router, db::Database& db, const DeleteByIdRoute& route,
                        std::function<void()> changed);

}  // namespace archestra::api
