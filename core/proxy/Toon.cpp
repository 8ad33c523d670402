// TOON encoder (see Toon.h for the rules it follows).
#include "core/proxy/Toon.h"

#include "core/proxy/ToonScan.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    /// append() for a string of simdjson's string buffer: up to 16 bytes are copied as one 16-byte load and
    /// store (a library memcpy call per cell was most of the copying), reading past the string within the
    /// buffer's SIMDJSON_PADDING; the bytes written past the end are overwritten by what follows.
    void appendPadded(const char* p, std::size_t n) {
#if defined(__SSE2__)
        if (n <= 16) {
            room(16);
            _mm_storeu_si128(reinterpret_cast<__m128i*>(_at),
                             _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
            _at += n;
            return;
        }
#endif
        append(p, n);
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

/// Whether `s` holds a character that forces quoting anywhere (kChars.special or the comma delimiter). With
/// SSE2, 16 bytes at a time, reading up to 15 bytes past the end of `s`: the strings come from simdjson's
/// string buffer, which has SIMDJSON_PADDING (64) bytes of room after its last string (the bytes read past
/// a string are masked off).
bool hasSpecial(std::string_view s) {
    static_assert(kDelimiter == ',');
#if defined(__SSE2__)
    static_assert(simdjson::SIMDJSON_PADDING >= 16);
    const auto* p = reinterpret_cast<const __m128i*>(s.data());
    const auto is = [](__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
    for (std::size_t i = 0; i < s.size(); i += 16, ++p) {
        const __m128i v = _mm_loadu_si128(p);
        const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));  // [ and { -> {, ] and } -> }
        const __m128i brackets = _mm_or_si128(is(folded, '{'), is(folded, '}'));
        const __m128i punctuation =
            _mm_or_si128(_mm_or_si128(is(v, ':'), is(v, '"')), _mm_or_si128(is(v, '\\'), is(v, ',')));
        const __m128i controls = _mm_or_si128(_mm_or_si128(is(v, '\n'), is(v, '\r')), is(v, '\t'));
        auto bits = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(brackets, _mm_or_si128(punctuation, controls))));
        if (s.size() - i < 16) bits &= (1u << (s.size() - i)) - 1;
        if (bits != 0) return true;
    }
    return false;
#else
    for (char c : s)
        if (kChars.special[static_cast<unsigned char>(c)] || c == kDelimiter) return true;
    return false;
#endif
}

/// The spec's quoting rule for a string value (see Toon.h) with the comma delimiter. `s` must have 15
/// readable bytes after it (hasSpecial).
bool needsQuotes(std::string_view s) {
    if (s.empty() || isSpace(s.front()) || isSpace(s.back())) return true;
    char first = s.front();
    if (first == '-') return true;  // "-" or a leading hyphen would read as a list item
    if ((first == 't' && s == "true") || (first == 'f' && s == "false") || (first == 'n' && s == "null"))
        return true;
    if ((isDigit(first) || first == '.') && looksNumeric(s)) return true;
    return hasSpecial(s);
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

void appendString(Out& out, std::string_view s) {
    if (needsQuotes(s))
        appendQuoted(out, s);
    else
        out.appendPadded(s.data(), s.size());
}

bool isIdentifierKey(std::string_view key) {
    if (key.empty() || !(isAlpha(key[0]) || key[0] == '_')) return false;
    for (char c : key)
        if (!(isAlpha(c) || isDigit(c) || c == '_' || c == '.')) return false;
    return true;
}

/// `key` from simdjson's string buffer (see Out::appendPadded).
void appendKey(Out& out, std::string_view key) {
    if (isIdentifierKey(key))
        out.appendPadded(key.data(), key.size());
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

/// simdjson's DOM tape (the layout of simdjson 3.x, read through dom::document's `tape` and `string_buf`):
/// one 64-bit word per value, the type in the top byte. `[` and `{` hold the index just past their closing
/// word in the low 32 bits and the element count (saturated at 0xFFFFFF) in the next 24; an object's words
/// are key, value, key, value, ...; a string holds the offset of its 32-bit length and bytes in string_buf;
/// numbers take a second word for the value. The encoder reads the tape directly: through dom::element each
/// step re-read and re-checked the word, and deciding an array's form walked it a second time the same way.
class Tape {
  public:
    Tape(const std::uint64_t* words, const std::uint8_t* strings) : _words(words), _strings(strings) {}

    char type(std::size_t i) const { return static_cast<char>(_words[i] >> 56); }
    static bool isContainer(char t) { return t == '[' || t == '{'; }
    /// The index of the next value after the one at `i` (its next sibling, or its parent's closing word).
    std::size_t after(std::size_t i) const {
        const char t = type(i);
        if (isContainer(t)) return static_cast<std::uint32_t>(_words[i]);
        return t == 'l' || t == 'u' || t == 'd' ? i + 2 : i + 1;
    }
    /// The closing word of the container at `i`.
    std::size_t close(std::size_t i) const { return static_cast<std::uint32_t>(_words[i]) - 1; }
    /// Elements (fields) of the container at `i`.
    std::size_t count(std::size_t i) const {
        const auto saturated =
            static_cast<std::size_t>((_words[i] >> 32) & simdjson::internal::JSON_COUNT_MASK);
        if (saturated < simdjson::internal::JSON_COUNT_MASK) return saturated;
        std::size_t n = 0;
        const std::size_t step = type(i) == '{' ? 2 : 1;  // an object's key and value are one field
        for (std::size_t j = i + 1, end = close(i); j < end; j = after(j + step - 1)) ++n;
        return n;
    }
    std::string_view string(std::size_t i) const {
        const std::uint8_t* at = _strings + (_words[i] & simdjson::internal::JSON_VALUE_MASK);
        std::uint32_t length;
        std::memcpy(&length, at, sizeof length);
        return {reinterpret_cast<const char*>(at + sizeof length), length};
    }
    std::uint64_t payload(std::size_t i) const { return _words[i + 1]; }

    /// Whether the strings at `i` and `j` are equal: their length prefixes and bytes compared 8 bytes at a
    /// time (keys are short; a byte loop per tabular cell was a tenth of the encoder). Reads up to 7 bytes
    /// past the longer string, within string_buf's SIMDJSON_PADDING; those bytes are masked off.
    bool sameString(std::size_t i, std::size_t j) const {
        static_assert(simdjson::SIMDJSON_PADDING >= 8);
        const std::uint8_t* a = _strings + (_words[i] & simdjson::internal::JSON_VALUE_MASK);
        const std::uint8_t* b = _strings + (_words[j] & simdjson::internal::JSON_VALUE_MASK);
        std::uint32_t length, other;
        std::memcpy(&length, a, sizeof length);
        std::memcpy(&other, b, sizeof other);
        if (length != other) return false;
        const std::size_t total = sizeof length + length;
        for (std::size_t at = 0;; at += 8) {
            std::uint64_t x, y;
            std::memcpy(&x, a + at, 8);
            std::memcpy(&y, b + at, 8);
            const std::size_t left = total - at;
            if (left < 8) return ((x ^ y) & ((1ULL << (left * 8)) - 1)) == 0;
            if (x != y) return false;
            if (left == 8) return true;
        }
    }

  private:
    const std::uint64_t* _words;
    const std::uint8_t* _strings;
};

void appendPrimitive(Out& out, const Tape& tape, std::size_t i) {
    switch (tape.type(i)) {
        case '"':
            appendString(out, tape.string(i));
            break;
        case 'l':
            appendInteger(out, static_cast<std::int64_t>(tape.payload(i)));
            break;
        case 'u':
            appendInteger(out, tape.payload(i));
            break;
        case 'd': {
            double number;
            const std::uint64_t bits = tape.payload(i);
            std::memcpy(&number, &bits, sizeof number);
            appendDouble(out, number);
            break;
        }
        case 't':
            out += "true";
            break;
        case 'f':
            out += "false";
            break;
        default:
            out += "null";
    }
}

class Encoder {
  public:
    Out out;

    Encoder(const Tape& tape, std::size_t capacity) : out(capacity), _tape(tape) {}

    void root(std::size_t i) {
        const char t = _tape.type(i);
        if (t == '{')
            object(i, 0);
        else if (t == '[')
            array("", nullptr, i, 0, 1);
        else
            appendPrimitive(out, _tape, i);
    }

  private:
    /// Starts a new line at `depth`.
    void line(std::size_t depth) {
        if (!_first) out += '\n';
        _first = false;
        out.append(depth * 2, ' ');
    }

    void object(std::size_t i, std::size_t depth) {
        for (std::size_t k = i + 1, end = _tape.close(i); k < end; k = _tape.after(k + 1))
            field("", _tape.string(k), k + 1, depth, depth + 1);
    }

    /// One field at `depth`, its line prefixed by `prefix` ("" or "- "); nested content at `childDepth`.
    void field(std::string_view prefix, std::string_view key, std::size_t value, std::size_t depth,
               std::size_t childDepth) {
        const char t = _tape.type(value);
        if (t == '[') {
            array(prefix, &key, value, depth, childDepth);
            return;
        }
        line(depth);
        out += prefix;
        appendKey(out, key);
        out += ':';
        if (t == '{') {
            object(value, childDepth);
        } else {
            out += ' ';
            appendPrimitive(out, _tape, value);
        }
    }

    /// Same key set in every element (no duplicate keys), every value primitive, at least one key. Rows
    /// whose keys come in the first row's order (the usual case) are checked position by position; others
    /// by lookup. `inHeaderOrder` is cleared when some row is not in the first row's order.
    bool tabular(std::size_t array, bool& inHeaderOrder) const {
        const std::size_t first = array + 1, end = _tape.close(array);
        if (_tape.type(first) != '{') return false;
        const std::size_t keys = _tape.count(first);
        if (keys == 0) return false;
        const std::size_t firstEnd = _tape.close(first);
        for (std::size_t a = first + 1; a < firstEnd; a = _tape.after(a + 1))  // no duplicate keys in row 1
            for (std::size_t b = _tape.after(a + 1); b < firstEnd; b = _tape.after(b + 1))
                if (_tape.sameString(a, b)) return false;
        for (std::size_t row = first; row < end; row = _tape.after(row)) {
            if (_tape.type(row) != '{' || _tape.count(row) != keys) return false;
            const std::size_t rowEnd = _tape.close(row);
            bool sameOrder = true;
            for (std::size_t k = row + 1, h = first + 1; k < rowEnd;
                 k = _tape.after(k + 1), h = _tape.after(h + 1)) {
                if (Tape::isContainer(_tape.type(k + 1))) return false;
                if (sameOrder && !_tape.sameString(h, k)) sameOrder = false;
            }
            if (sameOrder) continue;
            inHeaderOrder = false;
            for (std::size_t a = row + 1; a < rowEnd; a = _tape.after(a + 1)) {
                std::size_t matches = 0;
                for (std::size_t h = first + 1; h < firstEnd; h = _tape.after(h + 1))
                    matches += _tape.sameString(h, a);
                if (matches != 1) return false;
                // and no duplicate key in this row ({"a":1,"a":2} against a header a,b)
                for (std::size_t b = _tape.after(a + 1); b < rowEnd; b = _tape.after(b + 1))
                    if (_tape.sameString(a, b)) return false;
            }
        }
        return true;
    }

    void appendLength(std::size_t n) {
        char buffer[24];
        auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, n);
        out += '[';
        out.append(buffer, static_cast<std::size_t>(end - buffer));
        out += ']';
    }

    /// The line `prefix` + key (when there is one) + `[N]`.
    void header(std::string_view prefix, const std::string_view* key, std::size_t n, std::size_t depth) {
        line(depth);
        out += prefix;
        if (key) appendKey(out, *key);
        appendLength(n);
    }

    /// The array at `i`, its header line prefixed by `prefix` and `key`; rows/items go at childDepth.
    void array(std::string_view prefix, const std::string_view* key, std::size_t i, std::size_t depth,
               std::size_t childDepth) {
        const std::size_t end = _tape.close(i);
        bool allPrimitive = true;
        for (std::size_t k = i + 1; k < end && allPrimitive; k = _tape.after(k))
            allPrimitive = !Tape::isContainer(_tape.type(k));
        const std::size_t n = _tape.count(i);
        if (allPrimitive) {  // also the empty array
            header(prefix, key, n, depth);
            out += ':';
            char separator = ' ';
            for (std::size_t k = i + 1; k < end; k = _tape.after(k)) {
                out += separator;
                separator = kDelimiter;
                appendPrimitive(out, _tape, k);
            }
            return;
        }
        bool inHeaderOrder = true;  // every row lists its keys in the header's order: cells by position
        if (tabular(i, inHeaderOrder)) {
            header(prefix, key, n, depth);
            out += '{';
            const std::size_t first = i + 1, firstEnd = _tape.close(first);
            for (std::size_t h = first + 1; h < firstEnd; h = _tape.after(h + 1)) {
                if (h != first + 1) out += kDelimiter;
                appendKey(out, _tape.string(h));
            }
            out += "}:";
            for (std::size_t row = first; row < end; row = _tape.after(row)) {
                line(childDepth);
                const std::size_t rowEnd = _tape.close(row);
                if (inHeaderOrder) {
                    for (std::size_t k = row + 1; k < rowEnd; k += 2) {  // values are primitive: 1 or 2 words
                        if (k != row + 1) out += kDelimiter;
                        appendPrimitive(out, _tape, k + 1);
                        if (_tape.type(k + 1) == 'l' || _tape.type(k + 1) == 'u' || _tape.type(k + 1) == 'd')
                            ++k;
                    }
                    continue;
                }
                // Same position first (rows usually repeat the header's order), else by key.
                for (std::size_t h = first + 1, k = row + 1; h < firstEnd;
                     h = _tape.after(h + 1), k = _tape.after(k + 1)) {
                    if (h != first + 1) out += kDelimiter;
                    std::size_t cell = k;
                    if (!_tape.sameString(k, h))
                        for (cell = row + 1; !_tape.sameString(cell, h);) cell = _tape.after(cell + 1);
                    appendPrimitive(out, _tape, cell + 1);
                }
            }
            return;
        }
        header(prefix, key, n, depth);
        out += ':';
        for (std::size_t k = i + 1; k < end; k = _tape.after(k)) listItem(k, childDepth);
    }

    void listItem(std::size_t i, std::size_t depth) {
        const char t = _tape.type(i);
        if (t == '[') {
            array("- ", nullptr, i, depth, depth + 1);
        } else if (t != '{') {
            line(depth);
            out += "- ";
            appendPrimitive(out, _tape, i);
        } else if (_tape.count(i) == 0) {
            line(depth);
            out += '-';
        } else {
            // The first field on the hyphen line; a tabular first field keeps its rows at depth + 2, and so
            // does any nested content of the first field. The other fields at depth + 1.
            const std::size_t end = _tape.close(i);
            field("- ", _tape.string(i + 1), i + 2, depth, depth + 2);
            for (std::size_t k = _tape.after(i + 2); k < end; k = _tape.after(k + 1))
                field("", _tape.string(k), k + 1, depth + 1, depth + 2);
        }
    }

    const Tape& _tape;
    bool _first = true;
};

}  // namespace

std::optional<std::string> encodeJson(std::string_view jsonText) {
    // One parser per thread: it keeps its buffers, so a request thread parses without allocating after
    // warm-up.
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(jsonText.data(), jsonText.size(), true).get(root) != simdjson::SUCCESS)
        return std::nullopt;
    const Tape tape(parser.doc.tape.get(), parser.doc.string_buf.get());
    Encoder encoder(tape, jsonText.size());  // TOON is rarely longer than the JSON it comes from
    encoder.root(1);                         // word 0 is the root marker
    return std::move(encoder.out).take();
}

std::string encode(const nlohmann::ordered_json& value) {
    auto encoded = encodeJson(value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    return encoded ? std::move(*encoded) : std::string();
}

std::size_t estimateTokens(std::string_view text) {
    return scan::best().estimateTokens(text);
}

}  // namespace archestra::proxy::toon
