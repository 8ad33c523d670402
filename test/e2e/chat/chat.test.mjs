// The chat through the real platform: a conversation whose model (the llm-upstream stand-in, scripted) asks for
// server-everything's echo tool; the platform calls it through the MCP gateway and sends the result back
// through its own LLM proxy, streams AI SDK UI message events and stores every step. Also: both model calls in
// the interaction log with the chat settings' key (kept in the secrets backend), a tool call blocked by an
// invocation policy shown as blocked (from the proxy's structured signal), titles, rename/delete, chat settings,
// bad input, another user who cannot see, change or continue the conversation, token streaming (a delta reaches
// the client while the model's stream is still open), Gemini models, and a prompt's userPrompt as the first
// message.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, adminSession, defaultProfileId, eventually, signUpMember, sleep } from "../lib/harness.mjs";
import { client, script, sseEvents, setupEcho, ECHO } from "./lib.mjs";

let stack;
let platform;
let call;
let memberCall;
let profileId;
let memberUserId;
const KEY = "sk-ant-chat-e2e-key";
const OPENAI_KEY = "sk-openai-chat-e2e-key";
const GEMINI_KEY = "gemini-chat-e2e-key";

before(async () => {
  stack = await startStack({ env: { ARCHESTRA_ORCHESTRATOR: "local", ARCHESTRA_CHAT_OPENAI_API_KEY: OPENAI_KEY, ARCHESTRA_CHAT_GEMINI_API_KEY: GEMINI_KEY } });
  platform = stack.platform;
  const admin = await adminSession(platform);
  call = client(platform, admin);
  profileId = await defaultProfileId(platform);
  await setupEcho(platform, call, profileId);

  const member = await signUpMember(platform, admin, "chatter@example.com", { name: "Chatter", password: "chatter-password-1" });
  memberUserId = member.userId;
  memberCall = client(platform, member.session);
});

after(async () => {
  await stack?.stop();
});

async function newConversation(extra = {}) {
  const res = await call("POST", "/api/chat/conversations", { agentId: profileId, selectedModel: "claude-sonnet-4-5", ...extra });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const userMessage = (text) => ({ id: "m1", role: "user", parts: [{ type: "text", text }] });

test("chat settings: the Anthropic key goes into the secrets backend, is never shown, and can be reset", async () => {
  const initial = await call("GET", "/api/chat-settings");
  assert.equal(initial.status, 200, JSON.stringify(initial.body));
  assert.equal(initial.body.hasAnthropicApiKey, false);
  assert.equal(initial.body.anthropicApiKeySecretId, null);

  const noKey = await newConversation();
  const refused = await call("POST", "/api/chat", { id: noKey.id, messages: [userMessage("hello")] });
  assert.equal(refused.status, 400);
  assert.match(refused.body.error.message, /No Anthropic API key/);

  const set = await call("PATCH", "/api/chat-settings", { anthropicApiKey: KEY });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.equal(set.body.hasAnthropicApiKey, true);
  assert.equal(set.body.anthropicApiKeySource, "settings");
  assert.ok(!JSON.stringify(set.body).includes(KEY), "the key is never answered");
  const secretRows = await platform.psql(`SELECT count(*) FROM secret WHERE id = '${set.body.anthropicApiKeySecretId}'`);
  assert.deepEqual(secretRows, [["1"]]);

  const memberSet = await memberCall("PATCH", "/api/chat-settings", { anthropicApiKey: "sk-member" });
  assert.equal(memberSet.status, 403);
  const memberGet = await memberCall("GET", "/api/chat-settings");
  assert.equal(memberGet.status, 200);
  assert.equal(memberGet.body.hasAnthropicApiKey, true);

  const bad = await call("PATCH", "/api/chat-settings", { anthropicApiKey: 42 });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /anthropicApiKey/);

  // Reset and set again (the test below uses it).
  const reset = await call("PATCH", "/api/chat-settings", { resetApiKey: true });
  assert.equal(reset.body.hasAnthropicApiKey, false);
  assert.deepEqual(await platform.psql(`SELECT count(*) FROM secret WHERE id = '${set.body.anthropicApiKeySecretId}'`), [["0"]]);
  const again = await call("PATCH", "/api/chat-settings", { anthropicApiKey: KEY });
  assert.equal(again.body.hasAnthropicApiKey, true);
});

test("chat settings: OpenAI and Gemini keys are stored the same way, over the environment's, and reset back to it", async () => {
  const initial = await call("GET", "/api/chat-settings");
  for (const p of ["openAi", "gemini"]) {
    assert.equal(initial.body[`${p}ApiKeySource`], "environment", p);
    assert.equal(initial.body[`${p}ApiKeySecretId`], null, p);
  }
  const both = await call("PATCH", "/api/chat-settings", { openAiApiKey: "sk-openai-stored", geminiApiKey: "gemini-stored" });
  assert.equal(both.status, 200, JSON.stringify(both.body));
  assert.ok(!both.text.includes("sk-openai-stored") && !both.text.includes("gemini-stored"), "the keys are never answered");
  for (const p of ["openAi", "gemini"]) {
    assert.equal(both.body[`${p}ApiKeySource`], "settings", p);
    assert.deepEqual(await platform.psql(`SELECT count(*) FROM secret WHERE id = '${both.body[`${p}ApiKeySecretId`]}'`), [["1"]], p);
  }
  assert.equal(both.body.anthropicApiKeySecretId, initial.body.anthropicApiKeySecretId, "Anthropic's key is untouched");

  // Bad input names the field and changes nothing.
  for (const [body, field] of [
    [{ openAiApiKey: "" }, /openAiApiKey/],
    [{ geminiApiKey: ["x"] }, /geminiApiKey/],
    [{ resetGeminiApiKey: "yes" }, /resetGeminiApiKey/],
    [{ openAiApiKey: "sk-x", resetOpenAiApiKey: true }, /resetOpenAiApiKey/],
  ]) {
    const bad = await call("PATCH", "/api/chat-settings", body);
    assert.equal(bad.status, 400, `${JSON.stringify(body)}: ${bad.status} ${bad.text}`);
    assert.match(bad.body.error.message, field);
  }
  const unchanged = await call("GET", "/api/chat-settings");
  assert.equal(unchanged.body.openAiApiKeySecretId, both.body.openAiApiKeySecretId);
  assert.equal(unchanged.body.geminiApiKeySecretId, both.body.geminiApiKeySecretId);

  // Replacing a stored key keeps its secret; resetting one deletes only its own secret.
  const replaced = await call("PATCH", "/api/chat-settings", { geminiApiKey: "gemini-stored-2" });
  assert.equal(replaced.body.geminiApiKeySecretId, both.body.geminiApiKeySecretId);
  const reset = await call("PATCH", "/api/chat-settings", { resetOpenAiApiKey: true, resetGeminiApiKey: true });
  assert.equal(reset.status, 200, JSON.stringify(reset.body));
  for (const p of ["openAi", "gemini"]) {
    assert.equal(reset.body[`${p}ApiKeySource`], "environment", p);
    assert.deepEqual(await platform.psql(`SELECT count(*) FROM secret WHERE id = '${both.body[`${p}ApiKeySecretId`]}'`), [["0"]], p);
  }
  assert.equal(reset.body.anthropicApiKeySource, "settings");
});

test("a conversation with a tool call through the gateway: streamed, stored, in the interaction log", async () => {
  const conversation = await newConversation();
  const tools = await call("GET", `/api/chat/agents/${profileId}/mcp-tools`);
  assert.equal(tools.status, 200, JSON.stringify(tools.body));
  assert.ok(tools.body.some((t) => t.name === ECHO), tools.body.map((t) => t.name).join(","));

  await stack.standin.reset();
  await script(stack.standin, [
    { toolCall: { name: ECHO, arguments: { message: "hello chat" } } },
    { text: "The echo tool answered: hello chat." },
  ]);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage("Please echo hello chat")] });
  assert.equal(res.status, 200, res.text);
  assert.match(res.headers.get("content-type"), /text\/event-stream/);
  assert.equal(res.headers.get("x-vercel-ai-ui-message-stream"), "v1");
  const events = sseEvents(res.text);
  const types = events.map((e) => (typeof e === "string" ? e : e.type));
  assert.equal(types[0], "start");
  assert.deepEqual(types.slice(-2), ["finish", "[DONE]"]);
  const input = events.find((e) => e.type === "tool-input-available");
  assert.equal(input.toolName, ECHO);
  assert.deepEqual(input.input, { message: "hello chat" });
  const output = events.find((e) => e.type === "tool-output-available");
  assert.equal(output.toolCallId, input.toolCallId);
  assert.match(output.output.content[0].text, /Echo: hello chat/);
  const deltas = events.filter((e) => e.type === "text-delta").map((e) => e.delta).join("");
  assert.equal(deltas, "The echo tool answered: hello chat.");
  assert.ok(types.indexOf("tool-output-available") < types.indexOf("text-delta"), types.join(","));

  // Both model calls went through the proxy to the upstream with the settings' key; the second carries the
  // gateway's result as a tool_result.
  const requests = (await stack.standin.requests()).filter((r) => r.path === "/v1/messages");
  assert.equal(requests.length, 2, JSON.stringify(requests.map((r) => r.path)));
  for (const r of requests) assert.equal(r.headers["x-api-key"], KEY);
  const first = JSON.parse(requests[0].body);
  assert.ok(first.tools.some((t) => t.name === ECHO), "the profile's MCP tools are offered to the model");
  const second = JSON.parse(requests[1].body);
  const toolResult = second.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).find((b) => b.type === "tool_result");
  assert.ok(toolResult, JSON.stringify(second.messages));
  assert.match(toolResult.content, /Echo: hello chat/);

  const logged = await eventually(async () => {
    const all = await call("GET", `/api/interactions?limit=100&profileId=${profileId}`);
    return all.body.data?.length >= 2 ? all.body.data : null;
  }, 15000);
  assert.ok(logged?.length >= 2, `two proxied model calls in the interaction log: ${JSON.stringify(logged)}`);
  const gatewayCalls = await eventually(async () => {
    const rows = await platform.psql(
      `SELECT count(*) FROM mcp_tool_calls WHERE agent_id = '${profileId}' AND tool_call->>'name' = '${ECHO}'`,
    );
    return Number(rows[0][0]) >= 1 ? rows : null;
  }, 10000);
  assert.ok(gatewayCalls, "the echo call is in the MCP gateway's log");

  // Every step stored: user, assistant (tool call), tool (result), assistant (text).
  const stored = await call("GET", `/api/chat/conversations/${conversation.id}`);
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.deepEqual(stored.body.messages.map((m) => m.role), ["user", "assistant", "tool", "assistant"]);
  assert.equal(stored.body.messages[1].parts[0].type, "tool-call");
  assert.equal(stored.body.messages[2].parts[0].type, "tool-result");
  assert.equal(stored.body.messages[2].parts[0].blocked, false);
  assert.equal(stored.body.messages[3].parts[0].text, "The echo tool answered: hello chat.");

  // A title from the model (through the proxy), kept unless regenerate.
  await script(stack.standin, [{ text: "Echoing a greeting" }]);
  const titled = await call("POST", `/api/chat/conversations/${conversation.id}/generate-title`, {});
  assert.equal(titled.status, 200, JSON.stringify(titled.body));
  assert.equal(titled.body.title, "Echoing a greeting");
  const kept = await call("POST", `/api/chat/conversations/${conversation.id}/generate-title`, {});
  assert.equal(kept.body.title, "Echoing a greeting");
  await script(stack.standin, [{ text: "A second title" }]);
  const regenerated = await call("POST", `/api/chat/conversations/${conversation.id}/generate-title`, { regenerate: true });
  assert.equal(regenerated.body.title, "A second title");
});

test("a tool call blocked by an invocation policy is shown as blocked and the tool is not run", async () => {
  const conversation = await newConversation();
  await stack.standin.reset();
  await script(stack.standin, [{ toolCall: { name: ECHO, arguments: { message: "a forbidden word" } } }]);
  const before = await platform.psql(`SELECT count(*) FROM mcp_tool_calls WHERE tool_call->'arguments'->>'message' = 'a forbidden word'`);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage("echo a forbidden word")] });
  assert.equal(res.status, 200, res.text);
  const events = sseEvents(res.text);
  const blocked = events.find((e) => e.type === "data-tool-blocked");
  assert.ok(blocked, JSON.stringify(events));
  assert.equal(blocked.data.toolName, ECHO);
  assert.equal(blocked.data.blockedBy, "proxy");
  assert.match(blocked.data.reason, /No forbidden words through echo/);
  assert.ok(!events.some((e) => e.type === "tool-output-available"), "the blocked tool was not called");
  const after = await platform.psql(`SELECT count(*) FROM mcp_tool_calls WHERE tool_call->'arguments'->>'message' = 'a forbidden word'`);
  assert.deepEqual(after, before);
  assert.equal((await stack.standin.requests()).filter((r) => r.path === "/v1/messages").length, 1);
  const stored = await call("GET", `/api/chat/conversations/${conversation.id}`);
  assert.deepEqual(stored.body.messages.map((m) => m.role), ["user", "assistant"]);
  assert.equal(stored.body.messages[1].parts[0].type, "tool-blocked");
  assert.equal(stored.body.messages[1].parts[0].toolCallId, blocked.data.toolCallId);
  assert.match(stored.body.messages[1].parts[0].text, /I tried to invoke the everything_chat__echo tool/, "kept for the model's next turn");
  // The call was streamed, and the chat learnt of the block from the proxy's signal, not from the refusal text:
  // that text is not shown as the model's words.
  assert.equal(JSON.parse((await stack.standin.lastRequest()).body).stream, true);
  assert.ok(blocked.data.toolCallId?.startsWith("toolu_"), JSON.stringify(blocked.data));
  assert.ok(!events.some((e) => e.type === "text-delta" && /I tried to invoke/.test(e.delta)), JSON.stringify(events));
});

/// POSTs /api/chat and reads the UI message stream as it arrives; `onEvent(event)` is awaited per event.
async function streamChat(body, onEvent) {
  const res = await fetch(platform.baseUrl + "/api/chat", {
    method: "POST",
    headers: { cookie: (await adminCookie()).cookie, origin: (await adminCookie()).origin, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const events = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!block.startsWith("data: ")) continue;
      const data = block.slice(6);
      const event = data === "[DONE]" ? data : JSON.parse(data);
      events.push(event);
      await onEvent(event);
    }
  }
  return events;
}

let adminSessionCache;
async function adminCookie() {
  adminSessionCache ??= await adminSession(platform);
  return adminSessionCache;
}

for (const model of ["claude-sonnet-4-5", "gpt-4o", "gemini-2.5-flash"]) {
  test(`token streaming (${model}): the first text delta reaches the browser while the model's stream is still open`, async () => {
    const conversation = await newConversation({ selectedModel: model });
    await stack.standin.reset();
    const text = "Streaming words arrive one by one, not at the end.";
    await script(stack.standin, [{ text, pauseMs: 1500 }]);
    const started = Date.now();
    let firstDeltaAt;
    let upstreamDuringFirstDelta;
    const events = await streamChat({ id: conversation.id, messages: [userMessage("stream please")] }, async (event) => {
      if (event.type === "text-delta" && firstDeltaAt === undefined) {
        firstDeltaAt = Date.now() - started;
        upstreamDuringFirstDelta = (await stack.standin.lastRequest()).outcome;
      }
    });
    const finishedAt = Date.now() - started;
    assert.equal(upstreamDuringFirstDelta, "answering", "the upstream was still streaming when the first delta arrived");
    assert.ok(firstDeltaAt + 1000 < finishedAt, `first delta at ${firstDeltaAt} ms, end at ${finishedAt} ms`);
    const deltas = events.filter((e) => e.type === "text-delta");
    assert.ok(deltas.length >= 5, `several deltas: ${deltas.length}`);
    assert.equal(deltas.map((e) => e.delta).join(""), text);
    assert.equal(deltas[0].delta, "Streaming ");
    assert.equal((await stack.standin.lastRequest()).outcome, "completed");
    const upstream = await stack.standin.lastRequest();
    if (model.startsWith("gemini")) assert.match(upstream.path, /:streamGenerateContent\?alt=sse$/);
    else assert.equal(JSON.parse(upstream.body).stream, true);
    const stored = await call("GET", `/api/chat/conversations/${conversation.id}`);
    assert.deepEqual(stored.body.messages[1].parts, [{ type: "text", text }]);
    console.log(`${model}: first delta after ${firstDeltaAt} ms, stream end after ${finishedAt} ms (upstream pause 1500 ms)`);
  });
}

test("a Gemini model: the tool round through /v1/gemini with ARCHESTRA_CHAT_GEMINI_API_KEY, and a blocked call", async () => {
  const settings = await call("GET", "/api/chat-settings");
  assert.equal(settings.body.hasGeminiApiKey, true);
  const conversation = await newConversation({ selectedModel: "gemini-2.5-flash" });
  await stack.standin.reset();
  await script(stack.standin, [
    { text: "Let me echo. ", toolCall: { name: ECHO, arguments: { message: "hello gemini" } } },
    { text: "Echoed through Gemini." },
  ]);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage("echo hello gemini")] });
  assert.equal(res.status, 200, res.text);
  const events = sseEvents(res.text);
  const input = events.find((e) => e.type === "tool-input-available");
  assert.equal(input?.toolName, ECHO, JSON.stringify(events));
  const output = events.find((e) => e.type === "tool-output-available");
  assert.equal(output.toolCallId, input.toolCallId);
  assert.match(output.output.content[0].text, /Echo: hello gemini/);
  assert.equal(events.filter((e) => e.type === "text-delta").map((e) => e.delta).join(""), "Let me echo. Echoed through Gemini.");
  const requests = (await stack.standin.requests()).filter((r) => r.path.includes("gemini-2.5-flash:streamGenerateContent"));
  assert.equal(requests.length, 2, JSON.stringify((await stack.standin.requests()).map((r) => r.path)));
  for (const r of requests) assert.equal(r.headers["x-goog-api-key"], GEMINI_KEY);
  const first = JSON.parse(requests[0].body);
  assert.ok(first.tools[0].functionDeclarations.some((t) => t.name === ECHO));
  const second = JSON.parse(requests[1].body);
  const response = second.contents.flatMap((c) => c.parts).find((p) => p.functionResponse);
  assert.equal(response.functionResponse.name, ECHO);
  assert.match(response.functionResponse.response.content, /Echo: hello gemini/);

  // The invocation policy blocks a Gemini call too, announced by the proxy's signal.
  await stack.standin.reset();
  await script(stack.standin, [{ toolCall: { name: ECHO, arguments: { message: "a forbidden word" } } }]);
  const blockedRes = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage("echo a forbidden word")] });
  const blockedEvents = sseEvents(blockedRes.text);
  const blocked = blockedEvents.find((e) => e.type === "data-tool-blocked");
  assert.equal(blocked?.data.toolName, ECHO, JSON.stringify(blockedEvents));
  assert.equal(blocked.data.blockedBy, "proxy");
  assert.ok(!blockedEvents.some((e) => e.type === "tool-output-available"));
});

test("a prompt's userPrompt is the first message of a new conversation; GET /api/chat/mcp-tools", async () => {
  const prompt = await call("POST", "/api/prompts", {
    name: "Starter",
    agentId: profileId,
    systemPrompt: "Answer in one line.",
    userPrompt: "Summarise what you can do for me.",
  });
  assert.equal(prompt.status, 200, JSON.stringify(prompt.body));
  const conversation = await newConversation({ promptId: prompt.body.id });
  await stack.standin.reset();
  await script(stack.standin, [{ text: "I can echo things." }]);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [] });
  assert.equal(res.status, 200, res.text);
  assert.equal(sseEvents(res.text).filter((e) => e.type === "text-delta").map((e) => e.delta).join(""), "I can echo things.");
  const upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.system, "Answer in one line.");
  assert.deepEqual(upstream.messages, [{ role: "user", content: [{ type: "text", text: "Summarise what you can do for me." }] }]);
  const stored = await call("GET", `/api/chat/conversations/${conversation.id}`);
  assert.deepEqual(stored.body.messages[0].parts, [{ type: "text", text: "Summarise what you can do for me." }]);
  // Only a new conversation starts that way; without a userPrompt an empty list is still a 400.
  const again = await call("POST", "/api/chat", { id: conversation.id, messages: [] });
  assert.equal(again.status, 400);
  assert.match(again.body.error.message, /messages/);
  const plain = await newConversation();
  const none = await call("POST", "/api/chat", { id: plain.id, messages: [] });
  assert.equal(none.status, 400);
  assert.match(none.body.error.message, /userPrompt/);
  assert.deepEqual(await platform.psql(`SELECT count(*) FROM messages WHERE conversation_id = '${plain.id}'`), [["0"]]);

  const tools = await call("GET", "/api/chat/mcp-tools");
  assert.equal(tools.status, 200, JSON.stringify(tools.body));
  assert.ok(tools.body.some((t) => t.name === ECHO && t.inputSchema?.type === "object"), JSON.stringify(tools.body));
  const member = await memberCall("GET", "/api/chat/mcp-tools");
  assert.equal(member.status, 404, "a member outside the default profile's teams");
});

test("conversations are per user: another user cannot list, read, change, continue or delete them", async () => {
  const conversation = await newConversation({ title: "Private" });
  const list = await memberCall("GET", "/api/chat/conversations");
  assert.equal(list.status, 200);
  assert.ok(!list.body.some((c) => c.id === conversation.id));
  for (const [method, p, body] of [
    ["GET", `/api/chat/conversations/${conversation.id}`],
    ["PATCH", `/api/chat/conversations/${conversation.id}`, { title: "mine now" }],
    ["DELETE", `/api/chat/conversations/${conversation.id}`],
    ["POST", `/api/chat/conversations/${conversation.id}/generate-title`, { regenerate: true }],
    ["POST", "/api/chat", { id: conversation.id, messages: [userMessage("hi")] }],
  ]) {
    const res = await memberCall(method, p, body);
    assert.equal(res.status, 404, `${method} ${p}: ${res.status} ${res.text}`);
  }
  // A member chats only with profiles of its teams (those it sees in /api/agents).
  const outside = await memberCall("POST", "/api/chat/conversations", { agentId: profileId, selectedModel: "claude-sonnet-4-5" });
  assert.equal(outside.status, 400, JSON.stringify(outside.body));
  assert.match(outside.body.error.message, /agentId/);
  assert.equal((await memberCall("GET", `/api/chat/agents/${profileId}/mcp-tools`)).status, 404);
  const team = await call("POST", "/api/teams", { name: "Chatters" });
  assert.equal(team.status, 200, JSON.stringify(team.body));
  assert.equal((await call("POST", `/api/teams/${team.body.id}/members`, { userId: memberUserId })).status, 200);
  const teamProfile = await call("POST", "/api/agents", { name: "Chatters' profile", teams: [team.body.id] });
  assert.equal(teamProfile.status, 200, JSON.stringify(teamProfile.body));
  const own = await memberCall("POST", "/api/chat/conversations", { agentId: teamProfile.body.id, selectedModel: "claude-sonnet-4-5" });
  assert.equal(own.status, 200, JSON.stringify(own.body));
  await stack.standin.reset();
  await script(stack.standin, [{ text: "Hello member." }]);
  const memberTurn = await memberCall("POST", "/api/chat", { id: own.body.id, messages: [userMessage("hi")] });
  assert.equal(memberTurn.status, 200, memberTurn.text);
  assert.equal(sseEvents(memberTurn.text).filter((e) => e.type === "text-delta").map((e) => e.delta).join(""), "Hello member.");
  // Out of the team: the conversation stays readable, but the profile can no longer be used.
  assert.equal((await call("DELETE", `/api/teams/${team.body.id}/members/${memberUserId}`)).status, 200);
  const revoked = await memberCall("POST", "/api/chat", { id: own.body.id, messages: [userMessage("again")] });
  assert.equal(revoked.status, 403, revoked.text);
  assert.equal((await memberCall("GET", `/api/chat/conversations/${own.body.id}`)).status, 200);
  const adminList = await call("GET", "/api/chat/conversations");
  assert.ok(!adminList.body.some((c) => c.id === own.body.id), "the admin does not see the member's conversation either");
  assert.equal((await call("GET", `/api/chat/conversations/${own.body.id}`)).status, 404);
  const still = await call("GET", `/api/chat/conversations/${conversation.id}`);
  assert.equal(still.body.title, "Private");
});

test("rename, delete, prompt as system prompt, and bad input", async () => {
  const prompt = await call("POST", "/api/prompts", { name: "Pirate", agentId: profileId, systemPrompt: "Talk like a pirate." });
  assert.equal(prompt.status, 200, JSON.stringify(prompt.body));
  const conversation = await newConversation({ promptId: prompt.body.id });
  assert.equal(conversation.promptId, prompt.body.id);
  await stack.standin.reset();
  await script(stack.standin, [{ text: "Arr." }]);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage("hi")] });
  assert.equal(res.status, 200);
  const upstream = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(upstream.system, "Talk like a pirate.");

  const renamed = await call("PATCH", `/api/chat/conversations/${conversation.id}`, { title: "Renamed" });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.title, "Renamed");
  const listed = await call("GET", "/api/chat/conversations");
  assert.equal(listed.body.find((c) => c.id === conversation.id).title, "Renamed");
  const deleted = await call("DELETE", `/api/chat/conversations/${conversation.id}`);
  assert.deepEqual(deleted.body, { success: true });
  assert.equal((await call("GET", `/api/chat/conversations/${conversation.id}`)).status, 404);
  assert.deepEqual(await platform.psql(`SELECT count(*) FROM messages WHERE conversation_id = '${conversation.id}'`), [["0"]]);

  const cases = [
    ["POST", "/api/chat/conversations", { selectedModel: "x" }, /agentId/],
    ["POST", "/api/chat/conversations", { agentId: "00000000-0000-4000-8000-000000000000" }, /agentId/],
    ["POST", "/api/chat/conversations", { agentId: profileId, promptId: "00000000-0000-4000-8000-000000000000" }, /promptId/],
    ["POST", "/api/chat", { id: "not-a-uuid", messages: [] }, /id/],
    ["POST", "/api/chat", { id: conversation.id }, /messages/],
  ];
  const count = await platform.psql("SELECT count(*) FROM conversations");
  for (const [method, p, body, field] of cases) {
    const r = await call(method, p, body);
    assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.status} ${r.text}`);
    assert.match(r.body.error.message, field);
  }
  const live = await newConversation();
  const assistantLast = await call("POST", "/api/chat", { id: live.id, messages: [{ role: "assistant", parts: [{ type: "text", text: "x" }] }] });
  assert.equal(assistantLast.status, 400);
  assert.match(assistantLast.body.error.message, /messages\[0\]\.role/);
  assert.deepEqual(await platform.psql(`SELECT count(*) FROM messages WHERE conversation_id = '${live.id}'`), [["0"]]);
  assert.deepEqual(await platform.psql("SELECT count(*) - 1 FROM conversations"), count);
});

test("an OpenAI model: the tool round through /v1/openai with ARCHESTRA_CHAT_OPENAI_API_KEY", async () => {
  const settings = await call("GET", "/api/chat-settings");
  assert.equal(settings.body.hasOpenAiApiKey, true);
  const conversation = await newConversation({ selectedModel: "gpt-4o" });
  await stack.standin.reset();
  await script(stack.standin, [
    { toolCall: { name: ECHO, arguments: { message: "hello openai" } } },
    { text: "Echoed through OpenAI." },
  ]);
  const res = await call("POST", "/api/chat", { id: conversation.id, messages: [{ role: "user", content: "echo hello openai" }] });
  assert.equal(res.status, 200, res.text);
  const events = sseEvents(res.text);
  const output = events.find((e) => e.type === "tool-output-available");
  assert.match(output?.output.content[0].text ?? "", /Echo: hello openai/, JSON.stringify(events));
  assert.equal(events.filter((e) => e.type === "text-delta").map((e) => e.delta).join(""), "Echoed through OpenAI.");
  const requests = (await stack.standin.requests()).filter((r) => r.path === "/v1/chat/completions");
  assert.equal(requests.length, 2);
  for (const r of requests) assert.equal(r.headers.authorization, `Bearer ${OPENAI_KEY}`);
  const second = JSON.parse(requests[1].body);
  const tool = second.messages.find((m) => m.role === "tool");
  assert.match(tool.content, /Echo: hello openai/);
  assert.equal(second.messages.find((m) => m.role === "assistant").tool_calls[0].function.name, ECHO);

  // A key stored in the chat settings goes upstream instead of the environment's.
  const STORED = "sk-openai-stored-chat-key";
  const set = await call("PATCH", "/api/chat-settings", { openAiApiKey: STORED });
  assert.equal(set.body.openAiApiKeySource, "settings");
  await stack.standin.reset();
  await script(stack.standin, [{ text: "Stored key." }]);
  const again = await call("POST", "/api/chat", { id: conversation.id, messages: [{ role: "user", content: "again" }] });
  assert.equal(again.status, 200, again.text);
  const upstream = (await stack.standin.requests()).filter((r) => r.path === "/v1/chat/completions");
  assert.equal(upstream.length, 1);
  assert.equal(upstream[0].headers.authorization, `Bearer ${STORED}`);
  await call("PATCH", "/api/chat-settings", { resetOpenAiApiKey: true });
});

// Last: the limit stays on the profile. The proxy does not count tool calls, the gateway does, so a call over
// a tool_calls limit passes the proxy and is refused by the gateway: a tool result marked blocked.
test("a tool call the gateway refuses (tool_calls limit) is shown as blocked by the gateway", async () => {
  const limit = await call("POST", "/api/limits", {
    entityType: "agent", entityId: profileId, limitType: "tool_calls", limitValue: 1, mcpServerName: "Everything Chat", toolName: ECHO,
  });
  assert.equal(limit.status, 200, JSON.stringify(limit.body));
  let blocked;
  const seen = [];
  // The gateway reads call limits from a snapshot at most 1 s old: a turn per 1.2 s.
  for (let turn = 0; turn < 4 && !blocked; turn++) {
    await sleep(1200);
    const conversation = await newConversation();
    await stack.standin.reset();
    await script(stack.standin, [{ toolCall: { name: ECHO, arguments: { message: `turn ${turn}` } } }, { text: "ok" }]);
    const res = await call("POST", "/api/chat", { id: conversation.id, messages: [userMessage(`echo turn ${turn}`)] });
    assert.equal(res.status, 200, res.text);
    const events = sseEvents(res.text);
    seen.push(events.filter((e) => e.type?.startsWith("tool") || e.type === "data-tool-blocked"));
    blocked = events.find((e) => e.type === "data-tool-blocked");
    if (blocked) {
      assert.equal(blocked.data.blockedBy, "gateway");
      assert.equal(blocked.data.toolName, ECHO);
      const output = events.find((e) => e.type === "tool-output-available");
      assert.equal(output.output.isError, true);
      assert.equal(output.output._meta.archestra.blocked, true);
      const stored = await call("GET", `/api/chat/conversations/${conversation.id}`);
      const result = stored.body.messages.find((m) => m.role === "tool").parts[0];
      assert.equal(result.blocked, true);
    }
  }
  assert.ok(blocked, `the gateway refused a call over the limit: ${JSON.stringify(seen)}`);
});
