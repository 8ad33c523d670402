// The gateway's own archestra__* tools (see BuiltinTools.h). Policy tools reuse the policy API's operations
// so validation and JSON shapes are the same as over REST.
#include "core/gateway/BuiltinTools.h"

#include "core/api/AgentToolsApi.h"
#include "core/api/AgentsApi.h"
#include "core/api/LimitsApi.h"
#include "core/api/PoliciesApi.h"
#include "core/auth/SqlJson.h"
#include "core/db/Database.h"
#include "core/http/ApiError.h"
#include "core/http/Context.h"
#include "core/policy/Types.h"

#include <Poco/Exception.h>

namespace archestra::gateway {

namespace {

using nlohmann::json;

json str(const std::string& description) {
    return {{"type", "string"}, {"description", description}};
}

json objectSchema(json properties, std::vector<std::string> required = {}) {
    json schema = {{"type", "object"}, {"properties", std::move(properties)}};
    if (!required.empty()) schema["required"] = required;
    return schema;
}

std::string idArgument(const json& arguments) {
    auto it = arguments.find("id");
    if (it == arguments.end() || !it->is_string())
        throw http::ApiError::badRequest("Argument 'id': required (the policy's UUID)");
    return it->get<std::string>();
}

json withoutId(json arguments) {
    arguments.erase("id");
    return arguments;
}

json conditionProperties() {
    json operators = json::array();
    for (const auto& op : policy::operatorsJson()) operators.push_back(op["value"]);
    return {{"agentToolId", str("The agent tool (profile + tool assignment) the policy applies to")},
            {"operator", {{"type", "string"}, {"enum", operators}}},
            {"value", str("The value the operator compares with (a regular expression for regex)")}};
}

std::optional<std::string> optionalString(const json& arguments, const std::string& name) {
    auto it = arguments.find(name);
    if (it == arguments.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw http::ApiError::badRequest("Argument '" + name + "': expected a string");
    return it->get<std::string>();
}

std::string requiredString(const json& arguments, const std::string& name, const std::string& what) {
    auto value = optionalString(arguments, name);
    if (!value || value->empty())
        throw http::ApiError::badRequest("Argument '" + name + "': required (" + what + ")");
    return *value;
}

void changed(BuiltinContext& c) {
    if (c.onPolicyChange) c.onPolicyChange();
}

/// Whether the caller may see a profile: profile:admin sees all; a team token the profiles of its team; an
/// API key's user the profiles of the user's teams; the legacy profile-id bearer only its own profile.
bool profileVisible(BuiltinContext& c, const std::string& profileId) {
    if (!http::isUuidV4(profileId)) return false;
    if (c.caller.allows("profile", "admin")) return true;
    if (c.caller.teamId)
        return !c.database
                    ->query("SELECT 1 FROM agent_team WHERE agent_id = $1::uuid AND team_id = $2",
                            {profileId, *c.caller.teamId})
                    .empty();
    if (c.caller.user)
        return !c.database
                    ->query(
                        "SELECT 1 FROM agent_team x JOIN team_member m ON m.team_id = x.team_id WHERE "
                        "x.agent_id = $1::uuid AND m.user_id = $2",
                        {profileId, c.caller.user->userId})
                    .empty();
    return profileId == c.profileId;
}

/// The profile an argument names (by id, else by exact name), defaulting to the connection's own profile;
/// "not found" for one the caller may not see, so the tool does not reveal which profiles exist.
std::string resolveProfile(BuiltinContext& c, const json& arguments) {
    std::string id = c.profileId;
    if (auto given = optionalString(arguments, "id"); given && !given->empty()) {
        id = *given;
    } else if (auto name = optionalString(arguments, "name"); name && !name->empty()) {
        auto rows = c.database->query(
            "SELECT id::text FROM agents WHERE name = $1 ORDER BY created_at LIMIT 1", {*name});
        if (rows.empty()) throw http::ApiError::notFound("No profile named '" + *name + "'");
        id = rows[0].str(0);
    }
    if (!profileVisible(c, id)) throw http::ApiError::notFound("Profile '" + id + "' not found");
    return id;
}

/// SQL condition on mcp_server `s` for the servers the caller may see (parameters appended to `params`).
std::string visibleServers(BuiltinContext& c, std::vector<db::Value>& params) {
    if (c.caller.allows("mcpServer", "admin")) return "true";
    if (c.caller.teamId) {
        params.push_back(*c.caller.teamId);
        return "EXISTS (SELECT 1 FROM mcp_server_team st WHERE st.mcp_server_id = s.id AND st.team_id = $" +
               std::to_string(params.size()) + ")";
    }
    if (c.caller.user) {
        params.push_back(c.caller.user->userId);
        std::string p = "$" + std::to_string(params.size());
        return "(s.owner_id = " + p +
               " OR EXISTS (SELECT 1 FROM mcp_server_user su WHERE su.mcp_server_id = s.id AND su.user_id "
               "= " +
               p +
               ") OR EXISTS (SELECT 1 FROM mcp_server_team st JOIN team_member tm ON tm.team_id = st.team_id "
               "WHERE st.mcp_server_id = s.id AND tm.user_id = " +
               p + "))";
    }
    // The legacy profile-id bearer: the servers its profile's tools run on.
    params.push_back(c.profileId);
    return "EXISTS (SELECT 1 FROM tools t JOIN agent_tools at ON at.tool_id = t.id WHERE at.agent_id = $" +
           std::to_string(params.size()) +
           "::uuid AND (t.mcp_server_id = s.id OR t.catalog_id = s.catalog_id))";
}

json limitProperties(bool withId) {
    json props = {
        {"entityType", {{"type", "string"}, {"enum", {"organization", "team", "agent"}}}},
        {"entityId", str("The organisation, team or profile (agent) id the limit applies to")},
        {"limitType", {{"type", "string"}, {"enum", {"token_cost", "mcp_server_calls", "tool_calls"}}}},
        {"limitValue",
         {{"type", "integer"}, {"minimum", 0}, {"description", "USD for token_cost, else calls"}}},
        {"mcpServerName", str("mcp_server_calls and tool_calls: the MCP server")},
        {"toolName", str("tool_calls: the tool")},
        {"model",
         {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "token_cost: models"}}}};
    if (withId) props["id"] = str("The limit's UUID");
    return props;
}

void addLimitTools(std::vector<BuiltinTool>& tools) {
    tools.push_back(
        {"archestra__get_limits", "Get limits",
         "Lists limits with their current usage; optional filters entityType, entityId, limitType.",
         objectSchema({{"entityType", str("organization, team or agent")},
                       {"entityId", str("Only limits of this entity")},
                       {"limitType", str("token_cost, mcp_server_calls or tool_calls")}}),
         "limit", "read", [](BuiltinContext& c, const json& args) {
             api::LimitFilter filter{optionalString(args, "entityType"), optionalString(args, "entityId"),
                                     optionalString(args, "limitType")};
             return json{{"limits", api::listLimits(*c.database, filter)}};
         }});
    tools.push_back(
        {"archestra__create_limit", "Create limit",
         "Creates a token-cost or call-count limit for an organisation, team or profile.",
         objectSchema(limitProperties(false), {"entityType", "entityId", "limitType", "limitValue"}), "limit",
         "create", [](BuiltinContext& c, const json& args) {
             json created = api::createLimit(*c.database, args);
             changed(c);
             return created;
         }});
    tools.push_back({"archestra__update_limit", "Update limit",
                     "Changes a limit; fields left out keep their value and the usage is kept.",
                     objectSchema(limitProperties(true), {"id"}), "limit", "update",
                     [](BuiltinContext& c, const json& args) {
                         json updated = api::updateLimit(*c.database, idArgument(args), withoutId(args));
                         changed(c);
                         return updated;
                     }});
    tools.push_back({"archestra__delete_limit", "Delete limit", "Deletes a limit and its usage counters.",
                     objectSchema({{"id", str("The limit's UUID")}}, {"id"}), "limit", "delete",
                     [](BuiltinContext& c, const json& args) {
                         api::deleteLimit(*c.database, idArgument(args));
                         changed(c);
                         return json{{"success", true}};
                     }});
    tools.push_back(
        {"archestra__get_profile_token_usage", "Get profile token usage",
         "Tokens and cost the profile's LLM calls used (all time, and per model); defaults to this profile.",
         objectSchema({{"id", str("The profile's UUID (default: this connection's profile)")}}), "profile",
         "read", [](BuiltinContext& c, const json& args) {
             std::string id = resolveProfile(c, args);
             auto rows = c.database->query(
                 "SELECT COALESCE(model, ''), COUNT(*), COALESCE(SUM(input_tokens), 0), "
                 "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost), 0)::text FROM interactions "
                 "WHERE profile_id = $1::uuid GROUP BY 1 ORDER BY 1",
                 {id});
             long long in = 0, out = 0, calls = 0;
             double cost = 0;
             json models = json::array();
             for (const auto& row : rows) {
                 long long n = std::stoll(row.str(1)), i = std::stoll(row.str(2)), o = std::stoll(row.str(3));
                 double usd = std::stod(row.str(4));
                 calls += n, in += i, out += o, cost += usd;
                 models.push_back({{"model", row.str(0)},
                                   {"interactions", n},
                                   {"inputTokens", i},
                                   {"outputTokens", o},
                                   {"cost", usd}});
             }
             return json{{"profileId", id},     {"interactions", calls},   {"inputTokens", in},
                         {"outputTokens", out}, {"totalTokens", in + out}, {"cost", cost},
                         {"byModel", models}};
         }});
}

void addProfileTools(std::vector<BuiltinTool>& tools) {
    tools.push_back(
        {"archestra__get_profile", "Get profile",
         "Reads a profile (teams, labels, settings) by id or name; defaults to this profile.",
         objectSchema({{"id", str("The profile's UUID")}, {"name", str("The profile's exact name")}}),
         "profile", "read", [](BuiltinContext& c, const json& args) {
             std::string id = resolveProfile(c, args);
             auto profile = api::findAgentById(*c.database, id);
             if (!profile) throw http::ApiError::notFound("Profile '" + id + "' not found");
             return *profile;
         }});
    tools.push_back(
        {"archestra__create_profile", "Create profile",
         "Creates a profile assigned to teams. With a team token the profile goes to the token's team.",
         objectSchema(
             {{"name", str("The new profile's name")},
              {"teams", {{"type", "array"}, {"items", {{"type", "string"}}}, {"description", "Team ids"}}},
              {"considerContextUntrusted", {{"type", "boolean"}}}},
             {"name"}),
         "profile", "create", [](BuiltinContext& c, const json& args) {
             json body = args;
             if (c.caller.teamId) {
                 // A team token acts for one team: its profiles belong to that team and no other.
                 if (!body.contains("teams") || body["teams"].is_null())
                     body["teams"] = json::array({*c.caller.teamId});
                 if (body["teams"] != json::array({*c.caller.teamId}))
                     throw http::ApiError::badRequest(
                         "Argument 'teams': a team token may only create profiles "
                         "for its own team (" +
                         *c.caller.teamId + ")");
             } else if (!body.contains("teams")) {
                 body["teams"] = json::array();
             }
             json created = api::createAgent(*c.database, c.caller.organizationId, body);
             changed(c);
             return created;
         }});
}

void addRegistryTools(std::vector<BuiltinTool>& tools) {
    tools.push_back(
        {"archestra__search_private_mcp_registry", "Search private MCP registry",
         "Searches the organisation's MCP server catalog by name or description; no query lists everything.",
         objectSchema({{"query", str("Words to look for (case-insensitive)")}}), "internalMcpCatalog", "read",
         [](BuiltinContext& c, const json& args) {
             std::string query = optionalString(args, "query").value_or("");
             auto rows = c.database->query(
                 "SELECT json_build_object('id', c.id, 'name', c.name, 'description', c.description, "
                 "'version', "
                 "c.version, 'serverType', c.server_type, 'serverUrl', c.server_url, 'docsUrl', c.docs_url, "
                 "'repository', c.repository, 'requiresAuth', c.requires_auth, 'installedServers', (SELECT "
                 "count(*) FROM mcp_server s WHERE s.catalog_id = c.id))::text FROM internal_mcp_catalog c "
                 "WHERE $1 = '' OR c.name ILIKE '%' || $1 || '%' OR COALESCE(c.description, '') ILIKE '%' || "
                 "$1 "
                 "|| '%' ORDER BY c.name, c.id",
                 {query});
             json items = json::array();
             for (const auto& row : rows) items.push_back(json::parse(row.str(0)));
             return json{{"query", query}, {"catalogItems", items}};
         }});
    tools.push_back(
        {"archestra__get_mcp_servers", "Get MCP servers",
         "Lists the installed MCP servers the caller can see, with their status and tool count.",
         objectSchema(json::object()), "mcpServer", "read", [](BuiltinContext& c, const json&) {
             std::vector<db::Value> params;
             std::string where = visibleServers(c, params);
             auto rows = c.database->query(
                 "SELECT json_build_object('id', s.id, 'name', s.name, 'catalogId', s.catalog_id, "
                 "'catalogName', "
                 "cat.name, 'serverType', s.server_type, 'status', s.local_installation_status, 'error', "
                 "s.local_installation_error, 'toolCount', (SELECT count(*) FROM tools t WHERE "
                 "t.mcp_server_id = "
                 "s.id OR (t.mcp_server_id IS NULL AND t.catalog_id = s.catalog_id)), 'createdAt', " +
                     auth::isoSql("s.created_at") +
                     ")::text FROM mcp_server s LEFT JOIN internal_mcp_catalog cat ON cat.id = s.catalog_id "
                     "WHERE " +
                     where + " ORDER BY s.created_at, s.id",
                 params);
             json servers = json::array();
             for (const auto& row : rows) servers.push_back(json::parse(row.str(0)));
             return json{{"mcpServers", servers}};
         }});
    tools.push_back(
        {"archestra__get_mcp_server_tools", "Get MCP server tools",
         "Lists the tools an installed MCP server offers (ids for bulk_assign_tools_to_profiles).",
         objectSchema({{"mcpServerId", str("The installed server's UUID")}}, {"mcpServerId"}), "mcpServer",
         "read", [](BuiltinContext& c, const json& args) {
             std::string id = requiredString(args, "mcpServerId", "the installed server's UUID");
             std::vector<db::Value> params = {id};
             std::string where = visibleServers(c, params);
             if (!http::isUuidV4(id) ||
                 c.database->query("SELECT 1 FROM mcp_server s WHERE s.id = $1::uuid AND " + where, params)
                     .empty())
                 throw http::ApiError::notFound("MCP server '" + id + "' not found");
             auto rows = c.database->query(
                 "SELECT json_build_object('id', t.id, 'name', t.name, 'description', t.description, "
                 "'parameters', t.parameters)::text FROM tools t JOIN mcp_server s ON s.id = $1::uuid WHERE "
                 "t.mcp_server_id = s.id OR (t.mcp_server_id IS NULL AND t.catalog_id = s.catalog_id) ORDER "
                 "BY "
                 "t.name",
                 {id});
             json list = json::array();
             for (const auto& row : rows) list.push_back(json::parse(row.str(0)));
             return json{{"mcpServerId", id}, {"tools", list}};
         }});
    tools.push_back(
        {"archestra__bulk_assign_tools_to_profiles", "Bulk assign tools to profiles",
         "Assigns tools to profiles; each assignment succeeds, fails (with the reason) or was already there.",
         objectSchema({{"assignments",
                        {{"type", "array"},
                         {"items", objectSchema({{"profileId", str("The profile's UUID")},
                                                 {"toolId", str("The tool's UUID")}},
                                                {"profileId", "toolId"})}}}},
                      {"assignments"}),
         "profile", "update", [](BuiltinContext& c, const json& args) {
             auto list = args.find("assignments");
             if (list == args.end() || !list->is_array())
                 throw http::ApiError::badRequest(
                     "Argument 'assignments': expected an array of {profileId, toolId}");
             json assignments = json::array();
             json hidden = json::array();
             for (std::size_t i = 0; i < list->size(); ++i) {
                 json item = (*list)[i];
                 if (!item.is_object())
                     throw http::ApiError::badRequest("Argument 'assignments[" + std::to_string(i) +
                                                      "]': expected an object");
                 // The REST operation calls the profile agentId; both spellings are accepted.
                 if (item.contains("profileId")) {
                     item["agentId"] = item["profileId"];
                     item.erase("profileId");
                 }
                 if (item.contains("agentId") && item["agentId"].is_string() &&
                     http::isUuidV4(item["agentId"].get<std::string>()) &&
                     !profileVisible(c, item["agentId"].get<std::string>())) {
                     item["error"] = "Profile not found";
                     hidden.push_back(item);
                     continue;
                 }
                 assignments.push_back(std::move(item));
             }
             json result = api::bulkAssignTools(*c.database, {{"assignments", assignments}});
             for (auto& failure : hidden) result["failed"].push_back(failure);
             if (!result["succeeded"].empty()) changed(c);
             return result;
         }});
}

/// The five tools of one policy kind: plural get, get, create, update, delete.
void addPolicyTools(std::vector<BuiltinTool>& tools, api::PolicyKindId kind, const std::string& singular,
                    const std::string& plural, const std::string& what, json entityProperties,
                    std::vector<std::string> required) {
    json props = conditionProperties();
    for (auto& [key, value] : entityProperties.items()) props[key] = value;
    json updateProps = props;
    updateProps["id"] = str("The policy's UUID");

    tools.push_back({"archestra__get_" + plural, "Get " + what + "s", "Lists every " + what + ".",
                     objectSchema(json::object()), "policy", "read", [kind](BuiltinContext& c, const json&) {
                         return api::listPolicies(*c.database, kind);
                     }});
    tools.push_back({"archestra__get_" + singular, "Get " + what, "Reads one " + what + " by id.",
                     objectSchema({{"id", str("The policy's UUID")}}, {"id"}), "policy", "read",
                     [kind](BuiltinContext& c, const json& args) {
                         return api::getPolicy(*c.database, kind, idArgument(args));
                     }});
    tools.push_back({"archestra__create_" + singular, "Create " + what, "Creates a " + what + ".",
                     objectSchema(props, required), "policy", "create",
                     [kind](BuiltinContext& c, const json& args) {
                         json created = api::createPolicy(*c.database, kind, args);
                         if (c.onPolicyChange) c.onPolicyChange();
                         return created;
                     }});
    tools.push_back(
        {"archestra__update_" + singular, "Update " + what,
         "Changes a " + what + "; fields left out keep their value.", objectSchema(updateProps, {"id"}),
         "policy", "update", [kind](BuiltinContext& c, const json& args) {
             json updated = api::updatePolicy(*c.database, kind, idArgument(args), withoutId(args));
             if (c.onPolicyChange) c.onPolicyChange();
             return updated;
         }});
    tools.push_back({"archestra__delete_" + singular, "Delete " + what, "Deletes a " + what + ".",
                     objectSchema({{"id", str("The policy's UUID")}}, {"id"}), "policy", "delete",
                     [kind](BuiltinContext& c, const json& args) {
                         api::deletePolicy(*c.database, kind, idArgument(args));
                         if (c.onPolicyChange) c.onPolicyChange();
                         return json{{"success", true}};
                     }});
}

std::vector<BuiltinTool> makeTools() {
    std::vector<BuiltinTool> tools;
    tools.push_back({"archestra__whoami", "Who am I",
                     "Returns the name and id of the profile this MCP connection belongs to.",
                     objectSchema(json::object()), "", "", [](BuiltinContext& c, const json&) {
                         return json("Profile Name: " + c.profileName + "\nProfile ID: " + c.profileId);
                     }});
    tools.push_back({"archestra__get_autonomy_policy_operators", "Get autonomy policy operators",
                     "Lists the condition operators tool invocation and trusted data policies accept.",
                     objectSchema(json::object()), "policy", "read",
                     [](BuiltinContext&, const json&) { return policy::operatorsJson(); }});
    addLimitTools(tools);
    addProfileTools(tools);
    addRegistryTools(tools);
    addPolicyTools(tools, api::PolicyKindId::ToolInvocation, "tool_invocation_policy",
                   "tool_invocation_policies", "tool invocation policy",
                   {{"argumentName", str("Path into the call's arguments, e.g. url or emails[0].to")},
                    {"action",
                     {{"type", "string"},
                      {"enum", {"allow_when_context_is_untrusted", "block_always", "require_approval"}}}},
                    {"reason", str("Shown to the agent when the policy blocks a call")}},
                   {"agentToolId", "argumentName", "operator", "value", "action"});
    addPolicyTools(
        tools, api::PolicyKindId::TrustedData, "trusted_data_policy", "trusted_data_policies",
        "trusted data policy",
        {{"description", str("What the policy is for")},
         {"attributePath", str("Path into the tool's result, e.g. emails[*].from")},
         {"action",
          {{"type", "string"}, {"enum", {"mark_as_trusted", "block_always", "sanitize_with_dual_llm"}}}}},
        {"agentToolId", "attributePath", "operator", "value"});
    return tools;
}

}  // namespace

const std::vector<BuiltinTool>& builtinTools() {
    static const std::vector<BuiltinTool> tools = makeTools();
    return tools;
}

const BuiltinTool* findBuiltinTool(const std::string& name) {
    for (const auto& tool : builtinTools())
        if (tool.name == name) return &tool;
    return nullptr;
}

json builtinToolJson(const BuiltinTool& tool) {
    return {{"name", tool.name},
            {"title", tool.title},
            {"description", tool.description},
            {"inputSchema", tool.inputSchema},
            {"annotations", json::object()},
            {"_meta", json::object()}};
}

json textResult(const std::string& text, bool isError) {
    return {{"content", json::array({{{"type", "text"}, {"text", text}}})}, {"isError", isError}};
}

json callBuiltinTool(const BuiltinTool& tool, BuiltinContext& context, const json& arguments) {
    if (!tool.resource.empty() && !context.caller.allows(tool.resource, tool.action))
        return textResult("Permission denied: " + tool.name + " needs " + tool.resource + ":" + tool.action +
                              ", which " + context.caller.describe() + " does not have",
                          true);
    try {
        json answer = tool.run(context, arguments.is_object() ? arguments : json::object());
        if (answer.is_string()) return textResult(answer.get<std::string>());
        json result = textResult(answer.dump(2));
        // Structured results must be objects in MCP; arrays travel in the text only.
        if (answer.is_object()) result["structuredContent"] = answer;
        return result;
    } catch (const http::ApiError& error) {
        return textResult(tool.name + " failed: " + error.what(), true);
    } catch (const std::invalid_argument& error) {
        return textResult(tool.name + " failed: " + error.what(), true);
    } catch (const Poco::Exception& error) {
        return textResult(tool.name + " failed: " + error.displayText(), true);
    } catch (const std::exception& error) {
        return textResult(tool.name + " failed: " + error.what(), true);
    }
}

}  // namespace archestra::gateway
