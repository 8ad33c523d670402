// Tool-result compression cost per tool result: what the proxy does for one `role:"tool"` message (find the
// content, parse it, encode TOON, estimate tokens before and after, splice the new content into the raw
// body). Prints CPU µs per result (thread CPU time, so a loaded machine does not inflate it), throughput in
// MB/s of tool-result JSON, the CPU µs of the token counts alone (the estimate of the JSON and of the TOON
// text: what replaces the original's ~81 ms tokenizer), the token estimate before/after, and the process's
// peak RSS. With --enforce it exits 1 when a typical result (the payloads up to ~2 KB) costs 50 µs or more
// for the whole step, or when counting the tokens of a result up to 128 KB (~60k tokens: about what fits a
// model's context) costs 50 µs or more; CTest runs it without, as a smoke test (every payload converts): a
// timing limit inside the test suite fails on a busy machine.
// `--only <text>` runs the cases whose name contains it and skips the breakdown (for perf record); the
// breakdown times each CPU build of the scans (toon::scan::supported()) alternately.
#include "core/proxy/Toon.h"
#include "core/proxy/ToonCompression.h"
#include "core/proxy/ToonScan.h"
#include "core/util/JsonString.h"

#include <simdjson.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

using namespace archestra::proxy;
using nlohmann::json;

namespace {

double cpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

json users(int n) {
    json rows = json::array();
    for (int i = 0; i < n; ++i)
        rows.push_back({{"id", i},
                        {"login", "user" + std::to_string(i)},
                        {"email", "user" + std::to_string(i) + "@example.com"},
                        {"role", i % 3 ? "member" : "admin"},
                        {"active", i % 2 == 0},
                        {"score", 12.5 + i}});
    return {{"users", rows}, {"total", n}, {"page", 1}};
}

json issue() {
    json labels =
        json::array({{{"name", "bug"}, {"color", "d73a4a"}}, {{"name", "proxy"}, {"color", "0e8a16"}}});
    json comments = json::array();
    for (int i = 0; i < 8; ++i)
        comments.push_back({{"author", "dev" + std::to_string(i)},
                            {"body", "Looks like the stream stalls, see log line " + std::to_string(i * 7)},
                            {"reactions", {{"+1", i}, {"heart", 0}}}});
    return {{"number", 1234},
            {"title", "Streaming stalls: proxy waits for the tool call"},
            {"state", "open"},
            {"labels", labels},
            {"assignees", json::array({"alice", "bob"})},
            {"comments", comments},
            {"milestone", nullptr}};
}

struct Case {
    const char* name;
    json result;
    bool typical;
};

}  // namespace

int main(int argc, char** argv) {
    int iterations = 20000;
    bool enforce = false;
    std::string_view only;  // --only <text>: the cases whose name contains it (for perf record)
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--enforce")
            enforce = true;
        else if (std::string_view(argv[i]) == "--only" && i + 1 < argc)
            only = argv[++i];
        else
            iterations = std::atoi(argv[i]);
    }
    std::vector<Case> cases = {
        {"small object (weather)",
         {{"city", "Berlin"}, {"temperature", 21.5}, {"unit", "C"}, {"conditions", "cloudy"}},
         true},
        {"issue with comments", issue(), true},
        {"20 users (tabular)", users(20), true},
        {"100 users (tabular)", users(100), false},
        {"1000 users (tabular)", users(1000), false},
        {"10000 users (tabular)", users(10000), false}};
    bool ok = true;
    std::printf("%-24s %9s %10s %10s %10s %12s %12s\n", "tool result", "JSON B", "µs/result", "MB/s",
                "µs count", "tokens JSON", "tokens TOON");
    for (const auto& c : cases) {
        if (std::string_view(c.name).find(only) == std::string_view::npos) continue;
        std::string text = c.result.dump();
        json body = {{"model", "gpt-4o"},
                     {"messages",
                      {{{"role", "user"}, {"content", "call the tool"}},
                       {{"role", "assistant"},
                        {"content", nullptr},
                        {"tool_calls",
                         {{{"id", "call_1"},
                           {"type", "function"},
                           {"function", {{"name", "fetch"}, {"arguments", "{}"}}}}}}},
                       {{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", text}}}}};
        std::string raw = body.dump();
        RequestView view = openAiAdapter().parseRequest(body, {});
        const std::size_t size = text.size();
        int n = c.typical ? iterations
                          : std::max(10, iterations / (size > 500000  ? 1000
                                                       : size > 50000 ? 100
                                                                      : 10));
        ToonOutcome last;
        double start = cpuSeconds();
        for (int i = 0; i < n; ++i) {
            std::optional<json> rewritten;
            std::optional<std::string> spliced;
            last = compressToolResults(openAiAdapter(), view, raw, body, rewritten, spliced);
            if (!spliced) return std::fprintf(stderr, "%s: not converted\n", c.name), 2;
        }
        double us = (cpuSeconds() - start) * 1e6 / n;
        double mbps = static_cast<double>(text.size()) / us;  // bytes per µs == MB/s
        // The token counts alone: both estimates the step makes (the JSON result and its TOON text).
        const std::string encoded = *toon::encodeJson(text);
        std::size_t counted = 0;
        start = cpuSeconds();
        for (int i = 0; i < n; ++i) counted += toon::estimateTokens(text) + toon::estimateTokens(encoded);
        double countUs = (cpuSeconds() - start) * 1e6 / n;
        if (counted !=
            static_cast<std::size_t>(n) * static_cast<std::size_t>(last.tokensBefore + last.tokensAfter))
            return std::fprintf(stderr, "%s: the estimates differ from the step's\n", c.name), 2;
        const bool stepOver = c.typical && us >= 50;
        const bool countOver = size <= 128 * 1024 && countUs >= 50;
        std::printf("%-24s %9zu %10.2f %10.1f %10.2f %12lld %12lld%s\n", c.name, text.size(), us, mbps,
                    countUs, static_cast<long long>(last.tokensBefore),
                    static_cast<long long>(last.tokensAfter),
                    stepOver    ? "  <-- step over 50 µs"
                    : countOver ? "  <-- token count over 50 µs"
                                : "");
        if (stepOver || countOver) ok = false;
    }
    // Where the time goes, for the 20-user and the 1000-user results.
    for (int rows : {20, 1000}) {
        if (!only.empty()) break;
        std::string text = users(rows).dump();
        int n = rows > 100 ? std::max(10, iterations / 100) : iterations;
        std::size_t sink = 0;
        auto measure = [&](auto&& fn) {
            double start = cpuSeconds();
            for (int i = 0; i < n; ++i) sink += fn();
            return (cpuSeconds() - start) * 1e6 / n;
        };
        auto timeIt = [&](const char* what, auto&& fn) {
            std::printf("  %-34s %8.2f µs  (%zu)\n", what, measure(fn), sink % 10);
        };
        std::string encoded = *toon::encodeJson(text);
        json body = {{"messages", {{{"role", "tool"}, {"tool_call_id", "c"}, {"content", text}}}}};
        std::string raw = body.dump();
        std::printf("breakdown, %d users:\n", rows);
        timeIt("parse (simdjson) + encode TOON", [&] { return toon::encodeJson(text)->size(); });
        timeIt("locate the content in the raw body", [&] {
            return locateJsonValue(raw, {{"messages"}, {"", 0, true}, {"content"}})->second;
        });
        timeIt("estimate tokens (JSON + TOON)",
               [&] { return toon::estimateTokens(text) + toon::estimateTokens(encoded); });
        timeIt("escape TOON as a JSON string", [&] { return archestra::util::jsonString(encoded).size(); });
        timeIt("  (nlohmann, for comparison)", [&] { return json(encoded).dump().size(); });
        timeIt("simdjson parse alone", [&] {
            thread_local simdjson::dom::parser parser;
            simdjson::dom::element root;
            return static_cast<std::size_t>(parser.parse(text).get(root));
        });
        // Each build of the scans this CPU runs (toon::scan uses the first), 5 rounds alternating so that a
        // busy machine slows them alike; medians.
        const auto kernels = toon::scan::supported();
        const std::size_t content = raw.find(":\"{") + 1;
        std::vector<std::vector<double>> estimate(kernels.size()), stringEnd(kernels.size());
        for (int round = 0; round < 5; ++round) {
            for (std::size_t k = 0; k < kernels.size(); ++k) {
                const auto& set = kernels[k];
                estimate[k].push_back(
                    measure([&] { return set.estimateTokens(text) + set.estimateTokens(encoded); }));
                stringEnd[k].push_back(measure([&] { return set.stringEnd(raw, content); }));
            }
        }
        for (std::size_t k = 0; k < kernels.size(); ++k)
            std::printf("  scans for %-33s estimate %8.2f µs, end of the content string %8.2f µs\n",
                        kernels[k].name, median(estimate[k]), median(stringEnd[k]));
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::printf("peak RSS: %.1f MB (whole process, bodies included)\n",
                static_cast<double>(usage.ru_maxrss) / 1024);
    return ok || !enforce ? 0 : 1;
}
