// The gateway's own archestra__* tools (see BuiltinTools.h). Policy tools reuse the policy API's operations
// so validation and JSON shapes are the same as over REST.
#include "core/gateway/BuiltinTools.h"

#include "core/api/PoliciesApi.h"
#include "core/http/ApiError.h"
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
