// Dispatcher: middleware chain and error mapping.
#include "core/http/Dispatcher.h"

#include "core/config/Logging.h"
#include "core/http/BodyValidator.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/NetException.h>
#include <Poco/URI.h>

#include <chrono>
#include <random>

namespace archestra::http {

namespace {

bool isSafeRequestId(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' && c != ':')
            return false;
    }
    return true;
}

bool isLocalOrigin(const std::string& origin) {
    static const std::regex pattern(R"(^https?://(localhost|127\.0\.0\.1)(:\d+)?$)");
    return std::regex_match(origin, pattern);
}

class DispatchHandler : public Poco::Net::HTTPRequestHandler {
  public:
    explicit DispatchHandler(Dispatcher& dispatcher) : _dispatcher(dispatcher) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request,
                       Poco::Net::HTTPServerResponse& response) override {
        _dispatcher.handle(request, response);
    }

  private:
    Dispatcher& _dispatcher;
};

}  // namespace

namespace {

/// Canonical text form of a UUID given as two 64-bit halves. Hex digits written directly: snprintf's format
/// parsing cost more than the rest of the id (it runs twice per proxied call: the request id and the
/// interaction id).
std::string uuidText(std::uint64_t high, std::uint64_t low) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id(36, '-');
    std::size_t at = 0;
    auto put = [&](std::uint64_t bits, int digits) {
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) id[at++] = kHex[(bits >> shift) & 0xF];
    };
    put(high >> 32, 8);
    ++at;
    put(high >> 16, 4);
    ++at;
    put(high, 4);
    ++at;
    put(low >> 48, 4);
    ++at;
    put(low, 12);
    return id;
}

std::mt19937_64& idBits() {
    thread_local std::mt19937_64 generator{std::random_device{}()};
    return generator;
}

}  // namespace

std::string newRequestId() {
    std::uint64_t high = idBits()();
    std::uint64_t low = idBits()();
    high = (high & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    low = (low & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    return uuidText(high, low);
}

std::string newTimeOrderedId() {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    // 48 bits of Unix milliseconds, version 7, 12 + 62 random bits, variant 10 (RFC 9562 section 5.7).
    std::uint64_t high = (ms << 16) | 0x7000ULL | (idBits()() & 0x0FFFULL);
    std::uint64_t low = (idBits()() & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    return uuidText(high, low);
}

bool CorsPolicy::isAllowed(const std::string& origin) const {
    if (origin.empty()) return false;
    if (origins.empty()) return isLocalOrigin(origin);
    for (const auto& allowed : origins)
        if (allowed == origin) return true;
    return false;
}

Dispatcher::Dispatcher(const Router& router, DispatcherOptions options)
    : _router(router), _options(std::move(options)), _logger(Poco::Logger::get("http." + _options.name)) {}

Poco::Net::HTTPRequestHandler* DispatcherFactory::createRequestHandler(const Poco::Net::HTTPServerRequest&) {
    return new DispatchHandler(_dispatcher);
}

void Dispatcher::applyCors(Context& context) const {
    std::string origin = context.header("Origin");
    if (!_options.cors.isAllowed(origin)) return;
    auto& response = context.response();
    response.set("Access-Control-Allow-Origin", origin);
    response.set("Access-Control-Allow-Credentials", "true");
    response.set("Access-Control-Expose-Headers", "Set-Cookie, X-Request-Id, X-Archestra-Request-Id");
    response.add("Vary", "Origin");
}

void Dispatcher::answerError(Context& context, int status, const std::string& type,
                             const std::string& message) {
    if (context.responded()) {
        _logger.warning("request " + context.requestId() + " failed after the response started: " + message);
        return;
    }
    if (status == 413) context.response().setKeepAlive(false);
    context.sendError(status, type, message);
}

void Dispatcher::handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
    struct InFlight {
        std::atomic<int>& count;
        explicit InFlight(std::atomic<int>& c) : count(c) { ++count; }
        ~InFlight() { --count; }
    } inFlight(_inFlight);
    const std::string& uri = request.getURI();
    auto queryStart = uri.find('?');
    std::string rawPath = uri.substr(0, queryStart);
    std::string path;
    try {
        Poco::URI::decode(rawPath, path);
    } catch (const Poco::Exception&) {
        path = rawPath;
    }
    Context context(request, response, std::move(path),
                    queryStart == std::string::npos ? std::string() : uri.substr(queryStart + 1),
                    _options.maxBodyBytes);

    std::string incomingId = request.get("X-Request-Id", "");
    context.setRequestId(isSafeRequestId(incomingId) ? incomingId : newRequestId());
    response.set("X-Request-Id", context.requestId());
    config::setCurrentRequestId(context.requestId());
    for (const auto& observer : _observers) observer->onRequestStart(context);

    try {
        dispatch(context);
    } catch (const ApiError& error) {
        answerError(context, error.status(), error.type(), error.what());
    } catch (const nlohmann::json::exception& error) {
        answerError(context, 400, "api_validation_error", std::string("Invalid JSON value: ") + error.what());
    } catch (const Poco::Net::NetException& error) {
        // The client went away or the socket failed: nothing to answer.
        _logger.debug("request " + context.requestId() + ": connection error: " + error.displayText());
    } catch (const std::exception& error) {
        std::optional<ApiError> mapped;
        for (const auto& mapper : _mappers) {
            if ((mapped = mapper(error))) break;
        }
        if (mapped) {
            answerError(context, mapped->status(), mapped->type(), mapped->what());
        } else {
            const auto* poco = dynamic_cast<const Poco::Exception*>(&error);
            _logger.error("request " + context.requestId() + " " + context.method() + " " + context.path() +
                          " failed: " + (poco ? poco->displayText() : error.what()));
            answerError(context, 500, "api_internal_server_error", "Internal server error");
        }
    }

    if (!context.drainBody()) response.setKeepAlive(false);

    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - context.startedAt()).count();
    int status = context.status();
    for (const auto& observer : _observers) observer->onRequestDone(context, status, seconds);
    if (_logger.debug()) {
        _logger.debug(context.method() + " " + context.path() + " " + std::to_string(status) + " " +
                      std::to_string(static_cast<long long>(seconds * 1e6)) + "us");
    }
    config::setCurrentRequestId("");
}

void Dispatcher::dispatch(Context& context) {
    applyCors(context);
    const std::string& method = context.method();
    if (method == "OPTIONS") {
        auto& response = context.response();
        response.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        response.set(
            "Access-Control-Allow-Headers",
            "Content-Type, X-Requested-With, Cookie, Authorization, X-Request-Id, X-Archestra-Agent-Id");
        response.set("Access-Control-Max-Age", "600");
        response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
        response.setContentLength(0);
        response.send();
        return;
    }

    RouteMatch match = _router.match(method, context.path());
    if (match.route == nullptr) {
        if (!match.allowedMethods.empty()) {
            std::string allow;
            for (const auto& m : match.allowedMethods) allow += (allow.empty() ? "" : ", ") + m;
            context.response().set("Allow", allow);
            throw ApiError::methodNotAllowed("Method " + method + " is not allowed on " + context.path() +
                                             "; allowed: " + allow);
        }
        if (_fallback && _fallback(context)) return;
        throw ApiError::notFound("Route " + method + " " + context.path() + " not found");
    }
    const Route& route = *match.route;
    context.setRoute(&route, std::move(match.params));

    for (const auto& name : route.spec.uuidParams) {
        if (!isUuid(context.param(name)))
            throw ApiError::badRequest("Path parameter '" + name + "': expected a UUID, got '" +
                                       context.param(name) + "'");
    }
    std::size_t limit = route.spec.maxBodyBytes > 0 ? route.spec.maxBodyBytes : _options.maxBodyBytes;
    if (route.spec.maxBodyBytes == 0 && isManagementRoute(route.spec))
        limit = std::min(limit, kManagementMaxBodyBytes);  // Context::setRoute applies it to a chunked body
    if (context.request().hasContentLength()) {
        if (context.request().getContentLength64() > static_cast<Poco::Int64>(limit))
            throw ApiError::payloadTooLarge(
                "Request body of " + std::to_string(context.request().getContentLength64()) +
                " bytes exceeds the limit of " + std::to_string(limit) + " bytes");
    }

    if (route.spec.access.kind != Access::Kind::Public) {
        std::optional<Principal> principal;
        if (_authenticator) principal = _authenticator->authenticate(context);
        if (!principal) throw ApiError::unauthenticated();
        context.setPrincipal(*principal);
        _authenticator->authorize(*context.principal(), route.spec.access, context);
    } else if (_authenticator && !context.header("Cookie").empty()) {
        // Public routes may still use the caller when present (e.g. get-session); failures are not fatal
        // here.
        try {
            if (auto principal = _authenticator->authenticate(context)) context.setPrincipal(*principal);
        } catch (const ApiError&) {
        }
    }
    // A body that breaks the route's declared schema is refused before the handler runs (so before a lookup
    // could answer 404, and before anything is written), with a message naming the field.
    if (!route.spec.requestBody.is_null() && isManagementRoute(route.spec) &&
        (method == "POST" || method == "PUT" || method == "PATCH")) {
        static const nlohmann::json emptyObject = nlohmann::json::object();
        const nlohmann::json& body = context.hasBody() ? context.json() : emptyObject;
        if (auto error = validateBody(route.spec.requestBody, body)) throw ApiError::badRequest(*error);
    }
    route.handler(context);
    if (!context.responded())
        throw ApiError::internal("Handler for " + route.spec.method + " " + route.spec.path +
                                 " sent no response");
}

}  // namespace archestra::http
