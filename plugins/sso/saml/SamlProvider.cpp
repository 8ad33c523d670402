// sso.saml: a SAML 2.0 service provider on the SDK's SsoProvider interface. SP-initiated login with an
// HTTP-Redirect AuthnRequest (raw deflate + base64 + RelayState); the HTTP-POST Response is checked with
// xmlsec1 (signature of the Response or the Assertion against the configured IdP certificate, same-document
// references only), then issuer, audience, recipient, InResponseTo and NotBefore/NotOnOrAfter (60 s skew);
// assertion ids are remembered in the platform database (table verification) so a replay is refused on
// every replica.
#include "archestra/sdk/plugin.h"

// xmlsec.h first: the other xmlsec headers rely on its types.
#include <xmlsec/xmlsec.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxslt/xslt.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <xmlsec/keys.h>
#include <xmlsec/openssl/app.h>
#include <xmlsec/openssl/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmltree.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <set>

namespace {

using namespace archestra::sdk;
using nlohmann::json;

constexpr std::int64_t kClockSkew_s = 60;
constexpr const char* kNsProtocol = "urn:oasis:names:tc:SAML:2.0:protocol";
constexpr const char* kNsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion";
constexpr const char* kNsDsig = "http://www.w3.org/2000/09/xmldsig#";

std::int64_t nowSeconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string isoTime(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buffer;
}

/// xs:dateTime (UTC 'Z' or an offset, optional fraction) -> epoch seconds; -1 when malformed.
std::int64_t parseTime(const std::string& text) {
    std::tm tm{};
    const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    if (*rest == '.')
        while (*++rest && std::isdigit(static_cast<unsigned char>(*rest))) {
        }
    std::int64_t offset = 0;
    if (*rest == '+' || *rest == '-') {
        int h = 0, m = 0;
        if (std::sscanf(rest + 1, "%2d:%2d", &h, &m) != 2) return -1;
        offset = (h * 3600 + m * 60) * (*rest == '+' ? 1 : -1);
    } else if (*rest != 'Z' && *rest != '\0') {
        return -1;
    }
    return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

std::string base64Encode(const std::string& bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string base64Decode(const std::string& text) {
    std::string clean;
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
    if (clean.empty() || clean.size() % 4) return "";
    std::string out(clean.size() / 4 * 3, '\0');
    int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
    if (n < 0) return "";
    std::size_t pad =
        clean.size() >= 2 && clean[clean.size() - 1] == '=' ? (clean[clean.size() - 2] == '=' ? 2 : 1) : 0;
    out.resize(static_cast<std::size_t>(n) - pad);
    return out;
}

std::string urlEncode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string xmlEscape(const std::string& text) {
    std::string out;
    for (char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string rawDeflate(const std::string& data) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        throw std::runtime_error("deflateInit2 failed");
    std::string out(deflateBound(&zs, data.size()), '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
    return out;
}

std::string randomId() {
    unsigned char bytes[20];
    RAND_bytes(bytes, sizeof bytes);
    static const char* hex = "0123456789abcdef";
    std::string out = "_";
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

/// The configured certificate as PEM (a bare base64 body gets the armour).
std::string certificatePem(std::string cert) {
    if (cert.find("-----BEGIN") != std::string::npos) return cert;
    std::string body;
    for (char c : cert)
        if (!std::isspace(static_cast<unsigned char>(c))) body.push_back(c);
    std::string pem = "-----BEGIN CERTIFICATE-----\n";
    for (std::size_t i = 0; i < body.size(); i += 64) pem += body.substr(i, 64) + "\n";
    return pem + "-----END CERTIFICATE-----\n";
}

/// libxml2 + xmlsec1 global state, set up on first use and torn down when the plugin is unloaded (a static's
/// destructor runs at dlclose, or at exit if the plugin is still loaded). xmlsec1 and libxml2 are mapped for
/// this plugin only (with libxslt), so without the teardown their global allocations (1,712 bytes in 8
/// blocks, made under pthread_once) would outlive the libraries: the leak LeakSanitizer reported at platform
/// exit, reproduced and checked with valgrind on a load/create/unload of this plugin.
class XmlsecLibrary {
  public:
    static const XmlsecLibrary& instance() {
        static const XmlsecLibrary library;
        return library;
    }
    const std::string& error() const { return _error; }

    XmlsecLibrary(const XmlsecLibrary&) = delete;
    XmlsecLibrary& operator=(const XmlsecLibrary&) = delete;

  private:
    XmlsecLibrary() {
        xmlInitParser();
        if (xmlSecInit() < 0) {
            _error = "xmlSecInit failed";
            return;
        }
        _xmlsec = true;
        if (xmlSecCheckVersion() != 1) {
            _error = "the loaded xmlsec1 library is not the one this plugin was built against";
            return;
        }
        if (xmlSecOpenSSLAppInit(nullptr) < 0) {
            _error = "xmlsec1 OpenSSL application init failed";
            return;
        }
        _app = true;
        if (xmlSecOpenSSLInit() < 0) {
            _error = "xmlsec1 OpenSSL init failed";
            return;
        }
        _crypto = true;
    }
    ~XmlsecLibrary() {
        // The order xmlsec1 documents: crypto, crypto application, the library, then libxslt and libxml2.
        if (_crypto) xmlSecOpenSSLShutdown();
        if (_app) xmlSecOpenSSLAppShutdown();
        if (_xmlsec) xmlSecShutdown();
        xsltCleanupGlobals();  // xmlSecInit's XSLT transform made libxslt's global mutex
        xmlCleanupParser();
    }

    std::string _error;
    bool _xmlsec = false;
    bool _app = false;
    bool _crypto = false;
};

bool initXmlsec(std::string& error) {
    error = XmlsecLibrary::instance().error();
    return error.empty();
}

struct DocDeleter {
    void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
using DocPtr = std::unique_ptr<xmlDoc, DocDeleter>;

bool is(const xmlNode* node, const char* name, const char* ns) {
    return node && node->type == XML_ELEMENT_NODE && xmlStrEqual(node->name, BAD_CAST name) && node->ns &&
           xmlStrEqual(node->ns->href, BAD_CAST ns);
}

std::vector<xmlNode*> children(xmlNode* parent, const char* name, const char* ns) {
    std::vector<xmlNode*> out;
    for (xmlNode* c = parent ? parent->children : nullptr; c; c = c->next)
        if (is(c, name, ns)) out.push_back(c);
    return out;
}

xmlNode* child(xmlNode* parent, const char* name, const char* ns) {
    auto all = children(parent, name, ns);
    return all.size() == 1 ? all[0] : nullptr;
}

std::string attr(xmlNode* node, const char* name) {
    if (!node) return "";
    xmlChar* value = xmlGetProp(node, BAD_CAST name);
    if (!value) return "";
    std::string out(reinterpret_cast<char*>(value));
    xmlFree(value);
    return out;
}

std::string text(xmlNode* node) {
    if (!node) return "";
    xmlChar* value = xmlNodeGetContent(node);
    if (!value) return "";
    std::string out(reinterpret_cast<char*>(value));
    xmlFree(value);
    auto b = out.find_first_not_of(" \t\r\n");
    auto e = out.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

/// Number of elements with this local name and namespace anywhere in the document (wrapping defence).
int countElements(xmlNode* node, const char* name, const char* ns) {
    int n = 0;
    for (xmlNode* c = node; c; c = c->next) {
        if (is(c, name, ns)) ++n;
        n += countElements(c->children, name, ns);
    }
    return n;
}

struct Config {
    std::string entryPoint, cert, callbackUrl, spEntityId, idpIssuer, providerId;
    bool wantAssertionsSigned = true;
    json mapping = json::object();
};

class SamlProvider final : public SsoProvider {
  public:
    SamlProvider(Host& host, Config config) : _host(host), _config(std::move(config)) {}

    Result<LoginStart> beginLogin(const LoginRequest& request) override {
        const std::string id = randomId();
        const std::string relay = randomId().substr(1);
        const std::string acs = _config.callbackUrl.empty() ? request.callback_url : _config.callbackUrl;
        std::string xml =
            "<samlp:AuthnRequest xmlns:samlp=\"" + std::string(kNsProtocol) + "\" xmlns:saml=\"" +
            kNsAssertion + "\" ID=\"" + id + "\" Version=\"2.0\" IssueInstant=\"" + isoTime(nowSeconds()) +
            "\" Destination=\"" + xmlEscape(_config.entryPoint) + "\" AssertionConsumerServiceURL=\"" +
            xmlEscape(acs) +
            "\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"><saml:Issuer>" +
            xmlEscape(_config.spEntityId) +
            "</saml:Issuer><samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:"
            "emailAddress\" AllowCreate=\"true\"/></samlp:AuthnRequest>";
        LoginStart start;
        try {
            start.redirect_url =
                _config.entryPoint + (_config.entryPoint.find('?') == std::string::npos ? "?" : "&") +
                "SAMLRequest=" + urlEncode(base64Encode(rawDeflate(xml))) + "&RelayState=" + relay;
        } catch (const std::exception& e) {
            return fail(ErrorCode::Internal, std::string("cannot encode the AuthnRequest: ") + e.what());
        }
        start.state_blob = json{{"requestId", id}, {"relayState", relay}, {"acs", acs}}.dump();
        return start;
    }

    Result<Identity> completeLogin(const std::map<std::string, std::string>& params,
                                   const std::string& state_blob) override {
        std::string initError;
        if (!initXmlsec(initError)) return fail(ErrorCode::Unavailable, initError);
        json blob;
        try {
            blob = json::parse(state_blob);
        } catch (const json::exception&) {
            return fail(ErrorCode::InvalidArgument, "the sign-in state is not valid");
        }
        auto param = [&](const char* name) {
            auto it = params.find(name);
            return it == params.end() ? std::string() : it->second;
        };
        if (param("RelayState") != blob.value("relayState", ""))
            return fail(ErrorCode::InvalidArgument,
                        "RelayState does not match the sign-in started in this browser");
        std::string xml = base64Decode(param("SAMLResponse"));
        if (xml.empty()) return fail(ErrorCode::InvalidArgument, "SAMLResponse is missing or not base64");

        DocPtr doc(
            xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "response.xml", nullptr,
                          XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOWARNING | XML_PARSE_NOERROR));
        if (!doc) return fail(ErrorCode::InvalidArgument, "SAMLResponse is not well-formed XML");
        if (doc->intSubset || doc->extSubset)
            return fail(ErrorCode::InvalidArgument, "SAMLResponse carries a DTD, which is never accepted");
        xmlNode* response = xmlDocGetRootElement(doc.get());
        if (!is(response, "Response", kNsProtocol))
            return fail(ErrorCode::InvalidArgument, "SAMLResponse's root is not a samlp:Response");
        if (countElements(response, "Assertion", kNsAssertion) != 1)
            return fail(ErrorCode::InvalidArgument,
                        "the Response must carry exactly one (unencrypted) Assertion");
        xmlNode* assertion = child(response, "Assertion", kNsAssertion);
        if (!assertion)
            return fail(ErrorCode::InvalidArgument, "the Assertion is not a direct child of the Response");

        // Status
        xmlNode* status = child(response, "Status", kNsProtocol);
        std::string statusCode = attr(child(status, "StatusCode", kNsProtocol), "Value");
        if (statusCode != "urn:oasis:names:tc:SAML:2.0:status:Success")
            return fail(ErrorCode::PermissionDenied,
                        "the identity provider answered status '" + statusCode + "'");

        // Signatures: the Response's or the Assertion's, each covering exactly its own element.
        xmlAddID(nullptr, doc.get(), BAD_CAST attr(response, "ID").c_str(),
                 xmlHasProp(response, BAD_CAST "ID"));
        xmlAddID(nullptr, doc.get(), BAD_CAST attr(assertion, "ID").c_str(),
                 xmlHasProp(assertion, BAD_CAST "ID"));
        bool responseSigned = false, assertionSigned = false;
        for (auto [parent, flag] : {std::pair{response, &responseSigned}, {assertion, &assertionSigned}}) {
            auto signatures = children(parent, "Signature", kNsDsig);
            if (signatures.size() > 1)
                return fail(ErrorCode::InvalidArgument, "more than one Signature on an element");
            if (signatures.empty()) continue;
            auto verified = verifySignature(signatures[0], attr(parent, "ID"));
            if (!verified.ok()) return verified.error();
            *flag = true;
        }
        if (countElements(response, "Signature", kNsDsig) !=
            (responseSigned ? 1 : 0) + (assertionSigned ? 1 : 0))
            return fail(ErrorCode::InvalidArgument,
                        "the Response carries a Signature in an unexpected place");
        if (!responseSigned && !assertionSigned)
            return fail(ErrorCode::InvalidArgument,
                        "the SAML Response is not signed (neither Response nor Assertion)");

        const std::int64_t now = nowSeconds();
        const std::string acs = blob.value("acs", _config.callbackUrl);
        const std::string requestId = blob.value("requestId", "");
        std::string destination = attr(response, "Destination");
        if (!destination.empty() && destination != acs)
            return fail(ErrorCode::InvalidArgument,
                        "the Response's Destination '" + destination + "' is not this ACS");
        std::string inResponseTo = attr(response, "InResponseTo");
        if (!inResponseTo.empty() && inResponseTo != requestId)
            return fail(ErrorCode::InvalidArgument,
                        "the Response answers another request ('" + inResponseTo + "')");

        // Issuer
        std::string issuer = text(child(assertion, "Issuer", kNsAssertion));
        if (!_config.idpIssuer.empty() && issuer != _config.idpIssuer)
            return fail(ErrorCode::InvalidArgument,
                        "the Assertion's issuer '" + issuer + "' is not '" + _config.idpIssuer + "'");

        // Conditions: validity window and audience
        xmlNode* conditions = child(assertion, "Conditions", kNsAssertion);
        if (!conditions) return fail(ErrorCode::InvalidArgument, "the Assertion has no Conditions");
        std::string notBefore = attr(conditions, "NotBefore"),
                    notOnOrAfter = attr(conditions, "NotOnOrAfter");
        if (!notBefore.empty() && parseTime(notBefore) > now + kClockSkew_s)
            return fail(ErrorCode::InvalidArgument, "the Assertion is not valid before " + notBefore);
        if (notOnOrAfter.empty() || parseTime(notOnOrAfter) < 0 ||
            parseTime(notOnOrAfter) + kClockSkew_s <= now)
            return fail(ErrorCode::InvalidArgument,
                        "the Assertion expired (NotOnOrAfter " +
                            (notOnOrAfter.empty() ? std::string("missing") : notOnOrAfter) + ")");
        bool audienceOk = false;
        std::string audiences;
        for (xmlNode* restriction : children(conditions, "AudienceRestriction", kNsAssertion))
            for (xmlNode* audience : children(restriction, "Audience", kNsAssertion)) {
                audiences += (audiences.empty() ? "" : ", ") + text(audience);
                audienceOk = audienceOk || text(audience) == _config.spEntityId;
            }
        if (!audienceOk)
            return fail(ErrorCode::InvalidArgument, "the Assertion's audience (" + audiences +
                                                        ") is not this service '" + _config.spEntityId + "'");

        // Subject: bearer confirmation for this ACS and this request
        xmlNode* subject = child(assertion, "Subject", kNsAssertion);
        xmlNode* nameId = child(subject, "NameID", kNsAssertion);
        bool confirmed = false;
        std::string whyNot = "no bearer SubjectConfirmation";
        for (xmlNode* confirmation : children(subject, "SubjectConfirmation", kNsAssertion)) {
            if (attr(confirmation, "Method") != "urn:oasis:names:tc:SAML:2.0:cm:bearer") continue;
            xmlNode* data = child(confirmation, "SubjectConfirmationData", kNsAssertion);
            std::string recipient = attr(data, "Recipient"), until = attr(data, "NotOnOrAfter");
            std::string answers = attr(data, "InResponseTo");
            if (recipient != acs) {
                whyNot = "the SubjectConfirmation's Recipient '" + recipient + "' is not this ACS";
                continue;
            }
            if (until.empty() || parseTime(until) < 0 || parseTime(until) + kClockSkew_s <= now) {
                whyNot = "the SubjectConfirmation expired";
                continue;
            }
            if (!answers.empty() && answers != requestId) {
                whyNot = "the SubjectConfirmation answers another request";
                continue;
            }
            confirmed = true;
            break;
        }
        if (!confirmed) return fail(ErrorCode::InvalidArgument, whyNot);

        // Replay: each assertion id once, until it expires (shared by replicas through the database).
        auto fresh = remember(issuer + "|" + attr(assertion, "ID"), parseTime(notOnOrAfter) + kClockSkew_s);
        if (!fresh.ok()) return fresh.error();
        if (!fresh.value())
            return fail(ErrorCode::InvalidArgument, "this SAML assertion was already used (replay)");

        // Identity
        json claims = json::object();
        claims["nameID"] = text(nameId);
        claims["nameIDFormat"] = attr(nameId, "Format");
        claims["issuer"] = issuer;
        for (xmlNode* statement : children(assertion, "AttributeStatement", kNsAssertion))
            for (xmlNode* attribute : children(statement, "Attribute", kNsAssertion)) {
                json values = json::array();
                for (xmlNode* value : children(attribute, "AttributeValue", kNsAssertion))
                    values.push_back(text(value));
                claims[attr(attribute, "Name")] = values.size() == 1 ? values[0] : values;
            }
        return identityFrom(claims);
    }

  private:
    Result<bool> verifySignature(xmlNode* signature, const std::string& parentId) {
        std::string pem = certificatePem(_config.cert);
        xmlSecKeyPtr key = xmlSecOpenSSLAppKeyLoadMemory(
            reinterpret_cast<const xmlSecByte*>(pem.data()), static_cast<xmlSecSize>(pem.size()),
            xmlSecKeyDataFormatCertPem, nullptr, nullptr, nullptr);
        if (!key) return fail(ErrorCode::InvalidArgument, "the configured IdP certificate cannot be loaded");
        xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(nullptr);
        if (!ctx) {
            xmlSecKeyDestroy(key);
            return fail(ErrorCode::Internal, "xmlSecDSigCtxCreate failed");
        }
        ctx->signKey = key;  // owned by ctx from here; KeyInfo in the document is never trusted
        ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
        ctx->flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES;
        int rc = xmlSecDSigCtxVerify(ctx, signature);
        bool ok = rc >= 0 && ctx->status == xmlSecDSigStatusSucceeded;
        std::string reason = rc < 0 ? "the signature cannot be processed"
                                    : "the signature does not verify with the IdP certificate";
        if (ok) {
            // Exactly one Reference and it must name the signature's own parent element.
            xmlSecSize n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
            auto* ref = n == 1 ? static_cast<xmlSecDSigReferenceCtxPtr>(
                                     xmlSecPtrListGetItem(&ctx->signedInfoReferences, 0))
                               : nullptr;
            std::string uri = ref && ref->uri ? reinterpret_cast<const char*>(ref->uri) : "";
            if (!ref || uri != "#" + parentId) {
                ok = false;
                reason = "the signature does not cover the element it sits in";
            }
        }
        xmlSecDSigCtxDestroy(ctx);
        if (!ok) return fail(ErrorCode::InvalidArgument, reason);
        return true;
    }

    Result<bool> remember(const std::string& key, std::int64_t expires_s) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int length = 0;
        EVP_Digest(key.data(), key.size(), digest, &length, EVP_sha256(), nullptr);
        std::string id =
            "saml-assertion:" + base64Encode(std::string(reinterpret_cast<char*>(digest), length));
        if (SqlExecutor* sql = _host.sql()) {
            auto result = sql->execute(
                "INSERT INTO verification (id, identifier, value, expires_at) VALUES ($1, 'saml-assertion', "
                "$2, "
                "to_timestamp($3::bigint)) ON CONFLICT (id) DO NOTHING RETURNING id",
                {id, _config.providerId, std::to_string(expires_s)});
            if (result.ok()) return !result.value().rows.empty();
            if (result.error().code != ErrorCode::Unavailable)
                return fail(ErrorCode::Unavailable,
                            "cannot record the assertion id: " + result.error().message);
        }
        // No database from the host: this process alone remembers (a single replica is still protected).
        std::lock_guard lock(_mutex);
        _host.logger().log(LogLevel::Warning,
                           "no database for SAML replay protection; remembering in memory");
        return _seen.insert(id).second;
    }

    Identity identityFrom(const json& claims) {
        auto first = [&](std::initializer_list<std::string> names) -> std::string {
            for (const auto& n : names) {
                if (n.empty() || !claims.contains(n)) continue;
                const json& v = claims[n];
                if (v.is_string() && !v.get<std::string>().empty()) return v.get<std::string>();
                if (v.is_array() && !v.empty() && v[0].is_string()) return v[0].get<std::string>();
            }
            return "";
        };
        const json& m = _config.mapping;
        Identity identity;
        identity.subject = claims.value("nameID", "");
        identity.email = first({m.value("email", ""), "email", "mail", "emailAddress",
                                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"});
        if (identity.email.empty() &&
            claims.value("nameIDFormat", "").find("emailAddress") != std::string::npos)
            identity.email = identity.subject;
        // The email comes from an assertion the IdP signed: it vouches for it unless configured otherwise.
        identity.email_verified = !identity.email.empty() && m.value("emailVerified", true) != false;
        identity.name = first({m.value("name", ""), "name", "displayName", "cn",
                               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"});
        std::string groupsAttr = m.value("groups", "");
        for (const std::string n :
             {groupsAttr, std::string("groups"), std::string("memberOf"), std::string("roles"),
              std::string("http://schemas.microsoft.com/ws/2008/06/identity/claims/groups")}) {
            if (n.empty() || !claims.contains(n)) continue;
            const json& v = claims[n];
            if (v.is_string()) identity.groups.push_back(v.get<std::string>());
            if (v.is_array())
                for (const auto& g : v)
                    if (g.is_string()) identity.groups.push_back(g.get<std::string>());
            break;
        }
        json withGroups = claims;
        if (!withGroups.contains("groups")) withGroups["groups"] = identity.groups;
        if (!withGroups.contains("email")) withGroups["email"] = identity.email;
        identity.claims_json = withGroups.dump();
        return identity;
    }

    Host& _host;
    const Config _config;
    std::mutex _mutex;
    std::set<std::string> _seen;
};

Result<Config> parseConfig(const std::string& text) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        return fail(ErrorCode::InvalidArgument, std::string("config is not JSON: ") + e.what());
    }
    auto str = [&](const json& o, const char* key) {
        return o.is_object() && o.contains(key) && o[key].is_string() ? o[key].get<std::string>()
                                                                      : std::string();
    };
    Config c;
    c.entryPoint = str(j, "entryPoint");
    c.cert = str(j, "cert");
    c.callbackUrl = str(j, "callbackUrl");
    c.providerId = str(j, "providerId");
    c.spEntityId = str(j.value("spMetadata", json::object()), "entityID");
    if (c.spEntityId.empty()) c.spEntityId = str(j, "audience");
    if (c.spEntityId.empty()) c.spEntityId = str(j, "spEntityId");
    c.idpIssuer = str(j.value("idpMetadata", json::object()), "entityID");
    if (c.idpIssuer.empty()) c.idpIssuer = str(j, "idpIssuer");
    if (j.contains("wantAssertionsSigned") && j["wantAssertionsSigned"].is_boolean())
        c.wantAssertionsSigned = j["wantAssertionsSigned"].get<bool>();
    if (j.contains("mapping") && j["mapping"].is_object()) c.mapping = j["mapping"];
    if (c.entryPoint.rfind("http://", 0) != 0 && c.entryPoint.rfind("https://", 0) != 0)
        return fail(ErrorCode::InvalidArgument,
                    "entryPoint: expected an http(s) URL, got '" + c.entryPoint + "'");
    if (c.spEntityId.empty())
        return fail(ErrorCode::InvalidArgument, "audience: the SP entity id is required");
    std::string initError;
    if (!initXmlsec(initError)) return fail(ErrorCode::Unavailable, initError);
    std::string pem = certificatePem(c.cert);
    xmlSecKeyPtr key = xmlSecOpenSSLAppKeyLoadMemory(reinterpret_cast<const xmlSecByte*>(pem.data()),
                                                     static_cast<xmlSecSize>(pem.size()),
                                                     xmlSecKeyDataFormatCertPem, nullptr, nullptr, nullptr);
    if (!key)
        return fail(ErrorCode::InvalidArgument, "cert: expected the IdP's X.509 signing certificate (PEM)");
    xmlSecKeyDestroy(key);
    return c;
}

Status registerFactories(Registrar& registrar) {
    SsoFactory factory;
    factory.name = "saml";
    factory.description = "SAML 2.0: SP-initiated HTTP-Redirect, HTTP-POST ACS, xmlsec1-verified signatures";
    factory.config_schema_json = R"({"type":"object","required":["entryPoint","cert"],
        "properties":{"entryPoint":{"type":"string"},"cert":{"type":"string"},"callbackUrl":{"type":"string"},
        "audience":{"type":"string"},"wantAssertionsSigned":{"type":"boolean"},"mapping":{"type":"object"}}})";
    factory.create = [](Host& host, const std::string& config) -> Result<std::unique_ptr<SsoProvider>> {
        auto parsed = parseConfig(config);
        if (!parsed.ok()) return parsed.error();
        return std::unique_ptr<SsoProvider>(std::make_unique<SamlProvider>(host, parsed.value()));
    };
    return registrar.addSso(std::move(factory));
}

}  // namespace

ARCHESTRA_PLUGIN(registerFactories)
