// Versioned SQL migrations (NNNN_name.sql) applied at start-up under an advisory lock.
#pragma once

#include "core/db/Database.h"

#include <string>
#include <vector>

namespace archestra::db {

/// Applies `<migrationsDir>/NNNN_name.sql` in version order, each in its own transaction, recording them in
/// schema_migrations(version, name, applied_at). A session-level pg_advisory_lock serialises replicas that
/// start together, so each migration runs exactly once.
class Migrator {
  public:
    struct Migration {
        int version = 0;
        std::string name;  // file name
        std::string path;
    };

    Migrator(Database& db, std::string migrationsDir);

    /// Returns how many migrations were applied. Throws SchemaTooNewException (naming both versions) when the
    /// database holds a version this binary does not know, DatabaseException naming the file when one fails.
    int migrate();
    /// Highest applied version, 0 for an empty database.
    int currentVersion();
    /// Highest version among the files. Throws Poco::FileNotFoundException when the directory is missing.
    int latestKnownVersion() const;
    /// The files found, in version order.
    std::vector<Migration> migrations() const;

    /// Key of the advisory lock held while migrating (shared with nothing else).
    static constexpr long long kLockKey = 0x41524348455354LL;  // "ARCHEST"

    /// ARCHESTRA_SOURCE_MIGRATIONS_DIR when it exists (running from a build tree), else the installed one.
    static std::string defaultMigrationsDir();

  private:
    Database& _db;
    std::string _dir;
};

}  // namespace archestra::db
