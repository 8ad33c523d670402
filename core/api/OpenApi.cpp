// OpenAPI document: one operation per declared route, so the published API cannot drift from the router.
#include "core/api/OpenApi.h"

#include "core/http/Context.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>

namespace archestra::api {

namespace {

using nlohmann::json;

const char* const kErrorSchemaRef = "#/components/schemas/ErrorResponse";

// The statuses the dispatcher and the handlers answer with an {"error":{...}} body.
const std::vector<std::pair<std::string, std::string>> kErrorResponses = {
    {"400", "Invalid input (body, query or path parameter)"},
    {"401", "Not authenticated"},
    {"403", "Authenticated but not allowed"},
    {"404", "Not found"},
    {"409", "Conflicts with the current state"},
    {"500", "Internal error"},
};

bool isRest(const std::string& path) {
    return path == "*" || (path.size() >= 2 && path.compare(path.size() - 2, 2, "/*") == 0);
}

/// The {name} placeholders of a template, in order (a segment may carry a literal prefix or suffix).
std::vector<std::string> pathParamNames(const std::string& path) {
    std::vector<std::string> names;
    std::size_t pos = 0;
    while ((pos = path.find('{', pos)) != std::string::npos) {
        std::size_t end = path.find('}', pos);
        if (end == std::string::npos) throw std::invalid_argument("Route path '" + path + "': unclosed '{'");
        names.push_back(path.substr(pos + 1, end - pos - 1));
        pos = end + 1;
    }
    return names;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    return text;
}

/// Brings a route's JSON schema into the OpenAPI 3.0 dialect, so modules may declare schemas either way:
/// a null schema means "any value" ({}), `type: [T, "null"]` becomes `type: T, nullable: true` (several
/// non-null types become anyOf), `const` becomes a one-value enum, and null keyword maps are dropped.
json toOpenApiSchema(const json& schema) {
    if (schema.is_null()) return json::object();
    if (!schema.is_object()) return schema;
    json out = json::object();
    for (const auto& [key, value] : schema.items()) {
        if (key == "properties" || key == "patternProperties" || key == "definitions") {
            if (!value.is_object()) continue;
            json map = json::object();
            for (const auto& [name, sub] : value.items()) map[name] = toOpenApiSchema(sub);
            out[key] = std::move(map);
        } else if (key == "items" || key == "not" || (key == "additionalProperties" && !value.is_boolean())) {
            out[key] = toOpenApiSchema(value);
        } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
            json list = json::array();
            for (const auto& sub : value) list.push_back(toOpenApiSchema(sub));
            out[key] = std::move(list);
        } else if (key == "const") {
            out["enum"] = json::array({value});
        } else if (key == "$schema" || key == "$id") {
            continue;  // JSON Schema meta keywords OpenAPI 3.0 does not allow
        } else {
            out[key] = value;
        }
    }
    if (out.contains("type") && out["type"].is_array()) {
        json types = json::array();
        for (const auto& type : out["type"])
            if (type == "null")
                out["nullable"] = true;
            else
                types.push_back(type);
        if (types.size() == 1) {
            out["type"] = types[0];
        } else {
            out.erase("type");
            if (!types.empty()) {
                json anyOf = json::array();
                for (const auto& type : types) anyOf.push_back({{"type", type}});
                out["anyOf"] = std::move(anyOf);
            }
        }
    }
    return out;
}

json errorResponse(const std::string& description) {
    return {{"description", description},
            {"content", {{"application/json", {{"schema", {{"$ref", kErrorSchemaRef}}}}}}}};
}

json describe(const http::RouteSpec& spec) {
    json operation = {{"operationId", spec.operationId}};
    if (!spec.summary.empty()) operation["summary"] = spec.summary;
    if (!spec.tag.empty()) operation["tags"] = json::array({spec.tag});

    json parameters = json::array();
    for (const auto& name : pathParamNames(spec.path)) {
        json schema = {{"type", "string"}};
        if (std::find(spec.uuidParams.begin(), spec.uuidParams.end(), name) != spec.uuidParams.end())
            schema["format"] = "uuid";
        parameters.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}});
    }
    for (const auto& param : spec.query) {
        json entry = {
            {"name", param.name},
            {"in", "query"},
            {"required", param.required},
            {"schema", param.schema.is_null() ? json{{"type", "string"}} : toOpenApiSchema(param.schema)}};
        if (!param.description.empty()) entry["description"] = param.description;
        parameters.push_back(std::move(entry));
    }
    if (!parameters.empty()) operation["parameters"] = std::move(parameters);

    if (!spec.requestBody.is_null())
        operation["requestBody"] = {
            {"required", true},
            {"content", {{"application/json", {{"schema", toOpenApiSchema(spec.requestBody)}}}}}};

    json ok = {{"description", "Default Response"}};
    if (!spec.response.is_null()) {
        // A body that is not JSON is declared as a string schema with JSON Schema's `contentMediaType`
        // annotation (e.g. text/event-stream for a stream): that media type keys the content; OpenAPI 3.0 has
        // no such keyword, so it is dropped from the schema.
        std::string mediaType = "application/json";
        json schema = spec.response;
        if (schema.is_object() && schema.value("type", json()) == "string" &&
            schema.contains("contentMediaType") && schema["contentMediaType"].is_string()) {
            mediaType = schema["contentMediaType"].get<std::string>();
            schema.erase("contentMediaType");
        }
        ok["content"] = {{mediaType, {{"schema", toOpenApiSchema(schema)}}}};
    }
    json responses = {{"200", std::move(ok)}};
    for (const auto& [status, description] : kErrorResponses) responses[status] = errorResponse(description);
    operation["responses"] = std::move(responses);

    if (spec.access.kind == http::Access::Kind::Public) {
        operation["security"] = json::array();  // explicitly none: the route answers without credentials
    } else {
        operation["security"] =
            json::array({{{"sessionCookie", json::array()}}, {{"apiKey", json::array()}}});
        if (spec.access.kind == http::Access::Kind::Permission)
            operation["x-required-permission"] = {{spec.access.resource, json::array({spec.access.action})}};
    }
    return operation;
}

}  // namespace

json buildOpenApiDocument(const http::Router& router, const OpenApiOptions& options) {
    json paths = json::object();
    std::map<std::string, std::string> operationIds;  // operationId -> "METHOD path" that declared it
    std::set<std::string> tags;

    for (const auto& route : router.routes()) {
        const http::RouteSpec& spec = route->spec;
        if (spec.hidden || isRest(spec.path)) continue;
        const std::string where = spec.method + " " + spec.path;
        if (spec.method == "*")
            throw std::invalid_argument("Route " + where +
                                        ": method '*' cannot be described in OpenAPI; declare it hidden");
        if (spec.operationId.empty())
            throw std::invalid_argument("Route " + where + ": operationId is empty (OpenAPI needs one)");
        auto [it, inserted] = operationIds.emplace(spec.operationId, where);
        if (!inserted)
            throw std::invalid_argument("Route " + where + ": operationId '" + spec.operationId +
                                        "' is already used by " + it->second);
        paths[spec.path][lower(spec.method)] = describe(spec);
        if (!spec.tag.empty()) tags.insert(spec.tag);
    }

    json tagList = json::array();
    for (const auto& tag : tags) tagList.push_back({{"name", tag}});

    json document = {
        {"openapi", "3.0.0"},
        {"info", {{"title", options.title}, {"version", options.version}}},
        {"paths", std::move(paths)},
        {"components",
         {{"schemas",
           {{"ErrorResponse",
             {{"type", "object"},
              {"required", {"error"}},
              {"properties",
               {{"error",
                 {{"type", "object"},
                  {"required", {"message", "type"}},
                  {"properties", {{"message", {{"type", "string"}}}, {"type", {{"type", "string"}}}}}}}}}}}}},
          {"securitySchemes",
           {{"sessionCookie", {{"type", "apiKey"}, {"in", "cookie"}, {"name", "archestra.session_token"}}},
            {"apiKey",
             {{"type", "apiKey"},
              {"in", "header"},
              {"name", "Authorization"},
              {"description", "An API key sent as the raw header value (no scheme prefix)"}}}}}}},
    };
    if (!tagList.empty()) document["tags"] = std::move(tagList);
    if (!options.serverUrl.empty()) {
        std::string url = options.serverUrl;
        while (url.size() > 1 && url.back() == '/') url.pop_back();
        document["servers"] = json::array({{{"url", url}}});
    }
    return document;
}

void registerOpenApiRoute(http::Router& router, OpenApiOptions options) {
    auto body = std::make_shared<std::string>();
    router.add(
        {.method = "GET",
         .path = "/openapi.json",
         .operationId = "getOpenApiDocument",
         .tag = "System",
         .summary = "OpenAPI 3.0 document of this API, generated from the route declarations",
         .access = http::Access::publicRoute(),
         .response = {{"type", "object"}}},
        [body](http::Context& context) { context.send(200, "application/json; charset=utf-8", *body); });
    // Built after the route is added so the document lists itself; listeners open only after this returns.
    *body = buildOpenApiDocument(router, options).dump();
}

}  // namespace archestra::api
