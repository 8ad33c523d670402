// SecretsFixture: the real secrets plugins (build's plugins-out) loaded through the real PluginManager, with
// the host's SQL executor on a test database, wrapped in PluginSecretStore as the platform does.
#pragma once

#include "core/BuildPaths.h"
#include "core/db/Database.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"
#include "core/secrets/PluginSecretStore.h"
#include "core/secrets/SecretsSelection.h"

#include <Poco/String.h>

#include <memory>
#include <string>

namespace archestra::test {

/// Owns host services and plugin manager; create stores with store(). Instances keep their library loaded.
class SecretsFixture {
  public:
    explicit SecretsFixture(db::Database& database, const std::string& dataDir = "/tmp")
        : _host(std::make_unique<plugins::HostServices>(dataDir)),
          _plugins(std::make_unique<plugins::PluginManager>(*_host)) {
        _host->setSqlExecutor([&database](const std::string& sql, const std::vector<sdk::SqlValue>& params) {
            return runSql(database, sql, params);
        });
        _plugins->loadDirectories({std::string(ARCHESTRA_TEST_BINARY_DIR) + "/plugins-out"}, {});
    }

    /// A store for factory "db" keyed by `authSecret`.
    std::shared_ptr<secrets::PluginSecretStore> dbStore(const std::string& authSecret) {
        secrets::SecretsSelection selection;
        selection.requested = "DB";
        selection.plugin = "secrets.db";
        selection.factory = "db";
        selection.configJson = nlohmann::json{{"authSecret", authSecret}}.dump();
        return secrets::createSecretStore(*_plugins, selection);
    }
    /// A store for factory "vault" with `config`.
    std::shared_ptr<secrets::PluginSecretStore> vaultStore(const nlohmann::json& config) {
        secrets::SecretsSelection selection;
        selection.requested = "Vault";
        selection.plugin = "secrets.vault";
        selection.factory = "vault";
        selection.configJson = config.dump();
        return secrets::createSecretStore(*_plugins, selection);
    }
    plugins::PluginManager& plugins() { return *_plugins; }

  private:
    // The test's own copy of the executor (the platform's lives in archestra_app, which tests do not link).
    static sdk::Result<sdk::SqlResult> runSql(db::Database& database, const std::string& sql,
                                              const std::vector<sdk::SqlValue>& params) {
        try {
            sdk::SqlResult result;
            std::string upper = Poco::toUpper(sql);
            bool changes = upper.rfind("INSERT", 0) == 0 || upper.rfind("UPDATE", 0) == 0 ||
                           upper.rfind("DELETE", 0) == 0;
            if (changes && upper.find("RETURNING") == std::string::npos) {
                result.affected_rows = database.execute(sql, params);
                return result;
            }
            for (const auto& row : database.query(sql, params)) {
                sdk::SqlRow out;
                for (std::size_t i = 0; i < row.size(); ++i) out.push_back(row.at(i));
                result.rows.push_back(out);
            }
            if (changes) result.affected_rows = static_cast<std::int64_t>(result.rows.size());
            return result;
        } catch (const db::DatabaseUnavailableException& e) {
            return sdk::fail(sdk::ErrorCode::Unavailable, e.message());
        } catch (const Poco::Exception& e) {
            return sdk::fail(sdk::ErrorCode::InvalidArgument, e.message());
        }
    }

    std::unique_ptr<plugins::HostServices> _host;
    std::unique_ptr<plugins::PluginManager> _plugins;
};

}  // namespace archestra::test
