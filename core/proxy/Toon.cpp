// TOON encoder (see Toon.h for the rules it follows).
#include "core/proxy/Toon.h"

#include "core/proxy/ToonBytes.h"

#include <simdjson.h>

#include <charconv>
#include <cstdint>

namespace archestra::proxy::toon {

namespace {

constexpr char kDelimiter = ',';

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/// /^-?\d+(?:\.\d+)?(?:e[+-]?\d+)?$/i (which also covers the leading-zero form /^0\d+$/).
bool looksNumeric(std::string_view s) {
    std::size_t i = 0, n = s.size();
    if (i < n && s[i] == '-') ++i;
    std::size_t start = i;
    while (i < n && isDigit(s[i])) ++i;
    if (i == start) return false;
    if (i < n && s[i] == '.') {
        std::size_t fraction = ++i;
        while (i < n && isDigit(s[i])) ++i;
        if (i == fraction) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        std::size_t exponent = i;
        while (i < n && isDigit(s[i])) ++i;
        if (i == exponent) return false;
    }
    return i == n;
}

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/// Characters that force quoting anywhere in a string (besides the delimiter): `: " \ [ ] { }` and the
/// three control characters that have escapes; and the ones appendQuoted must escape.
struct CharTables {
    bool special[256] = {};
    bool escaped[256] = {};
    constexpr CharTables() {
        for (unsigned char c : {':', '"', '\\', '[', ']', '{', '}', '\n', '\r', '\t'}) special[c] = true;
        for (unsigned char c : {'"', '\\', '\n', '\r', '\t'}) escaped[c] = true;
    }
};
constexpr CharTables kChars;

bool needsQuotes(std::string_view s, char delimiter) {
    if (s.empty() || isSpace(s.front()) || isSpace(s.back())) return true;
    char first = s.front();
    if (first == '-') return true;  // "-" or a leading hyphen would read as a list item
    if ((first == 't' && s == "true") || (first == 'f' && s == "false") || (first == 'n' && s == "null"))
        return true;
    if ((isDigit(first) || first == '.') && looksNumeric(s)) return true;
    for (char c : s)
        if (kChars.special[static_cast<unsigned char>(c)] || c == delimiter) return true;
    return false;
}

void appendQuoted(std::string& out, std::string_view s) {
    out += '"';
    std::size_t run = 0;  // start of the pending run of characters that need no escape
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (!kChars.escaped[static_cast<unsigned char>(c)]) continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            default:
                out += "\\t";
        }
    }
    out.append(s.data() + run, s.size() - run);
    out += '"';
}

void appendString(std::string& out, std::string_view s, char delimiter) {
    if (needsQuotes(s, delimiter))
        appendQuoted(out, s);
    else
        out += s;
}

bool isIdentifierKey(std::string_view key) {
    if (key.empty() || !(isAlpha(key[0]) || key[0] == '_')) return false;
    for (char c : key)
        if (!(isAlpha(c) || isDigit(c) || c == '_' || c == '.')) return false;
    return true;
}

void appendKey(std::string& out, std::string_view key) {
    if (isIdentifierKey(key))
        out += key;
    else
        appendQuoted(out, key);
}

/// The shortest round-trip form from std::to_chars ("1.5", "1e+21", "-0") rewritten to the canonical TOON
/// form: plain decimal, no exponent, no trailing fractional zeros, no "-0".
std::string canonicalNumber(const std::string& text) {
    std::string_view s = text;
    bool negative = !s.empty() && s[0] == '-';
    if (negative) s.remove_prefix(1);
    long exponent = 0;
    auto e = s.find_first_of("eE");
    if (e != std::string_view::npos) {
        exponent = std::strtol(std::string(s.substr(e + 1)).c_str(), nullptr, 10);
        s = s.substr(0, e);
    }
    std::string digits;
    long point = static_cast<long>(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '.')
            point = static_cast<long>(i);
        else
            digits += s[i];
    }
    point += exponent;
    std::string integer, fraction;
    if (point <= 0) {
        integer = "0";
        fraction = std::string(static_cast<std::size_t>(-point), '0') + digits;
    } else if (point >= static_cast<long>(digits.size())) {
        integer = digits + std::string(static_cast<std::size_t>(point) - digits.size(), '0');
    } else {
        integer = digits.substr(0, static_cast<std::size_t>(point));
        fraction = digits.substr(static_cast<std::size_t>(point));
    }
    auto firstNonZero = integer.find_first_not_of('0');
    integer = firstNonZero == std::string::npos ? "0" : integer.substr(firstNonZero);
    auto lastNonZero = fraction.find_last_not_of('0');
    fraction = lastNonZero == std::string::npos ? "" : fraction.substr(0, lastNonZero + 1);
    std::string result = integer;
    if (!fraction.empty()) result += "." + fraction;
    if (negative && result != "0") result.insert(result.begin(), '-');
    return result;
}

using Element = simdjson::dom::element;
using Type = simdjson::dom::element_type;

bool isPrimitive(Element value) {
    return value.type() != Type::OBJECT && value.type() != Type::ARRAY;
}

/// Doubles with at most 8 fractional digits and 15 significant digits (prices, scores, coordinates): the
/// decimal with the fewest fractional digits that parses back to `number` is the shortest round-trip form,
/// written here directly instead of through to_chars and the canonical rewrite. False for any other number
/// (the differential test checks the two paths agree).
bool appendShortDecimal(std::string& out, double number) {
    static constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    const bool negative = number < 0;
    const double magnitude = negative ? -number : number;
    if (!(magnitude < 1e15) || magnitude == 0) return false;
    for (int k = 0; k <= 8; ++k) {
        const double scaled = magnitude * kPow10[k];
        // At most 15 significant digits (DBL_DIG): distinct decimals of that length are distinct doubles,
        // so the one found is the only candidate, as to_chars would choose.
        if (scaled >= 1e15) return false;
        const auto digits = static_cast<std::uint64_t>(scaled + 0.5);
        if (static_cast<double>(digits) / kPow10[k] != magnitude) continue;
        if (k > 0 && digits % 10 == 0) return false;  // not the shortest: a smaller k would have matched
        char buffer[32];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, digits);
        std::size_t length = static_cast<std::size_t>(end - buffer);
        if (negative) out += '-';
        if (k == 0) {
            out.append(buffer, length);
        } else if (length > static_cast<std::size_t>(k)) {
            out.append(buffer, length - static_cast<std::size_t>(k));
            out += '.';
            out.append(buffer + length - k, static_cast<std::size_t>(k));
        } else {
            out += "0.";
            out.append(static_cast<std::size_t>(k) - length, '0');
            out.append(buffer, length);
        }
        return true;
    }
    return false;
}

void appendDouble(std::string& out, double number) {
    if (number != number || number - number != 0) {  // NaN / Infinity (cannot come from parsed JSON)
        out += "null";
        return;
    }
    if (appendShortDecimal(out, number)) return;
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);  // shortest round trip
    if (ec != std::errc()) {
        out += "null";
        return;
    }
    std::string_view text(buffer, static_cast<std::size_t>(end - buffer));
    // The shortest form is already canonical unless it has an exponent or is "-0" (it never has trailing
    // fractional zeros).
    bool exponent = false;
    for (char c : text) exponent |= c == 'e' || c == 'E';
    if (!exponent && text != "-0") {
        out += text;
        return;
    }
    out += canonicalNumber(std::string(text));
}

template <class Integer>
void appendInteger(std::string& out, Integer number) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
    out.append(buffer, static_cast<std::size_t>(end - buffer));
}

void appendPrimitive(std::string& out, Element value, char delimiter) {
    switch (value.type()) {
        case Type::NULL_VALUE:
            out += "null";
            break;
        case Type::BOOL:
            out += bool(value) ? "true" : "false";
            break;
        case Type::INT64:
            appendInteger(out, int64_t(value));
            break;
        case Type::UINT64:
            appendInteger(out, uint64_t(value));
            break;
        case Type::DOUBLE:
            appendDouble(out, double(value));
            break;
        case Type::STRING:
            appendString(out, std::string_view(value), delimiter);
            break;
        default:
            out += "null";
    }
}

class Encoder {
  public:
    std::string out;

    void root(Element value) {
        if (value.type() == Type::OBJECT) {
            object(value, 0);
        } else if (value.type() == Type::ARRAY) {
            array("", value, 0, 1);
        } else {
            appendPrimitive(out, value, kDelimiter);
        }
    }

  private:
    /// Starts a new line at `depth` and returns the string to append its content to.
    std::string& line(std::size_t depth) {
        if (!_first) out += '\n';
        _first = false;
        out.append(depth * 2, ' ');
        return out;
    }

    void object(simdjson::dom::object value, std::size_t depth) {
        for (auto field : value) this->field("", field.key, field.value, depth, depth + 1);
    }

    /// One field at `depth`, its header prefixed by `prefix` ("" or "- "); nested content at `childDepth`.
    void field(std::string_view prefix, std::string_view key, Element value, std::size_t depth,
               std::size_t childDepth) {
        if (value.type() == Type::ARRAY) {
            std::string header(prefix);
            appendKey(header, key);
            array(header, value, depth, childDepth);
            return;
        }
        std::string& text = line(depth);
        text += prefix;
        appendKey(text, key);
        text += ':';
        if (value.type() == Type::OBJECT) {
            object(value, childDepth);
        } else {
            text += ' ';
            appendPrimitive(text, value, kDelimiter);
        }
    }

    static bool allPrimitive(simdjson::dom::array array) {
        for (auto item : array)
            if (!isPrimitive(item)) return false;
        return true;
    }

    /// Same key set in every element (no duplicate keys), every value primitive, at least one key. Rows
    /// whose keys come in the first row's order (the usual case) are checked position by position; others
    /// by lookup.
    static bool tabular(simdjson::dom::array array, bool& inHeaderOrder) {
        Element firstElement = array.at(0).value_unsafe();
        if (firstElement.type() != Type::OBJECT) return false;
        simdjson::dom::object first = firstElement;
        std::size_t keys = first.size();
        if (keys == 0) return false;
        for (auto a = first.begin(); a != first.end(); ++a) {  // no duplicate keys in the header row
            auto b = a;
            for (++b; b != first.end(); ++b)
                if (a.key() == b.key()) return false;
        }
        for (auto item : array) {
            if (item.type() != Type::OBJECT) return false;
            simdjson::dom::object object = item;
            if (object.size() != keys) return false;
            auto header = first.begin();
            bool sameOrder = true;
            for (auto field : object) {
                if (!isPrimitive(field.value)) return false;
                if (sameOrder && header.key() != field.key) sameOrder = false;
                ++header;
            }
            if (sameOrder) continue;
            inHeaderOrder = false;
            for (auto a = object.begin(); a != object.end(); ++a) {
                std::size_t matches = 0;
                for (auto other : first) matches += other.key == a.key();
                if (matches != 1) return false;
                auto b = a;  // and no duplicate key in this row ({"a":1,"a":2} against a header a,b)
                for (++b; b != object.end(); ++b)
                    if (a.key() == b.key()) return false;
            }
        }
        return true;
    }

    static void appendLength(std::string& text, std::size_t n) {
        text += '[';
        text += std::to_string(n);
        text += ']';
    }

    static void appendInline(std::string& text, simdjson::dom::array array) {
        appendLength(text, array.size());
        text += ':';
        bool firstValue = true;
        for (auto item : array) {
            text += firstValue ? ' ' : kDelimiter;
            firstValue = false;
            appendPrimitive(text, item, kDelimiter);
        }
    }

    /// `header` is the already-encoded key (with any "- " prefix); the array's rows/items go at childDepth.
    void array(const std::string& header, simdjson::dom::array value, std::size_t depth,
               std::size_t childDepth) {
        if (value.size() == 0 || allPrimitive(value)) {
            std::string& text = line(depth);
            text += header;
            appendInline(text, value);
            return;
        }
        bool inHeaderOrder = true;  // every row lists its keys in the header's order: cells by position
        if (tabular(value, inHeaderOrder)) {
            std::string& text = line(depth);
            text += header;
            appendLength(text, value.size());
            text += '{';
            simdjson::dom::object first = value.at(0).value_unsafe();
            bool firstField = true;
            for (auto field : first) {
                if (!firstField) text += kDelimiter;
                firstField = false;
                appendKey(text, field.key);
            }
            text += "}:";
            for (auto row : value) {
                simdjson::dom::object cellsOf = row;
                std::string& cells = line(childDepth);
                bool firstCell = true;
                auto cell = cellsOf.begin();
                for (auto field : first) {
                    if (!firstCell) cells += kDelimiter;
                    firstCell = false;
                    // Same position first (rows usually repeat the header's order), else by key.
                    Element v = inHeaderOrder || cell.key() == field.key
                                    ? cell.value()
                                    : cellsOf.at_key(field.key).value_unsafe();
                    appendPrimitive(cells, v, kDelimiter);
                    ++cell;
                }
            }
            return;
        }
        std::string& text = line(depth);
        text += header;
        appendLength(text, value.size());
        text += ':';
        for (auto item : value) listItem(item, childDepth);
    }

    void listItem(Element item, std::size_t depth) {
        if (isPrimitive(item)) {
            std::string& text = line(depth);
            text += "- ";
            appendPrimitive(text, item, kDelimiter);
        } else if (item.type() == Type::ARRAY) {
            array("- ", item, depth, depth + 1);
        } else {
            simdjson::dom::object object = item;
            if (object.size() == 0) {
                line(depth) += '-';
                return;
            }
            // The first field on the hyphen line; a tabular first field keeps its rows at depth + 2, and so
            // does any nested content of the first field. The other fields at depth + 1.
            auto it = object.begin();
            field("- ", it.key(), it.value(), depth, depth + 2);
            for (++it; it != object.end(); ++it) field("", it.key(), it.value(), depth + 1, depth + 2);
        }
    }

    bool _first = true;
};

}  // namespace

std::optional<std::string> encodeJson(std::string_view jsonText) {
    // One parser per thread: it keeps its buffers, so a request thread parses without allocating after
    // warm-up.
    thread_local simdjson::dom::parser parser;
    Element root;
    if (parser.parse(jsonText.data(), jsonText.size(), true).get(root) != simdjson::SUCCESS)
        return std::nullopt;
    Encoder encoder;
    encoder.out.reserve(jsonText.size());  // TOON is rarely longer than the JSON it comes from
    encoder.root(root);
    return std::move(encoder.out);
}

std::string encode(const nlohmann::ordered_json& value) {
    auto encoded = encodeJson(value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return encoded ? std::move(*encoded) : std::string();
}

namespace {

/// Tokens of letter (step 6) or digit (step 3) runs in one block: one at each run start and one every
/// `step` bytes into a run. `run` is the mask of the class; `offset` (in/out) the position within its run of
/// the previous block's last byte modulo `step`, or -1 when that byte was not of the class.
template <int step>
[[gnu::always_inline]] inline std::size_t runTokens(std::uint64_t run, int& offset) {
    std::uint64_t starts = run & ~((run << 1) | (offset >= 0 ? 1ULL : 0ULL));
    if (offset >= 0 && (run & 1)) {  // the run continues from the previous block
        int firstToken = (step - (offset + 1) % step) % step;
        int leading = run == ~0ULL ? 64 : __builtin_ctzll(~run);
        if (firstToken < leading) starts |= 1ULL << firstToken;
    }
    std::uint64_t long_ = run;  // bytes preceded by `step` bytes of the run within this block
    for (int k = 1; k <= step; ++k) long_ &= run << k;
    std::size_t tokens = 0;
    for (std::uint64_t at = starts; at != 0; at = (at << step) & long_) tokens += __builtin_popcountll(at);
    if (run >> 63) {
        if (run == ~0ULL)
            offset = offset >= 0 ? (offset + 64) % step : 63 % step;
        else
            offset = (62 - (63 - __builtin_clzll(~run))) % step;
    } else {
        offset = -1;
    }
    return tokens;
}

bool isSpaceByte(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}
bool isWordByte(unsigned char c) {
    return static_cast<unsigned>((c | 0x20) - 'a') < 26u || static_cast<unsigned>(c - '0') < 10u || c >= 0x80;
}

}  // namespace

// Cloned for CPUs with POPCNT (an ifunc picks the clone at load time): x86-64's baseline has no popcount
// instruction, and the library call it otherwise makes per mask was a third of this function's time.
// Not under ThreadSanitizer: the ifunc resolver runs during relocation, before the TSan runtime is up,
// and its instrumented entry crashes every binary that links this file (seen in the first tsan run).
#if defined(__x86_64__) && defined(__GLIBC__) && !defined(__SANITIZE_THREAD__)
__attribute__((target_clones("default", "popcnt")))
#endif
std::size_t
estimateTokens(std::string_view text) {
    // The rules of the header, over 64-byte blocks: every "other" ASCII byte is a token; a non-ASCII token
    // starts at each lead byte (>= 0xC0) and each continuation byte not preceded by a non-ASCII byte; a
    // space run is a token unless it is one ' ' followed by a word byte; letter and digit runs as in
    // runTokens.
    const auto* p = reinterpret_cast<const unsigned char*>(text.data());
    const std::size_t n = text.size();
    std::size_t tokens = 0;
    int letterOffset = -1, digitOffset = -1;
    std::uint64_t prevHigh = 0, prevSpace = 0;
    for (std::size_t i = 0; i < n; i += 64) {
        const std::size_t left = n - i;
        const bytes::Block64 block = left >= 64 ? bytes::Block64(p + i) : bytes::Block64::tail(p + i, left);
        const std::uint64_t valid = bytes::Block64::validBits(left);
        const std::uint64_t letter = block.letters() & valid;
        const std::uint64_t digit = block.range('0', '9') & valid;
        const std::uint64_t blank = block.eq(' ') & valid;
        const std::uint64_t space = (blank | block.range('\t', '\r')) & valid;
        const std::uint64_t high = block.high() & valid;
        const std::uint64_t lead = block.range(0xC0, 0xFF) & valid;
        const std::uint64_t other = valid & ~(letter | digit | space | high);
        tokens += static_cast<std::size_t>(__builtin_popcountll(other));
        tokens +=
            static_cast<std::size_t>(__builtin_popcountll(lead | (high & ~lead & ~((high << 1) | prevHigh))));
        // The byte after the block decides the last space run.
        const bool more = left > 64;
        const std::uint64_t nextSpace = more && isSpaceByte(p[i + 64]) ? 1ULL << 63 : 0;
        const std::uint64_t nextWord = more && isWordByte(p[i + 64]) ? 1ULL << 63 : 0;
        const std::uint64_t spaceStarts = space & ~((space << 1) | prevSpace);
        const std::uint64_t single = spaceStarts & ~((space >> 1) | nextSpace);
        const std::uint64_t merged = single & blank & (((letter | digit | high) >> 1) | nextWord);
        tokens += static_cast<std::size_t>(__builtin_popcountll(spaceStarts) - __builtin_popcountll(merged));
        tokens += runTokens<6>(letter, letterOffset);
        tokens += runTokens<3>(digit, digitOffset);
        prevHigh = high >> 63;
        prevSpace = space >> 63;
    }
    return tokens;
}

}  // namespace archestra::proxy::toon
