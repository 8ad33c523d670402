// Organisation membership routes: invitations, members (list, role change, removal), custom roles
// (enterprise) and the caller's permission map.
#include "core/auth/AuthRoutes.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/db/Seed.h"
#include "core/http/Context.h"

#include <Poco/String.h>

#include <regex>

namespace archestra::auth {

using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

std::string invitationColumnsSql() {
    return "i.id, i.organization_id, i.email, i.role, i.status, i.inviter_id, " + isoSql("i.expires_at") +
           " AS expires_at, " + isoSql("i.created_at") + " AS created_at, (i.expires_at <= now()) AS expired";
}

json invitationJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"organizationId", row.str("organization_id")},
            {"email", row.str("email")},
            {"role", nullableString(row, "role")},
            {"status", row.str("status")},
            {"expiresAt", row.str("expires_at")},
            {"inviterId", row.str("inviter_id")},
            {"createdAt", row.str("created_at")}};
}

namespace {

constexpr std::size_t kMaxCustomRoles = 50;

json invitationSchema() {
    using namespace schema;
    return object({{"id", string()},
                   {"organizationId", string()},
                   {"email", string()},
                   {"role", nullableString()},
                   {"status", enumOf({"pending", "accepted", "rejected", "canceled"})},
                   {"expiresAt", dateTime()},
                   {"inviterId", string()},
                   {"createdAt", dateTime()}},
                  {"id", "organizationId", "email", "status", "expiresAt", "inviterId"});
}

json memberSchema() {
    using namespace schema;
    return object(
        {{"id", string()},
         {"organizationId", string()},
         {"userId", string()},
         {"role", string()},
         {"createdAt", dateTime()},
         {"user",
          object({{"id", string()}, {"name", string()}, {"email", string()}, {"image", nullableString()}})}},
        {"id", "organizationId", "userId", "role", "createdAt"});
}

const std::string kMemberSelect =
    "SELECT m.id, m.organization_id, m.user_id, m.role, " + isoSql("m.created_at") +
    " AS created_at, u.name, u.email, u.image FROM member m JOIN \"user\" u ON u.id = m.user_id ";

json memberJson(const db::Row& row) {
    return {{"id", row.str("id")},
            {"organizationId", row.str("organization_id")},
            {"userId", row.str("user_id")},
            {"role", row.str("role")},
            {"createdAt", row.str("created_at")},
            {"user",
             {{"id", row.str("user_id")},
              {"name", row.str("name")},
              {"email", row.str("email")},
              {"image", nullableString(row, "image")}}}};
}

/// The caller's organisation; a body/query organizationId naming another one is refused.
std::string organizationOf(const Context& context, const json* body = nullptr) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    if (body) {
        auto requested = optionalStringField(*body, "organizationId");
        if (requested && *requested != principal.organizationId)
            throw ApiError::forbidden("Organization '" + *requested + "' is not the caller's organization");
    }
    return principal.organizationId;
}

/// Roles an invitation or a member may carry: built-in ones, and existing custom roles with a licence.
void checkAssignableRole(AuthService& service, const std::string& organizationId, const std::string& role) {
    if (isBuiltInRole(role)) return;
    if (service.options().enterprise &&
        !service.database()
             .query("SELECT 1 FROM organization_role WHERE organization_id = $1 AND role = $2",
                    {organizationId, role})
             .empty())
        return;
    throw ApiError::badRequest("Field 'role': expected admin, editor, member" +
                               std::string(service.options().enterprise ? " or a custom role" : "") +
                               ", got '" + role + "'");
}

void requireInvitationsEnabled(AuthService& service) {
    if (service.options().disableInvitations) throw ApiError::forbidden("User invitations are disabled");
}

void inviteMember(AuthService& service, Context& context) {
    const json& body = context.jsonObject();
    std::string organizationId = organizationOf(context, &body);
    std::string email = Poco::toLower(Poco::trim(requiredStringField(body, "email")));
    static const std::regex emailPattern(R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)");
    // The length check first: libstdc++'s std::regex recurses per character and a megabyte-long value
    // overflowed the worker's stack (RFC 5321 caps an address at 254 characters anyway).
    if (email.size() > 254 || !std::regex_match(email, emailPattern))
        throw ApiError::badRequest("Field 'email': expected an email address, got '" + email.substr(0, 80) +
                                   "'");
    requireInvitationsEnabled(service);
    std::string role = optionalStringField(body, "role").value_or("member");
    checkAssignableRole(service, organizationId, role);
    bool resend = optionalBoolField(body, "resend").value_or(false);
    const auto& principal = context.requirePrincipal();
    // Only someone holding a role may hand it out (an editor-level custom role cannot mint admins).
    if (role == "admin" && principal.role != "admin")
        throw ApiError::forbidden("Only an admin can invite an admin");

    json invitation = service.database().transaction([&](db::Transaction& tx) {
        if (!tx.query(
                   "SELECT 1 FROM member m JOIN \"user\" u ON u.id = m.user_id WHERE m.organization_id = $1 "
                   "AND lower(u.email) = $2",
                   {organizationId, email})
                 .empty())
            throw ApiError::badRequest("User '" + email + "' is already a member of this organization");
        auto pending = tx.query(
            "SELECT id FROM invitation i WHERE organization_id = $1 AND lower(email) = $2 AND "
            "status = 'pending' AND expires_at > now() FOR UPDATE",
            {organizationId, email});
        std::string hours = std::to_string(service.options().invitationLifetime.count());
        db::Rows rows;
        if (!pending.empty()) {
            if (!resend)
                throw ApiError::badRequest("User '" + email + "' is already invited to this organization");
            rows = tx.query(
                "UPDATE invitation i SET role = $2, inviter_id = $3, expires_at = now() + $4 * interval "
                "'1 hour' WHERE id = $1 RETURNING " +
                    invitationColumnsSql(),
                {pending[0].str("id"), role, principal.userId, hours});
        } else {
            rows = tx.query(
                "INSERT INTO invitation AS i (id, organization_id, email, role, status, expires_at, "
                "inviter_id) VALUES ($1, $2, $3, $4, 'pending', now() + $5 * interval '1 hour', $6) "
                "RETURNING " +
                    invitationColumnsSql(),
                {db::newTextId(), organizationId, email, role, hours, principal.userId});
        }
        return invitationJson(rows[0]);
    });
    context.sendJson(200, invitation);
}

void cancelInvitation(AuthService& service, Context& context) {
    const json& body = context.jsonObject();
    std::string organizationId = organizationOf(context, &body);
    std::string invitationId = requiredStringField(body, "invitationId");
    requireInvitationsEnabled(service);
    // The original deletes the row; the answer still shows what was cancelled.
    auto rows = service.database().query(
        "DELETE FROM invitation i WHERE id = $1 AND organization_id = $2 RETURNING " + invitationColumnsSql(),
        {invitationId, organizationId});
    if (rows.empty()) throw ApiError::notFound("Invitation not found");
    json out = invitationJson(rows[0]);
    out["status"] = "canceled";
    context.sendJson(200, out);
}

void acceptInvitation(AuthService& service, Context& context) {
    const auto& principal = context.requirePrincipal();
    std::string invitationId = requiredStringField(context.jsonObject(), "invitationId");
    json out = service.database().transaction([&](db::Transaction& tx) {
        auto rows =
            tx.query("SELECT " + invitationColumnsSql() + " FROM invitation i WHERE id = $1 FOR UPDATE",
                     {invitationId});
        if (rows.empty()) throw ApiError::notFound("Invitation not found");
        const auto& inv = rows[0];
        if (inv.str("status") != "pending")
            throw ApiError::badRequest("Invitation is " + inv.str("status") + ", not pending");
        if (inv.boolean("expired")) throw ApiError::badRequest("Invitation has expired");
        if (Poco::toLower(inv.str("email")) != Poco::toLower(principal.email))
            throw ApiError::forbidden("This invitation is for another email address");
        tx.execute("UPDATE invitation SET status = 'accepted' WHERE id = $1", {invitationId});
        std::string memberId = db::newTextId();
        tx.execute(
            "INSERT INTO member (id, organization_id, user_id, role) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (organization_id, user_id) DO NOTHING",
            {memberId, inv.str("organization_id"), principal.userId, inv.str("role", "member")});
        auto member = tx.query(kMemberSelect + "WHERE m.organization_id = $1 AND m.user_id = $2",
                               {inv.str("organization_id"), principal.userId});
        json invitation = invitationJson(inv);
        invitation["status"] = "accepted";
        return json{{"invitation", invitation}, {"member", memberJson(member[0])}};
    });
    service.forgetUser(principal.userId);
    context.sendJson(200, out);
}

void listInvitations(AuthService& service, Context& context) {
    std::string organizationId = organizationOf(context);
    auto rows = service.database().query(
        "SELECT " + invitationColumnsSql() +
            " FROM invitation i WHERE organization_id = $1 ORDER BY created_at DESC, id",
        {organizationId});
    json out = json::array();
    for (const auto& row : rows) out.push_back(invitationJson(row));
    context.sendJson(200, out);
}

json listMembersJson(AuthService& service, const std::string& organizationId) {
    auto rows = service.database().query(
        kMemberSelect + "WHERE m.organization_id = $1 ORDER BY m.created_at, m.id", {organizationId});
    json members = json::array();
    for (const auto& row : rows) members.push_back(memberJson(row));
    return members;
}

/// Locks the organisation's admin rows and refuses when `memberId` is its only admin.
void guardLastAdmin(db::Transaction& tx, const std::string& organizationId, const std::string& memberId,
                    const std::string& what) {
    auto admins = tx.query("SELECT id FROM member WHERE organization_id = $1 AND role = 'admin' FOR UPDATE",
                           {organizationId});
    bool targetIsAdmin = false;
    for (const auto& row : admins) targetIsAdmin |= row.str("id") == memberId;
    if (targetIsAdmin && admins.size() == 1)
        throw ApiError::badRequest("Cannot " + what + " the last admin of the organization");
}

void updateMemberRole(AuthService& service, Context& context) {
    const json& body = context.jsonObject();
    std::string organizationId = organizationOf(context, &body);
    std::string memberId = requiredStringField(body, "memberId");
    std::string role = requiredStringField(body, "role");
    checkAssignableRole(service, organizationId, role);
    if (role == "admin" && context.requirePrincipal().role != "admin")
        throw ApiError::forbidden("Only an admin can make someone an admin");
    json member = service.database().transaction([&](db::Transaction& tx) {
        auto current = tx.query("SELECT role FROM member WHERE id = $1 AND organization_id = $2 FOR UPDATE",
                                {memberId, organizationId});
        if (current.empty()) throw ApiError::notFound("Member not found");
        if (current[0].str("role") == "admin" && role != "admin")
            guardLastAdmin(tx, organizationId, memberId, "demote");
        tx.execute("UPDATE member SET role = $2 WHERE id = $1", {memberId, role});
        return memberJson(tx.query(kMemberSelect + "WHERE m.id = $1", {memberId})[0]);
    });
    service.forgetUser(member["userId"].get<std::string>());
    context.sendJson(200, member);
}

void removeMember(AuthService& service, Context& context) {
    const json& body = context.jsonObject();
    std::string organizationId = organizationOf(context, &body);
    std::string target = requiredStringField(body, "memberIdOrEmail");
    json member = service.database().transaction([&](db::Transaction& tx) {
        auto rows = tx.query(kMemberSelect +
                                 "WHERE m.organization_id = $1 AND (m.id = $2 OR lower(u.email) = lower($2)) "
                                 "FOR UPDATE OF m",
                             {organizationId, target});
        if (rows.empty()) throw ApiError::notFound("Member not found");
        json m = memberJson(rows[0]);
        std::string memberId = rows[0].str("id");
        if (rows[0].str("role") == "admin") guardLastAdmin(tx, organizationId, memberId, "remove");
        tx.execute("DELETE FROM member WHERE id = $1", {memberId});
        // Custom behaviour of the original: a user left without any membership is deleted with its sessions,
        // accounts and API keys (cascades).
        tx.execute(
            "DELETE FROM \"user\" u WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM member WHERE user_id = $1)",
            {rows[0].str("user_id")});
        return m;
    });
    service.forgetUser(member["userId"].get<std::string>());
    context.sendJson(200, {{"member", member}});
}

void getFullOrganization(AuthService& service, Context& context) {
    std::string organizationId = organizationOf(context);
    auto org = service.database().query("SELECT id, name, slug, logo, metadata, " + isoSql("created_at") +
                                            " AS created_at FROM organization WHERE id = $1",
                                        {organizationId});
    if (org.empty()) throw ApiError::notFound("Organization not found");
    json out = {{"id", org[0].str("id")},
                {"name", org[0].str("name")},
                {"slug", org[0].str("slug")},
                {"logo", nullableString(org[0], "logo")},
                {"metadata", nullableString(org[0], "metadata")},
                {"createdAt", org[0].str("created_at")},
                {"members", listMembersJson(service, organizationId)}};
    json invitations = json::array();
    if (service.hasPermission(context.requirePrincipal(), "invitation", "create")) {
        for (const auto& row :
             service.database().query("SELECT " + invitationColumnsSql() +
                                          " FROM invitation i WHERE organization_id = $1 ORDER BY created_at",
                                      {organizationId}))
            invitations.push_back(invitationJson(row));
    }
    out["invitations"] = invitations;
    json teams = json::array();
    for (const auto& row : service.database().query(
             "SELECT id, name, " + isoSql("created_at") + " AS created_at, " + isoSql("updated_at") +
                 " AS updated_at FROM team WHERE organization_id = $1 ORDER BY created_at, id",
             {organizationId}))
        teams.push_back({{"id", row.str("id")},
                         {"name", row.str("name")},
                         {"organizationId", organizationId},
                         {"createdAt", row.str("created_at")},
                         {"updatedAt", row.str("updated_at")}});
    out["teams"] = teams;
    context.sendJson(200, out);
}

void checkInvitation(AuthService& service, Context& context) {
    auto rows = service.database().query(
        "SELECT " + invitationColumnsSql() +
            ", EXISTS (SELECT 1 FROM \"user\" u WHERE lower(u.email) = lower(i.email)) AS user_exists "
            "FROM invitation i WHERE i.id = $1",
        {context.param("id")});
    if (rows.empty()) throw ApiError::notFound("Invitation not found");
    const auto& row = rows[0];
    if (row.str("status") != "pending")
        throw ApiError::badRequest("Invitation is " + row.str("status") + ", not pending");
    if (row.boolean("expired")) throw ApiError::badRequest("Invitation has expired");
    context.sendJson(200, {{"invitation",
                            {{"id", row.str("id")},
                             {"email", row.str("email")},
                             {"organizationId", row.str("organization_id")},
                             {"status", row.str("status")},
                             {"expiresAt", row.str("expires_at")}}},
                           {"userExists", row.boolean("user_exists")}});
}

// ---- custom roles (enterprise)

void requireEnterprise(AuthService& service) {
    if (!service.options().enterprise)
        throw ApiError::forbidden(
            "Custom roles are an enterprise feature (ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED)");
}

const std::string kRoleSelect = "SELECT id, organization_id, role, name, permission, " +
                                isoSql("created_at") + " AS created_at, " + isoSql("updated_at") +
                                " AS updated_at FROM organization_role ";

json roleJson(const db::Row& row) {
    json permission = json::object();
    try {
        permission = json::parse(row.str("permission"));
    } catch (const json::exception&) {
    }
    return {{"id", row.str("id")},
            {"role", row.str("role")},
            {"name", row.str("name")},
            {"organizationId", row.str("organization_id")},
            {"permission", permission},
            {"predefined", false},
            {"createdAt", row.str("created_at")},
            {"updatedAt", row.str("updated_at")}};
}

json predefinedRoleJson(const std::string& role, const std::string& organizationId) {
    return {{"id", role},
            {"role", role},
            {"name", role},
            {"organizationId", organizationId},
            {"permission", toJson(builtInPermissions(role))},
            {"predefined", true},
            {"createdAt", nullptr},
            {"updatedAt", nullptr}};
}

json roleSchema() {
    using namespace schema;
    return object({{"id", string()},
                   {"role", string()},
                   {"name", string()},
                   {"organizationId", string()},
                   {"permission", {{"type", "object"}, {"additionalProperties", array(string())}}},
                   {"predefined", boolean()},
                   {"createdAt", nullableDateTime()},
                   {"updatedAt", nullableDateTime()}},
                  {"id", "role", "name", "permission", "predefined"});
}

PermissionMap permissionField(AuthService& service, const Context& context, const json& body) {
    auto it = body.find("permission");
    if (it == body.end())
        throw ApiError::badRequest("Field 'permission': expected an object of resource -> actions");
    PermissionMap requested;
    try {
        requested = permissionsFromJson(*it);
    } catch (const std::invalid_argument& error) {
        throw ApiError::badRequest(std::string("Field 'permission': ") + error.what());
    }
    const auto& principal = context.requirePrincipal();
    for (const auto& [resource, actions] : requested)
        for (const auto& action : actions)
            if (!service.hasPermission(principal, resource, action))
                throw ApiError::forbidden("Cannot grant '" + resource + ":" + action +
                                          "', which the caller does not have");
    return requested;
}

std::string roleIdentifier(const std::string& name) {
    std::string id;
    for (char c : Poco::toLower(Poco::trim(name))) {
        if (std::isalnum(static_cast<unsigned char>(c)))
            id.push_back(c);
        else if ((c == ' ' || c == '-' || c == '_') && !id.empty() && id.back() != '_')
            id.push_back('_');
    }
    while (!id.empty() && id.back() == '_') id.pop_back();
    return id;
}

json findRole(AuthService& service, const std::string& organizationId, const std::string& roleId) {
    if (isBuiltInRole(roleId)) return predefinedRoleJson(roleId, organizationId);
    auto rows = service.database().query(
        kRoleSelect + "WHERE organization_id = $1 AND (id = $2 OR role = $2)", {organizationId, roleId});
    if (rows.empty()) throw ApiError::notFound("Role not found");
    return roleJson(rows[0]);
}

}  // namespace

void registerMemberRoutes(http::Router& router, std::shared_ptr<AuthService> service) {
    using namespace schema;
    const std::string tag = "auth";
    const std::string org = "/api/auth/organization/";

    router.add(
        {.method = "POST",
         .path = org + "invite-member",
         .operationId = "inviteMember",
         .tag = tag,
         .summary = "Invite someone by email with a role; the invitation expires after 48 hours",
         .access = Access::permission("invitation", "create"),
         .requestBody = object(
             {{"email", string()}, {"role", string()}, {"resend", boolean()}, {"organizationId", string()}},
             {"email", "role"}),
         .response = invitationSchema()},
        [service](Context& c) { inviteMember(*service, c); });
    router.add({.method = "POST",
                .path = org + "cancel-invitation",
                .operationId = "cancelInvitation",
                .tag = tag,
                .summary = "Cancel (delete) a pending invitation",
                .access = Access::permission("invitation", "cancel"),
                .requestBody = object({{"invitationId", string()}}, {"invitationId"}),
                .response = invitationSchema()},
               [service](Context& c) { cancelInvitation(*service, c); });
    router.add({.method = "POST",
                .path = org + "accept-invitation",
                .operationId = "acceptInvitation",
                .tag = tag,
                .summary = "Accept an invitation addressed to the caller's email",
                .access = Access::authenticated(),
                .requestBody = object({{"invitationId", string()}}, {"invitationId"}),
                .response = object({{"invitation", invitationSchema()}, {"member", memberSchema()}})},
               [service](Context& c) { acceptInvitation(*service, c); });
    router.add({.method = "GET",
                .path = org + "list-invitations",
                .operationId = "listInvitations",
                .tag = tag,
                .summary = "The organization's invitations",
                .access = Access::permission("invitation", "create"),
                .response = array(invitationSchema())},
               [service](Context& c) { listInvitations(*service, c); });
    router.add({.method = "GET",
                .path = org + "list-members",
                .operationId = "listMembers",
                .tag = tag,
                .summary = "The organization's members with their users",
                .access = Access::permission("member", "read"),
                .response =
                    object({{"members", array(memberSchema())}, {"total", integer()}}, {"members", "total"})},
               [service](Context& c) {
                   json members = listMembersJson(*service, organizationOf(c));
                   c.sendJson(200, {{"members", members}, {"total", members.size()}});
               });
    router.add({.method = "POST",
                .path = org + "update-member-role",
                .operationId = "updateMemberRole",
                .tag = tag,
                .summary = "Change a member's role (the last admin cannot be demoted)",
                .access = Access::permission("member", "update"),
                .requestBody = object({{"memberId", string()}, {"role", string()}}, {"memberId", "role"}),
                .response = memberSchema()},
               [service](Context& c) { updateMemberRole(*service, c); });
    router.add({.method = "POST",
                .path = org + "remove-member",
                .operationId = "removeMember",
                .tag = tag,
                .summary = "Remove a member; a user left without memberships is deleted (not the last admin)",
                .access = Access::permission("member", "delete"),
                .requestBody = object({{"memberIdOrEmail", string()}}, {"memberIdOrEmail"}),
                .response = object({{"member", memberSchema()}}, {"member"})},
               [service](Context& c) { removeMember(*service, c); });
    router.add({.method = "GET",
                .path = org + "get-full-organization",
                .operationId = "getFullOrganization",
                .tag = tag,
                .summary = "The organization with members, invitations and teams",
                .access = Access::permission("organization", "read"),
                .response = object({{"id", string()},
                                    {"name", string()},
                                    {"slug", string()},
                                    {"members", array(memberSchema())},
                                    {"invitations", array(invitationSchema())}})},
               [service](Context& c) { getFullOrganization(*service, c); });
    router.add({.method = "GET",
                .path = "/api/invitation/{id}/check",
                .operationId = "checkInvitation",
                .tag = "Invitation",
                .summary = "Whether an invitation is usable and whether its user exists",
                .access = Access::publicRoute(),
                .response = object({{"invitation", object({{"id", string()},
                                                           {"email", string()},
                                                           {"organizationId", string()},
                                                           {"status", string()},
                                                           {"expiresAt", nullableDateTime()}})},
                                    {"userExists", boolean()}},
                                   {"invitation", "userExists"})},
               [service](Context& c) { checkInvitation(*service, c); });

    // ---- custom roles and permissions (enterprise)
    router.add(
        {.method = "GET",
         .path = "/api/roles",
         .operationId = "getRoles",
         .tag = "Roles",
         .summary = "Predefined and custom roles (enterprise)",
         .access = Access::permission("organization", "read"),
         .response = array(roleSchema())},
        [service](Context& c) {
            requireEnterprise(*service);
            std::string organizationId = organizationOf(c);
            json out = json::array();
            for (const auto& role : builtInRoles()) out.push_back(predefinedRoleJson(role, organizationId));
            for (const auto& row : service->database().query(
                     kRoleSelect + "WHERE organization_id = $1 ORDER BY created_at, id", {organizationId}))
                out.push_back(roleJson(row));
            c.sendJson(200, out);
        });
    router.add(
        {.method = "POST",
         .path = "/api/roles",
         .operationId = "createRole",
         .tag = "Roles",
         .summary = "Create a custom role (enterprise); the caller cannot grant what it lacks",
         .access = Access::permission("organization", "update"),
         .requestBody =
             object({{"name", string()}, {"permission", {{"type", "object"}}}}, {"name", "permission"}),
         .response = roleSchema()},
        [service](Context& c) {
            requireEnterprise(*service);
            std::string organizationId = organizationOf(c);
            const json& body = c.jsonObject();
            std::string name = requiredStringField(body, "name");
            std::string role = roleIdentifier(name);
            if (role.size() < 2 || role.size() > 50)
                throw ApiError::badRequest("Field 'name': the role identifier derived from it ('" + role +
                                           "') must have 2 to 50 characters of [a-z0-9_]");
            if (isBuiltInRole(role)) throw ApiError::conflict("Role '" + role + "' already exists");
            PermissionMap permission = permissionField(*service, c, body);
            json out = service->database().transaction([&](db::Transaction& tx) {
                tx.query("SELECT id FROM organization WHERE id = $1 FOR UPDATE", {organizationId});
                auto count =
                    tx.query("SELECT count(*) AS n FROM organization_role WHERE organization_id = $1",
                             {organizationId});
                if (std::stoul(count[0].str("n")) >= kMaxCustomRoles)
                    throw ApiError::badRequest("An organization can have at most 50 custom roles");
                if (!tx.query("SELECT 1 FROM organization_role WHERE organization_id = $1 AND role = $2",
                              {organizationId, role})
                         .empty())
                    throw ApiError::conflict("Role '" + role + "' already exists");
                auto rows = tx.query(
                    "INSERT INTO organization_role (id, organization_id, role, name, permission) "
                    "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    {db::newTextId(), organizationId, role, name, toJson(permission).dump()});
                return roleJson(tx.query(kRoleSelect + "WHERE id = $1", {rows[0].str("id")})[0]);
            });
            c.sendJson(200, out);
        });
    router.add({.method = "GET",
                .path = "/api/roles/{roleId}",
                .operationId = "getRole",
                .tag = "Roles",
                .summary = "One role (enterprise)",
                .access = Access::permission("organization", "read"),
                .response = roleSchema()},
               [service](Context& c) {
                   requireEnterprise(*service);
                   c.sendJson(200, findRole(*service, organizationOf(c), c.param("roleId")));
               });
    router.add(
        {.method = "PUT",
         .path = "/api/roles/{roleId}",
         .operationId = "updateRole",
         .tag = "Roles",
         .summary = "Rename or change a custom role (enterprise)",
         .access = Access::permission("organization", "update"),
         .requestBody = object({{"name", string()}, {"permission", {{"type", "object"}}}}),
         .response = roleSchema()},
        [service](Context& c) {
            requireEnterprise(*service);
            std::string organizationId = organizationOf(c);
            json existing = findRole(*service, organizationId, c.param("roleId"));
            if (existing["predefined"].get<bool>())
                throw ApiError::forbidden("Predefined role '" + c.param("roleId") + "' cannot be changed");
            const json& body = c.jsonObject();
            auto name = optionalStringField(body, "name");
            std::optional<std::string> permission;
            if (body.contains("permission")) permission = toJson(permissionField(*service, c, body)).dump();
            auto rows = service->database().query(
                "UPDATE organization_role SET name = coalesce($2, name), permission = coalesce($3, "
                "permission), "
                "updated_at = now() WHERE id = $1 RETURNING id",
                {existing["id"].get<std::string>(), name, permission});
            service->forgetAll();
            c.sendJson(200, roleJson(service->database().query(kRoleSelect + "WHERE id = $1",
                                                               {rows[0].str("id")})[0]));
        });
    router.add(
        {.method = "DELETE",
         .path = "/api/roles/{roleId}",
         .operationId = "deleteRole",
         .tag = "Roles",
         .summary = "Delete a custom role that no member holds (enterprise)",
         .access = Access::permission("organization", "update"),
         .response = success()},
        [service](Context& c) {
            requireEnterprise(*service);
            std::string organizationId = organizationOf(c);
            json existing = findRole(*service, organizationId, c.param("roleId"));
            if (existing["predefined"].get<bool>())
                throw ApiError::forbidden("Predefined role '" + c.param("roleId") + "' cannot be deleted");
            if (!service->database()
                     .query("SELECT 1 FROM member WHERE organization_id = $1 AND role = $2 LIMIT 1",
                            {organizationId, existing["role"].get<std::string>()})
                     .empty())
                throw ApiError::badRequest("Role '" + existing["role"].get<std::string>() +
                                           "' is assigned to members; change their role first");
            service->database().execute("DELETE FROM organization_role WHERE id = $1",
                                        {existing["id"].get<std::string>()});
            service->forgetAll();
            c.sendJson(200, {{"success", true}});
        });
    router.add({.method = "GET",
                .path = "/api/user/permissions",
                .operationId = "getUserPermissions",
                .tag = "User",
                .summary = "The caller's permission map (enterprise)",
                .access = Access::authenticated(),
                .response = {{"type", "object"}, {"additionalProperties", array(string())}}},
               [service](Context& c) {
                   if (!service->options().enterprise)
                       throw ApiError::forbidden(
                           "User permissions are an enterprise feature "
                           "(ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED)");
                   const auto& p = c.requirePrincipal();
                   c.sendJson(200, toJson(service->permissionsOf(p.organizationId, p.role)));
               });
}

}  // namespace archestra::auth
