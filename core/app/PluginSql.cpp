// PluginSql: maps the SDK's SQL executor onto db::Database and its exceptions onto sdk::Result errors.
#include "core/app/PluginSql.h"

#include "core/db/Database.h"

#include <Poco/String.h>

namespace archestra::app {

sdk::Result<sdk::SqlResult> runPluginSql(db::Database& database, const std::string& sql,
                                         const std::vector<sdk::SqlValue>& params) {
    try {
        std::string head = Poco::toUpper(Poco::trim(sql.substr(0, 16)));
        bool changes =
            head.rfind("INSERT", 0) == 0 || head.rfind("UPDATE", 0) == 0 || head.rfind("DELETE", 0) == 0;
        sdk::SqlResult result;
        if (changes && Poco::toUpper(sql).find("RETURNING") == std::string::npos) {
            result.affected_rows = database.execute(sql, params);
            return result;
        }
        db::Rows rows = database.query(sql, params);
        if (!rows.empty()) result.columns = rows.front().columns();
        for (const auto& row : rows) {
            sdk::SqlRow out;
            out.reserve(row.size());
            for (std::size_t i = 0; i < row.size(); ++i) out.push_back(row.at(i));
            result.rows.push_back(std::move(out));
        }
        if (changes) result.affected_rows = static_cast<std::int64_t>(result.rows.size());
        return result;
    } catch (const db::DatabaseUnavailableException& error) {
        return sdk::fail(sdk::ErrorCode::Unavailable, "database unavailable: " + error.message());
    } catch (const Poco::Exception& error) {
        return sdk::fail(sdk::ErrorCode::InvalidArgument, "SQL error: " + error.message());
    } catch (const std::exception& error) {
        return sdk::fail(sdk::ErrorCode::Internal, std::string("SQL executor failed: ") + error.what());
    }
}

}  // namespace archestra::app
