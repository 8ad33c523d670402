// Helpers for the proxy adapter tests: recorded fixtures and running a stream through an assembler.
#pragma once

#include "core/BuildPaths.h"
#include "core/proxy/adapters/ProviderAdapter.h"
#include "core/proxy/sse/SseParser.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace archestra::proxy::test {

inline std::string readFixture(const std::string& relative) {
    std::string path = std::string(ARCHESTRA_SOURCE_DIR) + "/test/fixtures/providers/" + relative;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("missing fixture " + path);
    std::ostringstream content;
    content << in.rdbuf();
    return content.str();
}

inline nlohmann::json readJsonFixture(const std::string& relative) {
    return nlohmann::json::parse(readFixture(relative));
}

struct StreamRun {
    std::string output;                 ///< what the client would receive
    std::vector<StreamAction> actions;  ///< per upstream event
    std::size_t releases = 0;
    ResponseView message;
};

/// Plays the relay: frames `bytes` in chunks of `chunkSize` into events (SSE by default; JsonArrayStream for
/// Gemini's streamed array), forwards Pass events, releases held events with `blocked` as soon as the
/// assembler is ready (or at the end of the stream). `hideUsage`: as after withStreamUsage().
template <class Framer = SseParser>
StreamRun runStream(const ProviderAdapter& adapter, const std::string& bytes,
                    const std::vector<BlockedCall>& blocked, std::size_t chunkSize = 7,
                    bool hideUsage = false) {
    StreamRun run;
    Framer parser;
    auto assembler = adapter.newStreamAssembler();
    if (hideUsage) assembler->hideAddedUsage();
    auto handle = [&](std::vector<SseEvent>& events) {
        for (auto& event : events) {
            StreamAction action = assembler->feed(event);
            run.actions.push_back(action);
            if (action == StreamAction::Pass) run.output += event.raw;
            if (assembler->readyToRelease()) {
                run.output += assembler->release(blocked);
                ++run.releases;
            }
        }
        events.clear();
    };
    std::vector<SseEvent> events;
    for (std::size_t pos = 0; pos < bytes.size(); pos += chunkSize) {
        parser.feed(std::string_view(bytes).substr(pos, chunkSize), events);
        handle(events);
    }
    parser.finish(events);
    handle(events);
    if (assembler->holding()) {
        run.output += assembler->release(blocked);
        ++run.releases;
    }
    run.message = assembler->message();
    return run;
}

/// Parses a whole stream into its events (for inspecting what a client receives).
inline std::vector<SseEvent> parseAll(const std::string& bytes) {
    SseParser parser;
    std::vector<SseEvent> events = parser.feed(bytes);
    parser.finish(events);
    return events;
}

}  // namespace archestra::proxy::test
