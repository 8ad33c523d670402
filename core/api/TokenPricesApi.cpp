// Token price CRUD. Prices are exact decimals end to end: validated as text, stored as numeric(10,2),
// returned as PostgreSQL's own text of the column (never through a double).
#include "core/api/TokenPricesApi.h"

#include "core/api/CrudRoutes.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/http/Context.h"
#include "core/policy/Cost.h"

#include <regex>

namespace archestra::api {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

std::string priceJsonSql() {
    return "json_build_object('id', p.id, 'provider', p.provider, 'model', p.model, 'pricePerMillionInput', "
           "p.price_per_million_input::text, 'pricePerMillionOutput', p.price_per_million_output::text, "
           "'createdAt', " +
           isoSql("p.created_at") + ", 'updatedAt', " + isoSql("p.updated_at") + ")::text";
}

json priceSchema() {
    using namespace auth::schema;
    json money = {{"type", "string"}, {"pattern", "^[0-9]+(\\.[0-9]{1,2})?$"}};
    return object({{"id", {{"type", "string"}, {"format", "uuid"}}},
                   {"provider", enumOf({"openai", "anthropic", "gemini"})},
                   {"model", string()},
                   {"pricePerMillionInput", money},
                   {"pricePerMillionOutput", money},
                   {"createdAt", dateTime()},
                   {"updatedAt", dateTime()}},
                  {"id", "provider", "model", "pricePerMillionInput", "pricePerMillionOutput", "createdAt",
                   "updatedAt"});
}

json loadPrice(db::Database& db, const std::string& id) {
    auto rows = db.query("SELECT " + priceJsonSql() + " FROM token_price p WHERE p.id = $1::uuid", {id});
    if (rows.empty()) throw ApiError::notFound("Token price not found");
    return json::parse(rows[0].str(0));
}

/// A price: a decimal string (or a JSON number) >= 0 with at most 2 decimals and 8 whole digits, the range of
/// numeric(10,2), so what is stored is exactly what was sent.
std::string priceField(const json& body, const std::string& field) {
    auto it = body.find(field);
    if (it == body.end() || it->is_null())
        throw ApiError::badRequest("Field '" + field + "': required (a decimal string such as \"2.50\")");
    // The declared schema already refuses a JSON number (the body validator runs first); this check keeps the
    // handler safe when called from elsewhere.
    if (!it->is_string())
        throw ApiError::badRequest("Field '" + field + "': expected a decimal string, got " + it->dump());
    const std::string text = it->get<std::string>();
    static const std::regex pattern("^[0-9]{1,8}(\\.[0-9]{1,2})?$");
    if (!std::regex_match(text, pattern))
        throw ApiError::badRequest("Field '" + field +
                                   "': expected a decimal >= 0 with at most 2 decimals and 8 "
                                   "whole digits (USD per million tokens), got " +
                                   it->dump());
    return text;
}

std::string providerField(const json& body) {
    auto provider = auth::optionalStringField(body, "provider");
    if (!provider || (*provider != "openai" && *provider != "anthropic" && *provider != "gemini"))
        throw ApiError::badRequest("Field 'provider': expected one of openai, anthropic, gemini" +
                                   (provider ? ", got '" + *provider + "'" : std::string()));
    return *provider;
}

std::vector<db::Value> validate(const json& body) {
    std::string provider = providerField(body);
    std::string model = auth::requiredStringField(body, "model");
    return {provider, model, priceField(body, "pricePerMillionInput"),
            priceField(body, "pricePerMillionOutput")};
}

void checkUniqueModel(db::Connection& conn, const std::string& model, const std::string& exceptId) {
    if (!conn.query("SELECT 1 FROM token_price WHERE model = $1 AND id::text <> $2", {model, exceptId})
             .empty())
        throw ApiError::conflict("Field 'model': a token price for model '" + model + "' already exists");
}

std::string guessProvider(const std::string& model) {
    if (model.find("claude") != std::string::npos) return "anthropic";
    if (model.find("gemini") != std::string::npos) return "gemini";
    return "openai";
}

}  // namespace

long long seedDefaultTokenPrices(db::Database& db) {
    auto missing = db.query(
        "SELECT model, max(provider) FROM ("
        " SELECT DISTINCT i.model, i.provider FROM interactions i WHERE i.model IS NOT NULL AND i.model <> ''"
        " UNION SELECT DISTINCT m.value, NULL FROM limits l, jsonb_array_elements_text("
        "   CASE WHEN jsonb_typeof(l.model) = 'array' THEN l.model ELSE '[]'::jsonb END) m(value)"
        ") s WHERE NOT EXISTS (SELECT 1 FROM token_price p WHERE p.model = s.model) GROUP BY model");
    long long added = 0;
    for (const auto& row : missing) {
        std::string model = row.str(0);
        std::string provider = row.str(1);
        if (provider != "openai" && provider != "anthropic" && provider != "gemini")
            provider = guessProvider(model);
        policy::ModelPrice price = policy::defaultModelPrice(model);
        added += db.execute(
            "INSERT INTO token_price (provider, model, price_per_million_input, price_per_million_output) "
            "VALUES ($1, $2, $3::numeric, $4::numeric) ON CONFLICT (model) DO NOTHING",
            {provider, model, price.perMillionInput.toFixed(2), price.perMillionOutput.toFixed(2)});
    }
    return added;
}

void registerTokenPriceRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                              std::function<void()> onChange) {
    using namespace auth::schema;
    db::Database& db = auth->database();
    auto changed = [onChange] {
        if (onChange) onChange();
    };
    const std::string tag = "Token Prices";
    auto [createInput, updateInput] =
        inputSchemas(priceSchema(), {"id", "createdAt", "updatedAt"},
                     {"provider", "model", "pricePerMillionInput", "pricePerMillionOutput"});

    router.add({.method = "GET",
                .path = "/api/token-prices",
                .operationId = "getTokenPrices",
                .tag = tag,
                .summary = "Every model price (models in use without a price get the default one first)",
                .access = Access::permission("tokenPrice", "read"),
                .response = array(priceSchema())},
               [&db, changed](Context& c) {
                   if (seedDefaultTokenPrices(db) > 0) changed();
                   json out = json::array();
                   for (const auto& row :
                        db.query("SELECT " + priceJsonSql() + " FROM token_price p ORDER BY p.model"))
                       out.push_back(json::parse(row.str(0)));
                   c.sendJson(200, out);
               });
    router.add({.method = "POST",
                .path = "/api/token-prices",
                .operationId = "createTokenPrice",
                .tag = tag,
                .summary = "Price a model (one row per model)",
                .access = Access::permission("tokenPrice", "create"),
                .requestBody = createInput,
                .response = priceSchema()},
               [&db, changed](Context& c) {
                   auto values = validate(c.jsonObject());
                   std::string id = db.transaction([&](db::Connection& conn) {
                       checkUniqueModel(conn, *values[1], "");
                       return conn
                           .query(
                               "INSERT INTO token_price (provider, model, price_per_million_input, "
                               "price_per_million_output) VALUES ($1, $2, $3::numeric, $4::numeric) "
                               "RETURNING id::text",
                               values)
                           .at(0)
                           .str(0);
                   });
                   changed();
                   c.sendJson(200, loadPrice(db, id));
               });
    router.add({.method = "GET",
                .path = "/api/token-prices/{id}",
                .operationId = "getTokenPrice",
                .tag = tag,
                .summary = "One model price",
                .access = Access::permission("tokenPrice", "read"),
                .response = priceSchema(),
                .uuidParams = {"id"}},
               [&db](Context& c) { c.sendJson(200, loadPrice(db, c.param("id"))); });
    router.add({.method = "PUT",
                .path = "/api/token-prices/{id}",
                .operationId = "updateTokenPrice",
                .tag = tag,
                .summary = "Change a model price; fields left out keep their value",
                .access = Access::permission("tokenPrice", "update"),
                .requestBody = updateInput,
                .response = priceSchema(),
                .uuidParams = {"id"}},
               [&db, changed](Context& c) {
                   const std::string id = c.param("id");
                   auto values = validate(mergePresentFields(
                       loadPrice(db, id), c.jsonObject(),
                       {"provider", "model", "pricePerMillionInput", "pricePerMillionOutput"}));
                   values.insert(values.begin(), id);
                   db.transaction([&](db::Connection& conn) {
                       checkUniqueModel(conn, *values[2], id);
                       if (conn.execute(
                               "UPDATE token_price SET provider = $2, model = $3, price_per_million_input = "
                               "$4::numeric, price_per_million_output = $5::numeric, updated_at = now() "
                               "WHERE id = $1::uuid",
                               values) == 0)
                           throw ApiError::notFound("Token price not found");
                   });
                   changed();
                   c.sendJson(200, loadPrice(db, id));
               });
    addDeleteByIdRoute(router, db,
                       {.path = "/api/token-prices/{id}",
                        .operationId = "deleteTokenPrice",
                        .tag = tag,
                        .summary = "Delete a model price (the model falls back to the default price)",
                        .access = Access::permission("tokenPrice", "delete"),
                        .table = "token_price",
                        .notFoundMessage = "Token price not found"},
                       changed);
}

}  // namespace archestra::api
