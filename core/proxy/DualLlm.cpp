// Dual-LLM sanitisation: the question/answer rounds between the main and the quarantined model, the summary,
// the per-tool-call cache, and the provider-specific shapes of the internal chat calls.
#include "core/proxy/DualLlm.h"

#include "core/db/Database.h"

#include <Poco/DigestEngine.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/SHA2Engine.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>

#include <cctype>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace archestra::proxy {

using nlohmann::json;

namespace {

std::string replaceAll(std::string text, const std::string& placeholder, const std::string& value) {
    std::size_t pos = 0;
    while ((pos = text.find(placeholder, pos)) != std::string::npos) {
        text.replace(pos, placeholder.size(), value);
        pos += value.size();
    }
    return text;
}

std::string trim(const std::string& text) {
    return Poco::trim(text);
}

/// The protocol the parser relies on; added when the configured prompt does not spell it out, so a custom
/// prompt cannot silently make every round unparsable.
const char* kMainProtocol =
    "\n\nReply in exactly one of two forms. To ask: a line 'QUESTION: <question>', then a line 'OPTIONS:', "
    "then "
    "one option per line as '<index>: <option>' starting at 0. When you know enough: the single word DONE.";

const char* kAnswerProtocol =
    "\n\nReply with JSON only, exactly {\"answer\": <index>} where <index> is an integer from 0 to "
    "{{maxIndex}}.";

/// Reasoning models refuse a temperature other than the default.
bool acceptsTemperature(const std::string& model) {
    for (const char* prefix : {"o1", "o3", "o4", "gpt-5"})
        if (model.rfind(prefix, 0) == 0) return false;
    return true;
}

std::string shortHash(const std::string& text) {
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    engine.update(text);
    return Poco::DigestEngine::digestToHex(engine.digest()).substr(0, 16);
}

}  // namespace

// ---------------------------------------------------------------------------------------------- store

std::optional<DualLlmSettings> DatabaseDualLlmStore::activeSettings() {
    auto rows = _db.query(
        "SELECT enabled, main_agent_prompt, quarantined_agent_prompt, summary_prompt, max_rounds FROM "
        "dual_llm_config ORDER BY created_at, id LIMIT 1");
    if (rows.empty() || rows[0].str(0) != "t") return std::nullopt;
    DualLlmSettings settings;
    settings.mainAgentPrompt = rows[0].str(1);
    settings.quarantinedAgentPrompt = rows[0].str(2);
    settings.summaryPrompt = rows[0].str(3);
    settings.maxRounds = std::max(1, std::stoi(rows[0].str(4, "5")));
    return settings;
}

std::optional<StoredDualLlmResult> DatabaseDualLlmStore::find(const std::string& profileId,
                                                              const std::string& toolCallId) {
    auto rows = _db.query(
        "SELECT id::text, result FROM dual_llm_results WHERE agent_id = $1::uuid AND tool_call_id = $2 ORDER "
        "BY "
        "created_at DESC LIMIT 1",
        {profileId, toolCallId});
    if (rows.empty()) return std::nullopt;
    return StoredDualLlmResult{rows[0].str(0), rows[0].str(1)};
}

std::string DatabaseDualLlmStore::save(const std::string& profileId, const std::string& toolCallId,
                                       const nlohmann::json& conversations, const std::string& result) {
    return _db
        .query(
            "INSERT INTO dual_llm_results (agent_id, tool_call_id, conversations, result) VALUES ($1::uuid, "
            "$2, "
            "$3::jsonb, $4) RETURNING id::text",
            {profileId, toolCallId, conversations.dump(-1, ' ', false, json::error_handler_t::replace),
             result})
        .at(0)
        .str(0);
}

// ---------------------------------------------------------------------------------------------- parsing

std::vector<std::pair<std::string, std::string>> dualLlmCredentialHeaders(
    const std::vector<std::pair<std::string, std::string>>& requestHeaders) {
    static const std::set<std::string> keep = {
        "authorization",  "x-api-key",           "api-key",        "x-goog-api-key",     "anthropic-version",
        "anthropic-beta", "openai-organization", "openai-project", "x-goog-user-project"};
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : requestHeaders)
        if (keep.count(Poco::toLower(name))) out.emplace_back(name, value);
    return out;
}

DualLlmTarget dualLlmTarget(Provider provider, const UpstreamEndpoint& endpoint, const std::string& model,
                            const Poco::Net::HTTPRequest& clientRequest) {
    DualLlmTarget target;
    target.provider = provider;
    target.endpoint = endpoint;
    target.model = model;
    std::vector<std::pair<std::string, std::string>> headers;
    for (const auto& [name, value] : clientRequest) headers.emplace_back(name, value);
    target.headers = dualLlmCredentialHeaders(headers);
    const std::string& uri = clientRequest.getURI();
    // Only Gemini's API key travels in the query; anything else there (alt=sse) would change the answer's
    // shape.
    if (auto q = uri.find('?'); q != std::string::npos) {
        std::istringstream params(uri.substr(q + 1));
        std::string param;
        while (std::getline(params, param, '&'))
            if (param.rfind("key=", 0) == 0) target.query += (target.query.empty() ? "?" : "&") + param;
    }
    return target;
}

std::string DualLlmProgress::line() const {
    std::string text = ": archestra-dual-llm phase=" + phase;
    if (round > 0) text += " round=" + std::to_string(round) + "/" + std::to_string(maxRounds);
    // The id comes from the client's request: keep the comment on one line whatever it contains.
    std::string id;
    for (char c : toolCallId) id += (c == '\n' || c == '\r') ? ' ' : c;
    return text + " toolCallId=" + id + "\n\n";
}

json DualLlmOutcome::toJson() const {
    json out = {{"toolCallId", toolCallId},
                {"sanitized", sanitized},
                {"cached", cached},
                {"rounds", rounds},
                {"upstreamCalls", upstreamCalls}};
    out["resultId"] = resultId.empty() ? json(nullptr) : json(resultId);
    out["error"] = error.empty() ? json(nullptr) : json(error);
    return out;
}

std::optional<int> parseDualLlmAnswer(const std::string& text, int maxIndex) {
    std::string body = trim(text);
    // ```json ... ``` (Anthropic models like to fence JSON)
    if (body.rfind("```", 0) == 0) {
        auto firstNewline = body.find('\n');
        auto closing = body.rfind("```");
        if (firstNewline == std::string::npos || closing <= firstNewline) return std::nullopt;
        body = trim(body.substr(firstNewline + 1, closing - firstNewline - 1));
    }
    json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return std::nullopt;
    if (parsed.is_object()) {
        auto it = parsed.find("answer");
        if (it == parsed.end() || parsed.size() != 1) return std::nullopt;
        parsed = *it;
    }
    if (!parsed.is_number_integer()) return std::nullopt;
    long long value = parsed.get<long long>();
    if (value < 0 || value > maxIndex) return std::nullopt;
    return static_cast<int>(value);
}

MainTurn parseMainTurn(const std::string& text) {
    // Plain string search, not std::regex: libstdc++'s regex recurses per character and a long model reply
    // could exhaust the stack.
    MainTurn turn;
    auto q = text.find("QUESTION:");
    auto o = q == std::string::npos ? std::string::npos : text.find("\nOPTIONS:", q);
    if (o != std::string::npos) {
        turn.question = trim(text.substr(q + 9, o - q - 9));
        std::istringstream lines(text.substr(o + 9));
        std::string line;
        while (std::getline(lines, line)) {
            std::string option = trim(line);
            // "0: yes", "1. no", "2) maybe", "- other"
            std::size_t i = 0;
            while (i < option.size() && std::isdigit(static_cast<unsigned char>(option[i]))) ++i;
            if (i > 0 && i < option.size() && (option[i] == ':' || option[i] == '.' || option[i] == ')'))
                option = trim(option.substr(i + 1));
            else if (!option.empty() && (option[0] == '-' || option[0] == '*'))
                option = trim(option.substr(1));
            if (!option.empty()) turn.options.push_back(option);
        }
        turn.parsed = !turn.question.empty() && turn.options.size() >= 2;
        if (turn.parsed) return turn;
        turn = MainTurn{};
    }
    if (text.find("DONE") != std::string::npos) {
        turn.done = true;
        turn.parsed = true;
    }
    return turn;
}

// ---------------------------------------------------------------------------------------------- chat

std::string DualLlm::chat(const DualLlmTarget& target, const nlohmann::json& turns, bool multipleChoice) {
    const UpstreamEndpoint& endpoint = target.endpoint;
    std::string path;
    json body;
    switch (target.provider) {
        case Provider::OpenAi: {
            path = endpoint.basePath + "/chat/completions";
            body = {{"model", target.model}, {"messages", turns}};
            if (acceptsTemperature(target.model)) body["temperature"] = 0;
            if (multipleChoice)
                body["response_format"] = {{"type", "json_schema"},
                                           {"json_schema",
                                            {{"name", "multiple_choice_response"},
                                             {"strict", true},
                                             {"schema",
                                              {{"type", "object"},
                                               {"properties", {{"answer", {{"type", "integer"}}}}},
                                               {"required", {"answer"}},
                                               {"additionalProperties", false}}}}}};
            break;
        }
        case Provider::Anthropic:
            path = endpoint.basePath + "/v1/messages";
            body = {{"model", target.model}, {"max_tokens", 4096}, {"temperature", 0}, {"messages", turns}};
            break;
        case Provider::Gemini: {
            path = endpoint.basePath + "/v1beta/models/" + target.model + ":generateContent";
            json contents = json::array();
            for (const auto& turn : turns)
                contents.push_back({{"role", turn.value("role", "user") == "assistant" ? "model" : "user"},
                                    {"parts", json::array({{{"text", turn.value("content", "")}}})}});
            body = {{"contents", contents}, {"generationConfig", {{"temperature", 0}}}};
            if (multipleChoice) {
                body["generationConfig"]["responseMimeType"] = "application/json";
                body["generationConfig"]["responseSchema"] = {
                    {"type", "OBJECT"},
                    {"properties", {{"answer", {{"type", "INTEGER"}}}}},
                    {"required", {"answer"}}};
            }
            break;
        }
        default:
            throw std::runtime_error("dual LLM: no provider");
    }
    // Only the client's own query string (Gemini's ?key=) is forwarded; OpenAI/Anthropic have none.
    const std::string requestTarget = path + (target.provider == Provider::Gemini ? target.query : "");
    checkRequestTarget(requestTarget);  // the Gemini model comes from the client's path
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_POST, requestTarget,
                                   Poco::Net::HTTPMessage::HTTP_1_1);
    bool hasVersion = false;
    for (const auto& [name, value] : target.headers) {
        request.add(name, value);
        if (Poco::icompare(name, "anthropic-version") == 0) hasVersion = true;
    }
    if (target.provider == Provider::Anthropic && !hasVersion) request.set("anthropic-version", "2023-06-01");
    request.setHost(endpoint.host, endpoint.port);
    request.setContentType("application/json");
    request.setKeepAlive(true);
    const std::string payload = body.dump(-1, ' ', false, json::error_handler_t::replace);
    request.setContentLength(static_cast<std::streamsize>(payload.size()));

    std::string responseBody;
    Poco::Net::HTTPResponse response;
    for (;;) {
        UpstreamSession session = _pool.acquire(endpoint);
        const bool reused = session.reused;
        try {
            std::ostream& out = session.session->sendRequest(request);
            out.write(payload.data(), static_cast<std::streamsize>(payload.size()));
            out.flush();
            std::istream& in = session.session->receiveResponse(response);
            responseBody.clear();
            Poco::StreamCopier::copyToString(in, responseBody);
            if (response.getKeepAlive()) _pool.release(std::move(session));
            break;
        } catch (const Poco::Exception& error) {
            // A keep-alive connection the upstream closed while idle: the next one (as the proxy does).
            if (reused && dynamic_cast<const Poco::TimeoutException*>(&error) == nullptr) continue;
            throw std::runtime_error("upstream " + endpoint.key() + " failed: " + error.displayText());
        }
    }
    const int status = static_cast<int>(response.getStatus());
    if (status < 200 || status >= 300)
        throw std::runtime_error("upstream answered HTTP " + std::to_string(status) + ": " +
                                 responseBody.substr(0, 300));
    json parsed = json::parse(responseBody, nullptr, false);
    if (!parsed.is_object()) throw std::runtime_error("upstream answer is not a JSON object");
    std::string text;
    try {
        if (target.provider == Provider::OpenAi) {
            const json& content = parsed.at("choices").at(0).at("message").at("content");
            if (content.is_string()) text = content.get<std::string>();
        } else if (target.provider == Provider::Anthropic) {
            for (const auto& block : parsed.at("content"))
                if (block.value("type", "") == "text") text += block.value("text", "");
        } else {
            for (const auto& part : parsed.at("candidates").at(0).at("content").at("parts"))
                if (part.contains("text") && !part.value("thought", false)) text += part.value("text", "");
        }
    } catch (const json::exception& error) {
        throw std::runtime_error(std::string("upstream answer has an unexpected shape: ") + error.what());
    }
    return text;
}

// ---------------------------------------------------------------------------------------------- rounds

DualLlmOutcome DualLlm::sanitize(const DualLlmTarget& target, const DualLlmSettings& settings,
                                 const std::string& profileId, const std::string& toolCallId,
                                 const nlohmann::json& toolResult, const DualLlmProgressFn& progress) {
    DualLlmOutcome outcome;
    outcome.toolCallId = toolCallId;
    const int maxRounds = std::max(1, settings.maxRounds);
    auto report = [&](const std::string& phase, int round) {
        if (progress) progress(DualLlmProgress{toolCallId, phase, round, maxRounds});
    };
    // Gemini has no call ids ("<name>#<n>" repeats across conversations): the content makes the key unique.
    const std::string cacheKey =
        target.provider == Provider::Gemini ? toolCallId + "@" + shortHash(toolResult.dump()) : toolCallId;
    try {
        if (auto cached = _store.find(profileId, cacheKey)) {
            outcome.sanitized = true;
            outcome.cached = true;
            outcome.summary = cached->result;
            outcome.resultId = cached->id;
            report("cached", 0);
            return outcome;
        }
    } catch (const std::exception& error) {
        // Without the cache the rounds still work; the result is just not reused.
        std::cerr << "dual LLM: cache lookup failed: " << error.what() << std::endl;
    }
    report("start", 0);
    const std::string data = toolResult.dump(2, ' ', false, json::error_handler_t::replace);
    std::string mainPrompt =
        replaceAll(settings.mainAgentPrompt, "{{originalUserRequest}}", "process this data");
    if (mainPrompt.find("QUESTION:") == std::string::npos) mainPrompt += kMainProtocol;
    json mainTurns = json::array({{{"role", "user"}, {"content", mainPrompt}}});
    std::vector<std::string> qa;
    try {
        for (int round = 1; round <= maxRounds; ++round) {
            report("question", round);
            std::string reply = chat(target, mainTurns, false);
            ++outcome.upstreamCalls;
            MainTurn turn = parseMainTurn(reply);
            if (!turn.parsed)
                throw std::runtime_error(
                    "round " + std::to_string(round) +
                    ": the main model's reply is neither a QUESTION with OPTIONS nor DONE");
            mainTurns.push_back({{"role", "assistant"}, {"content", reply}});
            if (turn.done) break;
            outcome.rounds = round;
            std::string options;
            for (std::size_t i = 0; i < turn.options.size(); ++i)
                options +=
                    std::to_string(i) + ": " + turn.options[i] + (i + 1 < turn.options.size() ? "\n" : "");
            const int maxIndex = static_cast<int>(turn.options.size()) - 1;
            std::string quarantinedPrompt = settings.quarantinedAgentPrompt;
            if (quarantinedPrompt.find("{{maxIndex}}") == std::string::npos)
                quarantinedPrompt += kAnswerProtocol;
            quarantinedPrompt = replaceAll(quarantinedPrompt, "{{question}}", turn.question);
            quarantinedPrompt = replaceAll(quarantinedPrompt, "{{options}}", options);
            quarantinedPrompt = replaceAll(quarantinedPrompt, "{{maxIndex}}", std::to_string(maxIndex));
            // The data last, so placeholders inside it stay literal text.
            quarantinedPrompt = replaceAll(quarantinedPrompt, "{{toolResultData}}", data);
            report("answer", round);
            std::string answerText =
                chat(target, json::array({{{"role", "user"}, {"content", quarantinedPrompt}}}), true);
            ++outcome.upstreamCalls;
            auto index = parseDualLlmAnswer(answerText, maxIndex);
            // Unlike the original (which took the last option), an unusable answer ends in "untrusted".
            if (!index)
                throw std::runtime_error(
                    "round " + std::to_string(round) +
                    ": the quarantined model did not answer with an option index from 0 to " +
                    std::to_string(maxIndex));
            const std::string answer =
                "Answer: " + std::to_string(*index) + " (" + turn.options[*index] + ")";
            mainTurns.push_back({{"role", "user"}, {"content", answer}});
            qa.push_back("Q: " + turn.question);
            qa.push_back("A: " + turn.options[*index]);
        }
        std::string qaText;
        for (std::size_t i = 0; i < qa.size(); ++i) qaText += qa[i] + (i + 1 < qa.size() ? "\n" : "");
        json summaryTurns = json::array(
            {{{"role", "user"}, {"content", replaceAll(settings.summaryPrompt, "{{qaText}}", qaText)}}});
        report("summary", outcome.rounds);
        std::string summary = trim(chat(target, summaryTurns, false));
        ++outcome.upstreamCalls;
        if (summary.empty()) throw std::runtime_error("the summary is empty");
        mainTurns.push_back(summaryTurns[0]);
        mainTurns.push_back({{"role", "assistant"}, {"content", summary}});
        outcome.summary = summary;
        outcome.conversation = mainTurns;
        outcome.sanitized = true;
    } catch (const std::exception& error) {
        outcome.error = error.what();
        outcome.conversation = mainTurns;
        std::cerr << "dual LLM: tool call " << toolCallId << " stays untrusted: " << outcome.error
                  << std::endl;
        report("failed", outcome.rounds);
        return outcome;
    }
    try {
        outcome.resultId = _store.save(profileId, cacheKey, outcome.conversation, outcome.summary);
    } catch (const std::exception& error) {
        std::cerr << "dual LLM: storing the result of " << toolCallId << " failed: " << error.what()
                  << std::endl;
    }
    report("done", outcome.rounds);
    return outcome;
}

DualLlmApplied DualLlm::apply(const DualLlmTarget& target, const ProviderAdapter& adapter,
                              const std::string& profileId, const RequestView& view,
                              const policy::ContextEvaluation& evaluation, const nlohmann::json& body,
                              std::optional<nlohmann::json>& rewritten, const DualLlmProgressFn& progress) {
    DualLlmApplied applied;
    std::optional<DualLlmSettings> settings;
    try {
        settings = _store.activeSettings();
    } catch (const std::exception& error) {
        std::cerr << "dual LLM: reading the config failed: " << error.what() << std::endl;
    }
    for (std::size_t i = 0; i < evaluation.perResult.size() && i < view.toolResults.size(); ++i) {
        if (evaluation.perResult[i].verdict != policy::Verdict::Sanitize) continue;
        const ToolResult& result = view.toolResults[i];
        if (!settings) {
            applied.allSanitized = false;
            applied.decisions.push_back({{"toolCallId", result.toolCallId},
                                         {"sanitized", false},
                                         {"error", "dual LLM is disabled (/api/dual-llm-config)"}});
            continue;
        }
        DualLlmOutcome outcome =
            sanitize(target, *settings, profileId, result.toolCallId, result.content, progress);
        applied.decisions.push_back(outcome.toJson());
        if (!outcome.sanitized) {
            applied.allSanitized = false;
            continue;
        }
        try {
            rewritten =
                adapter.rewriteToolResult(rewritten ? *rewritten : body, result.location, outcome.summary);
        } catch (const std::exception& error) {
            applied.allSanitized = false;
            applied.decisions.back()["sanitized"] = false;
            applied.decisions.back()["error"] = std::string("rewriting the result failed: ") + error.what();
        }
    }
    return applied;
}

}  // namespace archestra::proxy
