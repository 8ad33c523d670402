// TOON encoder (see Toon.h for the rules it follows).
#include "core/proxy/Toon.h"

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

bool needsQuotes(std::string_view s, char delimiter) {
    if (s.empty() || isSpace(s.front()) || isSpace(s.back())) return true;
    if (s == "true" || s == "false" || s == "null") return true;
    if (s.front() == '-') return true;  // "-" or a leading hyphen would read as a list item
    if (looksNumeric(s)) return true;
    for (char c : s) {
        switch (c) {
            case ':':
            case '"':
            case '\\':
            case '[':
            case ']':
            case '{':
            case '}':
            case '\n':
            case '\r':
            case '\t':
                return true;
            default:
                if (c == delimiter) return true;
        }
    }
    return false;
}

void appendQuoted(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
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
            case '\t':
                out += "\\t";
                break;
            default:
                out += c;
        }
    }
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

void appendDouble(std::string& out, double number) {
    if (number != number || number - number != 0) {  // NaN / Infinity (cannot come from parsed JSON)
        out += "null";
        return;
    }
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);  // shortest round trip
    out += ec == std::errc() ? canonicalNumber(std::string(buffer, end)) : "null";
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
            out += std::to_string(int64_t(value));
            break;
        case Type::UINT64:
            out += std::to_string(uint64_t(value));
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

    /// Same key set in every element (no duplicate keys), every value primitive, at least one key.
    static bool tabular(simdjson::dom::array array) {
        Element firstElement = array.at(0).value_unsafe();
        if (firstElement.type() != Type::OBJECT) return false;
        simdjson::dom::object first = firstElement;
        std::size_t keys = first.size();
        if (keys == 0) return false;
        for (auto item : array) {
            if (item.type() != Type::OBJECT) return false;
            simdjson::dom::object object = item;
            if (object.size() != keys) return false;
            for (auto field : object) {
                if (!isPrimitive(field.value)) return false;
                std::size_t matches = 0;
                for (auto other : first) matches += other.key == field.key;
                if (matches != 1) return false;
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
        if (tabular(value)) {
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
                for (auto field : first) {
                    if (!firstCell) cells += kDelimiter;
                    firstCell = false;
                    appendPrimitive(cells, cellsOf.at_key(field.key).value_unsafe(), kDelimiter);
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
    encoder.root(root);
    return std::move(encoder.out);
}

std::string encode(const nlohmann::ordered_json& value) {
    auto encoded = encodeJson(value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return encoded ? std::move(*encoded) : std::string();
}

std::size_t estimateTokens(std::string_view text) {
    std::size_t tokens = 0, i = 0, n = text.size();
    while (i < n) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            ++i;
            while (i < n && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
            ++tokens;  // one per code point
        } else if (isAlpha(static_cast<char>(c))) {
            std::size_t start = i;
            while (i < n && isAlpha(text[i])) ++i;
            tokens += (i - start + 5) / 6;  // most words of up to six letters are one token
        } else if (isDigit(static_cast<char>(c))) {
            std::size_t start = i;
            while (i < n && isDigit(text[i])) ++i;
            tokens += (i - start + 2) / 3;
        } else if (isSpace(static_cast<char>(c))) {
            std::size_t start = i;
            while (i < n && isSpace(text[i])) ++i;
            bool mergesWithWord =
                i - start == 1 && c == ' ' && i < n &&
                (isAlpha(text[i]) || isDigit(text[i]) || static_cast<unsigned char>(text[i]) >= 0x80);
            if (!mergesWithWord) ++tokens;
        } else {
            ++tokens;
            ++i;
        }
    }
    return tokens;
}

}  // namespace archestra::proxy::toon
