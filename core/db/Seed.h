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

/// 32 random alphanumerics: the id format of the auth tables (user, session, account, organization, ...).
std::string newTextId();

}  // namespace archestra::db
