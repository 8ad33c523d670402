// /api/chat*, /api/chat-settings: conversations per user with a profile and optionally a prompt, the streamed
// chat with its tool loop, titles, and the organisation's chat provider key (reference-api.md §1 "Chat").
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace archestra::auth {
class AuthService;
}
namespace archestra::gateway {
class McpGateway;
}
namespace archestra::http {
class Router;
}
namespace archestra::secrets {
class SecretStore;
}

namespace archestra::chat {

struct ChatOptions {
    std::shared_ptr<auth::AuthService> auth;
    /// Where the chat keeps the Anthropic key of chat settings; read per call (null: no backend).
    std::function<std::shared_ptr<secrets::SecretStore>()> secrets;
    /// The in-process MCP gateway client (tools/list, tools/call); null: the chat offers no tools.
    std::shared_ptr<gateway::McpGateway> gateway;
    /// This process's LLM proxy: the model is called at
    /// http://<proxyHost>:<proxyPort>/v1/<provider>/<profile>.
    std::string proxyHost = "127.0.0.1";
    int proxyPort = 9000;
    /// ARCHESTRA_CHAT_ANTHROPIC_API_KEY / ARCHESTRA_CHAT_OPENAI_API_KEY (the chat settings' Anthropic key
    /// wins).
    std::string anthropicApiKey;
    std::string openAiApiKey;
    std::string geminiApiKey;  ///< ARCHESTRA_CHAT_GEMINI_API_KEY (gemini-* models)
    /// Model rounds per chat request (each tool round is one).
    int maxSteps = 10;
    int modelTimeout_s = 300;
};

void registerChatRoutes(http::Router& router, ChatOptions options);

}  // namespace archestra::chat
