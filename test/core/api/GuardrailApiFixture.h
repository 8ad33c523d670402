// Shared fixture of the tools/costs/limits/statistics API tests: an AuthTestServer (real PostgreSQL, real
// HTTP) signed in as the seeded admin, with assertion helpers that name the request on failure.
#pragma once

#include "support/AuthTestServer.h"

#include <cppunit/extensions/HelperMacros.h>

#include <atomic>
#include <string>

namespace archestra::test {

struct GuardrailApiFixture {
    explicit GuardrailApiFixture(const std::string& database) : server(database) {}

    /// Call after registering the routes under test on server.router().
    void start() {
        server.start();
        admin = server.sessionCookie(server.seeded().adminUserId);
    }
    HttpResult call(const std::string& method, const std::string& path,
                    const nlohmann::json& body = nullptr) {
        return server.asCookie(admin, method, path, body.is_null() ? "" : body.dump());
    }
    nlohmann::json ok(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nullptr) {
        auto result = call(method, path, body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path + ": " + result.body, 200, result.status);
        CPPUNIT_ASSERT_MESSAGE(method + " " + path + " content type " + result.header("content-type"),
                               result.header("content-type").find("application/json") != std::string::npos);
        return nlohmann::json::parse(result.body);
    }
    /// Asserts the status and that the JSON error message mentions `needle`.
    void fails(int status, const std::string& method, const std::string& path, const nlohmann::json& body,
               const std::string& needle) {
        auto result = call(method, path, body);
        CPPUNIT_ASSERT_EQUAL_MESSAGE(method + " " + path + " " + body.dump() + ": " + result.body, status,
                                     result.status);
        std::string message = nlohmann::json::parse(result.body)["error"]["message"].get<std::string>();
        CPPUNIT_ASSERT_MESSAGE("'" + message + "' lacks '" + needle + "'",
                               message.find(needle) != std::string::npos);
    }
    long long count(const std::string& sql, const std::vector<db::Value>& params = {}) {
        return std::stoll(server.db().query(sql, params).at(0).str(0));
    }
    std::string scalar(const std::string& sql, const std::vector<db::Value>& params = {}) {
        return server.db().query(sql, params).at(0).str(0);
    }
    std::function<void()> counter() {
        return [this] { ++changes; };
    }

    AuthTestServer server;
    std::atomic<int> changes{0};
    std::string admin;
};

}  // namespace archestra::test
