// Tests of HostServices: injected SQL/HTTP/secret functions, and their absence reported as errors.
#include <cppunit/extensions/HelperMacros.h>

#include <stdexcept>

#include "core/plugins/HostServices.h"

using namespace archestra;

class HostServicesTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(HostServicesTest);
    CPPUNIT_TEST(testSqlUnavailableUntilInjected);
    CPPUNIT_TEST(testSqlExceptionBecomesError);
    CPPUNIT_TEST(testHttpAbsentUntilInjected);
    CPPUNIT_TEST(testSecretLookup);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSqlUnavailableUntilInjected() {
        plugins::HostServices host("/tmp/data");
        CPPUNIT_ASSERT_EQUAL(std::string("/tmp/data"), host.dataDirectory());
        auto before = host.sql()->execute("SELECT 1", {});
        CPPUNIT_ASSERT(!before.ok());
        CPPUNIT_ASSERT(before.error().code == sdk::ErrorCode::Unavailable);
        std::string seenSql;
        host.setSqlExecutor([&](const std::string& sql, const std::vector<sdk::SqlValue>& params) {
            seenSql = sql + "|" + params.at(0).value_or("NULL") + "|" + params.at(1).value_or("NULL");
            sdk::SqlResult r;
            r.columns = {"n"};
            r.rows = {{std::string("42")}};
            return sdk::Result<sdk::SqlResult>(r);
        });
        auto after = host.sql()->execute("SELECT $1, $2", {std::string("a"), std::nullopt});
        CPPUNIT_ASSERT(after.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("SELECT $1, $2|a|NULL"), seenSql);
        CPPUNIT_ASSERT_EQUAL(std::string("42"), *after.value().rows.at(0).at(0));
    }
    void testSqlExceptionBecomesError() {
        plugins::HostServices host("/tmp/data");
        host.setSqlExecutor(
            [](const std::string&, const std::vector<sdk::SqlValue>&) -> sdk::Result<sdk::SqlResult> {
                throw std::runtime_error("relation \"secret\" does not exist");
            });
        auto r = host.sql()->execute("SELECT 1", {});
        CPPUNIT_ASSERT(!r.ok());
        CPPUNIT_ASSERT_EQUAL(std::string("SQL executor failed: relation \"secret\" does not exist"),
                             r.error().message);
    }
    void testHttpAbsentUntilInjected() {
        plugins::HostServices host("/tmp/data");
        CPPUNIT_ASSERT(host.http() == nullptr);
        host.setHttpClient([](const sdk::HttpRequest& req) {
            sdk::HttpResponse resp;
            resp.status = 204;
            resp.body = req.method + " " + req.url;
            return sdk::Result<sdk::HttpResponse>(resp);
        });
        CPPUNIT_ASSERT(host.http() != nullptr);
        sdk::HttpRequest req;
        req.url = "http://127.0.0.1:1/x";
        auto r = host.http()->send(req);
        CPPUNIT_ASSERT(r.ok());
        CPPUNIT_ASSERT_EQUAL(204, r.value().status);
        CPPUNIT_ASSERT_EQUAL(std::string("GET http://127.0.0.1:1/x"), r.value().body);
    }
    void testSecretLookup() {
        plugins::HostServices host("/tmp/data");
        auto none = host.lookupSecret("s1");
        CPPUNIT_ASSERT(none.error().code == sdk::ErrorCode::Unimplemented);
        CPPUNIT_ASSERT_EQUAL(std::string("secret lookup of 's1': no secrets backend is active"),
                             none.error().message);
        host.setSecretLookup(
            [](const std::string& id) { return sdk::Result<std::string>("{\"id\":\"" + id + "\"}"); });
        CPPUNIT_ASSERT_EQUAL(std::string("{\"id\":\"s1\"}"), host.lookupSecret("s1").value());
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(HostServicesTest);
