// telemetry.posthog: sends the host's anonymous analytics events to PostHog's batch capture endpoint
// (POST <host>/batch/). Silent when the host is unreachable: a debug line, never a warning.
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>

#include <nlohmann/json.hpp>

#include <memory>

#include "archestra/sdk/plugin.h"

namespace {

using namespace archestra::sdk;
using nlohmann::json;

// The project key the reference's UI uses (public by design: PostHog client keys ship in browser code).
constexpr const char* kDefaultApiKey = "phc_FFZO7LacnsvX2exKFWehLDAVaXLBfoBaJypdOuYoTk7";

class PostHogExporter : public TelemetryExporter {
  public:
    PostHogExporter(Logger& logger, std::string host, std::string apiKey, long timeout_ms)
        : _logger(logger), _uri(host), _apiKey(std::move(apiKey)), _timeout_ms(timeout_ms) {
        std::string path = _uri.getPath();
        while (!path.empty() && path.back() == '/') path.pop_back();
        _uri.setPath(path + "/batch/");
    }

    Status exportSpans(const std::vector<Span>&) override {
        return fail(ErrorCode::Unimplemented, "posthog: analytics events only");
    }

    Status captureEvents(const std::vector<AnalyticsEvent>& events) override {
        if (events.empty()) return okStatus();
        json batch = json::array();
        for (const auto& event : events) {
            json properties =
                json::parse(event.properties_json.empty() ? "{}" : event.properties_json, nullptr, false);
            if (!properties.is_object()) properties = json::object();
            properties["$lib"] = "archestra-platform";
            // Anonymous installation id only: no person profile, no IP-based enrichment.
            properties["$process_person_profile"] = false;
            properties["$ip"] = nullptr;
            Poco::Timestamp time(event.timestamp_unix_nanos / 1000);
            batch.push_back({{"event", event.name},
                             {"distinct_id", event.distinct_id},
                             {"properties", properties},
                             {"timestamp", Poco::DateTimeFormatter::format(time, "%Y-%m-%dT%H:%M:%S.%iZ")}});
        }
        std::string body =
            json{{"api_key", _apiKey}, {"batch", batch}}.dump(-1, ' ', false, json::error_handler_t::replace);
        try {
            std::unique_ptr<Poco::Net::HTTPClientSession> session;
            if (_uri.getScheme() == "https") {
                Poco::Net::Context::Ptr context =
                    new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                           Poco::Net::Context::VERIFY_RELAXED, 9, true);
                session =
                    std::make_unique<Poco::Net::HTTPSClientSession>(_uri.getHost(), _uri.getPort(), context);
            } else {
                session = std::make_unique<Poco::Net::HTTPClientSession>(_uri.getHost(), _uri.getPort());
            }
            session->setTimeout(Poco::Timespan(_timeout_ms * 1000));
            Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, _uri.getPathEtc(),
                                           Poco::Net::HTTPMessage::HTTP_1_1);
            request.setContentType("application/json");
            request.setContentLength(static_cast<std::streamsize>(body.size()));
            session->sendRequest(request) << body;
            Poco::Net::HTTPResponse response;
            std::istream& in = session->receiveResponse(response);
            Poco::NullOutputStream sink;
            Poco::StreamCopier::copyStream(in, sink);
            if (response.getStatus() >= 300) {
                _logger.log(LogLevel::Debug,
                            "analytics: capture endpoint answered " + std::to_string(response.getStatus()));
                return fail(ErrorCode::Unavailable, "posthog: HTTP " + std::to_string(response.getStatus()));
            }
            return okStatus();
        } catch (const Poco::Exception& error) {
            _logger.log(LogLevel::Debug, "analytics: capture endpoint unreachable: " + error.displayText());
            return fail(ErrorCode::Unavailable, "posthog: " + error.displayText());
        }
    }

    Status flush(std::int64_t) override { return okStatus(); }  // nothing buffered here (the host batches)

  private:
    Logger& _logger;
    Poco::URI _uri;
    std::string _apiKey;
    long _timeout_ms;
};

Status registerFactories(Registrar& registrar) {
    TelemetryFactory factory;
    factory.name = "posthog";
    factory.description = "anonymous usage events to PostHog";
    factory.config_schema_json = R"({
        "type": "object",
        "required": ["host"],
        "properties": {
            "host": {"type": "string"},
            "apiKey": {"type": "string"},
            "timeoutMs": {"type": "integer"}
        }
    })";
    factory.create = [](Host& host,
                        const std::string& configText) -> Result<std::unique_ptr<TelemetryExporter>> {
        json c = json::parse(configText, nullptr, false);
        if (!c.is_object()) return fail(ErrorCode::InvalidArgument, "posthog: config is not a JSON object");
        std::string target = c.value("host", "");
        try {
            Poco::URI uri(target);
            if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty())
                return fail(ErrorCode::InvalidArgument,
                            "posthog: host '" + target + "' must be an http(s) URL");
        } catch (const Poco::Exception&) {
            return fail(ErrorCode::InvalidArgument, "posthog: host '" + target + "' is not a URL");
        }
        return std::unique_ptr<TelemetryExporter>(
            std::make_unique<PostHogExporter>(host.logger(), target, c.value("apiKey", kDefaultApiKey),
                                              std::max<long>(100, c.value("timeoutMs", 5000L))));
    };
    return registrar.addTelemetry(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
