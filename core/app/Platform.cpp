// Platform: out-of-line construction and destruction (members are forward-declared in the header).
#include "core/app/Platform.h"

#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"
#include "core/plugins/HostServices.h"
#include "core/plugins/PluginManager.h"

namespace archestra::app {

Platform::Platform() = default;
Platform::~Platform() = default;

}  // namespace archestra::app
