// Test harness: a throwaway PostgreSQL server in a temp directory, removed afterwards.
#pragma once

#include <memory>
#include <string>

namespace archestra::db {
class EmbeddedPostgres;
}

namespace archestra::test {

/// Starts a private PostgreSQL (Unix socket only) under a fresh temp directory; stop() or the destructor
/// shuts it down and deletes the directory. Each createDatabase() gives a test its own empty database.
class TestPostgres {
  public:
    TestPostgres();
    ~TestPostgres();
    void start();
    void stop();
    /// libpq connection string for `database` (default: the `archestra` database).
    std::string connectionString(const std::string& database = "archestra") const;
    std::string url(const std::string& database = "archestra") const;
    /// Creates an empty database and returns its connection string. Drops it first if it exists.
    std::string createDatabase(const std::string& name);
    archestra::db::EmbeddedPostgres& server();
    /// One started server per test process, torn down (and its directory removed) at exit.
    static TestPostgres& shared();
    const std::string& directory() const { return _dir; }

  private:
    std::string _dir;
    std::unique_ptr<archestra::db::EmbeddedPostgres> _server;
};

}  // namespace archestra::test
