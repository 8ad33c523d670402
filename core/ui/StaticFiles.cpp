// StaticFiles: path resolution confined to the UI root, content types and caching headers.
#include "core/ui/StaticFiles.h"

#include "core/http/ApiError.h"

#include <Poco/File.h>
#include <Poco/Path.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace archestra::ui {

namespace {

std::string canonical(const std::string& path) {
    char resolved[PATH_MAX];
    if (::realpath(path.c_str(), resolved) == nullptr) return {};
    return resolved;
}

bool readFile(const std::string& path, std::string& out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream buffer;
    buffer << in.rdbuf();
    out = buffer.str();
    return true;
}

const char* kPlaceholderPage =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Archestra Platform</title></head>"
    "<body><h1>Archestra Platform</h1><p>The Admin UI files were not found on this server "
    "(ARCHESTRA_UI_DIR). The API is available: <a href=\"/health\">/health</a>, "
    "<a href=\"/openapi.json\">/openapi.json</a>.</p></body></html>";

}  // namespace

std::string contentTypeFor(const std::string& fileName) {
    auto dot = fileName.rfind('.');
    std::string ext = dot == std::string::npos ? "" : fileName.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "json" || ext == "map") return "application/json";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "woff2") return "font/woff2";
    if (ext == "woff") return "font/woff";
    if (ext == "txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

StaticFiles::StaticFiles(std::string root) {
    _root = canonical(root);
    _available = !_root.empty() && Poco::File(_root + "/index.html").exists();
}

bool StaticFiles::serve(http::Context& context) const {
    const std::string& method = context.method();
    if (method != "GET" && method != "HEAD") return false;
    const std::string& path = context.path();  // already percent-decoded once
    // API namespaces never fall back to the app: an unknown API route must stay a JSON 404.
    for (const char* reserved : {"/api/", "/v1/", "/health", "/ready", "/openapi.json", "/metrics"}) {
        if (path.rfind(reserved, 0) == 0) return false;
    }
    if (path.find('\0') != std::string::npos || path.find('\\') != std::string::npos)
        throw http::ApiError::badRequest("Invalid path");
    for (const auto& part : http::splitPath(path)) {
        if (part == ".." || part == ".") throw http::ApiError::notFound("Path " + path + " not found");
    }
    context.response().set("X-Content-Type-Options", "nosniff");
    if (!_available) {
        context.send(200, "text/html; charset=utf-8", kPlaceholderPage);
        return true;
    }
    std::string candidate = canonical(_root + path);
    bool inside = !candidate.empty() && (candidate == _root || candidate.rfind(_root + "/", 0) == 0);
    bool isFile = inside && Poco::File(candidate).isFile();
    std::string file;
    if (isFile) {
        file = candidate;
    } else {
        auto lastSlash = path.rfind('/');
        bool hasExtension =
            path.find('.', lastSlash == std::string::npos ? 0 : lastSlash) != std::string::npos;
        if (hasExtension) throw http::ApiError::notFound("File " + path + " not found");
        file = _root + "/index.html";
    }
    std::string data;
    if (!readFile(file, data)) throw http::ApiError::notFound("File " + path + " not found");
    bool hashedAsset = file.find("/assets/") != std::string::npos;
    context.response().set("Cache-Control", hashedAsset ? "public, max-age=31536000, immutable" : "no-cache");
    context.send(200, contentTypeFor(file), method == "HEAD" ? std::string() : data);
    return true;
}

}  // namespace archestra::ui
