// The TOON encoder as it was before the one-pass tape walk (commit 179b307: simdjson's DOM read through
// dom::element, a pass to decide each array's form and another to write it), kept only as the reference of
// the differential test and of fuzz_toon: the new encoder must write exactly the same text.
#pragma once

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace archestra::proxy::toon_reference {

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

/// The text being written. std::string's push_back and append were out-of-line calls per piece (a fifth of
/// the encoder's time for a 100 KB table); this keeps the write position and the end at hand and grows
/// rarely (the buffer starts at the JSON's size).
class Out {
  public:
    explicit Out(std::size_t capacity) : _text(capacity < 64 ? 64 : capacity, '\0') {
        _at = _text.data();
        _end = _at + _text.size();
    }
    void operator+=(char c) {
        room(1);
        *_at++ = c;
    }
    void operator+=(std::string_view s) { append(s.data(), s.size()); }
    void append(const char* p, std::size_t n) {
        room(n);
        std::memcpy(_at, p, n);
        _at += n;
    }
    void append(std::size_t n, char c) {
        room(n);
        std::memset(_at, c, n);
        _at += n;
    }
    std::string take() && {
        _text.resize(static_cast<std::size_t>(_at - _text.data()));
        return std::move(_text);
    }

  private:
    void room(std::size_t n) {
        if (static_cast<std::size_t>(_end - _at) < n) [[unlikely]]
            grow(n);
    }
    [[gnu::noinline]] void grow(std::size_t n) {
        const auto used = static_cast<std::size_t>(_at - _text.data());
        _text.resize(std::max(_text.size() * 2, used + n));
        _at = _text.data() + used;
        _end = _text.data() + _text.size();
    }
    std::string _text;
    char* _at;
    char* _end;
};

/// Key equality inline: keys are a few bytes, and the library memcmp call per tabular cell cost more than the
/// comparison.
bool sameKey(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i] != b[i]) return false;
    return true;
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

template <class Text>
void appendQuoted(Text& out, std::string_view s) {
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

void appendString(Out& out, std::string_view s, char delimiter) {
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

template <class Text>
void appendKey(Text& out, std::string_view key) {
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
bool appendShortDecimal(Out& out, double number) {
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

void appendDouble(Out& out, double number) {
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
void appendInteger(Out& out, Integer number) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, number);
    out.append(buffer, static_cast<std::size_t>(end - buffer));
}

void appendPrimitive(Out& out, Element value, char delimiter) {
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
    Out out;

    explicit Encoder(std::size_t capacity) : out(capacity) {}

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
    Out& line(std::size_t depth) {
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
        Out& text = line(depth);
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
                if (sameKey(a.key(), b.key())) return false;
        }
        for (auto item : array) {
            if (item.type() != Type::OBJECT) return false;
            simdjson::dom::object object = item;
            if (object.size() != keys) return false;
            auto header = first.begin();
            bool sameOrder = true;
            for (auto field : object) {
                if (!isPrimitive(field.value)) return false;
                if (sameOrder && !sameKey(header.key(), field.key)) sameOrder = false;
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
                    if (sameKey(a.key(), b.key())) return false;
            }
        }
        return true;
    }

    static void appendLength(Out& text, std::size_t n) {
        text += '[';
        text += std::to_string(n);
        text += ']';
    }

    static void appendInline(Out& text, simdjson::dom::array array) {
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
            Out& text = line(depth);
            text += header;
            appendInline(text, value);
            return;
        }
        bool inHeaderOrder = true;  // every row lists its keys in the header's order: cells by position
        if (tabular(value, inHeaderOrder)) {
            Out& text = line(depth);
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
                Out& cells = line(childDepth);
                bool firstCell = true;
                auto cell = cellsOf.begin();
                for (auto field : first) {
                    if (!firstCell) cells += kDelimiter;
                    firstCell = false;
                    // Same position first (rows usually repeat the header's order), else by key.
                    Element v = inHeaderOrder || sameKey(cell.key(), field.key)
                                    ? cell.value()
                                    : cellsOf.at_key(field.key).value_unsafe();
                    appendPrimitive(cells, v, kDelimiter);
                    ++cell;
                }
            }
            return;
        }
        Out& text = line(depth);
        text += header;
        appendLength(text, value.size());
        text += ':';
        for (auto item : value) listItem(item, childDepth);
    }

    void listItem(Element item, std::size_t depth) {
        if (isPrimitive(item)) {
            Out& text = line(depth);
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

inline std::optional<std::string> encodeJson(std::string_view jsonText) {
    thread_local simdjson::dom::parser parser;
    Element root;
    if (parser.parse(jsonText.data(), jsonText.size(), true).get(root) != simdjson::SUCCESS)
        return std::nullopt;
    Encoder encoder(jsonText.size());
    encoder.root(root);
    return std::move(encoder.out).take();
}

}  // namespace archestra::proxy::toon_reference
