// The blocking HTTP client the host offers plugins (sdk::HttpClient), on Poco Net/NetSSL; the SSO plugins
// use it for discovery, JWKS, token and userinfo requests.
#pragma once

#include "archestra/sdk/host.h"

namespace archestra::auth::sso {

/// Sends `request` (http:// or https://, TLS verified against the system trust store) and reads the whole
/// answer. Transport failures come back as Unavailable, malformed requests as InvalidArgument. Thread-safe.
sdk::Result<sdk::HttpResponse> sendHttpRequest(const sdk::HttpRequest& request);

}  // namespace archestra::auth::sso
