// OpenApiExport: the /openapi.json document without a running server, for build steps (the Admin UI's
// client).
#pragma once

#include "core/app/Platform.h"

#include <ostream>

namespace archestra::app {

/// Registers every module's routes on `platform` against a database handle that never connects (pools open
/// lazily), writes the document /openapi.json would serve to `out`, and stops what registration started.
/// The document is built from the same route declarations as the server's, so a generated client cannot
/// drift from what the binary serves.
void exportOpenApi(Platform& platform, std::ostream& out);

}  // namespace archestra::app
