// Tests for the Dispatcher over real sockets: errors, limits, request ids, CORS, auth hooks, static files.
#include "core/http/Dispatcher.h"
#include "core/http/HttpListener.h"
#include "core/http/ServerConnection.h"
#include "core/ui/StaticFiles.h"
#include "support/HttpTestClient.h"

#include <Poco/File.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/TemporaryFile.h>
#include <cppunit/extensions/HelperMacros.h>

#include <chrono>
#include <fstream>
#include <set>

using namespace archestra::http;
using archestra::test::httpRequest;

namespace {

/// Accepts "Authorization: let-me-in" as a member; denies "admin-only" routes to members.
class FakeAuthenticator : public Authenticator {
  public:
    std::optional<Principal> authenticate(Context& context) override {
        std::string value = context.header("Authorization");
        if (value.empty()) return std::nullopt;
        if (value != "let-me-in") throw ApiError::unauthenticated();
        Principal p;
        p.userId = "u1";
        p.role = "member";
        p.method = AuthMethod::ApiKey;
        return p;
    }
    void authorize(const Principal& principal, const Access& access, Context&) override {
        if (access.kind == Access::Kind::Permission && access.action == "admin" && principal.role != "admin")
            throw ApiError::forbidden("Forbidden: " + access.resource + ":" + access.action + " required");
    }
};

}  // namespace

class DispatcherTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(DispatcherTest);
    CPPUNIT_TEST(testUnknownRouteIs404Json);
    CPPUNIT_TEST(testWrongMethodIs405);
    CPPUNIT_TEST(testMalformedJsonIs400);
    CPPUNIT_TEST(testBodyLimitIs413);
    CPPUNIT_TEST(testRequestIdEchoedOrGenerated);
    CPPUNIT_TEST(testCors);
    CPPUNIT_TEST(testAuthentication);
    CPPUNIT_TEST(testUuidParam);
    CPPUNIT_TEST(testHandlerExceptionIs500WithoutDetails);
    CPPUNIT_TEST(testStaticFilesConfined);
    CPPUNIT_TEST(testNewRequestIdsAreDistinctUuidV4);
    CPPUNIT_TEST(testTimeOrderedIdsAreUuidV7);
    CPPUNIT_TEST(testConnectionSocketKeepsItsAddresses);
    CPPUNIT_TEST_SUITE_END();

    Router _router;
    std::unique_ptr<Dispatcher> _dispatcher;
    std::unique_ptr<HttpListener> _listener;
    std::string _uiRoot;
    int _port = 0;

  public:
    void setUp() override {
        _router = Router();
        _router.add({.method = "POST", .path = "/echo", .access = Access::publicRoute()}, [](Context& c) {
            c.sendJson(200, {{"got", c.json()}});
        });
        _router.add({.method = "GET", .path = "/items", .access = Access::publicRoute()},
                    [](Context& c) { c.sendJson(200, nlohmann::json::array()); });
        _router.add({.method = "GET", .path = "/secure", .access = Access::authenticated()}, [](Context& c) {
            c.sendJson(200, {{"user", c.requirePrincipal().userId}});
        });
        _router.add(
            {.method = "GET", .path = "/admin", .access = Access::permission("organization", "admin")},
            [](Context& c) { c.sendJson(200, {}); });
        _router.add(
            {.method = "GET", .path = "/things/{id}", .access = Access::publicRoute(), .uuidParams = {"id"}},
            [](Context& c) {
                c.sendJson(200, {{"id", c.param("id")}});
            });
        _router.add({.method = "GET", .path = "/boom", .access = Access::publicRoute()},
                    [](Context&) { throw std::runtime_error("secret internal detail"); });
        DispatcherOptions options;
        options.maxBodyBytes = 1024;
        _dispatcher = std::make_unique<Dispatcher>(_router, options);
        _dispatcher->setAuthenticator(std::make_shared<FakeAuthenticator>());

        _uiRoot = Poco::TemporaryFile::tempName();
        Poco::File(_uiRoot + "/assets").createDirectories();
        std::ofstream(_uiRoot + "/index.html") << "<html>app</html>";
        std::ofstream(_uiRoot + "/assets/app.js") << "console.log(1)";
        std::ofstream(_uiRoot + "/../secret-outside.txt") << "top secret";
        auto files = std::make_shared<archestra::ui::StaticFiles>(_uiRoot);
        _dispatcher->setFallback([files](Context& c) { return files->serve(c); });

        ListenerOptions listenerOptions;
        listenerOptions.name = "test";
        listenerOptions.address = "127.0.0.1";
        listenerOptions.port = 0;
        listenerOptions.maxThreads = 8;
        _listener = std::make_unique<HttpListener>(listenerOptions, *_dispatcher);
        _listener->start();
        _port = _listener->port();
    }

    void tearDown() override {
        _listener->stop(1000);
        Poco::File(_uiRoot).remove(true);
    }

    void testUnknownRouteIs404Json() {
        auto r = httpRequest(_port, "GET", "/api/nothing");
        CPPUNIT_ASSERT_EQUAL(404, r.status);
        auto body = nlohmann::json::parse(r.body);
        CPPUNIT_ASSERT_EQUAL(std::string("api_not_found_error"), body["error"]["type"].get<std::string>());
        CPPUNIT_ASSERT(body["error"]["message"].get<std::string>().find("/api/nothing") != std::string::npos);
    }

    void testWrongMethodIs405() {
        auto r = httpRequest(_port, "DELETE", "/items");
        CPPUNIT_ASSERT_EQUAL(405, r.status);
        CPPUNIT_ASSERT_EQUAL(std::string("GET"), r.header("Allow"));
    }

    void testMalformedJsonIs400() {
        auto r = httpRequest(_port, "POST", "/echo", "{\"a\":", {{"Content-Type", "application/json"}});
        CPPUNIT_ASSERT_EQUAL(400, r.status);
        CPPUNIT_ASSERT(r.body.find("not valid JSON") != std::string::npos);
        auto ok = httpRequest(_port, "POST", "/echo", "{\"a\":1}");
        CPPUNIT_ASSERT_EQUAL(200, ok.status);
        CPPUNIT_ASSERT_EQUAL(1, nlohmann::json::parse(ok.body)["got"]["a"].get<int>());
    }

    void testBodyLimitIs413() {
        auto r = httpRequest(_port, "POST", "/echo", std::string(2000, 'x'));
        CPPUNIT_ASSERT_EQUAL(413, r.status);
        CPPUNIT_ASSERT(r.body.find("exceeds the limit of 1024 bytes") != std::string::npos);
    }

    void testRequestIdEchoedOrGenerated() {
        auto r = httpRequest(_port, "GET", "/items", "", {{"X-Request-Id", "abc-123"}});
        CPPUNIT_ASSERT_EQUAL(std::string("abc-123"), r.header("X-Request-Id"));
        auto generated = httpRequest(_port, "GET", "/items", "", {{"X-Request-Id", "bad id\twith spaces"}});
        CPPUNIT_ASSERT(isUuidV4(generated.header("X-Request-Id")));
    }

    void testCors() {
        auto allowed = httpRequest(_port, "OPTIONS", "/items", "", {{"Origin", "http://localhost:3000"}});
        CPPUNIT_ASSERT_EQUAL(204, allowed.status);
        CPPUNIT_ASSERT_EQUAL(std::string("http://localhost:3000"),
                             allowed.header("Access-Control-Allow-Origin"));
        CPPUNIT_ASSERT_EQUAL(std::string("true"), allowed.header("Access-Control-Allow-Credentials"));
        auto denied = httpRequest(_port, "GET", "/items", "", {{"Origin", "http://evil.example"}});
        CPPUNIT_ASSERT_EQUAL(std::string(""), denied.header("Access-Control-Allow-Origin"));
        CorsPolicy explicitPolicy{{"https://ui.example.com"}};
        CPPUNIT_ASSERT(explicitPolicy.isAllowed("https://ui.example.com"));
        CPPUNIT_ASSERT(!explicitPolicy.isAllowed("http://localhost:3000"));
    }

    void testAuthentication() {
        CPPUNIT_ASSERT_EQUAL(401, httpRequest(_port, "GET", "/secure").status);
        auto bad = httpRequest(_port, "GET", "/secure", "", {{"Authorization", "nope"}});
        CPPUNIT_ASSERT_EQUAL(401, bad.status);
        CPPUNIT_ASSERT_EQUAL(std::string("api_authentication_error"),
                             nlohmann::json::parse(bad.body)["error"]["type"].get<std::string>());
        auto ok = httpRequest(_port, "GET", "/secure", "", {{"Authorization", "let-me-in"}});
        CPPUNIT_ASSERT_EQUAL(200, ok.status);
        CPPUNIT_ASSERT_EQUAL(std::string("u1"), nlohmann::json::parse(ok.body)["user"].get<std::string>());
        CPPUNIT_ASSERT_EQUAL(
            403, httpRequest(_port, "GET", "/admin", "", {{"Authorization", "let-me-in"}}).status);
    }

    void testUuidParam() {
        CPPUNIT_ASSERT_EQUAL(400, httpRequest(_port, "GET", "/things/123").status);
        CPPUNIT_ASSERT_EQUAL(
            200, httpRequest(_port, "GET", "/things/0b6e2f0a-3f1c-4c7e-9a55-6d4c1c1f2e3a").status);
        // A v7 id (interactions) is a UUID too; a version-0 one and a wrong variant are not.
        CPPUNIT_ASSERT_EQUAL(200, httpRequest(_port, "GET", "/things/" + newTimeOrderedId()).status);
        auto bad = httpRequest(_port, "GET", "/things/0b6e2f0a-3f1c-0c7e-9a55-6d4c1c1f2e3a");
        CPPUNIT_ASSERT_EQUAL(400, bad.status);
        CPPUNIT_ASSERT_MESSAGE(bad.body, bad.body.find("Path parameter") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(
            400, httpRequest(_port, "GET", "/things/0b6e2f0a-3f1c-7c7e-1a55-6d4c1c1f2e3a").status);
    }

    void testHandlerExceptionIs500WithoutDetails() {
        auto r = httpRequest(_port, "GET", "/boom");
        CPPUNIT_ASSERT_EQUAL(500, r.status);
        CPPUNIT_ASSERT(r.body.find("secret internal detail") == std::string::npos);
        CPPUNIT_ASSERT_EQUAL(200, httpRequest(_port, "GET", "/items").status);  // the process is fine
    }

    void testNewRequestIdsAreDistinctUuidV4() {
        std::set<std::string> seen;
        for (int i = 0; i < 2000; ++i) {
            std::string id = newRequestId();
            CPPUNIT_ASSERT_MESSAGE(id, isUuidV4(id));
            CPPUNIT_ASSERT_MESSAGE(id, id.find_first_not_of("0123456789abcdef-") == std::string::npos);
            seen.insert(id);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(2000), seen.size());
    }

    /// v7: version 7, RFC variant, the current Unix milliseconds in the first 48 bits, distinct; ids made in
    /// a later millisecond sort after earlier ones as text (what keeps the primary key's inserts at its right
    /// edge).
    void testTimeOrderedIdsAreUuidV7() {
        auto millisOf = [](const std::string& id) {
            return std::stoull(id.substr(0, 8) + id.substr(9, 4), nullptr, 16);
        };
        auto nowMs = [] {
            return static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
        };
        std::set<std::string> seen;
        std::string previous;
        for (int i = 0; i < 2000; ++i) {
            unsigned long long before = nowMs();
            std::string id = newTimeOrderedId();
            unsigned long long after = nowMs();
            CPPUNIT_ASSERT_MESSAGE(id, isUuid(id));
            CPPUNIT_ASSERT_MESSAGE(id, !isUuidV4(id));
            CPPUNIT_ASSERT_EQUAL_MESSAGE(id, '7', id[14]);
            CPPUNIT_ASSERT_MESSAGE(id, id.find_first_not_of("0123456789abcdef-") == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(id, millisOf(id) >= before && millisOf(id) <= after);
            if (!previous.empty() && millisOf(id) > millisOf(previous))
                CPPUNIT_ASSERT_MESSAGE(id, id > previous);
            previous = id;
            seen.insert(id);
        }
        CPPUNIT_ASSERT_EQUAL(std::size_t(2000), seen.size());
    }

    /// withCachedAddresses moves the accepted descriptor to a socket that answers its addresses from the
    /// first lookup: still right after the peer reset the connection (getpeername would fail with ENOTCONN),
    /// and the descriptor is closed once, by the new owner only.
    void testConnectionSocketKeepsItsAddresses() {
        Poco::Net::ServerSocket server(Poco::Net::SocketAddress("127.0.0.1", 0));
        Poco::Net::StreamSocket client(server.address());
        Poco::Net::StreamSocket accepted = server.acceptConnection();
        const int fd = accepted.impl()->sockfd();
        const std::string peer = client.address().toString();
        auto owner = std::make_unique<Poco::Net::StreamSocket>(withCachedAddresses(accepted));
        CPPUNIT_ASSERT_EQUAL(POCO_INVALID_SOCKET, accepted.impl()->sockfd());
        CPPUNIT_ASSERT_EQUAL(fd, owner->impl()->sockfd());
        CPPUNIT_ASSERT_EQUAL(peer, owner->peerAddress().toString());
        CPPUNIT_ASSERT_EQUAL(server.address().toString(), owner->address().toString());

        client.setLinger(true, 0);  // close with a reset: the server side's connection is gone at once
        client.close();
        char byte = 0;
        bool reset = false;
        owner->setReceiveTimeout(Poco::Timespan(5, 0));
        try {
            reset = owner->receiveBytes(&byte, 1) <= 0;
        } catch (const Poco::TimeoutException&) {
            reset = false;  // the reset never arrived: the check below would prove nothing
        } catch (const Poco::Exception&) {
            reset = true;
        }
        CPPUNIT_ASSERT(reset);
        CPPUNIT_ASSERT_EQUAL(peer, owner->peerAddress().toString());

        // The owner closes the descriptor; the emptied original must not close it again once the number is
        // reused by another connection.
        owner.reset();
        Poco::Net::StreamSocket second(server.address());
        Poco::Net::StreamSocket secondAccepted = server.acceptConnection();
        accepted = Poco::Net::StreamSocket();
        second.sendBytes("x", 1);
        CPPUNIT_ASSERT_EQUAL(1, secondAccepted.receiveBytes(&byte, 1));
        CPPUNIT_ASSERT_EQUAL('x', byte);
    }

    void testStaticFilesConfined() {
        auto index = httpRequest(_port, "GET", "/settings/account");
        CPPUNIT_ASSERT_EQUAL(200, index.status);
        CPPUNIT_ASSERT_EQUAL(std::string("<html>app</html>"), index.body);
        auto asset = httpRequest(_port, "GET", "/assets/app.js");
        CPPUNIT_ASSERT_EQUAL(200, asset.status);
        CPPUNIT_ASSERT(asset.header("Content-Type").find("javascript") != std::string::npos);
        CPPUNIT_ASSERT_EQUAL(404, httpRequest(_port, "GET", "/assets/missing.js").status);
        for (const char* path : {"/../secret-outside.txt", "/%2e%2e/secret-outside.txt",
                                 "/assets/../../secret-outside.txt", "/%2E%2E%2Fsecret-outside.txt"}) {
            auto r = httpRequest(_port, "GET", path);
            CPPUNIT_ASSERT_MESSAGE(path, r.body.find("top secret") == std::string::npos);
            CPPUNIT_ASSERT_MESSAGE(path, r.status == 404 || r.status == 400 || r.body == "<html>app</html>");
        }
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(DispatcherTest);
