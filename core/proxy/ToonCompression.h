// Tool-result compression (reference-proxy §1.5 step 7): JSON tool results in a request are rewritten to TOON
// before the request goes upstream, everything else in the body left as it was.
#pragma once

#include "core/proxy/JsonLocate.h"
#include "core/proxy/adapters/ProviderAdapter.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace archestra::proxy {

/// The organisation/team settings that decide whether a profile's requests are compressed.
struct ToonSettings {
    /// organization id -> {convert_tool_results_to_toon, compression_scope == "team"}
    std::map<std::string, std::pair<bool, bool>> organizations;
    std::map<std::string, bool> teams;  ///< team id -> convert_tool_results_to_toon
    std::string firstOrganization;      ///< for profiles without a team (single-organisation deployments)

    /// Scope "organization": the organisation's flag. Scope "team": on when any of the profile's teams has
    /// it.
    bool enabledFor(const std::string& organizationId, const std::vector<std::string>& teamIds) const;
};

struct ToonOutcome {
    std::size_t converted = 0;      ///< tool results replaced by their TOON form
    std::int64_t tokensBefore = 0;  ///< estimated tokens of the converted results as JSON
    std::int64_t tokensAfter = 0;   ///< ... and as TOON
};

/// Rewrites the JSON tool results of `view` (OpenAI `role:"tool"` content, also as text parts; Anthropic
/// `tool_result` content) to TOON when that is shorter in estimated tokens. Results that are not a JSON
/// object or array, or carry non-text parts, are left alone. Gemini requests are not touched.
///
/// When `rewritten` is empty (no earlier step changed the body), the new body is `raw` with only the bytes of
/// the converted contents replaced, written to `spliced`: every other byte stays identical. Otherwise (or
/// should locating a content in `raw` fail) the changes go into `rewritten` through the adapter.
ToonOutcome compressToolResults(const ProviderAdapter& adapter, const RequestView& view, std::string_view raw,
                                const nlohmann::json& body, std::optional<nlohmann::json>& rewritten,
                                std::optional<std::string>& spliced);

}  // namespace archestra::proxy
