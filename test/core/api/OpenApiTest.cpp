// Tests for the OpenAPI generator: the document describes exactly the router's visible routes, with their
// parameters, bodies, security and shared error responses; bad declarations are rejected.
#include "core/api/OpenApi.h"

#include <cppunit/extensions/HelperMacros.h>

#include <set>
#include <stdexcept>

using namespace archestra;
using nlohmann::json;

namespace {

const std::vector<std::string> kErrorStatuses = {"400", "401", "403", "404", "409", "500"};

/// A router shaped like the real one: public and authenticated routes, a UUID path id, a query parameter,
/// an affixed parameter, a hidden route and a rest pass-through.
http::Router sampleRouter() {
    http::Router router;
    json agent = {{"type", "object"}, {"properties", {{"id", {{"type", "string"}}}}}};
    router.add({.method = "GET",
                .path = "/health",
                .operationId = "getHealth",
                .tag = "System",
                .summary = "Liveness",
                .access = http::Access::publicRoute(),
                .response = {{"type", "object"}}},
               nullptr);
    router.add(
        {.method = "GET",
         .path = "/api/agents",
         .operationId = "getAgents",
         .tag = "Agents",
         .access = http::Access::permission("profile", "read"),
         .response = {{"type", "array"}, {"items", agent}},
         .query = {{.name = "limit", .schema = {{"type", "integer"}, {"minimum", 1}}},
                   {.name = "name", .schema = {{"type", "string"}}, .required = true, .description = "d"}}},
        nullptr);
    router.add({.method = "POST",
                .path = "/api/agents",
                .operationId = "createAgent",
                .tag = "Agents",
                .access = http::Access::authenticated(),
                .requestBody = {{"type", "object"}, {"required", {"name"}}},
                .response = agent},
               nullptr);
    router.add({.method = "DELETE",
                .path = "/api/agents/{id}",
                .operationId = "deleteAgent",
                .tag = "Agents",
                .access = http::Access::authenticated(),
                .uuidParams = {"id"}},
               nullptr);
    router.add({.method = "POST",
                .path = "/api/models/{model}:generate/{slot}",
                .operationId = "generate",
                .access = http::Access::authenticated()},
               nullptr);
    router.add({.method = "GET", .path = "/metrics", .access = http::Access::publicRoute(), .hidden = true},
               nullptr);
    router.add({.method = "*", .path = "/v1/openai/*", .access = http::Access::publicRoute()}, nullptr);
    return router;
}

}  // namespace

class OpenApiTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(OpenApiTest);
    CPPUNIT_TEST(testHeader);
    CPPUNIT_TEST(testDocumentMatchesRoutes);
    CPPUNIT_TEST(testParameters);
    CPPUNIT_TEST(testBodiesAndResponses);
    CPPUNIT_TEST(testSecurity);
    CPPUNIT_TEST(testSchemaDialect);
    CPPUNIT_TEST(testResponseContentType);
    CPPUNIT_TEST(testDuplicateOperationIdRejected);
    CPPUNIT_TEST(testUndescribableRoutesRejected);
    CPPUNIT_TEST(testRegisteredRouteListsItself);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testHeader() {
        json doc = api::buildOpenApiDocument(sampleRouter(), {.serverUrl = "http://localhost:9000/"});
        CPPUNIT_ASSERT_EQUAL(std::string("3.0.0"), doc["openapi"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Archestra Platform API"), doc["info"]["title"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string(ARCHESTRA_VERSION), doc["info"]["version"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("http://localhost:9000"),
                             doc["servers"][0]["url"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(json({{{"name", "Agents"}}, {{"name", "System"}}}), doc["tags"]);
        json error = doc["components"]["schemas"]["ErrorResponse"];
        CPPUNIT_ASSERT_EQUAL(
            std::string("string"),
            error["properties"]["error"]["properties"]["message"]["type"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("string"),
                             error["properties"]["error"]["properties"]["type"]["type"].get<std::string>());
        CPPUNIT_ASSERT(!api::buildOpenApiDocument(sampleRouter()).contains("servers"));
    }

    /// Every visible route is an operation with its operationId, and every operation is a visible route.
    void testDocumentMatchesRoutes() {
        http::Router router = sampleRouter();
        json doc = api::buildOpenApiDocument(router);
        std::set<std::string> fromRoutes, fromDocument;
        for (const auto& route : router.routes()) {
            const auto& spec = route->spec;
            if (spec.hidden || spec.path.ends_with("/*")) continue;
            std::string method = spec.method;
            for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            fromRoutes.insert(method + " " + spec.path + " " + spec.operationId);
        }
        for (const auto& [path, item] : doc["paths"].items())
            for (const auto& [method, operation] : item.items())
                fromDocument.insert(method + " " + path + " " + operation["operationId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::size_t(5), fromRoutes.size());
        CPPUNIT_ASSERT(fromRoutes == fromDocument);
        CPPUNIT_ASSERT(!doc["paths"].contains("/metrics"));
        CPPUNIT_ASSERT(!doc["paths"].contains("/v1/openai/*"));
    }

    void testParameters() {
        json doc = api::buildOpenApiDocument(sampleRouter());
        json list = doc["paths"]["/api/agents"]["get"]["parameters"];
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), list.size());
        CPPUNIT_ASSERT_EQUAL(json({{"name", "limit"},
                                   {"in", "query"},
                                   {"required", false},
                                   {"schema", {{"type", "integer"}, {"minimum", 1}}}}),
                             list[0]);
        CPPUNIT_ASSERT_EQUAL(true, list[1]["required"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(std::string("d"), list[1]["description"].get<std::string>());

        json id = doc["paths"]["/api/agents/{id}"]["delete"]["parameters"];
        CPPUNIT_ASSERT_EQUAL(json::array({{{"name", "id"},
                                           {"in", "path"},
                                           {"required", true},
                                           {"schema", {{"type", "string"}, {"format", "uuid"}}}}}),
                             id);

        json affixed = doc["paths"]["/api/models/{model}:generate/{slot}"]["post"]["parameters"];
        CPPUNIT_ASSERT_EQUAL(std::size_t(2), affixed.size());
        CPPUNIT_ASSERT_EQUAL(std::string("model"), affixed[0]["name"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("slot"), affixed[1]["name"].get<std::string>());
        CPPUNIT_ASSERT(!affixed[0]["schema"].contains("format"));  // not declared as a UUID

        CPPUNIT_ASSERT(!doc["paths"]["/api/agents"]["post"].contains("parameters"));
    }

    void testBodiesAndResponses() {
        json doc = api::buildOpenApiDocument(sampleRouter());
        json create = doc["paths"]["/api/agents"]["post"];
        CPPUNIT_ASSERT_EQUAL(json({{"type", "object"}, {"required", {"name"}}}),
                             create["requestBody"]["content"]["application/json"]["schema"]);
        CPPUNIT_ASSERT_EQUAL(true, create["requestBody"]["required"].get<bool>());
        CPPUNIT_ASSERT_EQUAL(
            std::string("object"),
            create["responses"]["200"]["content"]["application/json"]["schema"]["type"].get<std::string>());
        CPPUNIT_ASSERT(!doc["paths"]["/api/agents"]["get"].contains("requestBody"));

        json remove = doc["paths"]["/api/agents/{id}"]["delete"]["responses"];
        CPPUNIT_ASSERT(remove["200"].contains("description"));
        CPPUNIT_ASSERT(!remove["200"].contains("content"));  // no response schema declared

        for (const auto& [path, item] : doc["paths"].items())
            for (const auto& [method, operation] : item.items()) {
                CPPUNIT_ASSERT_EQUAL(kErrorStatuses.size() + 1, operation["responses"].size());
                for (const auto& status : kErrorStatuses)
                    CPPUNIT_ASSERT_EQUAL_MESSAGE(
                        method + " " + path + " " + status, std::string("#/components/schemas/ErrorResponse"),
                        operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                            .get<std::string>());
            }
    }

    void testSecurity() {
        json doc = api::buildOpenApiDocument(sampleRouter());
        CPPUNIT_ASSERT_EQUAL(json::array(), doc["paths"]["/health"]["get"]["security"]);
        json both = json::array({{{"sessionCookie", json::array()}}, {{"apiKey", json::array()}}});
        CPPUNIT_ASSERT_EQUAL(both, doc["paths"]["/api/agents"]["get"]["security"]);
        CPPUNIT_ASSERT_EQUAL(both, doc["paths"]["/api/agents"]["post"]["security"]);
        CPPUNIT_ASSERT_EQUAL(json({{"profile", {"read"}}}),
                             doc["paths"]["/api/agents"]["get"]["x-required-permission"]);
        CPPUNIT_ASSERT(!doc["paths"]["/api/agents"]["post"].contains("x-required-permission"));

        json schemes = doc["components"]["securitySchemes"];
        CPPUNIT_ASSERT_EQUAL(
            json({{"type", "apiKey"}, {"in", "cookie"}, {"name", "archestra.session_token"}}),
            schemes["sessionCookie"]);
        CPPUNIT_ASSERT_EQUAL(std::string("header"), schemes["apiKey"]["in"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(std::string("Authorization"), schemes["apiKey"]["name"].get<std::string>());
    }

    /// JSON Schema spellings some modules use come out in the OpenAPI 3.0 dialect.
    void testSchemaDialect() {
        http::Router router;
        router.add(
            {.method = "POST",
             .path = "/api/things",
             .operationId = "createThing",
             .access = http::Access::authenticated(),
             .requestBody = {{"type", "object"},
                             {"properties",
                              {{"any", nullptr},
                               {"cost", {{"type", {"string", "null"}}}},
                               {"either", {{"type", {"string", "integer"}}}},
                               {"kind", {{"const", "thing"}}},
                               {"tags", {{"type", "array"}, {"items", {{"type", {"null", "string"}}}}}}}}},
             .response = {{"type", "array"}, {"items", {{"type", "object"}, {"properties", nullptr}}}}},
            nullptr);
        json doc = api::buildOpenApiDocument(router);
        json body =
            doc["paths"]["/api/things"]["post"]["requestBody"]["content"]["application/json"]["schema"];
        CPPUNIT_ASSERT_EQUAL(json::object(), body["properties"]["any"]);
        CPPUNIT_ASSERT_EQUAL(json({{"type", "string"}, {"nullable", true}}), body["properties"]["cost"]);
        CPPUNIT_ASSERT_EQUAL(json({{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}}}),
                             body["properties"]["either"]);
        CPPUNIT_ASSERT_EQUAL(json({{"enum", {"thing"}}}), body["properties"]["kind"]);
        CPPUNIT_ASSERT_EQUAL(json({{"type", "string"}, {"nullable", true}}),
                             body["properties"]["tags"]["items"]);
        json response =
            doc["paths"]["/api/things"]["post"]["responses"]["200"]["content"]["application/json"]["schema"];
        CPPUNIT_ASSERT_EQUAL(json({{"type", "object"}}), response["items"]);
    }

    void testResponseContentType() {
        // A string response with JSON Schema's contentMediaType is documented under that media type.
        http::Router router;
        router.add({.method = "POST",
                    .path = "/api/stream",
                    .operationId = "streamThing",
                    .access = http::Access::authenticated(),
                    .response = {{"type", "string"}, {"contentMediaType", "text/event-stream"}}},
                   nullptr);
        json content =
            api::buildOpenApiDocument(router)["paths"]["/api/stream"]["post"]["responses"]["200"]["content"];
        CPPUNIT_ASSERT_EQUAL(json({{"text/event-stream", {{"schema", {{"type", "string"}}}}}}), content);
    }

    void testDuplicateOperationIdRejected() {
        http::Router router = sampleRouter();
        router.add({.method = "PUT", .path = "/api/agents/{id}", .operationId = "createAgent"}, nullptr);
        try {
            api::buildOpenApiDocument(router);
            CPPUNIT_FAIL("a duplicate operationId was accepted");
        } catch (const std::invalid_argument& e) {
            std::string message = e.what();
            CPPUNIT_ASSERT_MESSAGE(message, message.find("'createAgent'") != std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(message, message.find("POST /api/agents") != std::string::npos);
        }
        // Hidden routes are not in the document, so their ids cannot clash with it.
        http::Router hidden = sampleRouter();
        hidden.add({.method = "PUT", .path = "/x", .operationId = "createAgent", .hidden = true}, nullptr);
        CPPUNIT_ASSERT_NO_THROW(api::buildOpenApiDocument(hidden));
    }

    void testUndescribableRoutesRejected() {
        http::Router missingId = sampleRouter();
        missingId.add({.method = "GET", .path = "/api/nameless"}, nullptr);
        CPPUNIT_ASSERT_THROW(api::buildOpenApiDocument(missingId), std::invalid_argument);

        http::Router anyMethod = sampleRouter();
        anyMethod.add({.method = "*", .path = "/api/any", .operationId = "any"}, nullptr);
        CPPUNIT_ASSERT_THROW(api::buildOpenApiDocument(anyMethod), std::invalid_argument);
    }

    void testRegisteredRouteListsItself() {
        http::Router router = sampleRouter();
        api::registerOpenApiRoute(router);
        auto match = router.match("GET", "/openapi.json");
        CPPUNIT_ASSERT(match.route != nullptr);
        CPPUNIT_ASSERT(match.route->spec.access.kind == http::Access::Kind::Public);
        json doc = api::buildOpenApiDocument(router);
        CPPUNIT_ASSERT_EQUAL(std::string("getOpenApiDocument"),
                             doc["paths"]["/openapi.json"]["get"]["operationId"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(json::array(), doc["paths"]["/openapi.json"]["get"]["security"]);

        // A bad declaration fails at registration (start-up), not at the first request.
        http::Router bad = sampleRouter();
        bad.add({.method = "GET", .path = "/api/nameless"}, nullptr);
        CPPUNIT_ASSERT_THROW(api::registerOpenApiRoute(bad), std::invalid_argument);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(OpenApiTest);
