// The platform's implementation of sdk::Host: Poco logging, an injectable SQL executor and HTTP client.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "archestra/sdk/host.h"

namespace Poco {
class Logger;
}

namespace archestra::plugins {

/// Concrete sdk::Host. The SQL executor, HTTP client and secret lookup are std::functions the app injects
/// once the database etc. exist, so this module does not depend on core/db. Until a function is injected its
/// calls fail with Unavailable (SQL, secrets) or the service is absent (http() returns nullptr).
/// Thread-safe: setters may race with plugin calls (a call sees either the old or the new function).
/// Must outlive the PluginManager and every plugin instance.
class HostServices : public sdk::Host {
  public:
    using SqlFunction = std::function<sdk::Result<sdk::SqlResult>(const std::string& sql,
                                                                  const std::vector<sdk::SqlValue>& params)>;
    using HttpFunction = std::function<sdk::Result<sdk::HttpResponse>(const sdk::HttpRequest& request)>;
    using SecretLookupFunction = std::function<sdk::Result<std::string>(const std::string& secret_id)>;

    /// `data_directory`: absolute path plugins keep files under. Logs go to Poco logger `logger_name`.
    explicit HostServices(std::string data_directory, const std::string& logger_name = "archestra.plugins");
    ~HostServices() override;

    void setSqlExecutor(SqlFunction executor);
    void setHttpClient(HttpFunction client);
    void setSecretLookup(SecretLookupFunction lookup);

    sdk::Logger& logger() noexcept override;
    sdk::SqlExecutor* sql() noexcept override;
    sdk::HttpClient* http() noexcept override;
    std::string dataDirectory() const override;
    sdk::Result<std::string> lookupSecret(const std::string& secret_id) override;

  private:
    class PocoLogger;
    class Sql;
    class Http;

    std::string _dataDirectory;
    mutable std::mutex _mutex;
    SqlFunction _sqlFunction;
    HttpFunction _httpFunction;
    SecretLookupFunction _secretLookup;
    std::unique_ptr<PocoLogger> _logger;
    std::unique_ptr<Sql> _sql;
    std::unique_ptr<Http> _http;
};

/// Maps an SDK log level to Poco's message priority (Invalid maps to error so nothing is lost silently).
int toPocoPriority(sdk::LogLevel level) noexcept;

}  // namespace archestra::plugins
