// The chat: every model call goes through this process's own LLM proxy over HTTP (so the profile's
// guardrails, limits, tool discovery and the interaction log apply as for any agent) and every tool call
// through the MCP gateway's in-process client (invocation policies, trusted-data policies, limits and the MCP
// tool-call log). Conversations are the caller's own: every statement filters by user and organisation, so
// another user's conversation is a 404 like a missing one.
#include "core/chat/ChatApi.h"

#include "core/auth/AuthService.h"
#include "core/auth/Schema.h"
#include "core/auth/SqlJson.h"
#include "core/chat/ChatProvider.h"
#include "core/gateway/McpGateway.h"
#include "core/http/Context.h"
#include "core/secrets/SecretStore.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/UUIDGenerator.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace archestra::chat {
namespace {

using auth::isoSql;
using http::Access;
using http::ApiError;
using http::Context;
using nlohmann::json;

Poco::Logger& logger() {
    return Poco::Logger::get("archestra.chat");
}

const std::string& organizationOf(const Context& context) {
    const auto& principal = context.requirePrincipal();
    if (principal.organizationId.empty())
        throw ApiError::forbidden("The caller is not a member of any organization");
    return principal.organizationId;
}

std::string conversationJsonSql() {
    return "json_build_object('id', c.id, 'userId', c.user_id, 'organizationId', c.organization_id, "
           "'agentId', "
           "c.agent_id, 'promptId', c.prompt_id, 'title', c.title, 'selectedModel', c.selected_model, "
           "'createdAt', " +
           isoSql("c.created_at") + ", 'updatedAt', " + isoSql("c.updated_at") +
           ", 'agent', CASE WHEN a.id IS NULL THEN NULL ELSE json_build_object('id', a.id, 'name', a.name) "
           "END)::text";
}
const std::string kConversationFrom = " FROM conversations c LEFT JOIN agents a ON a.id = c.agent_id ";

json conversationSchema(bool withMessages) {
    using namespace auth::schema;
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    json properties = {{"id", uuid},
                       {"userId", string()},
                       {"organizationId", string()},
                       {"agentId", nullable(uuid)},
                       {"promptId", nullable(uuid)},
                       {"title", nullableString()},
                       {"selectedModel", string()},
                       {"createdAt", dateTime()},
                       {"updatedAt", dateTime()},
                       {"agent", nullable(object({{"id", uuid}, {"name", string()}}, {"id", "name"}))}};
    std::vector<std::string> required = {"id",    "userId",        "organizationId", "agentId",  "promptId",
                                         "title", "selectedModel", "createdAt",      "updatedAt"};
    if (withMessages) {
        properties["messages"] = array(object({{"id", uuid},
                                               {"role", enumOf({"user", "assistant", "tool"})},
                                               {"parts", array({{"type", "object"}})},
                                               {"createdAt", dateTime()}},
                                              {"id", "role", "parts", "createdAt"}));
        required.push_back("messages");
    }
    return object(properties, required);
}

/// The caller's conversation `id`, or 404.
json loadConversation(db::Connection& conn, const http::Principal& user, const std::string& id) {
    auto rows = conn.query("SELECT " + conversationJsonSql() + kConversationFrom +
                               "WHERE c.id = $1::uuid AND c.user_id = $2 AND c.organization_id = $3",
                           {id, user.userId, user.organizationId});
    if (rows.empty()) throw ApiError::notFound("Conversation not found");
    return json::parse(rows[0].str(0));
}

json loadMessages(db::Connection& conn, const std::string& conversationId) {
    json out = json::array();
    for (const auto& row : conn.query(
             "SELECT json_build_object('id', m.id, 'role', m.role, 'parts', coalesce(m.content->'parts', "
             "'[]'::jsonb), 'createdAt', " +
                 isoSql("m.created_at") +
                 ")::text FROM messages m WHERE m.conversation_id = $1::uuid ORDER BY m.created_at, m.id",
             {conversationId}))
        out.push_back(json::parse(row.str(0)));
    return out;
}

std::vector<StoredMessage> history(const json& messages) {
    std::vector<StoredMessage> out;
    for (const auto& m : messages) out.push_back({m.value("role", ""), m.value("parts", json::array())});
    return out;
}

/// Whether `user` may chat with profile `agentId`: it exists and, without profile:admin, is assigned to one
/// of the user's teams (the profiles a member sees in /api/agents, and whose interactions they can read).
bool mayUseProfile(db::Connection& conn, auth::AuthService& auth, const http::Principal& user,
                   const std::string& agentId) {
    if (auth.hasPermission(user, "profile", "admin"))
        return !conn.query("SELECT 1 FROM agents WHERE id = $1::uuid", {agentId}).empty();
    return !conn.query(
                    "SELECT 1 FROM agent_team vx JOIN team_member vm ON vm.team_id = vx.team_id WHERE "
                    "vx.agent_id = $1::uuid AND vm.user_id = $2",
                    {agentId, user.userId})
                .empty();
}

void requireAgent(db::Connection& conn, auth::AuthService& auth, const http::Principal& user,
                  const std::string& agentId) {
    if (!mayUseProfile(conn, auth, user, agentId))
        throw ApiError::badRequest("Field 'agentId': profile " + agentId + " not found");
}

void requirePrompt(db::Connection& conn, const std::string& org, const std::string& promptId) {
    if (conn.query("SELECT 1 FROM prompts WHERE id = $1::uuid AND organization_id = $2", {promptId, org})
            .empty())
        throw ApiError::badRequest("Field 'promptId': prompt " + promptId + " not found");
}

/// The text of the last message of a UI request ({role, parts:[{type:"text",text}]} or {role, content}).
std::string lastUserText(const json& messages) {
    if (!messages.is_array() || messages.empty())
        throw ApiError::badRequest("Field 'messages': expected at least one message");
    const json& last = messages.back();
    if (!last.is_object() || last.value("role", json("")) != "user")
        throw ApiError::badRequest("Field 'messages[" + std::to_string(messages.size() - 1) +
                                   "].role': expected the last message to be the user's");
    std::string text;
    if (last.contains("content") && last["content"].is_string()) text = last["content"];
    if (last.contains("parts") && last["parts"].is_array())
        for (const auto& part : last["parts"])
            if (part.is_object() && part.value("type", json("")) == "text" && part["text"].is_string()) {
                if (!text.empty()) text += "\n";
                text += part["text"].get<std::string>();
            }
    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
        throw ApiError::badRequest("Field 'messages[" + std::to_string(messages.size() - 1) +
                                   "]': expected text (parts of type text, or content)");
    return text;
}

std::string insertMessage(db::Database& db, const std::string& conversationId, const std::string& role,
                          const json& parts) {
    return db
        .query(
            "INSERT INTO messages (conversation_id, role, content) VALUES ($1::uuid, $2, $3::jsonb) "
            "RETURNING id::text",
            {conversationId, role, json{{"parts", parts}}.dump()})
        .at(0)
        .str(0);
}

/// One streamed answer: events of the AI SDK UI message stream protocol (`data: <json>` lines, `[DONE]`
/// last).
class EventStream {
  public:
    explicit EventStream(Context& context) {
        auto& response = context.response();
        response.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
        response.setContentType("text/event-stream");
        response.setChunkedTransferEncoding(true);
        response.set("Cache-Control", "no-cache");
        response.set("X-Accel-Buffering", "no");
        response.set("x-vercel-ai-ui-message-stream", "v1");
        _out = &response.send();
    }
    void send(const json& event) {
        if (!_out->good()) return;
        *_out << "data: " << event.dump() << "\n\n";
        _out->flush();
    }
    void done() {
        if (!_out->good()) return;
        *_out << "data: [DONE]\n\n";
        _out->flush();
    }
    bool open() const { return _out->good(); }

  private:
    std::ostream* _out = nullptr;
};

/// A model call through the proxy, prepared and sent: the response head is read, the body is `in`.
struct ChatModelCall {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    Poco::Net::HTTPResponse response;
    std::istream* in = nullptr;
};

/// Watches the browser's connection while a model call streams, on a thread of its own (a chat turn is
/// human-paced; one short-lived thread per model call): when the browser leaves (its connection reads as
/// closed), the model call's socket is shut down, so the read in progress returns at once however long the
/// model is silent, and the proxy, seeing its client leave, cancels the upstream request. Polling both
/// sockets on the reading thread instead is not reliable: Poco's session buffer may hold the chunk framing
/// (CRLF) after the last event, so "nothing buffered" cannot be told from "a whole event buffered".
class BrowserWatch {
  public:
    BrowserWatch(int browserFd, int modelFd) {
        if (browserFd < 0 || modelFd < 0 || ::pipe2(_stop, O_CLOEXEC) != 0) return;
        _thread = std::thread([this, browserFd, modelFd] { run(browserFd, modelFd); });
    }
    ~BrowserWatch() {
        if (_thread.joinable()) {
            char wake = 0;
            while (::write(_stop[1], &wake, 1) < 0 && errno == EINTR) {
            }
            _thread.join();
        }
        for (int fd : _stop)
            if (fd >= 0) ::close(fd);
    }
    BrowserWatch(const BrowserWatch&) = delete;
    BrowserWatch& operator=(const BrowserWatch&) = delete;

    /// The browser left (and the model call was cut).
    bool left() const { return _left.load(); }

  private:
    void run(int browserFd, int modelFd) {
        for (;;) {
            // POLLRDHUP only: bytes the browser might send do not wake this loop, its hang-up does.
            pollfd fds[2] = {{browserFd, POLLRDHUP, 0}, {_stop[0], POLLIN, 0}};
            int n = ::poll(fds, 2, -1);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 || fds[1].revents != 0 || (fds[0].revents & POLLNVAL)) return;
            if (fds[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
                _left = true;
                ::shutdown(modelFd, SHUT_RDWR);
                return;
            }
        }
    }
    int _stop[2] = {-1, -1};
    std::atomic<bool> _left{false};
    std::thread _thread;
};

/// A provider's key in the chat settings: the request field that sets it and the one that removes it (the
/// original's `resetApiKey` for Anthropic's), the column pointing at its secret, and the name in the
/// response's `has<label>ApiKey`. The response also carries `<field>SecretId` and `<field>Source`.
struct StoredKey {
    Provider provider;
    const char* field;
    const char* resetField;
    const char* column;
    const char* label;
};
constexpr StoredKey kStoredKeys[] = {
    {Provider::Anthropic, "anthropicApiKey", "resetApiKey", "anthropic_api_key_secret_id", "Anthropic"},
    {Provider::OpenAi, "openAiApiKey", "resetOpenAiApiKey", "openai_api_key_secret_id", "OpenAi"},
    {Provider::Gemini, "geminiApiKey", "resetGeminiApiKey", "gemini_api_key_secret_id", "Gemini"},
};

const StoredKey& storedKey(Provider provider) {
    for (const auto& key : kStoredKeys)
        if (key.provider == provider) return key;
    throw std::logic_error("no stored chat key for this provider");
}

}  // namespace

/// Calls the model through the platform's own proxy. Owns nothing but the options.
class ChatService {
  public:
    explicit ChatService(ChatOptions options) : _o(std::move(options)) {}

    db::Database& db() { return _o.auth->database(); }
    auth::AuthService& auth() { return *_o.auth; }
    gateway::McpGateway* gateway() { return _o.gateway.get(); }
    int maxSteps() const { return _o.maxSteps; }

    /// The organisation's chat settings row (created on first use) as JSON: per provider, the id of the
    /// secret holding a stored key, whether a key is available and where it comes from (never the key).
    json settings(const std::string& org) {
        db().execute(
            "INSERT INTO chat_settings (organization_id) VALUES ($1) ON CONFLICT (organization_id) DO "
            "NOTHING",
            {org});
        std::string columns;
        for (const auto& key : kStoredKeys)
            columns += ", s." + std::string(key.column) + "::text AS " + key.column;
        auto row = db().query("SELECT s.id::text AS id, s.organization_id, " + isoSql("s.created_at") +
                                  " AS created_at, " + isoSql("s.updated_at") + " AS updated_at" + columns +
                                  " FROM chat_settings s WHERE s.organization_id = $1",
                              {org})
                       .at(0);
        json out = {{"id", row.str("id")},
                    {"organizationId", row.str("organization_id")},
                    {"createdAt", row.str("created_at")},
                    {"updatedAt", row.str("updated_at")}};
        for (const auto& key : kStoredKeys) {
            const db::Value& secretId = row.at(key.column);
            const bool fromEnvironment = !environmentKey(key.provider).empty();
            const std::string field = key.field;
            out[field + "SecretId"] = secretId ? json(*secretId) : json(nullptr);
            out["has" + std::string(key.label) + "ApiKey"] = secretId.has_value() || fromEnvironment;
            out[field + "Source"] = secretId          ? json("settings")
                                    : fromEnvironment ? json("environment")
                                                      : json(nullptr);
        }
        return out;
    }

    /// Stores, replaces or (with `reset`) removes each provider key the body names.
    json updateSettings(const std::string& org, const json& body) {
        settings(org);
        for (const auto& key : kStoredKeys) {
            if (body.value(key.resetField, false))
                storeKey(org, key, std::nullopt);
            else if (body.contains(key.field))
                storeKey(org, key, body[key.field].get<std::string>());
        }
        return settings(org);
    }

    /// The provider key for `provider`: the one stored in the chat settings, else the environment's; empty
    /// when neither is set.
    std::string apiKey(Provider provider, const std::string& org) {
        const StoredKey& key = storedKey(provider);
        auto rows =
            db().query("SELECT " + std::string(key.column) + "::text AS sid FROM chat_settings WHERE " +
                           "organization_id = $1 AND " + key.column + " IS NOT NULL",
                       {org});
        auto store = _o.secrets ? _o.secrets() : nullptr;
        if (!rows.empty() && store) {
            if (auto value = store->get(rows[0].str("sid")))
                if (value->is_object() && (*value)["apiKey"].is_string()) return (*value)["apiKey"];
        }
        return environmentKey(provider);
    }

    using ModelCall = ChatModelCall;
    void sendModelCall(ModelCall& call, Provider provider, const std::string& key, const std::string& path,
                       const json& request) {
        call.session = std::make_unique<Poco::Net::HTTPClientSession>(
            _o.proxyHost, static_cast<Poco::UInt16>(_o.proxyPort));
        call.session->setTimeout(Poco::Timespan(_o.modelTimeout_s, 0));
        Poco::Net::HTTPRequest http(Poco::Net::HTTPRequest::HTTP_POST, path,
                                    Poco::Net::HTTPMessage::HTTP_1_1);
        std::string body = request.dump(-1, ' ', false, json::error_handler_t::replace);
        http.setContentType("application/json");
        http.setContentLength(static_cast<std::streamsize>(body.size()));
        http.set("User-Agent", "archestra-chat/" ARCHESTRA_VERSION);
        if (provider == Provider::Anthropic) {
            http.set("x-api-key", key);
            http.set("anthropic-version", "2023-06-01");
        } else if (provider == Provider::Gemini) {
            http.set("x-goog-api-key", key);
        } else {
            http.set("Authorization", "Bearer " + key);
        }
        call.session->sendRequest(http) << body;
        call.in = &call.session->receiveResponse(call.response);
    }

    /// One non-streamed model call through the proxy: {status, body}.
    std::pair<int, std::string> callModel(Provider provider, const std::string& key,
                                          const std::string& profileId, const std::string& model,
                                          const json& request) {
        ModelCall call;
        sendModelCall(call, provider, key, modelPath(provider, profileId, model, false), request);
        std::string text;
        Poco::StreamCopier::copyToString(*call.in, text);
        return {static_cast<int>(call.response.getStatus()), text};
    }

    /// One streamed model call through the proxy. `onEvents` gets what ModelStream::feed returns as the
    /// bytes arrive. Returns {status, error body} (status 200: `stream` holds the answer).
    std::pair<int, std::string> streamModel(Provider provider, const std::string& key,
                                            const std::string& profileId, const std::string& model,
                                            const json& request, ModelStream& stream,
                                            const std::function<void(const json&)>& onEvents,
                                            int browserFd = -1) {
        ModelCall call;
        sendModelCall(call, provider, key, modelPath(provider, profileId, model, true), request);
        int status = static_cast<int>(call.response.getStatus());
        if (status != 200) {
            std::string text;
            Poco::StreamCopier::copyToString(*call.in, text);
            return {status, text};
        }
        std::streambuf* sb = call.in->rdbuf();
        char buffer[8192];
        BrowserWatch watch(browserFd, call.session->socket().impl()->sockfd());
        const auto browserLeft = [&] {
            // The watcher already shut the socket down (closed with the session).
            if (watch.left()) throw std::runtime_error("the browser closed the chat stream");
        };
        try {
            readAnswer(sb, buffer, sizeof buffer, stream, onEvents);
        } catch (const std::exception&) {
            browserLeft();
            throw;
        }
        browserLeft();
        onEvents(stream.finish());
        return {200, ""};
    }

    /// Feeds the answer to `stream` as it arrives, until the end of the body.
    static void readAnswer(std::streambuf* sb, char* buffer, std::size_t size, ModelStream& stream,
                           const std::function<void(const json&)>& onEvents) {
        for (;;) {
            // What is available, at least one byte (blocking for it): deltas go on as they arrive.
            std::streamsize available = sb->in_avail();
            if (available <= 0) {
                if (sb->sgetc() == std::char_traits<char>::eof()) break;
                available = std::max<std::streamsize>(1, sb->in_avail());
            }
            std::streamsize n =
                sb->sgetn(buffer, std::min<std::streamsize>(available, static_cast<std::streamsize>(size)));
            if (n <= 0) break;
            onEvents(stream.feed(std::string_view(buffer, static_cast<std::size_t>(n))));
        }
    }

    /// The MCP tools of the profile for `user` (empty without a gateway), and the session they were listed
    /// in.
    json listTools(const std::string& profileId, const http::Principal& user,
                   std::optional<std::string>& session) {
        if (!_o.gateway) return json::array();
        session = _o.gateway->openUserSession(profileId, user);
        if (!session) throw ApiError::forbidden("The caller may not use profile " + profileId);
        json response = _o.gateway->userRequest(
            *session, profileId, user, {{"id", 1}, {"method", "tools/list"}, {"params", json::object()}});
        if (!response.contains("result")) return json::array();
        return response["result"].value("tools", json::array());
    }

    /// {name, description, inputSchema} of every tool listTools finds (the gateway session closed again).
    json toolSummaries(const std::string& profileId, const http::Principal& user) {
        std::optional<std::string> session;
        json tools = listTools(profileId, user, session);
        if (session && _o.gateway) _o.gateway->closeUserSession(*session, profileId);
        json out = json::array();
        for (const auto& tool : tools)
            out.push_back({{"name", tool.value("name", "")},
                           {"description", tool.value("description", "")},
                           {"inputSchema", tool.value("inputSchema", json::object())}});
        return out;
    }

  private:
    const std::string& environmentKey(Provider provider) const {
        switch (provider) {
            case Provider::Anthropic:
                return _o.anthropicApiKey;
            case Provider::Gemini:
                return _o.geminiApiKey;
            case Provider::OpenAi:
                break;
        }
        return _o.openAiApiKey;
    }

    /// Points the provider's column at a new secret holding `value` (or updates the secret in place), or with
    /// no value clears the column and deletes the secret.
    void storeKey(const std::string& org, const StoredKey& key, const std::optional<std::string>& value) {
        const std::string column = key.column;
        db::Value secretId =
            db().query("SELECT " + column + "::text AS sid FROM chat_settings WHERE organization_id = $1",
                       {org})
                .at(0)
                .at("sid");
        auto store = _o.secrets ? _o.secrets() : nullptr;
        if (!value) {
            if (!secretId) return;
            db().execute("UPDATE chat_settings SET " + column +
                             " = NULL, updated_at = now() WHERE organization_id = $1",
                         {org});
            if (store) store->remove(*secretId);
            return;
        }
        if (!store) throw ApiError::unavailable("The secrets backend is not available");
        const json secret = {{"apiKey", *value}};
        if (secretId && store->update(*secretId, secret)) {
            db().execute("UPDATE chat_settings SET updated_at = now() WHERE organization_id = $1", {org});
            return;
        }
        std::string id =
            store->create("chat-" + std::string(providerName(key.provider)) + "-api-key-" + org, secret);
        db().execute("UPDATE chat_settings SET " + column +
                         " = $2::uuid, updated_at = now() WHERE organization_id = $1",
                     {org, id});
        if (secretId) store->remove(*secretId);
    }

    ChatOptions _o;
};

namespace {

/// The system prompt of the conversation's prompt, when it has one.
std::string systemPromptOf(db::Database& db, const json& conversation) {
    if (!conversation["promptId"].is_string()) return "";
    auto rows = db.query("SELECT coalesce(system_prompt, '') FROM prompts WHERE id = $1::uuid",
                         {conversation["promptId"].get<std::string>()});
    return rows.empty() ? "" : rows[0].str(0);
}

/// Streams one user turn: model rounds through the proxy, tool calls through the gateway, every step stored.
void runChat(ChatService& service, Context& c, const json& conversation, const std::string& userText) {
    const http::Principal user = c.requirePrincipal();
    const std::string conversationId = conversation["id"];
    if (!conversation["agentId"].is_string())
        throw ApiError::badRequest("Field 'id': the conversation's profile was deleted");
    const std::string profileId = conversation["agentId"];
    if (!service.db().withConnection(
            [&](db::Connection& conn) { return mayUseProfile(conn, service.auth(), user, profileId); }))
        throw ApiError::forbidden("The caller may no longer use profile " + profileId +
                                  " (it is not assigned to any of the caller's teams)");
    const std::string model = conversation["selectedModel"];
    const Provider provider = providerForModel(model);
    const std::string key = service.apiKey(provider, user.organizationId);
    if (key.empty())
        throw ApiError::badRequest(provider == Provider::Anthropic
                                       ? "No Anthropic API key for the chat: set one under Settings > Chat "
                                         "or ARCHESTRA_CHAT_ANTHROPIC_API_KEY"
                                   : provider == Provider::Gemini
                                       ? "No Gemini API key for the chat: set ARCHESTRA_CHAT_GEMINI_API_KEY"
                                       : "No OpenAI API key for the chat: set ARCHESTRA_CHAT_OPENAI_API_KEY");
    if (provider == Provider::Gemini) try {
            modelPath(provider, profileId, model, true);
        } catch (const std::invalid_argument& error) {
            throw ApiError::badRequest(std::string("Field 'selectedModel': ") + error.what());
        }
    std::optional<std::string> gatewaySession;
    json tools = service.listTools(profileId, user, gatewaySession);
    struct CloseSession {
        ChatService& service;
        std::optional<std::string>& id;
        std::string profile;
        ~CloseSession() {
            if (id && service.gateway()) service.gateway()->closeUserSession(*id, profile);
        }
    } closeSession{service, gatewaySession, profileId};

    db::Database& db = service.db();
    const std::string systemPrompt = systemPromptOf(db, conversation);
    insertMessage(db, conversationId, "user", json::array({{{"type", "text"}, {"text", userText}}}));
    db.execute("UPDATE conversations SET updated_at = now() WHERE id = $1::uuid", {conversationId});

    EventStream stream(c);
    const int browserFd = c.clientSocket();
    stream.send({{"type", "start"},
                 {"messageId", Poco::UUIDGenerator::defaultGenerator().createRandom().toString()}});
    int textCounter = 0;
    for (int step = 0; step < service.maxSteps() && stream.open(); ++step) {
        stream.send({{"type", "start-step"}});
        json messages;
        db.withConnection([&](db::Connection& conn) {
            messages = loadMessages(conn, conversationId);
            return 0;
        });
        json request = buildRequest(provider, model, systemPrompt, history(messages), tools, 4096, true);
        json parts;
        ModelStream answer(provider);
        std::string openText;  // id of the text part being streamed, empty when none is open
        std::string streamError;
        auto closeText = [&]() {
            if (openText.empty()) return;
            stream.send({{"type", "text-end"}, {"id", openText}});
            openText.clear();
        };
        auto onEvents = [&](const json& events) {
            // The browser left: stop reading (closing the call makes the proxy cancel the upstream request).
            if (!stream.open()) throw std::runtime_error("the browser closed the chat stream");
            for (const auto& event : events) {
                const std::string type = event["type"];
                if (type == "text") {
                    if (openText.empty()) {
                        openText = "text-" + std::to_string(++textCounter);
                        stream.send({{"type", "text-start"}, {"id", openText}});
                    }
                    stream.send({{"type", "text-delta"}, {"id", openText}, {"delta", event["text"]}});
                } else if (type == "tool-blocked") {
                    closeText();
                    stream.send({{"type", "data-tool-blocked"},
                                 {"data",
                                  {{"toolCallId", event["toolCallId"]},
                                   {"toolName", event["toolName"]},
                                   {"reason", event["reason"]},
                                   {"blockedBy", "proxy"},
                                   {"text", event["text"]}}}});
                } else if (type == "error" && streamError.empty()) {
                    streamError = event["errorText"];
                }
            }
        };
        try {
            auto [status, body] =
                service.streamModel(provider, key, profileId, model, request, answer, onEvents, browserFd);
            if (status != 200) {
                streamError = "The model call failed (" + std::to_string(status) + "): " + errorMessage(body);
            } else if (streamError.empty() && !answer.complete()) {
                streamError = "The model's stream ended before the answer was complete";
            } else if (!streamError.empty()) {
                streamError = "The model call failed: " + streamError;
            }
        } catch (const std::exception& error) {
            streamError = std::string("The model call failed: ") + error.what();
        }
        closeText();
        parts = answer.parts();
        if (!streamError.empty()) {
            logger().warning("chat " + conversationId + ": " + streamError);
            // What arrived before the failure is kept (without its unfinished tool calls).
            json kept = json::array();
            for (const auto& part : parts)
                if (part["type"] != "tool-call") kept.push_back(part);
            kept.push_back({{"type", "error"}, {"errorText", streamError}});
            insertMessage(db, conversationId, "assistant", kept);
            stream.send({{"type", "error"}, {"errorText", streamError}});
            break;
        }
        insertMessage(db, conversationId, "assistant", parts);
        json toolCalls = json::array();
        for (const auto& part : parts) {
            if (part["type"] != "tool-call") continue;
            stream.send({{"type", "tool-input-available"},
                         {"toolCallId", part["toolCallId"]},
                         {"toolName", part["toolName"]},
                         {"input", part["input"]}});
            toolCalls.push_back(part);
        }
        if (toolCalls.empty()) {
            stream.send({{"type", "finish-step"}});
            break;
        }
        json results = json::array();
        for (const auto& call : toolCalls) {
            json output;
            bool isError = false;
            if (!service.gateway() || !gatewaySession) {
                output = {{"content",
                           json::array({{{"type", "text"}, {"text", "The MCP gateway is not available"}}})},
                          {"isError", true}};
            } else {
                json response = service.gateway()->userRequest(
                    *gatewaySession, profileId, user,
                    {{"id", call["toolCallId"]},
                     {"method", "tools/call"},
                     {"params", {{"name", call["toolName"]}, {"arguments", call["input"]}}}});
                if (response.contains("result")) {
                    output = response["result"];
                } else {
                    std::string message = response.contains("error")
                                              ? response["error"].value("message", std::string("error"))
                                              : std::string("no answer");
                    output = {{"content", json::array({{{"type", "text"}, {"text", message}}})},
                              {"isError", true}};
                }
            }
            isError = output.value("isError", false);
            bool blocked = false;
            std::string reason;
            if (output.contains("_meta") && output["_meta"].is_object() &&
                output["_meta"].contains("archestra")) {
                const json& meta = output["_meta"]["archestra"];
                blocked = meta.is_object() && meta.value("blocked", false);
                if (blocked) reason = meta.value("reason", std::string());
            }
            results.push_back({{"type", "tool-result"},
                               {"toolCallId", call["toolCallId"]},
                               {"toolName", call["toolName"]},
                               {"output", output},
                               {"isError", isError},
                               {"blocked", blocked}});
            stream.send(
                {{"type", "tool-output-available"}, {"toolCallId", call["toolCallId"]}, {"output", output}});
            if (blocked)
                stream.send({{"type", "data-tool-blocked"},
                             {"data",
                              {{"toolCallId", call["toolCallId"]},
                               {"toolName", call["toolName"]},
                               {"reason", reason},
                               {"blockedBy", "gateway"},
                               {"text", resultText(output)}}}});
        }
        insertMessage(db, conversationId, "tool", results);
        stream.send({{"type", "finish-step"}});
    }
    db.execute("UPDATE conversations SET updated_at = now() WHERE id = $1::uuid", {conversationId});
    stream.send({{"type", "finish"}});
    stream.done();
}

}  // namespace

void registerChatRoutes(http::Router& router, ChatOptions options) {
    using namespace auth::schema;
    auto service = std::make_shared<ChatService>(std::move(options));
    const std::string tag = "Chat";
    json uuid = {{"type", "string"}, {"format", "uuid"}};
    json title = {{"type", "string"}, {"maxLength", 500}, {"nullable", true}};
    json model = {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}};

    router.add(
        {.method = "GET",
         .path = "/api/chat/conversations",
         .operationId = "getChatConversations",
         .tag = tag,
         .summary = "The caller's conversations, most recent first",
         .access = Access::permission("conversation", "read"),
         .response = array(conversationSchema(false))},
        [service](Context& c) {
            const auto& user = c.requirePrincipal();
            organizationOf(c);
            json out = json::array();
            for (const auto& row : service->db().query(
                     "SELECT " + conversationJsonSql() + kConversationFrom +
                         "WHERE c.user_id = $1 AND c.organization_id = $2 ORDER BY c.updated_at DESC, c.id",
                     {user.userId, user.organizationId}))
                out.push_back(json::parse(row.str(0)));
            c.sendJson(200, out);
        });
    router.add(
        {.method = "POST",
         .path = "/api/chat/conversations",
         .operationId = "createChatConversation",
         .tag = tag,
         .summary = "Start a conversation with a profile (and optionally a prompt)",
         .access = Access::permission("conversation", "create"),
         .requestBody = object(
             {{"agentId", uuid}, {"promptId", nullable(uuid)}, {"title", title}, {"selectedModel", model}},
             {"agentId"}),
         .response = conversationSchema(false)},
        [service](Context& c) {
            const json& body = c.jsonObject();
            const std::string org = organizationOf(c);
            const auto& user = c.requirePrincipal();
            std::string agentId = body["agentId"];
            db::Value promptId = body.contains("promptId") && body["promptId"].is_string()
                                     ? db::Value(body["promptId"].get<std::string>())
                                     : db::Value(std::nullopt);
            db::Value titleValue = body.contains("title") && body["title"].is_string()
                                       ? db::Value(body["title"].get<std::string>())
                                       : db::Value(std::nullopt);
            std::string selected = body.value("selectedModel", std::string("gpt-4o"));
            json out = service->db().transaction([&](db::Connection& conn) {
                requireAgent(conn, service->auth(), user, agentId);
                if (promptId) requirePrompt(conn, org, *promptId);
                std::string id = conn.query(
                                         "INSERT INTO conversations (user_id, organization_id, agent_id, "
                                         "prompt_id, title, selected_model) VALUES ($1, $2, $3::uuid, "
                                         "$4::uuid, $5, $6) RETURNING id::text",
                                         {user.userId, org, agentId, promptId, titleValue, selected})
                                     .at(0)
                                     .str(0);
                return loadConversation(conn, user, id);
            });
            c.sendJson(200, out);
        });
    router.add({.method = "GET",
                .path = "/api/chat/conversations/{id}",
                .operationId = "getChatConversation",
                .tag = tag,
                .summary = "One of the caller's conversations with its messages",
                .access = Access::permission("conversation", "read"),
                .response = conversationSchema(true),
                .uuidParams = {"id"}},
               [service](Context& c) {
                   organizationOf(c);
                   json out = service->db().withConnection([&](db::Connection& conn) {
                       json conversation = loadConversation(conn, c.requirePrincipal(), c.param("id"));
                       conversation["messages"] = loadMessages(conn, c.param("id"));
                       return conversation;
                   });
                   c.sendJson(200, out);
               });
    router.add(
        {.method = "PATCH",
         .path = "/api/chat/conversations/{id}",
         .operationId = "updateChatConversation",
         .tag = tag,
         .summary = "Rename a conversation, or change its model or prompt",
         .access = Access::permission("conversation", "update"),
         .requestBody = object({{"title", title}, {"selectedModel", model}, {"promptId", nullable(uuid)}}),
         .response = conversationSchema(false),
         .uuidParams = {"id"}},
        [service](Context& c) {
            const json& body = c.jsonObject();
            const std::string org = organizationOf(c);
            const auto& user = c.requirePrincipal();
            json out = service->db().transaction([&](db::Connection& conn) {
                loadConversation(conn, user, c.param("id"));
                if (body.contains("title"))
                    conn.execute(
                        "UPDATE conversations SET title = $2, updated_at = now() WHERE id = $1::uuid",
                        {c.param("id"), body["title"].is_string()
                                            ? db::Value(body["title"].get<std::string>())
                                            : db::Value(std::nullopt)});
                if (body.contains("selectedModel"))
                    conn.execute(
                        "UPDATE conversations SET selected_model = $2, updated_at = now() WHERE id = "
                        "$1::uuid",
                        {c.param("id"), body["selectedModel"].get<std::string>()});
                if (body.contains("promptId")) {
                    db::Value promptId = body["promptId"].is_string()
                                             ? db::Value(body["promptId"].get<std::string>())
                                             : db::Value(std::nullopt);
                    if (promptId) requirePrompt(conn, org, *promptId);
                    conn.execute(
                        "UPDATE conversations SET prompt_id = $2::uuid, updated_at = now() WHERE id = "
                        "$1::uuid",
                        {c.param("id"), promptId});
                }
                return loadConversation(conn, user, c.param("id"));
            });
            c.sendJson(200, out);
        });
    router.add(
        {.method = "DELETE",
         .path = "/api/chat/conversations/{id}",
         .operationId = "deleteChatConversation",
         .tag = tag,
         .summary = "Delete a conversation and its messages",
         .access = Access::permission("conversation", "delete"),
         .response = success(),
         .uuidParams = {"id"}},
        [service](Context& c) {
            organizationOf(c);
            const auto& user = c.requirePrincipal();
            if (service->db().execute(
                    "DELETE FROM conversations WHERE id = $1::uuid AND user_id = $2 AND organization_id = $3",
                    {c.param("id"), user.userId, user.organizationId}) == 0)
                throw ApiError::notFound("Conversation not found");
            c.sendJson(200, {{"success", true}});
        });
    router.add(
        {.method = "POST",
         .path = "/api/chat/conversations/{id}/generate-title",
         .operationId = "generateChatConversationTitle",
         .tag = tag,
         .summary = "Ask the model (through the LLM proxy) for a short title; kept unless regenerate is true",
         .access = Access::permission("conversation", "update"),
         .requestBody = object({{"regenerate", boolean()}}),
         .response = conversationSchema(false),
         .uuidParams = {"id"}},
        [service](Context& c) {
            const json& body = c.jsonObject();
            organizationOf(c);
            const auto& user = c.requirePrincipal();
            json conversation;
            json messages;
            service->db().withConnection([&](db::Connection& conn) {
                conversation = loadConversation(conn, user, c.param("id"));
                messages = loadMessages(conn, c.param("id"));
                return 0;
            });
            if (conversation["title"].is_string() && !body.value("regenerate", false)) {
                c.sendJson(200, conversation);
                return;
            }
            std::string firstText;
            for (const auto& m : messages)
                if (m["role"] == "user")
                    for (const auto& part : m["parts"])
                        if (part.value("type", "") == "text" && firstText.empty())
                            firstText = part.value("text", "");
            if (firstText.empty())
                throw ApiError::badRequest("The conversation has no message to make a title of");
            if (!conversation["agentId"].is_string())
                throw ApiError::badRequest("The conversation's profile was deleted");
            if (!service->db().withConnection([&](db::Connection& conn) {
                    return mayUseProfile(conn, service->auth(), user,
                                         conversation["agentId"].get<std::string>());
                }))
                throw ApiError::forbidden("The caller may no longer use the conversation's profile");
            const std::string model = conversation["selectedModel"];
            Provider provider = providerForModel(model);
            std::string key = service->apiKey(provider, user.organizationId);
            if (key.empty()) throw ApiError::badRequest("No API key for the chat's provider");
            std::vector<StoredMessage> prompt = {
                {"user",
                 json::array({{{"type", "text"},
                               {"text",
                                "Write a short title (at most six words) for a conversation that starts "
                                "with the message below. Answer with the title only.\n\n" +
                                    firstText.substr(0, 2000)}}})}};
            auto [status, answer] =
                service->callModel(provider, key, conversation["agentId"], model,
                                   buildRequest(provider, model, "", prompt, json::array(), 64));
            if (status != 200)
                throw ApiError(502, "api_upstream_error",
                               "The model could not make a title: " + errorMessage(answer));
            std::string titleText;
            for (const auto& part : parseResponse(provider, json::parse(answer, nullptr, false)))
                if (part["type"] == "text") titleText += part["text"].get<std::string>();
            auto first = titleText.find_first_not_of(" \t\r\n\"'");
            auto last = titleText.find_last_not_of(" \t\r\n\"'.");
            titleText = first == std::string::npos ? "" : titleText.substr(first, last - first + 1);
            if (auto newline = titleText.find('\n'); newline != std::string::npos) titleText.resize(newline);
            if (titleText.size() > 100) titleText.resize(100);
            if (titleText.empty()) titleText = firstText.substr(0, 60);
            service->db().execute(
                "UPDATE conversations SET title = $2, updated_at = now() WHERE id = $1::uuid",
                {c.param("id"), titleText});
            c.sendJson(200, service->db().withConnection([&](db::Connection& conn) {
                return loadConversation(conn, user, c.param("id"));
            }));
        });
    router.add(
        {.method = "POST",
         .path = "/api/chat",
         .operationId = "streamChat",
         .tag = tag,
         .summary = "Send the user's message and stream the answer (AI SDK UI message stream over SSE): "
                    "model rounds through the LLM proxy, tool calls through the MCP gateway",
         .access = Access::permission("conversation", "update"),
         .requestBody = object({{"id", uuid}, {"messages", array({{"type", "object"}})}}, {"id", "messages"}),
         .response = {{"type", "string"},
                      {"description",
                       "Server-sent events: `data: <UI message stream part as JSON>` per event (start, "
                       "start-step, text-start, text-delta, text-end, tool-input-available, "
                       "tool-output-available, data-tool-blocked, finish-step, error, finish), then "
                       "`data: [DONE]`"},
                      {"contentMediaType", "text/event-stream"}}},
        [service](Context& c) {
            const json& body = c.jsonObject();
            organizationOf(c);
            // An empty `messages` starts the conversation with its prompt's userPrompt ("the first message
            // sent on behalf of the user when the chat starts"); otherwise the last message is the user's.
            const bool start = body["messages"].empty();
            std::string text = start ? std::string() : lastUserText(body["messages"]);
            json conversation = service->db().withConnection([&](db::Connection& conn) {
                json loaded = loadConversation(conn, c.requirePrincipal(), body["id"].get<std::string>());
                if (start) {
                    if (!conn.query("SELECT 1 FROM messages WHERE conversation_id = $1::uuid LIMIT 1",
                                    {body["id"].get<std::string>()})
                             .empty())
                        throw ApiError::badRequest(
                            "Field 'messages': expected at least one message (only a new conversation starts "
                            "with its prompt's userPrompt)");
                    if (loaded["promptId"].is_string()) {
                        auto rows =
                            conn.query("SELECT coalesce(user_prompt, '') FROM prompts WHERE id = $1::uuid",
                                       {loaded["promptId"].get<std::string>()});
                        if (!rows.empty()) text = rows[0].str(0);
                    }
                    if (text.find_first_not_of(" \t\r\n") == std::string::npos)
                        throw ApiError::badRequest(
                            "Field 'messages': expected at least one message (the conversation's prompt has "
                            "no "
                            "userPrompt to start with)");
                }
                return loaded;
            });
            runChat(*service, c, conversation, text);
        });
    json toolList = array(object(
        {{"name", string()}, {"description", string()}, {"inputSchema", {{"type", "object"}}}}, {"name"}));
    router.add({.method = "GET",
                .path = "/api/chat/mcp-tools",
                .operationId = "getChatMcpTools",
                .tag = tag,
                .summary = "The MCP gateway tools the chat offers the model on the default profile (the "
                           "profile a new conversation gets when none is chosen)",
                .access = Access::permission("conversation", "read"),
                .response = toolList},
               [service](Context& c) {
                   organizationOf(c);
                   std::string agentId = service->db().withConnection([&](db::Connection& conn) {
                       auto rows = conn.query(
                           "SELECT id::text FROM agents WHERE is_default ORDER BY created_at, id LIMIT 1",
                           {});
                       if (rows.empty() ||
                           !mayUseProfile(conn, service->auth(), c.requirePrincipal(), rows[0].str(0)))
                           throw ApiError::notFound("No default profile the caller may use");
                       return rows[0].str(0);
                   });
                   c.sendJson(200, service->toolSummaries(agentId, c.requirePrincipal()));
               });
    router.add({.method = "GET",
                .path = "/api/chat/agents/{agentId}/mcp-tools",
                .operationId = "getChatAgentMcpTools",
                .tag = tag,
                .summary = "The MCP gateway tools the chat offers the model for this profile",
                .access = Access::permission("conversation", "read"),
                .response = toolList,
                .uuidParams = {"agentId"}},
               [service](Context& c) {
                   organizationOf(c);
                   service->db().withConnection([&](db::Connection& conn) {
                       if (!mayUseProfile(conn, service->auth(), c.requirePrincipal(), c.param("agentId")))
                           throw ApiError::notFound("Agent with ID " + c.param("agentId") + " not found");
                       return 0;
                   });
                   c.sendJson(200, service->toolSummaries(c.param("agentId"), c.requirePrincipal()));
               });

    json settingsProperties = {
        {"id", uuid}, {"organizationId", string()}, {"createdAt", dateTime()}, {"updatedAt", dateTime()}};
    json keyFields = json::object();
    std::vector<std::string> settingsRequired = {"id", "organizationId", "createdAt", "updatedAt"};
    for (const auto& key : kStoredKeys) {
        const std::string field = key.field;
        const std::string has = "has" + std::string(key.label) + "ApiKey";
        settingsProperties[field + "SecretId"] = nullable(uuid);
        settingsProperties[has] = boolean();
        settingsProperties[field + "Source"] = nullable(enumOf({"settings", "environment"}));
        settingsRequired.insert(settingsRequired.end(), {field + "SecretId", has, field + "Source"});
        keyFields[field] = {{"type", "string"}, {"minLength", 1}, {"maxLength", 1000}};
        keyFields[key.resetField] = boolean();
    }
    json settingsSchema = object(settingsProperties, settingsRequired);
    router.add({.method = "GET",
                .path = "/api/chat-settings",
                .operationId = "getChatSettings",
                .tag = tag,
                .summary = "The organisation's chat settings (whether a provider key is set, never the key)",
                .access = Access::permission("chatSettings", "read"),
                .response = settingsSchema},
               [service](Context& c) { c.sendJson(200, service->settings(organizationOf(c))); });
    router.add({.method = "PATCH",
                .path = "/api/chat-settings",
                .operationId = "updateChatSettings",
                .tag = tag,
                .summary = "Set or remove the chat's provider keys (kept in the secrets backend)",
                .access = Access::permission("chatSettings", "update"),
                .requestBody = object(keyFields),
                .response = settingsSchema},
               [service](Context& c) {
                   const json& body = c.jsonObject();
                   for (const auto& key : kStoredKeys)
                       if (body.contains(key.field) && body.value(key.resetField, false))
                           throw ApiError::badRequest("Field '" + std::string(key.resetField) +
                                                      "': expected false or absent when " + key.field +
                                                      " is given");
                   c.sendJson(200, service->updateSettings(organizationOf(c), body));
               });
}

}  // namespace archestra::chat
