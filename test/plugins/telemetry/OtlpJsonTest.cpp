// telemetry.otlp: the JSON body written as text (encodeJson) is byte for byte the nlohmann document the
// exporter built before (kept here as the reference), for plain, escaped, non-ASCII and odd attribute values.
#include "plugins/telemetry/otlp/OtlpExporter.cpp"

#include <cppunit/extensions/HelperMacros.h>

namespace {

struct ExporterProbe : OtlpExporter {
    using OtlpExporter::encodeJson;
    using OtlpExporter::OtlpExporter;
    using OtlpExporter::spanKind;
};

// The exporter's former encoder: every span as an nlohmann document, dumped.
json keyValue(const std::string& key, json value) {
    return {{"key", key}, {"value", std::move(value)}};
}

json referenceDocument(const std::vector<Span>& spans, const Config& config) {
    json out = json::array();
    for (const auto& span : spans) {
        json attributes = json::array();
        for (const auto& [key, value] : span.attributes_json)
            attributes.push_back(keyValue(key, anyValue(value)));
        int kind = ExporterProbe::spanKind(span);
        json item = {{"traceId", span.trace_id},
                     {"spanId", span.span_id},
                     {"name", span.name},
                     {"kind", kind},
                     {"startTimeUnixNano", std::to_string(span.start_unix_nanos)},
                     {"endTimeUnixNano", std::to_string(span.end_unix_nanos)},
                     {"attributes", attributes}};
        if (!span.parent_span_id.empty()) item["parentSpanId"] = span.parent_span_id;
        json status = json::object();
        if (span.status == SpanStatus::Ok) status["code"] = 1;
        if (span.status == SpanStatus::Error) {
            status["code"] = 2;
            status["message"] = span.status_message;
        }
        item["status"] = status;
        out.push_back(std::move(item));
    }
    json resource = {
        {"attributes", json::array({keyValue("service.name", {{"stringValue", config.serviceName}}),
                                    keyValue("service.version", {{"stringValue", config.serviceVersion}}),
                                    keyValue("telemetry.sdk.name", {{"stringValue", "archestra"}}),
                                    keyValue("telemetry.sdk.language", {{"stringValue", "cpp"}})})}};
    return {
        {"resourceSpans",
         json::array({{{"resource", resource},
                       {"scopeSpans",
                        json::array({{{"scope", {{"name", "archestra"}, {"version", config.serviceVersion}}},
                                      {"spans", out}}})}}})}};
}

struct QuietLogger : Logger {
    void log(LogLevel, const std::string&) noexcept override {}
};

Span span(int variant) {
    Span s;
    s.trace_id = "0123456789abcdef0123456789abcdef";
    s.span_id = "0123456789abcdef";
    if (variant > 0) s.parent_span_id = "fedcba9876543210";
    s.name = variant == 2 ? "POST /v1/\"x\"\n\xc3\xa9\x01" : "openai.chat.completions";
    s.start_unix_nanos = 1700000000000000000LL + variant;
    s.end_unix_nanos = variant - 5;
    const char* values[] = {"\"gpt-4o\"",
                            "true",
                            "false",
                            "3",
                            "-3",
                            "0",
                            "-0",
                            "007",
                            "123456789012345678",
                            "1234567890123456789",
                            "99999999999999999999",
                            "1.5",
                            "-2e3",
                            "\"caf\\u00e9\"",
                            "\"caf\xc3\xa9\"",
                            "\"a\\nb\"",
                            "\"tab\\t\\u0001 \\/ \\\"q\\\"\"",
                            "null",
                            "[1,2]",
                            "{\"a\":1}",
                            "not json",
                            "\"\xff bad\"",
                            "",
                            " \"x\" ",
                            "\"\"",
                            "\"del\x7f\"",
                            "\"\x01\"",
                            "\"esc\\u001b\""};
    int i = 0;
    for (const char* value : values)
        s.attributes_json["k" + std::to_string(i++) + (variant == 2 ? "\t\xc3\xa9\"" : "")] = value;
    if (variant == 1) s.attributes_json["http.route"] = "\"/v1/openai/chat/completions\"";
    s.status = variant == 0 ? SpanStatus::Ok : variant == 1 ? SpanStatus::Error : SpanStatus::Unset;
    s.status_message = "bad \"thing\"\x01\x1b\x1f\n";
    return s;
}

}  // namespace

class OtlpJsonTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(OtlpJsonTest);
    CPPUNIT_TEST(testSameBytesAsTheDocument);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSameBytesAsTheDocument() {
        QuietLogger logger;
        for (const char* version : {"", "1.2.3", "1.2.\"3\"\t\xc3\xa9"}) {
            Config config;
            config.endpoint = "http://127.0.0.1:4318/v1/traces";
            config.serviceVersion = version;
            ExporterProbe exporter(logger, config);
            std::vector<Span> spans;
            auto check = [&] {
                const std::string expected =
                    referenceDocument(spans, config).dump(-1, ' ', false, json::error_handler_t::replace);
                CPPUNIT_ASSERT_EQUAL(expected, exporter.encodeJson(spans));
            };
            check();  // no spans
            for (int variant = 0; variant < 3; ++variant) {
                spans.push_back(span(variant));
                check();
            }
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OtlpJsonTest);
