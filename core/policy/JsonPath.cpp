// Parsing and evaluation of lodash-style property paths.
#include "core/policy/JsonPath.h"

namespace archestra::policy {
namespace {

bool allDigits(std::string_view s) {
    if (s.empty() || s.size() > 18) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

void walk(const nlohmann::json& node, const std::vector<PathSegment>& path, std::size_t i,
          std::vector<const nlohmann::json*>& out) {
    if (i == path.size()) {
        out.push_back(&node);
        return;
    }
    const PathSegment& seg = path[i];
    switch (seg.kind) {
        case PathSegment::Kind::Wildcard:
            if (node.is_array() || node.is_object())
                for (const auto& child : node) walk(child, path, i + 1, out);
            return;
        case PathSegment::Kind::Index:
            if (node.is_array() && seg.index < node.size())
                walk(node[seg.index], path, i + 1, out);
            else if (node.is_object()) {
                auto it = node.find(std::to_string(seg.index));
                if (it != node.end()) walk(*it, path, i + 1, out);
            }
            return;
        case PathSegment::Kind::Key:
            if (node.is_object()) {
                auto it = node.find(seg.key);
                if (it != node.end()) walk(*it, path, i + 1, out);
            } else if (node.is_array() && allDigits(seg.key)) {
                auto idx = std::stoull(seg.key);
                if (idx < node.size()) walk(node[idx], path, i + 1, out);
            }
            return;
        case PathSegment::Kind::Invalid:
            return;
    }
}

}  // namespace

std::optional<std::vector<PathSegment>> parsePath(std::string_view path) {
    std::vector<PathSegment> out;
    std::size_t i = 0;
    bool expectKey = true;  // at the start or after '.'
    while (i < path.size()) {
        char c = path[i];
        if (c == '[') {
            std::size_t close = path.find(']', i);
            if (close == std::string_view::npos) return std::nullopt;
            std::string_view inner = path.substr(i + 1, close - i - 1);
            PathSegment seg;
            if (inner == "*") {
                seg.kind = PathSegment::Kind::Wildcard;
            } else if (allDigits(inner)) {
                seg.kind = PathSegment::Kind::Index;
                seg.index = std::stoull(std::string(inner));
            } else if (inner.size() >= 2 && (inner.front() == '"' || inner.front() == '\'') &&
                       inner.back() == inner.front()) {
                seg.kind = PathSegment::Kind::Key;
                seg.key = std::string(inner.substr(1, inner.size() - 2));
            } else {
                return std::nullopt;
            }
            out.push_back(std::move(seg));
            i = close + 1;
            expectKey = false;
            if (i < path.size()) {
                if (path[i] == '.') {
                    ++i;
                    expectKey = true;
                    if (i == path.size()) return std::nullopt;
                } else if (path[i] != '[') {
                    return std::nullopt;
                }
            }
            continue;
        }
        if (!expectKey) return std::nullopt;
        std::size_t end = path.find_first_of(".[", i);
        if (end == std::string_view::npos) end = path.size();
        if (end == i) return std::nullopt;  // empty key: "a..b" or ".a"
        out.push_back(PathSegment{PathSegment::Kind::Key, std::string(path.substr(i, end - i)), 0});
        i = end;
        expectKey = false;
        if (i < path.size() && path[i] == '.') {
            ++i;
            expectKey = true;
            if (i == path.size()) return std::nullopt;
        }
    }
    return out;
}

std::vector<const nlohmann::json*> extractValues(const nlohmann::json& root,
                                                 const std::vector<PathSegment>& path) {
    std::vector<const nlohmann::json*> out;
    walk(root, path, 0, out);
    return out;
}

std::vector<const nlohmann::json*> extractValues(const nlohmann::json& root, std::string_view path) {
    auto parsed = parsePath(path);
    if (!parsed) return {};
    return extractValues(root, *parsed);
}

}  // namespace archestra::policy
