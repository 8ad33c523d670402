// Resolution and first-run generation of the auth secret.
#include "core/db/AuthSecret.h"

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Logger.h>

#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace archestra::db {
namespace {

constexpr size_t kMinLength = 32;
constexpr size_t kGeneratedLength = 64;

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

std::string generate() {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    constexpr unsigned kAlphabetSize = sizeof alphabet - 1;  // 62
    std::string out;
    while (out.size() < kGeneratedLength) {
        unsigned char buf[64];
        if (RAND_bytes(buf, sizeof buf) != 1)
            throw Poco::SystemException("OpenSSL RAND_bytes failed generating the auth secret");
        for (unsigned char b : buf) {
            // Rejection sampling keeps every character equally likely (248 = 4 * 62).
            if (b < 248 && out.size() < kGeneratedLength) out.push_back(alphabet[b % kAlphabetSize]);
        }
    }
    return out;
}

}  // namespace

std::string resolveAuthSecret(const std::optional<std::string>& fromEnv, const std::string& dataDir,
                              Poco::Logger& logger) {
    if (fromEnv && !fromEnv->empty()) {
        if (fromEnv->size() < kMinLength) {
            throw Poco::InvalidArgumentException("ARCHESTRA_AUTH_SECRET is " +
                                                 std::to_string(fromEnv->size()) +
                                                 " characters long; expected at least 32");
        }
        return *fromEnv;
    }
    std::string path = dataDir + "/.auth_secret";
    if (Poco::File(path).exists()) {
        std::ifstream in(path);
        std::stringstream content;
        content << in.rdbuf();
        std::string secret = trim(content.str());
        if (secret.size() < kMinLength) {
            throw Poco::InvalidArgumentException(
                "auth secret file " + path + " holds " + std::to_string(secret.size()) +
                " characters; expected at least 32 (delete it to regenerate)");
        }
        logger.information("auth secret read from %s", path);
        return secret;
    }
    Poco::File(dataDir).createDirectories();
    std::string secret = generate();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        // Another replica sharing the directory may have just written it; prefer its secret.
        if (errno == EEXIST) return resolveAuthSecret(std::nullopt, dataDir, logger);
        throw Poco::FileAccessDeniedException("cannot create auth secret file " + path);
    }
    ::fchmod(fd, 0600);
    bool ok = ::write(fd, secret.data(), secret.size()) == static_cast<ssize_t>(secret.size());
    ::close(fd);
    if (!ok) throw Poco::WriteFileException("cannot write auth secret file " + path);
    logger.information("generated a new auth secret and saved it to %s (mode 0600)", path);
    return secret;
}

}  // namespace archestra::db
