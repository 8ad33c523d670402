// Poco-based implementation of the host's HTTP client for plugins.
#include "core/auth/sso/HostHttpClient.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <memory>
#include <mutex>
#include <sstream>

namespace archestra::auth::sso {

namespace {

Poco::Net::Context::Ptr clientTlsContext() {
    static std::once_flag once;
    static Poco::Net::Context::Ptr context;
    std::call_once(once, [] {
        Poco::Net::initializeSSL();
        context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "", "",
                                         Poco::Net::Context::VERIFY_RELAXED, 9, true);
    });
    return context;
}

}  // namespace

sdk::Result<sdk::HttpResponse> sendHttpRequest(const sdk::HttpRequest& request) {
    Poco::URI uri;
    try {
        uri = Poco::URI(request.url);
    } catch (const Poco::Exception& e) {
        return sdk::fail(sdk::ErrorCode::InvalidArgument, "url '" + request.url + "': " + e.displayText());
    }
    if (uri.getScheme() != "http" && uri.getScheme() != "https")
        return sdk::fail(sdk::ErrorCode::InvalidArgument,
                         "url '" + request.url + "': expected an http:// or https:// URL");
    try {
        std::unique_ptr<Poco::Net::HTTPClientSession> session;
        if (uri.getScheme() == "https")
            session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                                      clientTlsContext());
        else
            session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
        session->setTimeout(Poco::Timespan(static_cast<long>(request.timeout_ms / 1000),
                                           static_cast<long>((request.timeout_ms % 1000) * 1000)));
        Poco::Net::HTTPRequest out(request.method,
                                   uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery(),
                                   Poco::Net::HTTPMessage::HTTP_1_1);
        out.setHost(uri.getHost(), uri.getPort());
        for (const auto& [name, value] : request.headers) out.set(name, value);
        if (!request.body.empty() || request.method == "POST" || request.method == "PUT")
            out.setContentLength(static_cast<std::streamsize>(request.body.size()));
        std::ostream& body = session->sendRequest(out);
        body << request.body;
        Poco::Net::HTTPResponse in;
        std::istream& answer = session->receiveResponse(in);
        sdk::HttpResponse response;
        response.status = static_cast<int>(in.getStatus());
        for (const auto& [name, value] : in) response.headers.emplace_back(name, value);
        std::ostringstream text;
        Poco::StreamCopier::copyStream(answer, text);
        response.body = text.str();
        return response;
    } catch (const Poco::Exception& e) {
        return sdk::fail(sdk::ErrorCode::Unavailable, request.method + " " + uri.getScheme() + "://" +
                                                          uri.getAuthority() + uri.getPath() +
                                                          " failed: " + e.displayText());
    } catch (const std::exception& e) {
        return sdk::fail(sdk::ErrorCode::Unavailable,
                         request.method + " " + uri.getPath() + " failed: " + e.what());
    }
}

}  // namespace archestra::auth::sso
