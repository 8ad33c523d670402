// CrudRoutes: route shapes that several management resources share word for word (delete by id).
#pragma once

#include "core/db/Database.h"
#include "core/http/Router.h"

#include <functional>
#include <string>

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

void addDeleteByIdRoute(http::Router& router, db::Database& db, const DeleteByIdRoute& route,
                        std::function<void()> changed);

}  // namespace archestra::api
