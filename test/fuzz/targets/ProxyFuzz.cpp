// libFuzzer harness for the proxy's parsing path: the SSE parser (byte-faithful under any chunking) and each
// provider adapter's request, response and stream parsing on arbitrary input.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Exception.h>
#include <nlohmann/json.hpp>

#include "core/proxy/JsonParse.h"
#include "core/proxy/adapters/ProviderAdapter.h"
#include "core/proxy/sse/SseParser.h"
#include "test/fuzz/targets/Invariant.h"

using namespace archestra::proxy;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

// Splits `input` into chunks whose sizes come from `sizes` (cycled), so every split point gets exercised.
std::vector<std::string_view> chunked(std::string_view input, std::string_view sizes) {
    std::vector<std::string_view> chunks;
    std::size_t pos = 0, i = 0;
    while (pos < input.size()) {
        std::size_t n =
            sizes.empty() ? input.size() : 1 + static_cast<unsigned char>(sizes[i++ % sizes.size()]) % 64;
        n = std::min(n, input.size() - pos);
        chunks.push_back(input.substr(pos, n));
        pos += n;
    }
    return chunks;
}

// The parser's contract: the raw bytes of all dispatched events are the input, byte for byte, whatever the
// chunking; an event over the bound throws DataFormatException and nothing else escapes.
void fuzzSse(std::string_view sizes, std::string_view input) {
    SseParser parser(4096);
    std::vector<SseEvent> events;
    try {
        for (auto chunk : chunked(input, sizes)) parser.feed(chunk, events);
        parser.finish(events);
    } catch (const Poco::DataFormatException&) {
        return;
    }
    std::string joined;
    for (const auto& e : events) joined += e.raw;
    if (joined != input) violated("concatenated raw events differ from the input");
    // Same input in one piece gives the same events.
    SseParser whole(4096);
    auto again = whole.feed(input);
    whole.finish(again);
    if (again.size() != events.size()) violated("event count depends on chunking");
    for (std::size_t i = 0; i < events.size(); ++i)
        if (again[i].data != events[i].data || again[i].event != events[i].event)
            violated("event content depends on chunking");
}

const ProviderAdapter& pick(unsigned char selector) {
    switch (selector % 3) {
        case 0:
            return openAiAdapter();
        case 1:
            return anthropicAdapter();
        default:
            return geminiAdapter();
    }
}

std::string describeRequest(const RequestView& view) {
    json tools = json::array();
    for (const auto& tool : view.tools) tools.push_back({tool.name, tool.description, tool.parameters});
    json results = json::array();
    for (const auto& r : view.toolResults)
        results.push_back(
            {r.toolCallId, r.toolName, r.content, r.location.messageIndex, r.location.partIndex});
    return json({view.model, view.stream, tools, view.hasTools, view.toolCallNames, results, view.text})
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string describeResponse(const ResponseView& view) {
    json calls = json::array();
    for (const auto& call : view.toolCalls)
        calls.push_back({call.id, call.name, call.arguments, call.argumentsRaw, call.argumentsValid});
    return json({view.id, view.model, view.text, view.thinking, calls,
                 view.usage.inputTokens ? json(*view.usage.inputTokens) : json("absent"),
                 view.usage.outputTokens ? json(*view.usage.outputTokens) : json("absent"),
                 view.finishReason})
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

// Requests and responses: malformed bodies are refused with DataFormatException; anything else that escapes
// (a nlohmann type_error from an unchecked access) would be a 500 in the proxy, so it aborts here.
void fuzzBodies(const ProviderAdapter& adapter, std::string_view input) {
    json body = json::parse(input.begin(), input.end(), nullptr, false);
    // The proxy parses bodies and stream events through simdjson (core/proxy/JsonParse): it must give exactly
    // nlohmann's value, types included (1 vs 1u vs 1.0 compare equal, so the dumps are compared), or refuse
    // alike.
    json fast = archestra::proxy::parseJsonOrDiscarded(input);
    if (fast.is_discarded() != body.is_discarded() || (!body.is_discarded() && fast.dump() != body.dump()))
        violated("parseJsonOrDiscarded differs from nlohmann::json::parse", input);
    if (body.is_discarded()) return;
    // compactJson writes nlohmann's own dump, byte for byte.
    if (compactJson(body) != body.dump(-1, ' ', false, json::error_handler_t::replace))
        violated("compactJson differs from nlohmann's dump", input);
    // The include_usage splice (OpenAI streams): when it changes the body, the result parses to the same
    // document with stream_options.include_usage true and nothing else changed; it refuses only a body that
    // is not an object, a stream_options that is neither null nor an object, or an include_usage already true
    // or not a boolean.
    if (auto spliced = adapter.withStreamUsage(input)) {
        json after = json::parse(*spliced, nullptr, false);
        if (after.is_discarded() || !body.is_object()) violated("withStreamUsage broke the body", input);
        json expected = body;
        if (!expected["stream_options"].is_object()) expected["stream_options"] = json::object();
        expected["stream_options"]["include_usage"] = true;
        if (after != expected)
            violated("withStreamUsage changed more than stream_options.include_usage", input);
    } else if (&adapter == &openAiAdapter() && body.is_object()) {
        auto options = body.find("stream_options");
        bool refusable = options != body.end() && !options->is_null() &&
                         (!options->is_object() ||
                          (options->contains("include_usage") && (*options)["include_usage"] != false &&
                           !(*options)["include_usage"].is_null()));
        if (!refusable) violated("withStreamUsage left a body it can splice", input);
    }
    // The fast paths (views read on simdjson's document) must read what the DOM reads, or not be taken.
    if (auto quick = adapter.parseRequestText(input, RouteInfo{"gemini-pro", false})) {
        try {
            if (describeRequest(*quick) !=
                describeRequest(adapter.parseRequest(body, RouteInfo{"gemini-pro", false})))
                violated("parseRequestText differs from parseRequest", input);
        } catch (const Poco::DataFormatException&) {
            violated("parseRequestText read a request parseRequest refuses", input);
        }
    }
    if (auto quick = adapter.parseResponseText(input)) {
        try {
            if (!body.is_object() ||
                describeResponse(*quick) != describeResponse(adapter.parseResponse(body)))
                violated("parseResponseText differs from parseResponse", input);
        } catch (const Poco::DataFormatException&) {
            violated("parseResponseText read an answer parseResponse refuses", input);
        }
    }
    try {
        RequestView request = adapter.parseRequest(body, RouteInfo{"gemini-pro", false});
        for (const auto& result : request.toolResults) {
            json rewritten = adapter.rewriteToolResult(body, result.location, json("[blocked]"));
            (void)adapter.parseRequest(rewritten, RouteInfo{"gemini-pro", false});
        }
    } catch (const Poco::DataFormatException&) {
    }
    try {
        ResponseView response = adapter.parseResponse(body);
        std::vector<BlockedCall> blocked;
        if (!response.toolCalls.empty())
            blocked.push_back({response.toolCalls.front().id, "blocked", "refused"});
        json answer = adapter.blockResponse(body, blocked);
        (void)adapter.parseResponse(answer);
    } catch (const Poco::DataFormatException&) {
    }
}

// Streams: any sequence of events is fed to the assembler; release() when it says it can.
void fuzzStream(const ProviderAdapter& adapter, std::string_view input) {
    SseParser parser(1 << 16);
    std::vector<SseEvent> events;
    try {
        parser.feed(input, events);
        parser.finish(events);
    } catch (const Poco::DataFormatException&) {
        return;
    }
    auto assembler = adapter.newStreamAssembler();
    // The same events with a byte order mark before their data: simdjson leaves such text to nlohmann, so
    // this assembler reads every chunk on the DOM. Both must hold the same events and assemble the same
    // message.
    auto viaDom = adapter.newStreamAssembler();
    for (auto& event : events) {
        SseEvent marked = event;
        if (event.hasData && event.data != "[DONE]" && event.data.rfind("\xEF\xBB\xBF", 0) != 0)
            marked.data = "\xEF\xBB\xBF" + event.data;
        if (viaDom->feed(marked) != assembler->feed(event))
            violated("stream chunk read differs from the DOM's");
        if (viaDom->readyToRelease() != assembler->readyToRelease() ||
            describeResponse(viaDom->message()) != describeResponse(assembler->message()))
            violated("stream chunk read differs from the DOM's");
        if (viaDom->readyToRelease()) (void)viaDom->release({});
        if (assembler->readyToRelease()) {
            std::vector<BlockedCall> blocked;
            const auto& calls = assembler->message().toolCalls;
            if (!calls.empty()) blocked.push_back({calls.front().id, "blocked", "refused"});
            (void)assembler->release(blocked);
            if (assembler->holding()) violated("still holding after release()");
        }
    }
    if (assembler->holding()) (void)assembler->release({});
    (void)adapter.sseError(ProxyErrorKind::UpstreamTimeout, std::string_view(input).substr(0, 32));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const unsigned char mode = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (mode % 3) {
        case 0: {
            // First up-to-8 bytes choose chunk sizes, the rest is the stream.
            std::size_t n = std::min<std::size_t>(8, rest.size());
            fuzzSse(rest.substr(0, n), rest.substr(n));
            break;
        }
        case 1:
            fuzzBodies(pick(data[1]), rest.substr(1));
            break;
        default:
            fuzzStream(pick(data[1]), rest.substr(1));
            break;
    }
    return 0;
}
