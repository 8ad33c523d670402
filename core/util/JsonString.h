// One JSON string escaper for the whole tree (the TOON splice, span attributes, ...).
#pragma once

#include <string>
#include <string_view>

namespace archestra::util {

/// Appends `text` as a compact JSON string literal (quotes included) to `out`, byte-identical to nlohmann's
/// dump of a valid UTF-8 string: `"` and backslash escaped, control characters as \b \f \n \r \t or \u00xx,
/// every other byte copied as is (DEL and UTF-8 pass through; invalid UTF-8 is copied unchanged, not
/// replaced or rejected: callers pass text that is valid UTF-8 or accept that). Scans 16 bytes at a time
/// and copies the runs between escapes in one piece.
void appendJsonString(std::string& out, std::string_view text);

/// The same as a new string.
std::string jsonString(std::string_view text);

}  // namespace archestra::util
