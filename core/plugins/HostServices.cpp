// Implementation of HostServices: routes plugin logging to Poco and plugin SQL/HTTP calls to injected
// functions.
#include "core/plugins/HostServices.h"

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include <exception>
#include <memory>

namespace archestra::plugins {

int toPocoPriority(sdk::LogLevel level) noexcept {
    switch (level) {
        case sdk::LogLevel::Trace:
            return Poco::Message::PRIO_TRACE;
        case sdk::LogLevel::Debug:
            return Poco::Message::PRIO_DEBUG;
        case sdk::LogLevel::Info:
            return Poco::Message::PRIO_INFORMATION;
        case sdk::LogLevel::Warning:
            return Poco::Message::PRIO_WARNING;
        default:
            return Poco::Message::PRIO_ERROR;
    }
}

class HostServices::PocoLogger : public sdk::Logger {
  public:
    explicit PocoLogger(Poco::Logger& logger) : _logger(logger) {}
    void log(sdk::LogLevel level, const std::string& message) noexcept override {
        try {
            _logger.log(Poco::Message(_logger.name(), message,
                                      static_cast<Poco::Message::Priority>(toPocoPriority(level))));
        } catch (...) {
            // A failing log channel must not take a plugin call down with it.
        }
    }

  private:
    Poco::Logger& _logger;
};

class HostServices::Sql : public sdk::SqlExecutor {
  public:
    explicit Sql(HostServices& owner) : _owner(owner) {}
    sdk::Result<sdk::SqlResult> execute(const std::string& sql,
                                        const std::vector<sdk::SqlValue>& params) override {
        SqlFunction fn;
        {
            std::lock_guard lock(_owner._mutex);
            fn = _owner._sqlFunction;
        }
        if (!fn)
            return sdk::fail(sdk::ErrorCode::Unavailable, "SQL executor: the database is not available yet");
        try {
            return fn(sql, params);
        } catch (const std::exception& e) {
            return sdk::fail(sdk::ErrorCode::Internal, std::string("SQL executor failed: ") + e.what());
        }
    }

  private:
    HostServices& _owner;
};

class HostServices::Http : public sdk::HttpClient {
  public:
    explicit Http(HostServices& owner) : _owner(owner) {}
    sdk::Result<sdk::HttpResponse> send(const sdk::HttpRequest& request) override {
        HttpFunction fn;
        {
            std::lock_guard lock(_owner._mutex);
            fn = _owner._httpFunction;
        }
        if (!fn) return sdk::fail(sdk::ErrorCode::Unavailable, "HTTP client: not available in this host");
        try {
            return fn(request);
        } catch (const std::exception& e) {
            return sdk::fail(sdk::ErrorCode::Internal, "HTTP client failed for " + request.method + " " +
                                                           request.url + ": " + e.what());
        }
    }

  private:
    HostServices& _owner;
};

HostServices::HostServices(std::string data_directory, const std::string& logger_name)
    : _dataDirectory(std::move(data_directory)),
      _logger(std::make_unique<PocoLogger>(Poco::Logger::get(logger_name))),
      _sql(std::make_unique<Sql>(*this)),
      _http(std::make_unique<Http>(*this)) {}

HostServices::~HostServices() = default;

void HostServices::setSqlExecutor(SqlFunction executor) {
    std::lock_guard lock(_mutex);
    _sqlFunction = std::move(executor);
}

void HostServices::setHttpClient(HttpFunction client) {
    std::lock_guard lock(_mutex);
    _httpFunction = std::move(client);
}

void HostServices::setSecretLookup(SecretLookupFunction lookup) {
    std::lock_guard lock(_mutex);
    _secretLookup = std::move(lookup);
}

sdk::Logger& HostServices::logger() noexcept {
    return *_logger;
}

sdk::SqlExecutor* HostServices::sql() noexcept {
    return _sql.get();
}

sdk::HttpClient* HostServices::http() noexcept {
    std::lock_guard lock(_mutex);
    return _httpFunction ? _http.get() : nullptr;
}

std::string HostServices::dataDirectory() const {
    return _dataDirectory;
}

sdk::Result<std::string> HostServices::lookupSecret(const std::string& secret_id) {
    SecretLookupFunction fn;
    {
        std::lock_guard lock(_mutex);
        fn = _secretLookup;
    }
    if (!fn)
        return sdk::fail(sdk::ErrorCode::Unimplemented,
                         "secret lookup of '" + secret_id + "': no secrets backend is active");
    try {
        return fn(secret_id);
    } catch (const std::exception& e) {
        return sdk::fail(sdk::ErrorCode::Internal,
                         "secret lookup of '" + secret_id + "' failed: " + e.what());
    }
}

}  // namespace archestra::plugins
