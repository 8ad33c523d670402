// lodash-style property paths (`a.b[0].c`, `emails[*].from`) used by policies to pick values out of JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace archestra::policy {

struct PathSegment {
    enum class Kind { Invalid = 0, Key, Index, Wildcard };
    Kind kind = Kind::Invalid;
    std::string key;
    std::size_t index = 0;
};

/// Parses `a.b[0].c`, `a["b.c"]`, `a['b']`, `list[*].x[*]` (any number of `[*]`). An empty path means the
/// root value itself (lodash would give undefined; we let a policy look at a whole string result). Returns
/// nullopt for a malformed path such as `a[`, `a..b` or `a[x]`.
std::optional<std::vector<PathSegment>> parsePath(std::string_view path);

/// Every value the path reaches, in document order. `[*]` fans out over array elements (and object members,
/// in key order). A digit-only key also indexes an array, as lodash does. Missing values are simply absent; a
/// present null is returned. The pointers are into `root`.
std::vector<const nlohmann::json*> extractValues(const nlohmann::json& root,
                                                 const std::vector<PathSegment>& path);
std::vector<const nlohmann::json*> extractValues(const nlohmann::json& root, std::string_view path);

}  // namespace archestra::policy
