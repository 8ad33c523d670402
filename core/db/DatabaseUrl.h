// Parsing of postgresql:// URLs into libpq connection strings, and the choice of which variable to read.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace archestra::db {

/// postgresql://user:password@host:port/database?sslmode=..&schema=.. (also postgres://).
/// A host starting with '/' (or a `host=` query parameter) names a Unix socket directory.
struct DatabaseUrl {
    std::string scheme = "postgresql";
    std::string user;
    std::string password;
    std::string host;
    int port = 5432;
    std::string database;
    std::map<std::string, std::string> params;

    /// Throws Poco::SyntaxException naming the faulty part; the message never contains the password.
    /// The user-info part ends at the LAST '@', so an unencoded '@', '/', '?' or ':' in a password still
    /// parses.
    static DatabaseUrl parse(const std::string& url);

    /// The URL with the password replaced by *** (safe for logs).
    std::string redacted() const;

    /// libpq keyword='value' string. `schema` becomes options='-c search_path=<schema>'; query parameters
    /// libpq does not know (e.g. Prisma's connection_limit) are dropped, since libpq rejects unknown
    /// keywords.
    std::string connectionString() const;
};

/// ARCHESTRA_DATABASE_URL, else DATABASE_URL (an empty value counts as unset). nullopt means: use the
/// embedded server. Returns the variable's name with its value so errors can name the variable.
std::optional<std::pair<std::string, std::string>> selectDatabaseUrl(
    const std::map<std::string, std::string>& env);

/// Quotes a value for a libpq keyword='value' string.
std::string quoteConnectionValue(const std::string& value);

}  // namespace archestra::db
