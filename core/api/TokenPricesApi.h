// /api/token-prices: price per million input/output tokens by model, money as decimal strings
// (reference-api.md §1, reference-proxy.md §1.5, §2.5).
#pragma once

#include "core/auth/AuthService.h"
#include "core/http/Router.h"

#include <functional>
#include <memory>

namespace archestra::api {

/// Inserts a default-priced row (reference-proxy §1.5) for every model seen in interactions or named by a
/// token_cost limit that has no price yet, so the list shows what the proxy charges. Returns rows added.
long long seedDefaultTokenPrices(db::Database& db);

/// `onChange` runs after every write (the proxy reloads its price table).
void registerTokenPriceRoutes(http::Router& router, std::shared_ptr<auth::AuthService> auth,
                              std::function<void()> onChange);

}  // namespace archestra::api
