// StaticFiles: serves the built Admin UI (a single-page app) from a directory, safely.
#pragma once

#include "core/http/Context.h"

#include <string>

namespace archestra::ui {

/// Serves files below `root`; unknown paths without an extension get index.html (client-side routing).
/// Never serves anything outside `root` (dot segments, encoded or not, and symlinks out are refused).
class StaticFiles {
  public:
    explicit StaticFiles(std::string root);
    /// Answers GET/HEAD requests; returns false for other methods so the caller can 404/405.
    bool serve(http::Context& context) const;
    bool available() const { return _available; }

  private:
    std::string _root;  ///< canonical absolute path, no trailing slash
    bool _available = false;
};

/// Content type for a file name by extension.
std::string contentTypeFor(const std::string& fileName);

}  // namespace archestra::ui
