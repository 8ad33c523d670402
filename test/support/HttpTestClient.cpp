// HttpTestClient: Poco-based request helper.
#include "support/HttpTestClient.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Thread.h>

#include <algorithm>
#include <chrono>

namespace archestra::test {

std::string HttpResult::header(const std::string& name) const {
    std::string key = name;
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    auto it = headers.find(key);
    return it == headers.end() ? "" : it->second;
}

HttpResult httpRequest(int port, const std::string& method, const std::string& path, const std::string& body,
                       const std::map<std::string, std::string>& headers, int timeout_ms) {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout_ms) * 1000));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    std::ostream& out = session.sendRequest(request);
    out << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpResult result;
    result.status = static_cast<int>(response.getStatus());
    // 204 and HEAD answers have no body by definition; reading would wait for the connection to close.
    if (result.status != 204 && result.status != 304 && method != "HEAD")
        Poco::StreamCopier::copyToString(in, result.body);
    for (const auto& [name, value] : response) {
        std::string key = name;
        std::transform(key.begin(), key.end(), key.begin(), ::tolower);
        result.headers[key] = value;
    }
    return result;
}

bool waitForStatus(int port, const std::string& path, int status, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            if (httpRequest(port, "GET", path, "", {}, 2000).status == status) return true;
        } catch (const std::exception&) {
        }
        Poco::Thread::sleep(100);
    }
    return false;
}

int freePort() {
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    return socket.address().port();
}

}  // namespace archestra::test
