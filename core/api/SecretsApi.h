// /api/secrets: which secrets backend is active (and why) and its connectivity check.
#pragma once

#include "core/http/Router.h"

#include <memory>

namespace archestra::secrets {
class PluginSecretStore;
}

namespace archestra::api {

void registerSecretsRoutes(http::Router& router, std::shared_ptr<secrets::PluginSecretStore> store);

}  // namespace archestra::api
