// PluginSql: the SQL executor the platform offers plugins (sdk::SqlExecutor), run on the platform database.
#pragma once

#include "archestra/sdk/host.h"

#include <string>
#include <vector>

namespace archestra::db {
class Database;
}

namespace archestra::app {

/// Runs `sql` with `$1..$n` text parameters on `database`. Database away -> Unavailable; SQL errors ->
/// InvalidArgument with PostgreSQL's message. INSERT/UPDATE/DELETE without RETURNING report affected_rows;
/// statements with RETURNING report the returned rows and affected_rows = their count. Never throws.
sdk::Result<sdk::SqlResult> runPluginSql(db::Database& database, const std::string& sql,
                                         const std::vector<sdk::SqlValue>& params);

}  // namespace archestra::app
