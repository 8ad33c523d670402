// See JsonLocate.h.
#include "core/proxy/JsonLocate.h"

#include "core/proxy/ToonScan.h"

#include <nlohmann/json.hpp>

namespace archestra::proxy {

namespace {

struct Scanner {
    std::string_view s;
    std::size_t i = 0;

    void ws() {
        while (i < s.size() && isJsonSpace(s[i])) ++i;
    }
    bool string() {  // at '"'; leaves i after the closing quote
        const std::size_t end = toon::scan::best().stringEnd(s, i);
        if (end == std::string_view::npos) return false;
        i = end;
        return true;
    }
    bool value() {  // iterative: nesting depth is not limited by the stack
        ws();
        if (i >= s.size()) return false;
        if (s[i] == '"') return string();
        if (s[i] == '{' || s[i] == '[') {
            std::size_t depth = 0;
            while (i < s.size()) {
                char c = s[i];
                if (c == '"') {
                    if (!string()) return false;
                    continue;
                }
                if (c == '{' || c == '[') ++depth;
                if (c == '}' || c == ']') {
                    if (--depth == 0) return ++i, true;
                }
                ++i;
            }
            return false;
        }
        std::size_t start = i;
        while (i < s.size() && !isJsonSpace(s[i]) && s[i] != ',' && s[i] != '}' && s[i] != ']') ++i;
        return i > start;
    }
};

/// The decoded key at the scanner (a string token), or nullopt.
std::optional<std::string> readKey(Scanner& scan) {
    std::size_t start = scan.i;
    if (!scan.string()) return std::nullopt;
    std::string_view token = scan.s.substr(start, scan.i - start);
    if (token.find('\\') == std::string_view::npos) return std::string(token.substr(1, token.size() - 2));
    auto decoded = nlohmann::json::parse(token, nullptr, false);
    if (!decoded.is_string()) return std::nullopt;
    return decoded.get<std::string>();
}

}  // namespace

std::optional<std::pair<std::size_t, std::size_t>> locateJsonValue(std::string_view raw,
                                                                   const std::vector<JsonPathStep>& path) {
    Scanner scan{raw, 0};
    scan.ws();
    for (const auto& step : path) {
        scan.ws();
        if (scan.i >= raw.size()) return std::nullopt;
        if (step.isIndex) {
            if (raw[scan.i] != '[') return std::nullopt;
            ++scan.i;
            for (std::size_t k = 0; k < step.index; ++k) {
                if (!scan.value()) return std::nullopt;
                scan.ws();
                if (scan.i >= raw.size() || raw[scan.i] != ',') return std::nullopt;
                ++scan.i;
            }
            scan.ws();
            if (scan.i < raw.size() && raw[scan.i] == ']') return std::nullopt;
        } else {
            if (raw[scan.i] != '{') return std::nullopt;
            ++scan.i;
            std::optional<std::pair<std::size_t, std::size_t>> found;
            while (true) {
                scan.ws();
                if (scan.i >= raw.size()) return std::nullopt;
                if (raw[scan.i] == '}') break;
                auto key = readKey(scan);
                if (!key) return std::nullopt;
                scan.ws();
                if (scan.i >= raw.size() || raw[scan.i] != ':') return std::nullopt;
                ++scan.i;
                scan.ws();
                const std::size_t start = scan.i;
                if (!scan.value()) return std::nullopt;
                // The last duplicate wins, as in the parsed body; its end is kept so that the value (a whole
                // tool result, at the last step) is not scanned a second time.
                if (*key == step.key) found = std::make_pair(start, scan.i);
                scan.ws();
                if (scan.i < raw.size() && raw[scan.i] == ',') ++scan.i;
            }
            if (!found) return std::nullopt;
            if (&step == &path.back()) return found;
            scan.i = found->first;
        }
    }
    scan.ws();
    std::size_t start = scan.i;
    if (!scan.value()) return std::nullopt;
    return std::make_pair(start, scan.i);
}

}  // namespace archestra::proxy
