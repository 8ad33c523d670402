// Example telemetry plugin: appends each exported span (and analytics event) as one JSON line to a file under
// the platform's data directory. Small on purpose: it shows every part a real plugin needs.
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include "archestra/sdk/plugin.h"

namespace {

using namespace archestra::sdk;

// JSON string escaping, written out so the example needs no JSON library (a real plugin may use any).
std::string quote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
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
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

const char* statusName(SpanStatus s) {
    switch (s) {
        case SpanStatus::Ok:
            return "ok";
        case SpanStatus::Error:
            return "error";
        default:
            return "unset";
    }
}

class JsonLinesExporter : public TelemetryExporter {
  public:
    JsonLinesExporter(Logger& logger, std::string path) : _logger(logger), _path(std::move(path)) {}

    Status exportSpans(const std::vector<Span>& spans) override {
        std::string lines;
        for (const auto& s : spans) {
            std::string attributes;
            // Values are already JSON text, so they are written as they are.
            for (const auto& [key, value] : s.attributes_json)
                attributes += (attributes.empty() ? "" : ",") + quote(key) + ":" + value;
            lines += "{\"type\":\"span\",\"traceId\":" + quote(s.trace_id) +
                     ",\"spanId\":" + quote(s.span_id) + ",\"parentSpanId\":" + quote(s.parent_span_id) +
                     ",\"name\":" + quote(s.name) +
                     ",\"startUnixNanos\":" + std::to_string(s.start_unix_nanos) +
                     ",\"endUnixNanos\":" + std::to_string(s.end_unix_nanos) + ",\"status\":\"" +
                     statusName(s.status) + "\",\"attributes\":{" + attributes + "}}\n";
        }
        return append(lines);
    }

    Status captureEvents(const std::vector<AnalyticsEvent>& events) override {
        std::string lines;
        for (const auto& e : events)
            lines += "{\"type\":\"event\",\"name\":" + quote(e.name) +
                     ",\"distinctId\":" + quote(e.distinct_id) +
                     ",\"properties\":" + (e.properties_json.empty() ? "{}" : e.properties_json) + "}\n";
        return append(lines);
    }

    Status flush(std::int64_t) override { return okStatus(); }  // every append is already written through

  private:
    Status append(const std::string& lines) {
        std::lock_guard lock(_mutex);  // the host calls from several threads; keep lines whole
        std::ofstream out(_path, std::ios::app);
        if (!out) {
            _logger.log(LogLevel::Warning, "cannot open " + _path + " for appending");
            return fail(ErrorCode::Unavailable, "hello: cannot open '" + _path + "' for appending");
        }
        out << lines;
        out.flush();
        if (!out) return fail(ErrorCode::Unavailable, "hello: writing to '" + _path + "' failed");
        return okStatus();
    }

    Logger& _logger;
    std::string _path;
    std::mutex _mutex;
};

// The host validated the config against the schema below, so "file" is a non-empty string if present.
std::string fileFromConfig(const std::string& config) {
    const auto key = config.find("\"file\"");
    if (key == std::string::npos) return "spans.jsonl";
    const auto open = config.find('"', config.find(':', key) + 1);
    return config.substr(open + 1, config.find('"', open + 1) - open - 1);
}

Status registerFactories(Registrar& registrar) {
    TelemetryFactory factory;
    factory.name = "hello";
    factory.description = "appends spans as JSON lines to <data dir>/<file>";
    factory.config_schema_json = R"({
        "type": "object",
        "additionalProperties": false,
        "properties": {"file": {"type": "string", "minLength": 1}}
    })";
    factory.create = [](Host& host, const std::string& config) -> Result<std::unique_ptr<TelemetryExporter>> {
        const std::string file = fileFromConfig(config);
        if (file.find('/') != std::string::npos)
            return fail(ErrorCode::InvalidArgument, "hello: file '" + file + "' must be a plain file name");
        const std::string path = host.dataDirectory() + "/" + file;
        host.logger().log(LogLevel::Info, "writing spans to " + path);
        return std::unique_ptr<TelemetryExporter>(std::make_unique<JsonLinesExporter>(host.logger(), path));
    };
    return registrar.addTelemetry(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
