// HttpTestClient: one-shot HTTP requests to a local listener, for tests that go through real sockets.
#pragma once

#include <map>
#include <string>

namespace archestra::test {

struct HttpResult {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  ///< last value per name, names lower-cased
    std::string header(const std::string& name) const;
};

/// Sends one request to 127.0.0.1:port; throws Poco exceptions on connection failure.
HttpResult httpRequest(int port, const std::string& method, const std::string& path,
                       const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                       int timeout_ms = 10000);

/// Polls GET path until it answers `status` or the timeout passes; returns whether it did.
bool waitForStatus(int port, const std::string& path, int status, int timeout_ms);

/// A TCP port that was free a moment ago on 127.0.0.1.
int freePort();

}  // namespace archestra::test
