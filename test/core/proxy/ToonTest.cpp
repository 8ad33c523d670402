// TOON encoder against the public spec's examples, quoting edge cases decoded back, the token estimate, and
// the tool-result rewrite (byte splice) for OpenAI and Anthropic bodies.
#include "core/proxy/Toon.h"
#include "core/proxy/ToonCompression.h"
#include "core/util/JsonString.h"

#include <cppunit/extensions/HelperMacros.h>

#include <stdexcept>

using namespace archestra::proxy;
using nlohmann::json;
using nlohmann::ordered_json;

namespace {

std::string enc(const std::string& jsonText) {
    return toon::encode(ordered_json::parse(jsonText));
}

/// Decodes one TOON primitive token (spec §4): quoted -> unescaped string; true/false/null; numbers; else
/// string.
ordered_json decodePrimitive(const std::string& token) {
    if (token.size() >= 2 && token.front() == '"' && token.back() == '"') {
        std::string out;
        for (std::size_t i = 1; i + 1 < token.size(); ++i) {
            if (token[i] != '\\') {
                out += token[i];
                continue;
            }
            char e = token[++i];
            if (e == 'n')
                out += '\n';
            else if (e == 'r')
                out += '\r';
            else if (e == 't')
                out += '\t';
            else if (e == '\\' || e == '"')
                out += e;
            else
                throw std::runtime_error("invalid escape \\" + std::string(1, e));
        }
        return out;
    }
    if (token == "true") return true;
    if (token == "false") return false;
    if (token == "null") return nullptr;
    auto number = ordered_json::parse(token, nullptr, false);
    bool leadingZero = token.size() > 1 && token[0] == '0' && token[1] != '.';
    if (!number.is_discarded() && number.is_number() && !leadingZero) return number;
    return token;
}

/// Splits a row on commas outside quotes (spec §11.2).
std::vector<std::string> splitRow(const std::string& row) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (std::size_t i = 0; i < row.size(); ++i) {
        char c = row[i];
        if (quoted && c == '\\') {
            cell += c;
            cell += row[++i];
            continue;
        }
        if (c == '"') quoted = !quoted;
        if (c == ',' && !quoted) {
            cells.push_back(cell);
            cell.clear();
        } else {
            cell += c;
        }
    }
    cells.push_back(cell);
    return cells;
}

const std::vector<std::string> kEdgeStrings = {
    "",          " ",           " padded", "padded ",    "a,b",        "a:b",         "key: value",
    "true",      "false",       "null",    "True",       "42",         "-3.14",       "1e-6",
    "1E+9",      "05",          "0.5",     "1.",         ".5",         "-",           "-item",
    "- item",    "x-y",         "[1]",     "{a}",        "say \"hi\"", "back\\slash", "line\nbreak",
    "cr\rtab\t", "héllo wörld", "日本語",  "emoji 🚀 ok", "#hash",      "a|b",         "plain words"};

}  // namespace

class ToonTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ToonTest);
    CPPUNIT_TEST(testObjects);
    CPPUNIT_TEST(testPrimitiveArrays);
    CPPUNIT_TEST(testTabularArrays);
    CPPUNIT_TEST(testListArrays);
    CPPUNIT_TEST(testRootForms);
    CPPUNIT_TEST(testNumbers);
    CPPUNIT_TEST(testKeys);
    CPPUNIT_TEST(testStringQuotingRoundTrips);
    CPPUNIT_TEST(testEstimate);
    CPPUNIT_TEST(testLocateJsonValue);
    CPPUNIT_TEST(testJsonStringLiteralMatchesNlohmann);
    CPPUNIT_TEST(testOpenAiSpliceKeepsOtherBytes);
    CPPUNIT_TEST(testOpenAiTextPartsAndSkips);
    CPPUNIT_TEST(testAnthropicToolResult);
    CPPUNIT_TEST(testAfterEarlierRewrite);
    CPPUNIT_TEST(testSettingsScope);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testObjects() {
        CPPUNIT_ASSERT_EQUAL(std::string("id: 123\nname: Ada\nactive: true"),
                             enc(R"({"id":123,"name":"Ada","active":true})"));
        CPPUNIT_ASSERT_EQUAL(std::string("user:\n  id: 1\n  name: Ada\n  meta:\n    x: null"),
                             enc(R"({"user":{"id":1,"name":"Ada","meta":{"x":null}}})"));
        CPPUNIT_ASSERT_EQUAL(std::string("a:\nb: 1"), enc(R"({"a":{},"b":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string(""), enc("{}"));
        // encounter order, not sorted
        CPPUNIT_ASSERT_EQUAL(std::string("z: 1\na: 2"), enc(R"({"z":1,"a":2})"));
    }

    void testPrimitiveArrays() {
        CPPUNIT_ASSERT_EQUAL(std::string("tags[3]: admin,ops,dev"), enc(R"({"tags":["admin","ops","dev"]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("items[0]:"), enc(R"({"items":[]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("mixed[4]: 1,true,null,\"a,b\""),
                             enc(R"({"mixed":[1,true,null,"a,b"]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("s[2]: \"\",\" x\""), enc(R"({"s":["", " x"]})"));
    }

    void testTabularArrays() {
        CPPUNIT_ASSERT_EQUAL(
            std::string("items[2]{sku,qty,price}:\n  A1,2,9.99\n  B2,1,14.5"),
            enc(R"({"items":[{"sku":"A1","qty":2,"price":9.99},{"sku":"B2","qty":1,"price":14.5}]})"));
        // key order of later rows may differ: the header follows the first object
        CPPUNIT_ASSERT_EQUAL(std::string("[2]{a,b}:\n  1,2\n  4,3"), enc(R"([{"a":1,"b":2},{"b":3,"a":4}])"));
        CPPUNIT_ASSERT_EQUAL(std::string("rows[1]{a,\"b c\"}:\n  \"x,y\",\"\""),
                             enc(R"({"rows":[{"a":"x,y","b c":""}]})"));
        // different key sets or a nested value: not tabular
        CPPUNIT_ASSERT_EQUAL(std::string("[2]:\n  - a: 1\n  - b: 2"), enc(R"([{"a":1},{"b":2}])"));
        CPPUNIT_ASSERT_EQUAL(std::string("[1]:\n  - a: 1\n    b[2]: 1,2"), enc(R"([{"a":1,"b":[1,2]}])"));
        // many rows, mixed orders, numbers of every kind
        CPPUNIT_ASSERT_EQUAL(
            std::string("[3]{id,v}:\n  1,-0.5\n  2,1000000000000000000000\n  3,18446744073709551615"),
            enc(R"([{"id":1,"v":-5e-1},{"v":1e21,"id":2},{"id":3,"v":18446744073709551615}])"));
    }

    void testListArrays() {
        CPPUNIT_ASSERT_EQUAL(std::string("items[3]:\n  - 1\n  - a: 1\n  - text"),
                             enc(R"({"items":[1,{"a":1},"text"]})"));
        CPPUNIT_ASSERT_EQUAL(
            std::string(
                "items[2]:\n  - id: 1\n    name: First\n  - id: 2\n    name: Second\n    extra: true"),
            enc(R"({"items":[{"id":1,"name":"First"},{"id":2,"name":"Second","extra":true}]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("pairs[2]:\n  - [2]: 1,2\n  - [0]:"),
                             enc(R"({"pairs":[[1,2],[]]})"));
        // an object item whose first field is tabular: rows at +2, sibling fields at +1 (spec §10)
        CPPUNIT_ASSERT_EQUAL(std::string("items[1]:\n  - users[2]{id}:\n      1\n      2\n    status: ok"),
                             enc(R"({"items":[{"users":[{"id":1},{"id":2}],"status":"ok"}]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("items[1]:\n  - a:\n      b: 1\n    c: 2"),
                             enc(R"({"items":[{"a":{"b":1},"c":2}]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("x[2]:\n  -\n  - 1"), enc(R"({"x":[{},1]})"));
        // nested arrays of arrays of objects
        CPPUNIT_ASSERT_EQUAL(std::string("m[1]:\n  - [1]:\n    - a: 1\n      b:\n        c: 2"),
                             enc(R"({"m":[[{"a":1,"b":{"c":2}}]]})"));
    }

    void testRootForms() {
        CPPUNIT_ASSERT_EQUAL(std::string("[3]: 1,2,3"), enc("[1,2,3]"));
        CPPUNIT_ASSERT_EQUAL(std::string("[2]{id}:\n  1\n  2"), enc(R"([{"id":1},{"id":2}])"));
        CPPUNIT_ASSERT_EQUAL(std::string("[0]:"), enc("[]"));
        CPPUNIT_ASSERT_EQUAL(std::string("hello"), enc("\"hello\""));
        CPPUNIT_ASSERT_EQUAL(std::string("\"42\""), enc("\"42\""));
        CPPUNIT_ASSERT_EQUAL(std::string("null"), enc("null"));
    }

    void testNumbers() {
        CPPUNIT_ASSERT_EQUAL(std::string("n: 1"), enc(R"({"n":1.0})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 0"), enc(R"({"n":-0.0})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 1000000000000000000000"), enc(R"({"n":1e21})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 0.00000015"), enc(R"({"n":1.5e-7})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: -2.5"), enc(R"({"n":-2.50})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 123456789012"), enc(R"({"n":123456789012})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 18446744073709551615"), enc(R"({"n":18446744073709551615})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: -9223372036854775808"), enc(R"({"n":-9223372036854775808})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 0.1"), enc(R"({"n":0.1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("n: 123.456"), enc(R"({"n":1.23456e2})"));
    }

    void testKeys() {
        CPPUNIT_ASSERT_EQUAL(std::string("\"my-key\": 1"), enc(R"({"my-key":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("a.b: 1"), enc(R"({"a.b":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"1a\": 1"), enc(R"({"1a":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"\": 1"), enc(R"({"":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("_x: 1"), enc(R"({"_x":1})"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"a b\"[1]: 1"), enc(R"({"a b":[1]})"));
        CPPUNIT_ASSERT_EQUAL(std::string("\"q\\\"k\": 1"), enc(R"({"q\"k":1})"));
    }

    // Every edge string decodes back to itself as an object value, an inline array value and a tabular cell.
    void testStringQuotingRoundTrips() {
        for (const auto& s : kEdgeStrings) {
            ordered_json object = {{"v", s}};
            std::string line = toon::encode(object);
            CPPUNIT_ASSERT_MESSAGE(line, line.rfind("v: ", 0) == 0);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(line, ordered_json(s), decodePrimitive(line.substr(3)));
            CPPUNIT_ASSERT_MESSAGE(line, line.find('\n') == std::string::npos);

            ordered_json array = {{"a", {s, "z", s}}};
            std::string inlineLine = toon::encode(array);
            auto cells = splitRow(inlineLine.substr(std::string("a[3]: ").size()));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inlineLine, std::size_t(3), cells.size());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inlineLine, ordered_json(s), decodePrimitive(cells[0]));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inlineLine, ordered_json("z"), decodePrimitive(cells[1]));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(inlineLine, ordered_json(s), decodePrimitive(cells[2]));

            ordered_json table = ordered_json::array({{{"k", s}, {"n", 1}}, {{"k", "x"}, {"n", 2}}});
            std::string tabular = toon::encode(table);
            auto firstRow = tabular.substr(tabular.find('\n') + 3);
            firstRow = firstRow.substr(0, firstRow.find('\n'));
            auto rowCells = splitRow(firstRow);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(tabular, std::size_t(2), rowCells.size());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(tabular, ordered_json(s), decodePrimitive(rowCells[0]));
        }
        // numbers and literals as strings stay strings, real ones do not get quotes
        CPPUNIT_ASSERT_EQUAL(std::string("a[4]: 42,\"42\",true,\"true\""),
                             enc(R"({"a":[42,"42",true,"true"]})"));
    }

    void testEstimate() {
        CPPUNIT_ASSERT_EQUAL(std::size_t(0), toon::estimateTokens(""));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), toon::estimateTokens("hello world"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), toon::estimateTokens("123456"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(3), toon::estimateTokens("日本語"));
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), toon::estimateTokens("{\"a\":"));  // { " a " :
        // The point of TOON: a uniform array costs far fewer tokens than its JSON.
        ordered_json rows = ordered_json::array();
        for (int i = 0; i < 50; ++i)
            rows.push_back(
                {{"id", i}, {"name", "user" + std::to_string(i)}, {"role", "admin"}, {"active", true}});
        ordered_json doc = {{"users", rows}};
        std::size_t jsonTokens = toon::estimateTokens(doc.dump());
        std::size_t toonTokens = toon::estimateTokens(toon::encode(doc));
        CPPUNIT_ASSERT_MESSAGE(std::to_string(jsonTokens) + " vs " + std::to_string(toonTokens),
                               toonTokens * 2 < jsonTokens);
    }

    void testLocateJsonValue() {
        std::string raw = R"( { "a" : [ 1 , {"b":"x\"]}"} , [ ] ], "a\u0062": {"c" : null}, "ab": 7 } )";
        auto at = [&](std::vector<JsonPathStep> path) {
            auto range = locateJsonValue(raw, path);
            return range ? raw.substr(range->first, range->second - range->first) : std::string("<none>");
        };
        CPPUNIT_ASSERT_EQUAL(std::string("1"), at({{"a"}, {"", 0, true}}));
        CPPUNIT_ASSERT_EQUAL(std::string(R"({"b":"x\"]}"})"), at({{"a"}, {"", 1, true}}));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("x\"]}")"), at({{"a"}, {"", 1, true}, {"b"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("[ ]"), at({{"a"}, {"", 2, true}}));
        CPPUNIT_ASSERT_EQUAL(std::string("<none>"), at({{"a"}, {"", 3, true}}));
        CPPUNIT_ASSERT_EQUAL(std::string("<none>"), at({{"a"}, {"", 2, true}, {"", 0, true}}));
        // "a\u0062" is "ab"; the later duplicate wins, as in the parsed body
        CPPUNIT_ASSERT_EQUAL(std::string("7"), at({{"ab"}}));
        CPPUNIT_ASSERT_EQUAL(std::string("<none>"), at({{"zz"}}));
        // strings ending in escaped backslashes, and escaped quotes after backslashes
        std::string slashes = R"({"a":"x\\","b":"\"\\","c":"q\\\"q","d":2})";
        auto in = [&](const char* key) {
            auto range = locateJsonValue(slashes, {{key}});
            return range ? slashes.substr(range->first, range->second - range->first) : std::string("<none>");
        };
        CPPUNIT_ASSERT_EQUAL(std::string(R"("x\\")"), in("a"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("\"\\")"), in("b"));
        CPPUNIT_ASSERT_EQUAL(std::string(R"("q\\\"q")"), in("c"));
        CPPUNIT_ASSERT_EQUAL(std::string("2"), in("d"));
        CPPUNIT_ASSERT(!locateJsonValue(R"({"a":"unterminated\"})", {{"a"}}));
    }

    void testJsonStringLiteralMatchesNlohmann() {
        std::string all;
        for (int c = 1; c < 0x80; ++c) all += static_cast<char>(c);
        for (const std::string& text : {std::string(), all, std::string("täst \u2028 ✓ \"q\" \\ end"),
                                        std::string("line\nnext\ttab\r\b\f\x01\x1f")})
            CPPUNIT_ASSERT_EQUAL(json(text).dump(), archestra::util::jsonString(text));
    }

    void testOpenAiSpliceKeepsOtherBytes() {
        std::string raw =
            "{\"model\":\"gpt-4o\",  \"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},"
            "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
            "\"function\":{\"name\":\"get\",\"arguments\":\"{}\"}}]},"
            "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"{\\\"items\\\":[{\\\"id\\\":1,"
            "\\\"name\\\":"
            "\\\"a\\\"},{\\\"id\\\":2,\\\"name\\\":\\\"b\\\"}],\\\"total\\\":2}\"}],\"zeta\":1.50}";
        json body = json::parse(raw);
        RequestView view = openAiAdapter().parseRequest(body, {});
        std::optional<json> rewritten;
        std::optional<std::string> spliced;
        ToonOutcome outcome = compressToolResults(openAiAdapter(), view, raw, body, rewritten, spliced);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), outcome.converted);
        CPPUNIT_ASSERT(!rewritten);
        CPPUNIT_ASSERT(spliced);
        std::string expectedToon = "items[2]{id,name}:\n  1,a\n  2,b\ntotal: 2";
        auto start = raw.find("\"{\\\"items");
        auto end = raw.find("}\"}]") + 2;
        std::string want = raw.substr(0, start) + json(expectedToon).dump() + raw.substr(end);
        CPPUNIT_ASSERT_EQUAL(want, *spliced);
        CPPUNIT_ASSERT_EQUAL(expectedToon,
                             json::parse(*spliced)["messages"][2]["content"].get<std::string>());
        CPPUNIT_ASSERT(outcome.tokensAfter < outcome.tokensBefore);
        CPPUNIT_ASSERT_EQUAL(static_cast<std::int64_t>(toon::estimateTokens(expectedToon)),
                             outcome.tokensAfter);
    }

    void testOpenAiTextPartsAndSkips() {
        json body = {{"model", "gpt-4o"},
                     {"messages",
                      {{{"role", "tool"},
                        {"tool_call_id", "a"},
                        {"content", {{{"type", "text"}, {"text", R"({"list":[1,2,3,4,5,6,7,8,9]})"}}}}},
                       {{"role", "tool"}, {"tool_call_id", "b"}, {"content", "plain text, not JSON"}},
                       {{"role", "tool"}, {"tool_call_id", "c"}, {"content", "42"}},
                       {{"role", "tool"}, {"tool_call_id", "d"}, {"content", "{\"broken\": "}}}}};
        std::string raw = body.dump();
        RequestView view = openAiAdapter().parseRequest(body, {});
        std::optional<json> rewritten;
        std::optional<std::string> spliced;
        ToonOutcome outcome = compressToolResults(openAiAdapter(), view, raw, body, rewritten, spliced);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), outcome.converted);
        json out = json::parse(*spliced);
        CPPUNIT_ASSERT_EQUAL(std::string("list[9]: 1,2,3,4,5,6,7,8,9"),
                             out["messages"][0]["content"].get<std::string>());
        for (int i = 1; i < 4; ++i) CPPUNIT_ASSERT_EQUAL(body["messages"][i], out["messages"][i]);
    }

    void testAnthropicToolResult() {
        std::string raw =
            R"({"model":"claude-3-5-sonnet","max_tokens":100,"messages":[{"role":"user","content":"hi"},)"
            R"({"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get","input":{}}]},)"
            R"({"role":"user","content":[{"type":"text","text":"here"},{"type":"tool_result","tool_use_id":"t1",)"
            R"("content":[{"type":"text","text":"{\"rows\":[{\"k\":\"x\",\"v\":1},{\"k\":\"y\",\"v\":2}]}"}]},)"
            R"({"type":"tool_result","tool_use_id":"t2","content":[{"type":"image","source":{}}]}]}]})";
        json body = json::parse(raw);
        RequestView view = anthropicAdapter().parseRequest(body, {});
        std::optional<json> rewritten;
        std::optional<std::string> spliced;
        ToonOutcome outcome = compressToolResults(anthropicAdapter(), view, raw, body, rewritten, spliced);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), outcome.converted);
        auto start = raw.find("[{\"type\":\"text\",\"text\":\"{");
        auto end = raw.find("},{\"type\":\"tool_result\",\"tool_use_id\":\"t2\"");
        std::string want = raw.substr(0, start) + R"("rows[2]{k,v}:\n  x,1\n  y,2")" + raw.substr(end);
        CPPUNIT_ASSERT_EQUAL(want, *spliced);
    }

    void testAfterEarlierRewrite() {
        json body = {
            {"model", "gpt-4o"},
            {"messages", {{{"role", "tool"}, {"tool_call_id", "a"}, {"content", R"({"a":[1,2,3,4,5]})"}}}}};
        RequestView view = openAiAdapter().parseRequest(body, {});
        std::optional<json> rewritten = body;
        (*rewritten)["model"] = "gpt-4o-mini";
        std::optional<std::string> spliced;
        ToonOutcome outcome =
            compressToolResults(openAiAdapter(), view, body.dump(), body, rewritten, spliced);
        CPPUNIT_ASSERT_EQUAL(std::size_t(1), outcome.converted);
        CPPUNIT_ASSERT(!spliced);
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o-mini"), (*rewritten)["model"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("a[5]: 1,2,3,4,5"),
                             (*rewritten)["messages"][0]["content"].get<std::string>());
        // a result an earlier step replaced by plain text is not converted
        std::optional<json> replaced = body;
        (*replaced)["messages"][0]["content"] = "[blocked]";
        spliced.reset();
        CPPUNIT_ASSERT_EQUAL(
            std::size_t(0),
            compressToolResults(openAiAdapter(), view, body.dump(), body, replaced, spliced).converted);
    }

    void testSettingsScope() {
        ToonSettings settings;
        settings.organizations["org"] = {true, false};
        settings.organizations["teamorg"] = {true, true};
        settings.teams = {{"t1", false}, {"t2", true}};
        settings.firstOrganization = "org";
        CPPUNIT_ASSERT(settings.enabledFor("org", {}));
        CPPUNIT_ASSERT(settings.enabledFor("", {}));  // no team: the first organisation
        CPPUNIT_ASSERT(!settings.enabledFor("teamorg", {"t1"}));
        CPPUNIT_ASSERT(settings.enabledFor("teamorg", {"t1", "t2"}));
        CPPUNIT_ASSERT(!settings.enabledFor("missing", {"t2"}));
        settings.organizations["org"] = {false, false};
        CPPUNIT_ASSERT(!settings.enabledFor("org", {"t2"}));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ToonTest);
