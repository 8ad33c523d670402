// First-run seeding: admin user, default organisation, default team, default profile, dual-LLM config.
#pragma once

#include "core/db/Database.h"

#include <string>

namespace archestra::db {

struct SeedResult {
    std::string adminUserId;
    std::string organizationId;
    std::string defaultTeamId;
    std::string defaultProfileId;
    /// The admin's stored password still verifies against the literal "password" (the shipped default).
    bool adminHasDefaultPassword = false;
};

/// Idempotent; runs in one transaction under an advisory lock so concurrent replicas seed once. The admin is
/// created only when no user has `adminEmail`: a later change of the password variable never overwrites it.
SeedResult seed(Database& db, const std::string& adminEmail, const std::string& adminPassword);

/// The name of a default profile created here (the original's DEFAULT_PROFILE_NAME).
inline constexpr const char* kDefaultProfileName = "Default Profile with Archestra";

/// The id of the default profile (agents.is_default; the oldest when several are), created when none exists.
/// Runs on `tx`, which must be inside a transaction: it takes a transaction-scoped advisory lock first, so
/// concurrent callers (threads or replicas; there is no unique index on is_default) create one profile, not
/// two. `created`, when given, tells whether this call inserted it. Throws the database's exceptions.
std::string findOrCreateDefaultProfile(Transaction& tx, bool* created = nullptr);
/// The same in a transaction of its own. The caller refreshes whatever caches profiles when `created`.
std::string findOrCreateDefaultProfile(Database& db, bool* created = nullptr);

/// 32 random alphanumerics: the id format of the auth tables (user, session, account, organization, ...).
std::string newTextId();

}  // namespace archestra::db
