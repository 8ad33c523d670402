// Router: template compilation and best-match lookup.
#include "core/http/Router.h"

#include <algorithm>
#include <stdexcept>

namespace archestra::http {

std::vector<std::string> splitPath(const std::string& path) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        if (slash > start) parts.emplace_back(path.substr(start, slash - start));
        start = slash + 1;
    }
    return parts;
}

namespace {

/// 8-4-4-4-12 hex digits.
bool isUuidShape(const std::string& text) {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return false;
        }
    }
    return true;
}

bool hasRfcVariant(const std::string& text) {
    char variant = static_cast<char>(std::tolower(static_cast<unsigned char>(text[19])));
    return variant == '8' || variant == '9' || variant == 'a' || variant == 'b';
}

}  // namespace

bool isUuidV4(const std::string& text) {
    return isUuidShape(text) && text[14] == '4' && hasRfcVariant(text);
}

bool isUuid(const std::string& text) {
    return isUuidShape(text) && text[14] >= '1' && text[14] <= '8' && hasRfcVariant(text);
}

namespace {

Segment compileSegment(const std::string& text, const std::string& path) {
    Segment segment;
    if (text == "*") {
        segment.rest = true;
        return segment;
    }
    auto open = text.find('{');
    if (open == std::string::npos) {
        segment.prefix = text;
        return segment;
    }
    auto close = text.find('}', open);
    if (close == std::string::npos || close == open + 1)
        throw std::invalid_argument("route template " + path + ": segment '" + text +
                                    "' has an unclosed or empty {}");
    segment.prefix = text.substr(0, open);
    segment.param = text.substr(open + 1, close - open - 1);
    segment.suffix = text.substr(close + 1);
    return segment;
}

bool matchSegment(const Segment& segment, const std::string& part,
                  std::map<std::string, std::string>& params) {
    if (segment.param.empty()) return segment.prefix == part;
    if (part.size() < segment.prefix.size() + segment.suffix.size() + 1) return false;
    if (part.compare(0, segment.prefix.size(), segment.prefix) != 0) return false;
    if (part.compare(part.size() - segment.suffix.size(), segment.suffix.size(), segment.suffix) != 0)
        return false;
    params[segment.param] =
        part.substr(segment.prefix.size(), part.size() - segment.prefix.size() - segment.suffix.size());
    return true;
}

}  // namespace

void Router::add(RouteSpec spec, Handler handler) {
    if (spec.path.empty() || spec.path.front() != '/')
        throw std::invalid_argument("route template '" + spec.path + "' must start with '/'");
    for (const auto& existing : _routes) {
        if (existing->spec.method == spec.method && existing->spec.path == spec.path)
            throw std::invalid_argument("route " + spec.method + " " + spec.path + " is declared twice");
    }
    auto route = std::make_unique<Route>(Route{std::move(spec), std::move(handler)});
    Compiled compiled{route.get(), {}, 0};
    auto parts = splitPath(route->spec.path);
    for (std::size_t i = 0; i < parts.size(); ++i) {
        Segment segment = compileSegment(parts[i], route->spec.path);
        if (segment.rest && i + 1 != parts.size())
            throw std::invalid_argument("route template " + route->spec.path +
                                        ": '*' must be the last segment");
        // Literal segments weigh most, then affixed params, then bare params; a rest match weighs least.
        compiled.specificity += segment.rest ? 0
                                : segment.param.empty()
                                    ? 4
                                    : (segment.prefix.size() + segment.suffix.size() > 0 ? 2 : 1);
        compiled.segments.push_back(std::move(segment));
    }
    const std::size_t position = _compiled.size();
    if (!compiled.segments.empty() && !compiled.segments.front().rest &&
        compiled.segments.front().param.empty())
        _byFirstLiteral[compiled.segments.front().prefix].push_back(position);
    else
        _anyFirst.push_back(position);
    _compiled.push_back(std::move(compiled));
    _routes.push_back(std::move(route));
}

void Router::consider(const Compiled& compiled, const std::string& method,
                      const std::vector<std::string>& parts, RouteMatch& best, int& bestScore,
                      std::vector<std::string>& allowed) const {
    std::map<std::string, std::string> params;
    bool ok = true;
    std::size_t i = 0;
    for (; i < compiled.segments.size() && ok; ++i) {
        const Segment& segment = compiled.segments[i];
        if (segment.rest) {
            std::string restPath;
            for (std::size_t j = i; j < parts.size(); ++j) restPath += (j > i ? "/" : "") + parts[j];
            params["*"] = restPath;
            i = parts.size();
            break;
        }
        if (i >= parts.size() || !matchSegment(segment, parts[i], params)) ok = false;
    }
    bool endsWithRest = !compiled.segments.empty() && compiled.segments.back().rest;
    if (!ok || (!endsWithRest && i != parts.size()) ||
        (!endsWithRest && compiled.segments.size() != parts.size()))
        return;
    const std::string& routeMethod = compiled.route->spec.method;
    bool methodOk = routeMethod == "*" || routeMethod == method || (method == "HEAD" && routeMethod == "GET");
    if (!methodOk) {
        if (std::find(allowed.begin(), allowed.end(), routeMethod) == allowed.end())
            allowed.push_back(routeMethod);
        return;
    }
    int score = compiled.specificity * 2 + (routeMethod == "*" ? 0 : 1);
    if (score > bestScore) {
        bestScore = score;
        best.route = compiled.route;
        best.params = std::move(params);
    }
}

RouteMatch Router::match(const std::string& method, const std::string& path) const {
    auto parts = splitPath(path);
    RouteMatch best;
    int bestScore = -1;
    std::vector<std::string> allowed;
    static const std::vector<std::size_t> none;
    const std::vector<std::size_t>* literal = &none;
    if (!parts.empty()) {
        auto it = _byFirstLiteral.find(parts.front());
        if (it != _byFirstLiteral.end()) literal = &it->second;
    }
    // Both candidate lists merged back into declaration order.
    auto a = literal->begin();
    auto b = _anyFirst.begin();
    while (a != literal->end() || b != _anyFirst.end()) {
        const bool takeA = b == _anyFirst.end() || (a != literal->end() && *a < *b);
        consider(_compiled[takeA ? *a++ : *b++], method, parts, best, bestScore, allowed);
    }
    if (best.route == nullptr) best.allowedMethods = std::move(allowed);
    return best;
}

}  // namespace archestra::http
