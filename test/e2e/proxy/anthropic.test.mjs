// The official `@anthropic-ai/sdk` talks to archestra-platform, which talks to the LLM upstream stand-in:
// messages (plain and streamed), thinking blocks, parallel tool use assembled by the SDK, error classes with
// headers, slow and broken upstreams, and what reaches the upstream (bytes, anthropic-* headers).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import Anthropic from "@anthropic-ai/sdk";
import { startStack, defaultProfileId, eventually, fixture } from "../lib/harness.mjs";
import { anthropicClient, anthropicTools as tools } from "../lib/sdk-clients.mjs";

let stack;
let profileId;
let messageCalls = 0;

const MODEL = "claude-sonnet-4-5-20250929";
function client(options = {}) {
  return anthropicClient(stack.platform, profileId, options);
}

const ask = (text) => [{ role: "user", content: text }];

before(async () => {
  stack = await startStack();
  profileId = await defaultProfileId(stack.platform);
});

after(async () => {
  await stack?.stop();
});

test("non-streaming text: the SDK gets the recorded message, cache usage fields included", async () => {
  messageCalls++;
  const message = await client().messages.create({ model: MODEL, max_tokens: 256, messages: ask("Hello") });
  assert.equal(message.id, "msg_013Zva2CMHLNnXjNJJKqJ2EF");
  assert.equal(message.content[0].type, "text");
  assert.equal(message.content[0].text, "Hello! How can I help you today?");
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.usage.output_tokens, 10);
  assert.equal(message.usage.cache_read_input_tokens, 0); // dropped by the original's usage schema
});

test("streaming text: text deltas in order, the real message_delta and message_stop", async () => {
  messageCalls++;
  const stream = client().messages.stream({ model: MODEL, max_tokens: 256, messages: ask("Hello") });
  const deltas = [];
  const events = [];
  stream.on("streamEvent", (event) => events.push(event.type));
  stream.on("text", (delta) => deltas.push(delta));
  const message = await stream.finalMessage();
  assert.deepEqual(deltas, ["Hello", "! How can I", " help you today?"]);
  assert.equal(message.content[0].text, "Hello! How can I help you today?");
  assert.equal(message.stop_reason, "end_turn");
  assert.equal(message.usage.output_tokens, 10); // from message_delta, not message_start's 1
  assert.equal(events[0], "message_start");
  assert.equal(events[events.length - 1], "message_stop");
  assert.ok(events.includes("message_delta"));
});

test("streaming with thinking: thinking and signature blocks reach the SDK", async () => {
  messageCalls++;
  const stream = client().messages.stream({
    model: MODEL,
    max_tokens: 4096,
    thinking: { type: "enabled", budget_tokens: 2048 },
    messages: ask("Hi. scenario:thinking"),
  });
  const message = await stream.finalMessage();
  assert.equal(message.content[0].type, "thinking");
  assert.equal(message.content[0].thinking, "The user greets me.\nI should answer briefly.");
  assert.match(message.content[0].signature, /^EqQBCgIYAhIM/);
  assert.equal(message.content[1].type, "text");
});

test("a stream without tool calls is relayed byte for byte (ping, thinking, real message_delta included)", async () => {
  messageCalls++;
  const res = await fetch(`${stack.platform.baseUrl}/v1/anthropic/${profileId}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-ant-test-key", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({
      model: MODEL,
      max_tokens: 4096,
      stream: true,
      thinking: { type: "enabled", budget_tokens: 2048 },
      messages: ask("scenario:thinking"),
    }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const relayed = await res.text();
  assert.equal(relayed, fixture("anthropic/messages-stream-thinking-text.sse"));
});

test("streaming parallel tool use: the SDK assembles both tool_use blocks with full input; stop_reason tool_use", async () => {
  messageCalls++;
  const stream = client().messages.stream({
    model: MODEL,
    max_tokens: 1024,
    tools,
    messages: ask("Weather in Paris, then email Bob. scenario:parallel-tools"),
  });
  const message = await stream.finalMessage();
  assert.equal(message.stop_reason, "tool_use"); // the original always said end_turn
  assert.equal(message.usage.output_tokens, 89);
  const uses = message.content.filter((b) => b.type === "tool_use");
  assert.deepEqual(
    uses.map((u) => [u.id, u.name, u.input]),
    [
      ["toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", { location: "Paris, France" }],
      ["toolu_01Lm2QbH8WbdxS7a3bR4VkYp", "send_email", { to: "bob@example.com", body: "Bring an umbrella" }],
    ],
  );
  assert.equal(message.content[0].text, "Okay, let me check the weather and email Bob.");
});

test("non-streaming parallel tool use", async () => {
  messageCalls++;
  const message = await client().messages.create({
    model: MODEL,
    max_tokens: 1024,
    tools,
    messages: ask("scenario:parallel-tools"),
  });
  assert.equal(message.stop_reason, "tool_use");
  assert.deepEqual(
    message.content.filter((b) => b.type === "tool_use").map((u) => u.name),
    ["get_weather", "send_email"],
  );
});

test("upstream 401 becomes Anthropic.AuthenticationError with the provider's error body", async () => {
  messageCalls++;
  await assert.rejects(
    client({ apiKey: "sk-ant-bad" }).messages.create({ model: MODEL, max_tokens: 16, messages: ask("scenario:error-401") }),
    (err) => {
      assert.ok(err instanceof Anthropic.AuthenticationError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 401);
      assert.equal(err.error.error.type, "authentication_error");
      assert.equal(err.error.error.message, "invalid x-api-key");
      return true;
    },
  );
});

test("upstream 429 becomes Anthropic.RateLimitError with retry-after and anthropic-ratelimit-* headers", async () => {
  messageCalls++;
  await assert.rejects(
    client().messages.create({ model: MODEL, max_tokens: 16, messages: ask("scenario:error-429") }),
    (err) => {
      assert.ok(err instanceof Anthropic.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.headers.get("retry-after"), "7");
      assert.equal(err.headers.get("anthropic-ratelimit-requests-remaining"), "0");
      assert.equal(err.headers.get("request-id"), "req_standin_err429");
      assert.equal(err.error.error.type, "rate_limit_error");
      return true;
    },
  );
});

test("upstream 500 becomes Anthropic.InternalServerError", async () => {
  messageCalls++;
  await assert.rejects(
    client().messages.create({ model: MODEL, max_tokens: 16, messages: ask("scenario:error-500") }),
    (err) => {
      assert.ok(err instanceof Anthropic.InternalServerError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 500);
      assert.equal(err.error.error.type, "api_error");
      return true;
    },
  );
});

test("an upstream error on a streaming request arrives as the SDK's error class with its status", async () => {
  messageCalls++;
  const stream = client().messages.stream({ model: MODEL, max_tokens: 16, messages: ask("scenario:error-429") });
  await assert.rejects(stream.finalMessage(), (err) => err instanceof Anthropic.RateLimitError && err.status === 429);
});

test("slow first byte: the answer still arrives (non-streaming and streaming)", async () => {
  messageCalls += 2;
  let started = Date.now();
  const message = await client().messages.create({
    model: MODEL,
    max_tokens: 16,
    messages: ask("scenario:slow-first-byte-1500"),
  });
  assert.ok(Date.now() - started >= 1400);
  assert.equal(message.content[0].text, "Hello! How can I help you today?");
  started = Date.now();
  const streamed = await client()
    .messages.stream({ model: MODEL, max_tokens: 16, messages: ask("scenario:slow-first-byte-1500") })
    .finalMessage();
  assert.ok(Date.now() - started >= 1400);
  assert.equal(streamed.content[0].text, "Hello! How can I help you today?");
});

test("text deltas are relayed as they arrive", async () => {
  messageCalls++;
  const started = Date.now();
  const stream = client().messages.stream({ model: MODEL, max_tokens: 16, messages: ask("scenario:slow-stream-200") });
  let firstTextAt = 0;
  stream.on("text", () => {
    if (!firstTextAt) firstTextAt = Date.now() - started;
  });
  await stream.finalMessage();
  const total = Date.now() - started;
  // 9 events 200 ms apart: the first text delta is event 4 (~800 ms), the end ~1800 ms.
  assert.ok(firstTextAt > 0 && total - firstTextAt >= 700, `first text at ${firstTextAt} ms, end at ${total} ms`);
});

test("a stream that dies midway makes the SDK raise", async () => {
  messageCalls++;
  const stream = client().messages.stream({ model: MODEL, max_tokens: 16, messages: ask("scenario:stream-dies") });
  const seen = [];
  stream.on("streamEvent", (event) => seen.push(event.type));
  await assert.rejects(stream.finalMessage());
  assert.ok(seen.includes("message_start"), `events before the break: ${seen.join(",")}`);
});

test("after an upstream stream died, the next request is served normally (no stale connection, no hang)", async () => {
  messageCalls++;
  const message = await client({ timeout: 5000 }).messages.create({ model: MODEL, max_tokens: 16, messages: ask("Hello again") });
  assert.equal(message.content[0].text, "Hello! How can I help you today?");
});

test("the request body reaches the upstream byte for byte (thinking, metadata, unknown fields kept)", async () => {
  messageCalls++;
  const body =
    '{"model":"claude-sonnet-4-5-20250929","max_tokens":1024,  "thinking":{"type":"enabled","budget_tokens":2048},' +
    '"metadata":{"user_id":"user-1234"},"top_k":5,"x_future_param":{"a":[true,null,1e3]},\n' +
    '"system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],' +
    '"messages":[{"role":"user","content":"Grüße 👋"}]}';
  const res = await fetch(`${stack.platform.baseUrl}/v1/anthropic/${profileId}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "sk-ant-test-key", "anthropic-version": "2023-06-01" },
    body,
  });
  assert.equal(res.status, 200);
  await res.json();
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.path, "/v1/messages");
  assert.equal(upstream.headers["x-api-key"], "sk-ant-test-key");
  assert.equal(upstream.headers["anthropic-version"], "2023-06-01");
  assert.equal(Buffer.from(upstream.bodyBase64, "base64").toString("utf8"), body);
});

// Note: @anthropic-ai/sdk 1.x sends the API key as "Authorization: Bearer"; 0.x sent "x-api-key". Both must work.
test("the SDK's credential, anthropic-version and anthropic-beta go upstream unchanged; upstream headers come back", async () => {
  messageCalls++;
  const { data, response } = await client({
    defaultHeaders: { "anthropic-version": "2023-06-01", "anthropic-beta": "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14" },
  })
    .messages.create({ model: MODEL, max_tokens: 16, messages: ask("Hello") })
    .withResponse();
  assert.equal(data.content[0].text, "Hello! How can I help you today?");
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.headers.authorization, "Bearer sk-ant-test-key");
  assert.equal(upstream.headers["anthropic-version"], "2023-06-01");
  assert.equal(upstream.headers["anthropic-beta"], "prompt-caching-2024-07-31,interleaved-thinking-2025-05-14");
  assert.match(response.headers.get("request-id") ?? "", /^req_standin/);
  assert.equal(response.headers.get("anthropic-ratelimit-requests-remaining"), "3999");
});

test("other paths pass through with the profile segment stripped: models.list() hits upstream /v1/models", async () => {
  const ids = [];
  for await (const model of client().models.list()) ids.push(model.id);
  assert.deepEqual(ids, ["claude-sonnet-4-5-20250929"]);
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.method, "GET");
  assert.equal(upstream.path.split("?")[0], "/v1/models"); // the original sent /v1/v1/models
});

// Errors the platform raises itself on the Anthropic routes (not the upstream's) come in Anthropic's shape too.
test("an unknown profile or a profile segment that is not a UUID: Anthropic-shaped errors the SDK reads", async () => {
  const before = (await stack.standin.requests()).length;
  await assert.rejects(
    anthropicClient(stack.platform, "3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01").messages.create({
      model: MODEL,
      max_tokens: 8,
      messages: ask("Hello"),
    }),
    (err) => {
      assert.ok(err instanceof Anthropic.NotFoundError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.error?.type, "error", JSON.stringify(err.error));
      assert.equal(err.error?.error?.type, "not_found_error");
      assert.match(err.error?.error?.message, /3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01/);
      return true;
    },
  );
  await assert.rejects(
    anthropicClient(stack.platform, "not-a-uuid").messages.create({ model: MODEL, max_tokens: 8, messages: ask("Hello") }),
    (err) => {
      assert.ok(err instanceof Anthropic.BadRequestError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.error?.type, "error", JSON.stringify(err.error));
      assert.equal(err.error?.error?.type, "invalid_request_error");
      return true;
    },
  );
  assert.equal((await stack.standin.requests()).length, before);
});

test("interaction log: one row per messages request that reached the upstream", async () => {
  const upstreamCalls = (await stack.standin.requests()).filter((r) => r.path === "/v1/messages").length;
  assert.equal(upstreamCalls, messageCalls);
  await eventually(async () => {
    const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions");
    return Number(count) === messageCalls;
  }, 15000);
  const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions WHERE type = 'anthropic:messages'");
  assert.equal(Number(count), messageCalls);
  // The streamed tool-use call is stored with the assembled message and the real token counts.
  const rows = await stack.platform.psql(
    "SELECT output_tokens, response->>'stop_reason' FROM interactions WHERE request::text LIKE '%scenario:parallel-tools%' ORDER BY created_at",
  );
  assert.deepEqual(rows, [["89", "tool_use"], ["89", "tool_use"]]);
});
