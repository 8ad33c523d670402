// JSON text to nlohmann::json through simdjson (see JsonParse.h).
#include "core/proxy/JsonParse.h"

#include "core/util/JsonString.h"

#include <simdjson.h>

#include <charconv>

#include <memory>
#include <optional>

namespace archestra::proxy {

namespace {

/// Documents up to this size reuse the thread's parser; larger ones get a parser of their own, freed after.
/// The parser keeps buffers of over ten times the largest document it saw (an 8-byte tape slot and a 4-byte
/// structural index per byte of text, plus its strings) on every worker thread: 16 KB bounds that to about
/// 200 KB each, 200 MB if every thread of a full 1,024-thread pool had seen such a body (idle threads end
/// after a minute, and their parser with them). Typical requests (the benchmark's is 577 bytes) and every
/// stream event stay under it; a larger body pays for a parser of its own, still far cheaper than nlohmann's
/// parse.
constexpr std::size_t kReusedParserBytes = 16u << 10;

nlohmann::json convert(simdjson::dom::element element) {
    using Type = simdjson::dom::element_type;
    switch (element.type()) {
        case Type::OBJECT: {
            nlohmann::json result(nlohmann::json::value_t::object);
            auto& members = result.get_ref<nlohmann::json::object_t&>();
            for (auto field : simdjson::dom::object(element)) {
                // A repeated key: the last value wins, as in nlohmann's parser.
                members.insert_or_assign(std::string(field.key), convert(field.value));
            }
            return result;
        }
        case Type::ARRAY: {
            nlohmann::json result(nlohmann::json::value_t::array);
            auto& items = result.get_ref<nlohmann::json::array_t&>();
            simdjson::dom::array array(element);
            items.reserve(array.size());
            for (auto item : array) items.push_back(convert(item));
            return result;
        }
        case Type::STRING:
            return std::string(std::string_view(element));
        case Type::INT64: {
            // nlohmann reads an integer without a minus sign as unsigned, with one as signed.
            const std::int64_t value = std::int64_t(element);
            if (value >= 0) return static_cast<std::uint64_t>(value);
            return value;
        }
        case Type::UINT64:
            return std::uint64_t(element);
        case Type::DOUBLE:
            return double(element);
        case Type::BOOL:
            return bool(element);
        case Type::NULL_VALUE:
        default:
            return nullptr;
    }
}

/// nlohmann reads "-0" as a signed integer 0 (number_integer), simdjson as the integer 0 that convert()
/// cannot tell from "0" (number_unsigned): such text, rare as it is, goes to nlohmann. True when `text` has a
/// number token "-0" not followed by a fraction or an exponent (a "-0" inside a string is a false alarm that
/// only costs the slow path).
bool hasNegativeZeroInteger(std::string_view text) {
    for (std::size_t at = text.find("-0"); at != std::string_view::npos; at = text.find("-0", at + 2)) {
        const std::size_t next = at + 2;
        if (next == text.size()) return true;
        const char c = text[next];
        if (c != '.' && c != 'e' && c != 'E' && (c < '0' || c > '9')) return true;
    }
    return false;
}

std::optional<nlohmann::json> viaSimdjson(std::string_view text) {
    std::optional<nlohmann::json> value;
    readWithSimdjson(text, [&](simdjson::dom::element root) { value = convert(root); });
    return value;
}

/// A string as nlohmann dumps it: valid UTF-8 through the fast escaper (the same bytes: `"` and backslash
/// escaped, \b \f \n \r \t, other control characters as lower-case \u00xx, everything else as is), anything
/// else through nlohmann (which replaces the invalid bytes; its decoder starts afresh for every string).
template <typename Json>
void appendString(std::string& out, const std::string& text) {
    if (simdjson::validate_utf8(text.data(), text.size())) {
        util::appendJsonString(out, text);
        return;
    }
    out += Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
}

template <typename Json>
void appendValue(std::string& out, const Json& value) {
    using Type = nlohmann::json::value_t;
    switch (value.type()) {
        case Type::null:
            out += "null";
            return;
        case Type::boolean:
            out += value.template get<bool>() ? "true" : "false";
            return;
        case Type::number_integer:
        case Type::number_unsigned: {
            char digits[24];
            auto end =
                value.type() == Type::number_integer
                    ? std::to_chars(digits, digits + sizeof digits, value.template get<std::int64_t>()).ptr
                    : std::to_chars(digits, digits + sizeof digits, value.template get<std::uint64_t>()).ptr;
            out.append(digits, end);
            return;
        }
        case Type::string:
            appendString<Json>(out, value.template get_ref<const std::string&>());
            return;
        case Type::object: {
            out += '{';
            bool first = true;
            for (const auto& [key, member] : value.template get_ref<const typename Json::object_t&>()) {
                if (!first) out += ',';
                first = false;
                appendString<Json>(out, key);
                out += ':';
                appendValue(out, member);
            }
            out += '}';
            return;
        }
        case Type::array: {
            out += '[';
            bool first = true;
            for (const auto& item : value.template get_ref<const typename Json::array_t&>()) {
                if (!first) out += ',';
                first = false;
                appendValue(out, item);
            }
            out += ']';
            return;
        }
        default:  // number_float (nlohmann's own shortest round-trip form), binary, discarded
            out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
            return;
    }
}

}  // namespace

bool readWithSimdjson(std::string_view text, const std::function<void(simdjson::dom::element)>& read) {
    if (hasNegativeZeroInteger(text)) return false;
    simdjson::dom::element root;
    if (text.size() <= kReusedParserBytes) {
        thread_local simdjson::dom::parser parser;
        if (parser.parse(text.data(), text.size(), true).get(root)) return false;
        read(root);
        return true;
    }
    auto parser = std::make_unique<simdjson::dom::parser>();
    if (parser->parse(text.data(), text.size(), true).get(root)) return false;
    read(root);
    return true;
}

nlohmann::json toNlohmann(simdjson::dom::element element) {
    return convert(element);
}

void appendCompactJson(std::string& out, const nlohmann::json& value) {
    appendValue(out, value);
}

void appendCompactJson(std::string& out, const nlohmann::ordered_json& value) {
    appendValue(out, value);
}

std::string compactJson(const nlohmann::json& value) {
    std::string out;
    appendValue(out, value);
    return out;
}

std::string compactJson(const nlohmann::ordered_json& value) {
    std::string out;
    appendValue(out, value);
    return out;
}

nlohmann::json parseJson(std::string_view text) {
    if (auto value = viaSimdjson(text)) return std::move(*value);
    return nlohmann::json::parse(text);
}

nlohmann::json parseJsonOrDiscarded(std::string_view text) {
    if (auto value = viaSimdjson(text)) return std::move(*value);
    return nlohmann::json::parse(text, nullptr, false);
}

}  // namespace archestra::proxy
