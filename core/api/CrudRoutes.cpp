// CrudRoutes: the shared delete-by-id route.
#include "core/api/CrudRoutes.h"

#include "core/auth/Schema.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"

namespace archestra::api {

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
