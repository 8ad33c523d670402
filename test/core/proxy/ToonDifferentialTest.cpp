// Differential test of the TOON step's block-at-a-time scans against the byte-at-a-time code they replaced
// (test/core/proxy/ToonReference.h): the token estimate and locateJsonValue must answer exactly as before for
// the fuzz corpus and for generated inputs built to put runs, escapes and UTF-8 across the 64-byte blocks.
// The encoder, which walks simdjson's tape, against the dom::element one it replaced
// (test/core/proxy/ToonReferenceEncoder.h): the same text for the corpus, numbers and generated tables.
#include "core/BuildPaths.h"
#include "core/proxy/Toon.h"
#include "core/proxy/ToonCompression.h"
#include "core/proxy/ToonScan.h"
#include "test/core/proxy/ToonReference.h"
#include "test/core/proxy/ToonReferenceEncoder.h"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace archestra::proxy;
using nlohmann::json;

namespace {

std::vector<std::string> corpus() {
    std::vector<std::string> texts;
    const std::filesystem::path root = std::filesystem::path(ARCHESTRA_SOURCE_DIR) / "test/fuzz/corpus";
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        texts.push_back(bytes.str());
    }
    return texts;
}

/// Text made of pieces that exercise every class of the estimate and every run-length boundary.
std::string randomText(std::mt19937& random, std::size_t pieces) {
    static const std::vector<std::string> kPieces = {
        "a",  "Z",    "word", "abcdefg", "0",    "12", "1234567", " ", "  ", "\n",
        "\t", "\r\n", "\v",   "\f",      "{",    "\"", ":",       ",", "é",  "日",
        "😀",  "\x80", "\xbf", "\xc3",    "\xff", "-",  ".",       "_"};
    std::string text;
    for (std::size_t i = 0; i < pieces; ++i) {
        const std::string& piece = kPieces[random() % kPieces.size()];
        std::size_t repeat = random() % 8 == 0 ? 1 + random() % 90 : 1;  // long runs now and then
        for (std::size_t r = 0; r < repeat; ++r) text += piece;
    }
    return text;
}

/// A string value full of backslash runs and quotes (as JSON text, escaped).
std::string nastyString(std::mt19937& random) {
    std::string value;
    std::size_t n = random() % 150;
    for (std::size_t i = 0; i < n; ++i) {
        switch (random() % 6) {
            case 0:
                value += std::string(random() % 5, '\\');
                break;
            case 1:
                value += '"';
                break;
            case 2:
                value += "\\\"";
                break;
            default:
                value += static_cast<char>('a' + random() % 26);
        }
    }
    return value;
}

/// The raw text of a JSON string from its opening quote, long enough to reach the block loops: letters,
/// escaped quotes and backslash runs of any length before a quote (odd: escaped, even: the end), sometimes
/// cut before its end.
std::string escapedString(std::mt19937& random) {
    std::string text = "\"";
    for (std::size_t i = 0, n = random() % 400; i < n; ++i) {
        switch (random() % 4) {
            case 0:
                text += "\\\"";
                break;
            case 1:
                text += std::string(1 + random() % 6, '\\') + (random() % 3 ? "\"" : "x");
                break;
            default:
                text += std::string(1 + random() % 70, static_cast<char>('a' + random() % 26));
        }
    }
    text += '"';
    return random() % 5 ? text : text.substr(0, random() % text.size());
}

json randomDoc(std::mt19937& random, int depth) {
    if (depth > 3 || random() % 4 == 0) {
        switch (random() % 4) {
            case 0:
                return nastyString(random);
            case 1:
                return static_cast<int>(random() % 1000);
            case 2:
                return nullptr;
            default:
                return json(nastyString(random)).dump();  // JSON text inside a string, as tool results are
        }
    }
    if (random() % 2) {
        json array = json::array();
        for (std::size_t i = 0, n = random() % 5; i < n; ++i) array.push_back(randomDoc(random, depth + 1));
        return array;
    }
    json object = json::object();
    for (std::size_t i = 0, n = random() % 5; i < n; ++i)
        object[i % 2 ? "k" + std::to_string(i) : "content"] = randomDoc(random, depth + 1);
    return object;
}

std::vector<JsonPathStep> randomPath(std::mt19937& random, const json& doc) {
    std::vector<JsonPathStep> path;
    const json* at = &doc;
    while ((at->is_object() || at->is_array()) && random() % 5 != 0) {
        if (at->empty() || random() % 7 == 0) {  // sometimes a step that does not exist
            path.push_back(at->is_array() ? JsonPathStep{"", at->size(), true}
                                          : JsonPathStep{"nope", 0, false});
            break;
        }
        std::size_t pick = random() % at->size();
        if (at->is_array()) {
            path.push_back({"", pick, true});
            at = &(*at)[pick];
        } else {
            auto it = at->begin();
            std::advance(it, static_cast<std::ptrdiff_t>(pick));
            path.push_back({it.key(), 0, false});
            at = &it.value();
        }
    }
    return path;
}

}  // namespace

class ToonDifferentialTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(ToonDifferentialTest);
    CPPUNIT_TEST(testEstimateOnCorpus);
    CPPUNIT_TEST(testEstimateOnGeneratedText);
    CPPUNIT_TEST(testLocateOnGeneratedDocuments);
    CPPUNIT_TEST(testLocateOnCorpus);
    CPPUNIT_TEST(testEncoderOnCorpus);
    CPPUNIT_TEST(testEncoderOnNumbers);
    CPPUNIT_TEST(testEncoderOnGeneratedTables);
    CPPUNIT_TEST(testEveryScanBuild);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testEstimateOnCorpus() {
        auto texts = corpus();
        CPPUNIT_ASSERT(texts.size() > 20);
        for (const auto& text : texts) {
            CPPUNIT_ASSERT_EQUAL(toon_reference::estimateTokens(text), toon::estimateTokens(text));
            auto encoded = toon::encodeJson(text);
            if (encoded)
                CPPUNIT_ASSERT_EQUAL(toon_reference::estimateTokens(*encoded),
                                     toon::estimateTokens(*encoded));
        }
    }

    void testEstimateOnGeneratedText() {
        std::mt19937 random(7);
        for (int round = 0; round < 20000; ++round) {
            std::string text = randomText(random, random() % 40);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(json(text).dump(-1, ' ', true, json::error_handler_t::replace),
                                         toon_reference::estimateTokens(text), toon::estimateTokens(text));
        }
        // Every split of a text at every offset of the first block boundaries.
        std::string text = "Hello  wonderful\tworld 1234567890 日本 x\xbf\xbf 😀 abcdefghijklmnopqrstuvwxyz ";
        for (std::size_t pad = 0; pad < 70; ++pad) {
            std::string shifted = std::string(pad, 'q') + text + std::string(pad, '7');
            CPPUNIT_ASSERT_EQUAL(toon_reference::estimateTokens(shifted), toon::estimateTokens(shifted));
        }
    }

    void testLocateOnGeneratedDocuments() {
        std::mt19937 random(11);
        for (int round = 0; round < 5000; ++round) {
            json doc = randomDoc(random, 0);
            std::string raw = round % 3 == 0 ? doc.dump(round % 5) : doc.dump();
            for (int k = 0; k < 4; ++k) {
                auto path = randomPath(random, doc);
                auto expected = toon_reference::locateJsonValue(raw, path);
                auto actual = locateJsonValue(raw, path);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(raw, expected.has_value(), actual.has_value());
                if (expected) {
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(raw, expected->first, actual->first);
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(raw, expected->second, actual->second);
                }
            }
            // Truncated and broken texts: both must give up (or not) alike.
            std::string cut = raw.substr(0, random() % (raw.size() + 1));
            auto path = randomPath(random, doc);
            auto expected = toon_reference::locateJsonValue(cut, path);
            auto actual = locateJsonValue(cut, path);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(cut, expected.has_value(), actual.has_value());
            if (expected) CPPUNIT_ASSERT(expected == actual);
        }
    }

    void testLocateOnCorpus() {
        for (const auto& text : corpus()) {
            json doc = json::parse(text, nullptr, false);
            if (doc.is_discarded()) continue;
            std::mt19937 random(static_cast<unsigned>(text.size()));
            for (int k = 0; k < 8; ++k) {
                auto path = randomPath(random, doc);
                CPPUNIT_ASSERT(toon_reference::locateJsonValue(text, path) == locateJsonValue(text, path));
            }
        }
    }

    void testEncoderOnCorpus() {
        std::size_t encoded = 0;
        for (const auto& text : corpus()) {
            auto expected = toon_reference::encodeJson(text);
            auto actual = toon::encodeJson(text);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(text, expected.has_value(), actual.has_value());
            if (expected) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(text, *expected, *actual);
                ++encoded;
            }
        }
        CPPUNIT_ASSERT(encoded > 5);
    }

    void testEncoderOnNumbers() {
        // Decimal forms people write, every magnitude, and raw bit patterns (subnormals, huge, -0).
        std::mt19937_64 random(3);
        std::vector<std::string> numbers = {"0",
                                            "-0",
                                            "0.0",
                                            "-0.0",
                                            "1e-7",
                                            "1E+21",
                                            "123456789012345.6",
                                            "999999999999999.9",
                                            "0.30000000000000004",
                                            "5e-324",
                                            "1.7976931348623157e308",
                                            "100000000000000",
                                            "1e15",
                                            "0.1",
                                            "-2.50",
                                            "12.5e1"};
        for (int i = 0; i < 20000; ++i) {
            std::uint64_t r = random();
            int fraction = static_cast<int>(r % 10);
            long long whole = static_cast<long long>((r >> 8) % 100000000000ULL) >> (r % 37);
            std::string digits = std::to_string((r >> 20) % 1000000000ULL);
            numbers.push_back(
                (r & 1 ? "-" : "") + std::to_string(whole) +
                (fraction ? "." + digits.substr(0, std::min<std::size_t>(digits.size(), fraction)) : ""));
            double bits;
            std::uint64_t pattern = random();
            std::memcpy(&bits, &pattern, sizeof bits);
            if (bits == bits && bits - bits == 0) numbers.push_back(json(bits).dump());
        }
        std::string all = "[";
        for (std::size_t i = 0; i < numbers.size(); ++i) {
            std::string one = "{\"n\":" + numbers[i] + "}";
            auto expected = toon_reference::encodeJson(one);
            CPPUNIT_ASSERT_MESSAGE(one, expected.has_value());
            CPPUNIT_ASSERT_EQUAL_MESSAGE(one, *expected, *toon::encodeJson(one));
            all += (i ? "," : "") + numbers[i];
        }
        all += "]";
        CPPUNIT_ASSERT_EQUAL(*toon_reference::encodeJson(all), *toon::encodeJson(all));
    }

    void testEncoderOnGeneratedTables() {
        // Rows in the header's order, rows in another order, rows with other keys, nested values.
        std::mt19937 random(5);
        for (int round = 0; round < 3000; ++round) {
            nlohmann::ordered_json rows = nlohmann::ordered_json::array();
            std::size_t count = 1 + random() % 6;
            for (std::size_t i = 0; i < count; ++i) {
                std::string row = "{";
                std::vector<std::string> keys = {"id", "name", "score"};
                if (random() % 5 == 0) std::swap(keys[0], keys[2]);
                if (random() % 9 == 0) keys.push_back("extra");
                for (std::size_t k = 0; k < keys.size(); ++k) {
                    row += (k ? "," : "") + json(keys[k]).dump() + ":";
                    switch (random() % 5) {
                        case 0:
                            row += std::to_string(random() % 1000) + "." + std::to_string(random() % 100);
                            break;
                        case 1:
                            row += json(nastyString(random)).dump();
                            break;
                        case 2:
                            row += random() % 2 ? "true" : "null";
                            break;
                        case 3:
                            row += random() % 8 == 0 ? "[1,2]" : std::to_string(random());
                            break;
                        default:
                            row += "\"plain text\"";
                    }
                }
                rows.push_back(nlohmann::ordered_json::parse(row + "}"));
            }
            std::string text = nlohmann::ordered_json{{"rows", rows}, {"total", count}}.dump();
            auto expected = toon_reference::encodeJson(text);
            CPPUNIT_ASSERT_EQUAL_MESSAGE(text, *expected, *toon::encodeJson(text));
        }
    }

    /// The tests above run the build of the scans this CPU picks; this one runs each build the CPU can run
    /// (AVX-512BW, AVX2, baseline), so the ones not picked here are checked too. Quote and backslash runs are
    /// placed across the 64-byte blocks; the reference is the byte-by-byte scan.
    void testEveryScanBuild() {
        const auto builds = toon::scan::supported();
        CPPUNIT_ASSERT(!builds.empty());
        CPPUNIT_ASSERT_EQUAL(std::string("baseline"), std::string(builds.back().name));
        auto texts = corpus();
        std::mt19937 random(13);
        for (int round = 0; round < 3000; ++round) texts.push_back(randomText(random, random() % 60));
        for (int round = 0; round < 3000; ++round) texts.push_back(escapedString(random));
        for (const auto& build : builds) {
            for (const auto& text : texts) {
                CPPUNIT_ASSERT_EQUAL_MESSAGE(build.name, toon_reference::estimateTokens(text),
                                             build.estimateTokens(text));
                if (text.empty() || text[0] != '"') continue;
                toon_reference::Scanner reference{text, 0};
                const bool closed = reference.string();
                const std::size_t end = build.stringEnd(text, 0);
                CPPUNIT_ASSERT_EQUAL_MESSAGE(text, closed, end != std::string_view::npos);
                if (closed) CPPUNIT_ASSERT_EQUAL_MESSAGE(text, reference.i, end);
            }
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(ToonDifferentialTest);
