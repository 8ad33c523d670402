// Routes: the one place where every module's routes are registered and the dispatchers get their middleware.
#pragma once

#include "core/app/Platform.h"

namespace archestra::app {

/// Declares every route of every module on the platform's routers.
void registerRoutes(Platform& platform);
/// Installs authentication, observers and exception mappers on the dispatchers.
void configureDispatchers(Platform& platform);

}  // namespace archestra::app
