// The upstream pool against an HTTPS upstream with a self-signed certificate: refused by default (the system
// CA store does not know it), accepted once ARCHESTRA_UPSTREAM_CA_FILE (UpstreamOptions::caFile) names its
// CA, and still refused when the certificate is for another host name.
#include "core/proxy/upstream/UpstreamPool.h"

#include <Poco/File.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Path.h>
#include <Poco/StreamCopier.h>
#include <Poco/TemporaryFile.h>
#include <cppunit/extensions/HelperMacros.h>

#include <cstdlib>
#include <memory>
#include <sstream>

using namespace archestra::proxy;

namespace {

class HelloHandler : public Poco::Net::HTTPRequestHandler {
  public:
    void handleRequest(Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& response) override {
        response.setContentType("application/json");
        response.sendBuffer("{\"ok\":true}", 11);
    }
};

class HelloFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
        return new HelloHandler;
    }
};

/// A self-signed certificate for `host` made with the openssl CLI, and an HTTPS server using it on 127.0.0.1.
struct TlsUpstream {
    std::string dir;
    std::string certFile;
    std::unique_ptr<Poco::Net::HTTPServer> server;
    int port = 0;

    explicit TlsUpstream(const std::string& host) {
        dir = Poco::TemporaryFile::tempName();
        Poco::File(dir).createDirectories();
        certFile = dir + "/cert.pem";
        std::string keyFile = dir + "/key.pem";
        std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + host +
                              " -addext subjectAltName=DNS:" + host + " -keyout " + keyFile + " -out " +
                              certFile + " >/dev/null 2>&1";
        if (std::system(command.c_str()) != 0)
            throw std::runtime_error("openssl could not make a certificate");
        Poco::Net::Context::Ptr context = new Poco::Net::Context(
            Poco::Net::Context::TLS_SERVER_USE, keyFile, certFile, "", Poco::Net::Context::VERIFY_NONE);
        Poco::Net::SecureServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0), 64, context);
        port = socket.address().port();
        server = std::make_unique<Poco::Net::HTTPServer>(new HelloFactory, socket,
                                                         new Poco::Net::HTTPServerParams);
        server->start();
    }
    ~TlsUpstream() {
        server->stopAll(true);
        Poco::File(dir).remove(true);
    }
};

/// One GET through the pool; returns the body, throws what the session throws.
std::string get(UpstreamPool& pool, const std::string& baseUrl) {
    UpstreamEndpoint endpoint = UpstreamEndpoint::parse(baseUrl);
    UpstreamSession session = pool.acquire(endpoint);
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/v1/models",
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    session.session->sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& in = session.session->receiveResponse(response);
    std::ostringstream body;
    Poco::StreamCopier::copyStream(in, body);
    return body.str();
}

}  // namespace

class UpstreamTlsTest : public CppUnit::TestFixture {
    CPPUNIT_TEST_SUITE(UpstreamTlsTest);
    CPPUNIT_TEST(testSelfSignedRefusedByDefault);
    CPPUNIT_TEST(testAcceptedWithConfiguredCa);
    CPPUNIT_TEST(testConfiguredCaStillChecksHostName);
    CPPUNIT_TEST(testCleartextWarningForRemotePlainHttp);
    CPPUNIT_TEST_SUITE_END();

  public:
    void testSelfSignedRefusedByDefault() {
        TlsUpstream upstream("localhost");
        UpstreamPool pool(UpstreamOptions{});
        CPPUNIT_ASSERT_THROW(get(pool, "https://localhost:" + std::to_string(upstream.port)),
                             Poco::Net::SSLException);
    }

    void testAcceptedWithConfiguredCa() {
        TlsUpstream upstream("localhost");
        UpstreamOptions options;
        options.caFile = upstream.certFile;
        UpstreamPool pool(options);
        CPPUNIT_ASSERT_EQUAL(std::string("{\"ok\":true}"),
                             get(pool, "https://localhost:" + std::to_string(upstream.port)));
    }

    /// Plain HTTP to another host sends the provider key in clear text: warned at start-up, naming the
    /// setting.
    void testCleartextWarningForRemotePlainHttp() {
        using archestra::proxy::UpstreamEndpoint;
        for (const char* local : {"http://localhost:8080/v1", "http://127.0.0.1:9/v1", "http://127.9.9.9",
                                  "http://[::1]:8000", "https://api.openai.com/v1", "HTTPS://Example.com"})
            CPPUNIT_ASSERT_MESSAGE(local, !UpstreamEndpoint::parse(local).cleartextWarning("X").has_value());
        for (const char* remote : {"http://api.openai.com/v1", "http://10.0.0.5:8000/v1",
                                   "http://vllm.svc:80", "http://LOCALHOST.example.com"}) {
            auto warning = UpstreamEndpoint::parse(remote).cleartextWarning("ARCHESTRA_OPENAI_BASE_URL");
            CPPUNIT_ASSERT_MESSAGE(remote, warning.has_value());
            CPPUNIT_ASSERT_MESSAGE(*warning,
                                   warning->rfind("ARCHESTRA_OPENAI_BASE_URL is plain http://", 0) == 0);
        }
    }

    void testConfiguredCaStillChecksHostName() {
        // Trusted CA, but the certificate names another host: the host name check refuses it.
        TlsUpstream upstream("upstream.example");
        UpstreamOptions options;
        options.caFile = upstream.certFile;
        UpstreamPool pool(options);
        CPPUNIT_ASSERT_THROW(get(pool, "https://localhost:" + std::to_string(upstream.port)),
                             Poco::Net::SSLException);
    }
};

CPPUNIT_TEST_SUITE_REGISTRATION(UpstreamTlsTest);
