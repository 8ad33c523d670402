// Throwaway PostgreSQL server for integration tests, built on EmbeddedPostgres.
#include "TestPostgres.h"

#include "core/db/Database.h"
#include "core/db/EmbeddedPostgres.h"

#include <Poco/File.h>
#include <Poco/Path.h>
#include <Poco/TemporaryFile.h>

#include <sys/stat.h>
#include <unistd.h>

namespace archestra::test {

TestPostgres::TestPostgres() {
    // Short base path: the socket lives in the data directory when it fits in a Unix socket path.
    _dir = "/tmp/archestra-test-pg-" + std::to_string(::getpid()) + "-" +
           Poco::Path(Poco::TemporaryFile::tempName()).getFileName().substr(0, 8);
}

TestPostgres::~TestPostgres() {
    try {
        stop();
    } catch (...) {
        // Tear-down must not throw.
    }
}

void TestPostgres::start() {
    if (_server && _server->pid() > 0) return;
    Poco::File(_dir).createDirectories();
    ::chmod(_dir.c_str(), 0755);
    _server = std::make_unique<archestra::db::EmbeddedPostgres>(_dir + "/pg");
    _server->start();
}

void TestPostgres::stop() {
    if (_server) {
        _server->stop();
        _server.reset();
    }
    Poco::File dir(_dir);
    if (dir.exists()) dir.remove(true);
}

std::string TestPostgres::connectionString(const std::string& database) const {
    return _server->connectionString(database);
}

std::string TestPostgres::url(const std::string& database) const {
    return _server->url(database);
}

std::string TestPostgres::createDatabase(const std::string& name) {
    archestra::db::Database admin(_server->connectionString("postgres"), 1);
    admin.execute("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)");
    admin.execute("CREATE DATABASE \"" + name + "\"");
    return _server->connectionString(name);
}

archestra::db::EmbeddedPostgres& TestPostgres::server() {
    return *_server;
}

TestPostgres& TestPostgres::shared() {
    static TestPostgres instance;
    instance.start();
    return instance;
}

}  // namespace archestra::test
