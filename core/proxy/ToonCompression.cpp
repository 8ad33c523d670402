// Tool-result compression: find the JSON tool results, encode them as TOON, splice them into the body.
#include "core/proxy/ToonCompression.h"

#include "core/proxy/JsonLocate.h"
#include "core/proxy/Toon.h"
#include "core/proxy/ToonScan.h"
#include "core/proxy/adapters/AdapterSupport.h"
#include "core/util/JsonString.h"

#include <algorithm>

namespace archestra::proxy {

bool ToonSettings::enabledFor(const std::string& organizationId,
                              const std::vector<std::string>& teamIds) const {
    auto org = organizations.find(organizationId.empty() ? firstOrganization : organizationId);
    if (org == organizations.end()) return false;
    const auto& [flag, teamScope] = org->second;
    if (!teamScope) return flag;
    for (const auto& team : teamIds) {
        auto it = teams.find(team);
        if (it != teams.end() && it->second) return true;
    }
    return false;
}

namespace {

/// The text of a tool-result content: a string (viewed in place), or an array made only of text parts
/// (joined into `joined`).
std::optional<std::string_view> contentText(const nlohmann::json& content, std::string& joined) {
    if (content.is_string()) return std::string_view(content.get_ref<const std::string&>());
    if (!content.is_array() || content.empty()) return std::nullopt;
    std::string& text = joined;
    for (const auto& part : content) {
        if (!part.is_object() || detail::textField(part, "type") != "text") return std::nullopt;
        auto it = part.find("text");
        if (it == part.end() || !it->is_string()) return std::nullopt;
        text += it->get_ref<const std::string&>();
    }
    return std::string_view(text);
}

struct Replacement {
    ToolResultLocation location;
    std::vector<JsonPathStep> path;
    std::string toon;
};

}  // namespace

std::vector<JsonPathStep> contentPath(Provider provider, const ToolResultLocation& location) {
    std::vector<JsonPathStep> path = {
        {"messages", 0, false}, {"", location.messageIndex, true}, {"content", 0, false}};
    if (provider == Provider::Anthropic) {
        path.push_back({"", location.partIndex, true});
        path.push_back({"content", 0, false});
    }
    return path;
}

const nlohmann::json* contentAt(const nlohmann::json& body, const std::vector<JsonPathStep>& path) {
    const nlohmann::json* node = &body;
    for (const auto& step : path) {
        if (step.isIndex) {
            if (!node->is_array() || step.index >= node->size()) return nullptr;
            node = &(*node)[step.index];
        } else {
            if (!node->is_object()) return nullptr;
            auto it = node->find(step.key);
            if (it == node->end()) return nullptr;
            node = &*it;
        }
    }
    return node;
}

ToonOutcome compressToolResults(const ProviderAdapter& adapter, const RequestView& view, std::string_view raw,
                                const nlohmann::json& body, std::optional<nlohmann::json>& rewritten,
                                std::optional<std::string>& spliced) {
    ToonOutcome outcome;
    Provider provider = adapter.provider();
    if (provider != Provider::OpenAi && provider != Provider::Anthropic) return outcome;
    const nlohmann::json& current = rewritten ? *rewritten : body;
    std::vector<Replacement> replacements;
    for (const auto& result : view.toolResults) {
        auto path = contentPath(provider, result.location);
        const nlohmann::json* content = contentAt(current, path);
        if (!content) continue;
        std::string joined;
        auto text = contentText(*content, joined);
        if (!text) continue;
        auto first = std::find_if(text->begin(), text->end(), [](char c) { return !isJsonSpace(c); });
        if (first == text->end() || (*first != '{' && *first != '[')) continue;
        auto converted = toon::encodeJson(*text);  // nullopt: not JSON after all
        if (!converted) continue;
        std::string encoded = std::move(*converted);
        auto before = static_cast<std::int64_t>(toon::estimateTokens(*text));
        auto after = static_cast<std::int64_t>(toon::estimateTokens(encoded));
        if (after >= before) continue;  // TOON is not smaller for this one: send the JSON
        outcome.tokensBefore += before;
        outcome.tokensAfter += after;
        ++outcome.converted;
        replacements.push_back({result.location, std::move(path), std::move(encoded)});
    }
    if (replacements.empty()) return outcome;

    if (!rewritten) {
        std::vector<std::pair<std::pair<std::size_t, std::size_t>, std::string>> edits;
        for (const auto& replacement : replacements) {
            auto range = locateJsonValue(raw, replacement.path);
            if (!range) break;
            edits.emplace_back(*range, util::jsonString(replacement.toon));
        }
        if (edits.size() == replacements.size()) {
            std::sort(edits.begin(), edits.end(),
                      [](const auto& a, const auto& b) { return a.first.first < b.first.first; });
            std::string out;
            out.reserve(raw.size());
            std::size_t at = 0;
            for (const auto& [range, bytes] : edits) {
                out.append(raw.substr(at, range.first - at));
                out += bytes;
                at = range.second;
            }
            out.append(raw.substr(at));
            spliced = std::move(out);
            return outcome;
        }
    }
    nlohmann::json updated = rewritten ? std::move(*rewritten) : body;
    for (const auto& replacement : replacements)
        updated = adapter.rewriteToolResult(updated, replacement.location, nlohmann::json(replacement.toon));
    rewritten = std::move(updated);
    return outcome;
}

}  // namespace archestra::proxy
