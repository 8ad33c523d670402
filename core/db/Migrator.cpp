// Migration runner: discovers NNNN_*.sql files and applies the pending ones under an advisory lock.
#include "core/db/Migrator.h"
#include "core/BuildPaths.h"

#include <Poco/DirectoryIterator.h>
#include <Poco/File.h>
#include <Poco/NumberParser.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <sstream>

namespace archestra::db {
namespace {

const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())";

std::string readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Poco::FileNotFoundException("cannot read migration file " + path);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

Migrator::Migrator(Database& db, std::string migrationsDir) : _db(db), _dir(std::move(migrationsDir)) {}

std::string Migrator::defaultMigrationsDir() {
    std::string source = ARCHESTRA_SOURCE_MIGRATIONS_DIR;
    if (Poco::File(source).exists()) return source;
    return ARCHESTRA_INSTALLED_MIGRATIONS_DIR;
}

std::vector<Migrator::Migration> Migrator::migrations() const {
    Poco::File dir(_dir);
    if (!dir.exists() || !dir.isDirectory()) {
        throw Poco::FileNotFoundException("migrations directory " + _dir +
                                          " does not exist; expected a directory of NNNN_name.sql files");
    }
    static const std::regex pattern(R"(^(\d{4,})_[A-Za-z0-9_\-]+\.sql$)");
    std::vector<Migration> found;
    for (Poco::DirectoryIterator it(_dir), end; it != end; ++it) {
        std::smatch m;
        const std::string name = it.name();
        if (!std::regex_match(name, m, pattern)) continue;
        found.push_back({Poco::NumberParser::parse(m[1].str()), name, it.path().toString()});
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
    for (size_t i = 1; i < found.size(); ++i) {
        if (found[i].version == found[i - 1].version) {
            throw Poco::DataException("migrations " + found[i - 1].name + " and " + found[i].name +
                                      " share version " + std::to_string(found[i].version) +
                                      "; expected unique versions");
        }
    }
    return found;
}

int Migrator::latestKnownVersion() const {
    auto all = migrations();
    return all.empty() ? 0 : all.back().version;
}

int Migrator::currentVersion() {
    // Two statements: a reference to a missing table fails at plan time even inside an untaken CASE branch.
    if (_db.query("SELECT to_regclass('schema_migrations') IS NULL")[0].boolean(0)) return 0;
    auto rows = _db.query("SELECT coalesce(max(version), 0) FROM schema_migrations");
    return Poco::NumberParser::parse(rows[0].str(0, "0"));
}

int Migrator::migrate() {
    auto files = migrations();
    int latest = files.empty() ? 0 : files.back().version;
    return _db.withConnection([&](Connection& c) {
        c.query("SELECT pg_advisory_lock($1::bigint)", {std::to_string(kLockKey)});
        struct Unlock {
            Connection& c;
            ~Unlock() {
                if (!c.healthy()) return;  // a lost connection released the lock already
                try {
                    c.query("SELECT pg_advisory_unlock($1::bigint)", {std::to_string(kLockKey)});
                } catch (...) {
                    // The session is then discarded, which releases the lock as well.
                }
            }
        } unlock{c};
        c.execute(kCreateTable);
        std::vector<int> applied;
        for (const auto& row : c.query("SELECT version FROM schema_migrations ORDER BY version")) {
            applied.push_back(Poco::NumberParser::parse(row.str(0)));
        }
        int current = applied.empty() ? 0 : applied.back();
        if (current > latest) {
            throw SchemaTooNewException("the database schema is at version " + std::to_string(current) +
                                        " but this binary (" ARCHESTRA_VERSION
                                        ") knows migrations only up to " +
                                        std::to_string(latest) + "; run a newer release");
        }
        int count = 0;
        for (const auto& m : files) {
            if (std::binary_search(applied.begin(), applied.end(), m.version)) continue;
            std::string sql = readFile(m.path);
            c.execute("BEGIN");
            try {
                c.executeScript(sql);
                c.execute("INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)",
                          {std::to_string(m.version), m.name});
                c.execute("COMMIT");
            } catch (const DatabaseUnavailableException&) {
                throw;
            } catch (const Poco::Exception& e) {
                if (c.healthy()) c.execute("ROLLBACK");
                throw DatabaseException("migration " + m.name +
                                        " failed and was rolled back: " + e.message());
            }
            ++count;
        }
        return count;
    });
}

}  // namespace archestra::db
