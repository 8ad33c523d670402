// libFuzzer harness for JsonArrayStream (core/proxy/sse: Gemini's streamed JSON array framing). The first
// byte chooses the chunk sizes, the rest is the body. Checked:
// - only Poco::DataFormatException may escape feed() (a body that is not an array/object, a stray '}', an
//   element past the bound); anything else aborts;
// - the `raw` of all events (feed + finish) is the input byte for byte, under any chunking;
// - chunking does not change the events (the same as feeding the body in one piece);
// - each element's `data` ends its `raw` (the closing ']' comes as an event without data); for a body that
//   is a valid JSON array, the elements are exactly the array's elements (each `data` parses to the element)
//   and the stream reports the array closed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <Poco/Exception.h>
#include <nlohmann/json.hpp>

#include "core/proxy/sse/JsonArrayStream.h"
#include "test/fuzz/targets/Invariant.h"

using archestra::proxy::JsonArrayStream;
using archestra::proxy::SseEvent;
using nlohmann::json;

using archestra::fuzz::violated;

namespace {

/// Runs the body through a stream in chunks of the given sizes (cycled); nullopt when it refused the body.
std::optional<std::vector<SseEvent>> run(std::string_view body, const std::vector<std::size_t>& sizes,
                                         std::size_t maxElement, bool& closed) {
    JsonArrayStream stream(maxElement);
    std::vector<SseEvent> events;
    try {
        std::size_t at = 0, k = 0;
        while (at < body.size()) {
            std::size_t n = std::min(body.size() - at, sizes[k++ % sizes.size()]);
            stream.feed(body.substr(at, n), events);
            at += n;
        }
        stream.finish(events);
    } catch (const Poco::DataFormatException&) {
        return std::nullopt;
    } catch (...) {
        violated("JsonArrayStream threw something other than Poco::DataFormatException", body);
    }
    closed = stream.closed();
    return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t choice = data[0];
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<std::size_t> sizes;
    for (int i = 0; i < 4; ++i) sizes.push_back(1 + ((choice >> (2 * i)) & 3) * (i + 1));
    // A small element bound sometimes, so the bound's path runs too.
    const std::size_t maxElement = (choice & 0x80) ? 64 : JsonArrayStream::kDefaultMaxElementBytes;

    bool closedWhole = false, closedChunked = false;
    auto whole = run(body, {body.size() + 1}, maxElement, closedWhole);
    auto chunked = run(body, sizes, maxElement, closedChunked);
    if (whole.has_value() != chunked.has_value())
        violated("chunking changed whether the body is refused", body);
    if (!whole) return 0;

    std::string joined;
    for (const auto& e : *chunked) {
        joined += e.raw;
        // Every event of this stream has jsonArrayElement set; the closing ']' and what follows it come out
        // as one without data (JsonArrayStream.h).
        if (e.jsonArrayElement && !e.data.empty()) {
            if (e.raw.size() < e.data.size() ||
                e.raw.compare(e.raw.size() - e.data.size(), e.data.size(), e.data) != 0)
                violated("an element's raw does not end with its data", body);
        }
    }
    if (joined != body) violated("the events' raw bytes are not the input", body);
    if (whole->size() != chunked->size()) violated("chunking changed the number of events", body);
    for (std::size_t i = 0; i < whole->size(); ++i) {
        const auto &a = (*whole)[i], &b = (*chunked)[i];
        if (a.jsonArrayElement != b.jsonArrayElement || a.data != b.data || a.raw != b.raw)
            violated("chunking changed an event", body);
    }
    if (closedWhole != closedChunked) violated("chunking changed closed()", body);

    json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_array()) {
        std::vector<json> elements;
        for (const auto& e : *chunked) {
            if (!e.jsonArrayElement || e.data.empty()) continue;
            json element = json::parse(e.data, nullptr, false);
            if (element.is_discarded()) violated("an element of a valid array is not valid JSON", e.data);
            elements.push_back(std::move(element));
        }
        if (elements.size() != parsed.size()) violated("elements lost or invented for a valid array", body);
        for (std::size_t i = 0; i < elements.size(); ++i)
            if (elements[i] != parsed[i]) violated("an element differs from the array's", body);
        if (!closedChunked) violated("a valid array was not reported closed", body);
    }
    return 0;
}
