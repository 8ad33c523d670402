// telemetry.otlp: turns the host's finished spans into an OTLP/HTTP ExportTraceServiceRequest (JSON, or
// protobuf with protocol "http/protobuf") and posts it to the configured endpoint, retrying with backoff on
// 429 and 5xx.
#include <Poco/Base64Encoder.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "archestra/sdk/plugin.h"

namespace {

using namespace archestra::sdk;
using nlohmann::json;

std::string trim(const std::string& s) {
    auto begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string base64(const std::string& text) {
    std::ostringstream out;
    Poco::Base64Encoder encoder(out);
    encoder.rdbuf()->setLineLength(0);
    encoder << text;
    encoder.close();
    return out.str();
}

/// One OTLP AnyValue from the attribute's JSON text.
json anyValue(const std::string& jsonText) {
    json value = json::parse(jsonText, nullptr, false);
    if (value.is_discarded()) return {{"stringValue", jsonText}};
    if (value.is_string()) return {{"stringValue", value.get<std::string>()}};
    if (value.is_boolean()) return {{"boolValue", value.get<bool>()}};
    if (value.is_number_integer()) return {{"intValue", std::to_string(value.get<std::int64_t>())}};
    if (value.is_number()) return {{"doubleValue", value.get<double>()}};
    return {{"stringValue", value.dump()}};
}

/// Appends `text` as a JSON string literal, byte for byte as nlohmann's dump() (ensure_ascii off, invalid
/// UTF-8 replaced) writes it: the ASCII text the spans carry is escaped here, anything else goes to nlohmann.
void appendJsonString(std::string& out, std::string_view text) {
    for (unsigned char c : text) {
        if (c >= 0x80) {
            out += json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
            return;
        }
    }
    static const char* const hex = "0123456789abcdef";
    out += '"';
    for (char c : text) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    out += "\\u00";
                    out += hex[(c >> 4) & 0xf];
                    out += hex[c & 0xf];
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

/// Appends the AnyValue of an attribute's JSON text as anyValue(jsonText).dump() would. The common texts (a
/// string literal without escapes, true, false, a small integer) are written without parsing them.
void appendAnyValue(std::string& out, const std::string& jsonText) {
    const std::size_t n = jsonText.size();
    if (n >= 2 && jsonText.front() == '"' && jsonText.back() == '"') {
        bool plain = true;
        for (std::size_t i = 1; i + 1 < n && plain; ++i) {
            const auto c = static_cast<unsigned char>(jsonText[i]);
            plain = c >= 0x20 && c < 0x80 && c != '\\' && c != '"';
        }
        if (plain) {  // the literal is what dump() would write for its value
            out += "{\"stringValue\":";
            out += jsonText;
            out += '}';
            return;
        }
    } else if (jsonText == "true" || jsonText == "false") {
        out += "{\"boolValue\":";
        out += jsonText;
        out += '}';
        return;
    } else if (n > 0 && n <= 18) {  // at most 18 digits: within int64 whatever the digits
        std::size_t first = jsonText.front() == '-' ? 1 : 0;
        bool digits = first < n && (jsonText[first] != '0' || n == first + 1);
        for (std::size_t i = first; i < n && digits; ++i) digits = jsonText[i] >= '0' && jsonText[i] <= '9';
        if (digits && jsonText != "-0") {
            out += "{\"intValue\":\"";
            out += jsonText;
            out += "\"}";
            return;
        }
    }
    out += anyValue(jsonText).dump(-1, ' ', false, json::error_handler_t::replace);
}

/// {"key":<key>,"value":<AnyValue>} with a string value.
void appendStringKeyValue(std::string& out, std::string_view key, std::string_view value) {
    out += "{\"key\":";
    appendJsonString(out, key);
    out += ",\"value\":{\"stringValue\":";
    appendJsonString(out, value);
    out += "}}";
}

/// Protobuf wire encoding of the few opentelemetry-proto messages sent here. Hand-written because it is five
/// small messages; a generated codec would add protoc and libprotobuf to the build for them.
class ProtoWriter {
  public:
    const std::string& bytes() const { return _out; }

    void varint(int field, std::uint64_t value) {
        tag(field, 0);
        rawVarint(value);
    }
    void fixed64(int field, std::uint64_t value) {
        tag(field, 1);
        for (int i = 0; i < 8; ++i) _out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
    }
    void doubleValue(int field, double value) {
        std::uint64_t bits;
        std::memcpy(&bits, &value, sizeof bits);
        fixed64(field, bits);
    }
    void bytesField(int field, const std::string& value) {
        tag(field, 2);
        rawVarint(value.size());
        _out += value;
    }
    void message(int field, const ProtoWriter& nested) { bytesField(field, nested._out); }

  private:
    void tag(int field, int wireType) { rawVarint((static_cast<std::uint64_t>(field) << 3) | wireType); }
    void rawVarint(std::uint64_t value) {
        while (value >= 0x80) {
            _out.push_back(static_cast<char>((value & 0x7f) | 0x80));
            value >>= 7;
        }
        _out.push_back(static_cast<char>(value));
    }
    std::string _out;
};

/// Trace and span ids travel as raw bytes in protobuf (hex only in the JSON mapping).
std::string hexToBytes(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

/// AnyValue (opentelemetry.proto.common.v1): string 1, bool 2, int64 3, double 4.
ProtoWriter protoAnyValue(const std::string& jsonText) {
    ProtoWriter w;
    json value = json::parse(jsonText, nullptr, false);
    if (value.is_discarded())
        w.bytesField(1, jsonText);
    else if (value.is_string())
        w.bytesField(1, value.get<std::string>());
    else if (value.is_boolean())
        w.varint(2, value.get<bool>() ? 1 : 0);
    else if (value.is_number_integer())
        w.varint(3, static_cast<std::uint64_t>(value.get<std::int64_t>()));
    else if (value.is_number())
        w.doubleValue(4, value.get<double>());
    else
        w.bytesField(1, value.dump());
    return w;
}

/// KeyValue: key 1, value 2.
ProtoWriter protoKeyValue(const std::string& key, const ProtoWriter& value) {
    ProtoWriter w;
    w.bytesField(1, key);
    w.message(2, value);
    return w;
}

ProtoWriter protoString(const std::string& text) {
    ProtoWriter w;
    w.bytesField(1, text);
    return w;
}

struct Config {
    std::string endpoint;
    std::string authorization;  ///< full header value, empty for none
    bool protobuf = false;      ///< "http/protobuf" instead of the default "http/json"
    std::string serviceName = "Archestra Platform API";
    std::string serviceVersion;
    int maxAttempts = 4;
    long timeout_ms = 5000;
    long backoff_ms = 200;
};

class OtlpExporter : public TelemetryExporter {
  public:
    OtlpExporter(Logger& logger, Config config)
        : _logger(logger), _config(std::move(config)), _uri(_config.endpoint) {}

    Status exportSpans(const std::vector<Span>& spans) override {
        if (spans.empty()) return okStatus();
        std::string body = _config.protobuf ? encodeProtobuf(spans) : encodeJson(spans);
        long backoff = _config.backoff_ms;
        std::string lastError;
        for (int attempt = 1; attempt <= _config.maxAttempts; ++attempt) {
            int status = 0;
            try {
                status = post(body);
            } catch (const Poco::Exception& error) {
                lastError = error.displayText();
                break;  // endpoint down: drop this batch now rather than hold the export thread
            }
            if (status >= 200 && status < 300) {
                reportRecovered();
                return okStatus();
            }
            lastError = "HTTP " + std::to_string(status);
            if (status != 429 && status < 500)
                break;  // the collector refused the payload: retrying won't help
            if (attempt < _config.maxAttempts) {
                std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
                backoff *= 2;
            }
        }
        reportFailure(lastError);
        return fail(ErrorCode::Unavailable, "otlp: export to " + _uri.getHost() + " failed: " + lastError);
    }

    Status captureEvents(const std::vector<AnalyticsEvent>&) override {
        return fail(ErrorCode::Unimplemented, "otlp: exports traces only");
    }

    Status flush(std::int64_t) override { return okStatus(); }  // nothing is buffered here (the host batches)

  protected:  // the encoding, reachable from a subclass for test/plugins/telemetry
    static int spanKind(const Span& span) {
        // SERVER for incoming HTTP requests, CLIENT for calls the platform makes (LLM, MCP).
        return span.attributes_json.count("http.route") ? 2 : 3;
    }

    /// ExportTraceServiceRequest { resource_spans 1: ResourceSpans { resource 1, scope_spans 2: ScopeSpans {
    /// scope 1, spans 2 } } } with Span fields trace_id 1, span_id 2, parent_span_id 4, name 5, kind 6,
    /// start 7, end 8, attributes 9, status 15 (message 2, code 3).
    std::string encodeProtobuf(const std::vector<Span>& spans) const {
        ProtoWriter scopeSpans;
        ProtoWriter scope;
        scope.bytesField(1, "archestra");
        scope.bytesField(2, _config.serviceVersion);
        scopeSpans.message(1, scope);
        for (const auto& span : spans) {
            ProtoWriter item;
            item.bytesField(1, hexToBytes(span.trace_id));
            item.bytesField(2, hexToBytes(span.span_id));
            if (!span.parent_span_id.empty()) item.bytesField(4, hexToBytes(span.parent_span_id));
            item.bytesField(5, span.name);
            item.varint(6, static_cast<std::uint64_t>(spanKind(span)));
            item.fixed64(7, static_cast<std::uint64_t>(span.start_unix_nanos));
            item.fixed64(8, static_cast<std::uint64_t>(span.end_unix_nanos));
            for (const auto& [key, value] : span.attributes_json)
                item.message(9, protoKeyValue(key, protoAnyValue(value)));
            ProtoWriter status;
            if (span.status == SpanStatus::Ok) status.varint(3, 1);
            if (span.status == SpanStatus::Error) {
                status.bytesField(2, span.status_message);
                status.varint(3, 2);
            }
            item.message(15, status);
            scopeSpans.message(2, item);
        }
        ProtoWriter resource;
        resource.message(1, protoKeyValue("service.name", protoString(_config.serviceName)));
        resource.message(1, protoKeyValue("service.version", protoString(_config.serviceVersion)));
        resource.message(1, protoKeyValue("telemetry.sdk.name", protoString("archestra")));
        resource.message(1, protoKeyValue("telemetry.sdk.language", protoString("cpp")));
        ProtoWriter resourceSpans;
        resourceSpans.message(1, resource);
        resourceSpans.message(2, scopeSpans);
        ProtoWriter request;
        request.message(1, resourceSpans);
        return request.bytes();
    }

    /// The ExportTraceServiceRequest in OTLP's JSON mapping, written as text: the same bytes as building it
    /// as an nlohmann document and dumping that (keys in its sorted order), which cost as many instructions
    /// as the proxied request the spans describe.
    std::string encodeJson(const std::vector<Span>& spans) const {
        std::string out;
        out.reserve(512 + spans.size() * 1024);
        out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
        appendStringKeyValue(out, "service.name", _config.serviceName);
        out += ',';
        appendStringKeyValue(out, "service.version", _config.serviceVersion);
        out += ',';
        appendStringKeyValue(out, "telemetry.sdk.name", "archestra");
        out += ',';
        appendStringKeyValue(out, "telemetry.sdk.language", "cpp");
        out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"archestra\",\"version\":";
        appendJsonString(out, _config.serviceVersion);
        out += "},\"spans\":[";
        bool firstSpan = true;
        for (const auto& span : spans) {
            if (!firstSpan) out += ',';
            firstSpan = false;
            out += "{\"attributes\":[";
            bool firstAttribute = true;
            for (const auto& [key, value] : span.attributes_json) {
                if (!firstAttribute) out += ',';
                firstAttribute = false;
                out += "{\"key\":";
                appendJsonString(out, key);
                out += ",\"value\":";
                appendAnyValue(out, value);
                out += '}';
            }
            out += "],\"endTimeUnixNano\":\"";
            out += std::to_string(span.end_unix_nanos);
            out += "\",\"kind\":";
            out += std::to_string(spanKind(span));
            out += ",\"name\":";
            appendJsonString(out, span.name);
            if (!span.parent_span_id.empty()) {
                out += ",\"parentSpanId\":";
                appendJsonString(out, span.parent_span_id);
            }
            out += ",\"spanId\":";
            appendJsonString(out, span.span_id);
            out += ",\"startTimeUnixNano\":\"";
            out += std::to_string(span.start_unix_nanos);
            out += "\",\"status\":{";
            if (span.status == SpanStatus::Ok) out += "\"code\":1";
            if (span.status == SpanStatus::Error) {
                out += "\"code\":2,\"message\":";
                appendJsonString(out, span.status_message);
            }
            out += "},\"traceId\":";
            appendJsonString(out, span.trace_id);
            out += '}';
        }
        out += "]}]}]}";
        return out;
    }

  private:
    int post(const std::string& body) {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (_uri.getScheme() == "https") {
            Poco::Net::Context::Ptr context = new Poco::Net::Context(
                Poco::Net::Context::TLS_CLIENT_USE, "", "", "", Poco::Net::Context::VERIFY_RELAXED, 9, true);
            session =
                std::make_unique<Poco::Net::HTTPSClientSession>(_uri.getHost(), _uri.getPort(), context);
        } else {
            session = std::make_unique<Poco::Net::HTTPClientSession>(_uri.getHost(), _uri.getPort());
        }
        session->setTimeout(Poco::Timespan(_config.timeout_ms * 1000));
        Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST,
                                       _uri.getPathEtc().empty() ? "/" : _uri.getPathEtc(),
                                       Poco::Net::HTTPMessage::HTTP_1_1);
        request.setContentType(_config.protobuf ? "application/x-protobuf" : "application/json");
        request.setContentLength(static_cast<std::streamsize>(body.size()));
        if (!_config.authorization.empty()) request.set("Authorization", _config.authorization);
        session->sendRequest(request) << body;
        Poco::Net::HTTPResponse response;
        std::istream& in = session->receiveResponse(response);
        Poco::NullOutputStream sink;
        Poco::StreamCopier::copyStream(in, sink);
        return static_cast<int>(response.getStatus());
    }

    void reportFailure(const std::string& error) {
        std::lock_guard lock(_mutex);
        // One warning per outage, then debug lines: a down collector must not flood the log.
        ++_failedBatches;
        if (!_failing)
            _logger.log(LogLevel::Warning, "cannot export spans to " + _config.endpoint + ": " + error +
                                               " (further failures are logged at debug level until it "
                                               "recovers; archestra_telemetry_span_export_failures_total "
                                               "counts them)");
        else
            _logger.log(LogLevel::Debug, "span export still failing (" + std::to_string(_failedBatches) +
                                             " batches): " + error);
        _failing = true;
    }
    void reportRecovered() {
        std::lock_guard lock(_mutex);
        if (_failing)
            _logger.log(LogLevel::Info, "span export to " + _config.endpoint + " recovered after " +
                                            std::to_string(_failedBatches) + " failed batches");
        _failedBatches = 0;
        _failing = false;
    }

    Logger& _logger;
    Config _config;
    Poco::URI _uri;
    std::mutex _mutex;
    bool _failing = false;
    std::uint64_t _failedBatches = 0;
};

Status registerFactories(Registrar& registrar) {
    TelemetryFactory factory;
    factory.name = "otlp";
    factory.description = "spans as OTLP/HTTP (JSON or protobuf) to an OpenTelemetry collector";
    factory.config_schema_json = R"({
        "type": "object",
        "required": ["endpoint"],
        "properties": {
            "endpoint": {"type": "string"},
            "protocol": {"type": "string", "enum": ["http/json", "http/protobuf"]},
            "bearer": {"type": "string"},
            "username": {"type": "string"},
            "password": {"type": "string"},
            "serviceName": {"type": "string"},
            "serviceVersion": {"type": "string"},
            "maxAttempts": {"type": "integer"},
            "timeoutMs": {"type": "integer"},
            "backoffMs": {"type": "integer"}
        }
    })";
    factory.create = [](Host& host,
                        const std::string& configText) -> Result<std::unique_ptr<TelemetryExporter>> {
        json c = json::parse(configText, nullptr, false);
        if (!c.is_object()) return fail(ErrorCode::InvalidArgument, "otlp: config is not a JSON object");
        Config config;
        config.endpoint = c.value("endpoint", "");
        try {
            Poco::URI uri(config.endpoint);
            if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty())
                return fail(ErrorCode::InvalidArgument,
                            "otlp: endpoint '" + config.endpoint + "' must be an http:// or https:// URL");
        } catch (const Poco::Exception&) {
            return fail(ErrorCode::InvalidArgument, "otlp: endpoint '" + config.endpoint + "' is not a URL");
        }
        const std::string protocol = c.value("protocol", "http/json");
        if (protocol != "http/json" && protocol != "http/protobuf")
            return fail(ErrorCode::InvalidArgument,
                        "otlp: protocol '" + protocol + "' must be http/json or http/protobuf");
        config.protobuf = protocol == "http/protobuf";
        const std::string bearer = trim(c.value("bearer", ""));
        const std::string user = trim(c.value("username", ""));
        const std::string password = trim(c.value("password", ""));
        if (!bearer.empty()) {
            config.authorization = "Bearer " + bearer;
        } else if (!user.empty() && !password.empty()) {
            config.authorization = "Basic " + base64(user + ":" + password);
        } else if (!user.empty() || !password.empty()) {
            host.logger().log(LogLevel::Warning,
                              "OTLP basic auth needs both ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME and "
                              "_PASSWORD; only one is set, so spans are sent without authentication");
        }
        config.serviceName = c.value("serviceName", config.serviceName);
        config.serviceVersion = c.value("serviceVersion", "");
        config.maxAttempts = std::max(1, c.value("maxAttempts", config.maxAttempts));
        config.timeout_ms = std::max<long>(100, c.value("timeoutMs", config.timeout_ms));
        config.backoff_ms = std::max<long>(1, c.value("backoffMs", config.backoff_ms));
        return std::unique_ptr<TelemetryExporter>(
            std::make_unique<OtlpExporter>(host.logger(), std::move(config)));
    };
    return registrar.addTelemetry(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
