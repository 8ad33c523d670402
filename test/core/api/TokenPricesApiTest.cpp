// /api/token-prices through real HTTP and PostgreSQL: CRUD with money as exact decimal strings, default
// prices seeded for models in use (reference-proxy §1.5), 409 on a second row for a model, and 400s naming
// the field with nothing written.
#include "GuardrailApiFixture.h"
#include "core/api/TokenPricesApi.h"

using namespace archestra;
using archestra::test::GuardrailApiFixture;
using nlohmann::json;

class TokenPricesApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(TokenPricesApiTest);
    CPPUNIT_TEST(testCrud);
    CPPUNIT_TEST(testDefaultsForModelsInUse);
    CPPUNIT_TEST(testValidation);
    CPPUNIT_TEST_SUITE_END();

    struct Fixture : GuardrailApiFixture {
        explicit Fixture(const std::string& database) : GuardrailApiFixture(database) {
            api::registerTokenPriceRoutes(
                server.router(), std::shared_ptr<auth::AuthService>(&server.auth(), [](auto*) {}), counter());
            start();
        }
    };

  public:
    void testCrud() {
        Fixture f("prices_crud");
        json created = f.ok("POST", "/api/token-prices",
                            {{"provider", "openai"},
                             {"model", "gpt-4o"},
                             {"pricePerMillionInput", "2.50"},
                             {"pricePerMillionOutput", "10"}});
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        CPPUNIT_ASSERT(http::isUuidV4(created["id"].get<std::string>()));
        CPPUNIT_ASSERT_EQUAL(std::string("2.50"), created["pricePerMillionInput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("10.00"), created["pricePerMillionOutput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("openai"), created["provider"].get<std::string>());
        const std::string path = "/api/token-prices/" + created["id"].get<std::string>();
        CPPUNIT_ASSERT_EQUAL(created, f.ok("GET", path));
        json list = f.ok("GET", "/api/token-prices");
        CPPUNIT_ASSERT_EQUAL(size_t(1), list.size());

        json updated = f.ok("PUT", path, {{"pricePerMillionOutput", "12.5"}});
        CPPUNIT_ASSERT_EQUAL(std::string("12.50"), updated["pricePerMillionOutput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("2.50"), updated["pricePerMillionInput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o"), updated["model"].get<std::string>());

        f.fails(409, "POST", "/api/token-prices",
                {{"provider", "openai"},
                 {"model", "gpt-4o"},
                 {"pricePerMillionInput", "1"},
                 {"pricePerMillionOutput", "1"}},
                "gpt-4o");
        json other = f.ok("POST", "/api/token-prices",
                          {{"provider", "anthropic"},
                           {"model", "claude-x"},
                           {"pricePerMillionInput", "0"},
                           {"pricePerMillionOutput", "99999999.99"}});
        CPPUNIT_ASSERT_EQUAL(std::string("99999999.99"), other["pricePerMillionOutput"].get<std::string>());
        f.fails(409, "PUT", "/api/token-prices/" + other["id"].get<std::string>(), {{"model", "gpt-4o"}},
                "gpt-4o");

        CPPUNIT_ASSERT_EQUAL(json({{"success", true}}), f.ok("DELETE", path));
        f.fails(404, "GET", path, nullptr, "Token price not found");
        f.fails(404, "PUT", path, {{"model", "x"}}, "Token price not found");
        f.fails(404, "DELETE", path, nullptr, "Token price not found");
        f.fails(400, "GET", "/api/token-prices/xyz", nullptr, "id");
    }

    void testDefaultsForModelsInUse() {
        Fixture f("prices_defaults");
        f.server.db().execute(
            "INSERT INTO interactions (request, type, model, provider) VALUES ('{}', "
            "'openai:chatCompletions', "
            "'gpt-4o-mini', 'openai'), ('{}', 'anthropic:messages', 'claude-opus-4', 'anthropic')");
        json list = f.ok("GET", "/api/token-prices");
        CPPUNIT_ASSERT_EQUAL(size_t(2), list.size());
        CPPUNIT_ASSERT_EQUAL(std::string("claude-opus-4"), list[0]["model"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("anthropic"), list[0]["provider"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("50.00"), list[0]["pricePerMillionInput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("gpt-4o-mini"), list[1]["model"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("30.00"), list[1]["pricePerMillionOutput"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());
        f.ok("GET", "/api/token-prices");
        CPPUNIT_ASSERT_EQUAL(1, f.changes.load());  // nothing new to seed
    }

    void testValidation() {
        Fixture f("prices_validation");
        json good = {{"provider", "gemini"},
                     {"model", "gemini-2.5-pro"},
                     {"pricePerMillionInput", "1.25"},
                     {"pricePerMillionOutput", "10"}};
        auto without = [&](const std::string& field) {
            json body = good;
            body.erase(field);
            return body;
        };
        auto with = [&](const std::string& field, json value) {
            json body = good;
            body[field] = std::move(value);
            return body;
        };
        f.fails(400, "POST", "/api/token-prices", without("provider"), "Field 'provider'");
        f.fails(400, "POST", "/api/token-prices", with("provider", "mistral"), "Field 'provider'");
        f.fails(400, "POST", "/api/token-prices", without("model"), "Field 'model'");
        f.fails(400, "POST", "/api/token-prices", with("model", 7), "Field 'model'");
        f.fails(400, "POST", "/api/token-prices", without("pricePerMillionInput"),
                "Field 'pricePerMillionInput'");
        f.fails(400, "POST", "/api/token-prices", with("pricePerMillionInput", "-1"),
                "Field 'pricePerMillionInput'");
        f.fails(400, "POST", "/api/token-prices", with("pricePerMillionInput", "abc"),
                "Field 'pricePerMillionInput'");
        f.fails(400, "POST", "/api/token-prices", with("pricePerMillionOutput", "0.001"),
                "Field 'pricePerMillionOutput'");
        f.fails(400, "POST", "/api/token-prices", with("pricePerMillionOutput", "123456789"),
                "Field 'pricePerMillionOutput'");
        f.fails(400, "POST", "/api/token-prices", with("pricePerMillionOutput", true),
                "Field 'pricePerMillionOutput'");
        f.fails(400, "POST", "/api/token-prices", json::array(), "");
        CPPUNIT_ASSERT_EQUAL(0LL, f.count("SELECT count(*) FROM token_price"));
        CPPUNIT_ASSERT_EQUAL(0, f.changes.load());
        json created = f.ok("POST", "/api/token-prices", good);
        f.fails(400, "PUT", "/api/token-prices/" + created["id"].get<std::string>(),
                {{"pricePerMillionInput", "1.5.5"}}, "Field 'pricePerMillionInput'");
        CPPUNIT_ASSERT_EQUAL(std::string("1.25"),
                             f.scalar("SELECT price_per_million_input::text FROM token_price"));
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(TokenPricesApiTest);
