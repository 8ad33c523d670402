// Kubernetes REST and WebSocket requests over Poco Net with bearer-token or client-certificate credentials.
#include "KubeClient.h"

#include <Poco/Crypto/EVPPKey.h>
#include <Poco/Crypto/X509Certificate.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <nlohmann/json.hpp>

#include <sstream>

namespace archestra::k8s {

namespace {

/// Every certificate of a PEM bundle (X509Certificate reads only the first one of a stream).
std::vector<std::string> splitPem(const std::string& pem) {
    std::vector<std::string> out;
    const std::string end = "-----END CERTIFICATE-----";
    std::size_t from = 0;
    while (true) {
        std::size_t begin = pem.find("-----BEGIN CERTIFICATE-----", from);
        if (begin == std::string::npos) break;
        std::size_t stop = pem.find(end, begin);
        if (stop == std::string::npos) break;
        out.push_back(pem.substr(begin, stop + end.size() - begin) + "\n");
        from = stop + end.size();
    }
    return out;
}

Poco::Timespan millis(int ms) {
    return Poco::Timespan(static_cast<long>(ms / 1000), static_cast<long>((ms % 1000) * 1000));
}

}  // namespace

std::string KubeClient::Response::message() const {
    auto parsed = nlohmann::json::parse(body, nullptr, false);
    if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string())
        return parsed["message"].get<std::string>();
    return body.size() > 300 ? body.substr(0, 300) + "..." : body;
}

KubeClient::KubeClient(KubeConfig config, int timeoutMs) : _config(std::move(config)), _timeoutMs(timeoutMs) {
    Poco::URI uri;
    try {
        uri = Poco::URI(_config.server);
    } catch (const Poco::Exception& error) {
        throw KubeConfigError(_config.source + ": server '" + _config.server + "': " + error.displayText());
    }
    _https = uri.getScheme() == "https";
    _host = uri.getHost();
    _port = uri.getPort();
    if (!_https) return;
    Poco::Net::initializeSSL();
    try {
        Poco::Net::Context::Params params;
        params.verificationMode = _config.insecureSkipTlsVerify ? Poco::Net::Context::VERIFY_NONE
                                                                : Poco::Net::Context::VERIFY_RELAXED;
        params.loadDefaultCAs = _config.caPem.empty();
        params.cipherList = "HIGH:!aNULL:!MD5";
        _tls = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
        if (_config.insecureSkipTlsVerify) _tls->enableExtendedCertificateVerification(false);
        auto certificates = splitPem(_config.caPem);
        if (!_config.caPem.empty() && certificates.empty())
            throw KubeConfigError(_config.source + ": the certificate authority holds no PEM certificate");
        for (const auto& pem : certificates) {
            std::istringstream in(pem);
            _tls->addCertificateAuthority(Poco::Crypto::X509Certificate(in));
        }
        if (!_config.clientCertPem.empty()) {
            std::istringstream cert(_config.clientCertPem);
            _tls->useCertificate(Poco::Crypto::X509Certificate(cert));
            std::istringstream key(_config.clientKeyPem);
            _tls->usePrivateKey(Poco::Crypto::EVPPKey(nullptr, &key));
        }
    } catch (const Poco::Exception& error) {
        throw KubeConfigError(_config.source + ": unusable TLS material: " + error.displayText());
    }
}

std::unique_ptr<Poco::Net::HTTPClientSession> KubeClient::session() const {
    std::unique_ptr<Poco::Net::HTTPClientSession> s;
    if (_https)
        s = std::make_unique<Poco::Net::HTTPSClientSession>(_host, _port, _tls);
    else
        s = std::make_unique<Poco::Net::HTTPClientSession>(_host, _port);
    s->setTimeout(millis(_timeoutMs));
    return s;
}

KubeClient::Response KubeClient::request(const std::string& method, const std::string& path,
                                         const std::string& body, const std::string& contentType) const {
    try {
        auto s = session();
        Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        req.set("Accept", "application/json, */*");
        if (!_config.token.empty()) req.set("Authorization", "Bearer " + _config.token);
        if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
            req.setContentType(contentType);
            req.setContentLength(static_cast<std::streamsize>(body.size()));
        }
        s->sendRequest(req) << body;
        Poco::Net::HTTPResponse res;
        std::istream& in = s->receiveResponse(res);
        Response out;
        out.status = static_cast<int>(res.getStatus());
        std::ostringstream text;
        Poco::StreamCopier::copyStream(in, text);
        out.body = text.str();
        return out;
    } catch (const Poco::Exception& error) {
        throw KubeUnavailable("Kubernetes API " + _config.server + ": " + method + " " + path + ": " +
                              error.displayText());
    }
}

std::unique_ptr<Poco::Net::WebSocket> KubeClient::openWebSocket(const std::string& path,
                                                                const std::string& protocols,
                                                                std::string& chosen) const {
    auto s = session();
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!_config.token.empty()) req.set("Authorization", "Bearer " + _config.token);
    req.set("Sec-WebSocket-Protocol", protocols);
    Poco::Net::HTTPResponse res;
    try {
        auto socket = std::make_unique<Poco::Net::WebSocket>(*s, req, res);
        chosen = res.get("Sec-WebSocket-Protocol", "");
        return socket;
    } catch (const Poco::Net::WebSocketException& error) {
        throw std::runtime_error("Kubernetes API refused the WebSocket upgrade of " + path + ": HTTP " +
                                 std::to_string(static_cast<int>(res.getStatus())) + " " +
                                 error.displayText());
    } catch (const Poco::Exception& error) {
        throw KubeUnavailable("Kubernetes API " + _config.server + ": WebSocket " + path + ": " +
                              error.displayText());
    }
}

}  // namespace archestra::k8s
