// The gateway's own `archestra__*` tools (reference-proxy.md §4): run in-process, always allowed and trusted
// by the guardrails, but each checked against the caller's permissions.
#pragma once

#include "core/gateway/Caller.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace archestra::db {
class Database;
}

namespace archestra::gateway {

/// What a built-in tool may look at.
struct BuiltinContext {
    db::Database* database;  ///< never null when a tool that reads or writes runs
    std::string profileId;
    std::string profileName;
    const Caller& caller;
    std::function<void()> onPolicyChange;  ///< after a policy write (drops the proxy's cached policies)
};

struct BuiltinTool {
    std::string name;  ///< with the archestra__ prefix
    std::string title;
    std::string description;
    nlohmann::json inputSchema;
    std::string resource;  ///< permission needed (resource:action)
    std::string action;
    /// Returns the structured answer; throws http::ApiError or std::invalid_argument for a bad input.
    std::function<nlohmann::json(BuiltinContext&, const nlohmann::json& arguments)> run;
};

const std::vector<BuiltinTool>& builtinTools();
const BuiltinTool* findBuiltinTool(const std::string& name);

/// The MCP Tool object tools/list returns for a built-in.
nlohmann::json builtinToolJson(const BuiltinTool& tool);

/// Runs the tool and renders an MCP CallToolResult: the answer as JSON text (plain text for whoami), or
/// isError:true with a message naming what was refused or wrong. Never throws.
nlohmann::json callBuiltinTool(const BuiltinTool& tool, BuiltinContext& context,
                               const nlohmann::json& arguments);

/// {content:[{type:"text",text}], isError}
nlohmann::json textResult(const std::string& text, bool isError = false);

}  // namespace archestra::gateway
