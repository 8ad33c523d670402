// Differential test of the TOON step's block-at-a-time scans against the byte-at-a-time code they replaced
// (test/core/proxy/ToonReference.h): the token estimate and locateJsonValue must answer exactly as before for
// the fuzz corpus and for generated inputs built to put runs, escapes and UTF-8 across the 64-byte blocks.
#include "core/BuildPaths.h"
#include "core/proxy/Toon.h"
#include "core/proxy/ToonCompression.h"
#include "test/core/proxy/ToonReference.h"

#include <cppunit/extensions/HelperMacros.h>
#include <nlohmann/json.hpp>

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
};

CPPUNIT_TEST_SUITE_REGISTRATION(ToonDifferentialTest);
