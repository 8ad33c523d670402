// The official `openai` SDK talks to archestra-platform, which talks to the LLM upstream stand-in: asserts what
// the SDK hands the application (text, streamed text, assembled parallel tool calls, error classes with status and
// headers, slow and broken upstreams) and what reaches the upstream (bytes, headers).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { startStack, defaultProfileId, eventually, fixture, sleep } from "../lib/harness.mjs";
import { openAiClient, openAiTools as tools } from "../lib/sdk-clients.mjs";

let stack;
let profileId;
let chatCalls = 0; // chat requests sent through the proxy (each reaches the upstream once: maxRetries 0)

function client(options = {}) {
  return openAiClient(stack.platform, profileId, options);
}

const ask = (text) => [{ role: "user", content: text }];

before(async () => {
  stack = await startStack();
  profileId = await defaultProfileId(stack.platform);
});

after(async () => {
  await stack?.stop();
});

test("non-streaming text: the SDK gets the recorded completion, unknown response fields included", async () => {
  chatCalls++;
  const completion = await client().chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  assert.equal(completion.id, "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT");
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.equal(completion.usage.total_tokens, 29);
  assert.equal(completion.service_tier, "default"); // dropped by the original's response schema
  assert.equal(completion.system_fingerprint, "fp_eb9dce56a8");
});

test("streaming text: every delta arrives, in order, and the usage chunk is passed on", async () => {
  chatCalls++;
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("Hello"),
    stream: true,
    stream_options: { include_usage: true },
  });
  const deltas = [];
  let finish = null;
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.delta?.content) deltas.push(choice.delta.content);
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  assert.deepEqual(deltas, ["Hello", "!", " How", " can", " I", " help", " you", " today", "?"]);
  assert.equal(finish, "stop");
  assert.ok(usage, "the usage-only chunk (choices: []) must reach the client");
  assert.equal(usage.total_tokens, 29);
});

test("streaming without stream_options (the SDK's default): tokens and cost are recorded, and no usage reaches the client", async () => {
  chatCalls++;
  const stream = await client().chat.completions.create({ model: "gpt-4o", messages: ask("Hello, usage-unasked"), stream: true });
  const received = [];
  for await (const chunk of stream) received.push(chunk);
  assert.ok(received.length > 1);
  for (const chunk of received) {
    assert.ok(!("usage" in chunk), `a chunk with a usage member reached the client: ${JSON.stringify(chunk)}`);
    assert.ok(chunk.choices.length > 0, `a usage-only chunk reached the client: ${JSON.stringify(chunk)}`);
  }
  const text = received.flatMap((c) => c.choices.map((choice) => choice.delta?.content ?? "")).join("");
  assert.equal(text, "Hello! How can I help you today?");
  // The upstream was asked for the usage, the rest of the body unchanged.
  const upstream = await stack.standin.lastRequest();
  const sent = JSON.parse(upstream.body);
  assert.deepEqual(sent.stream_options, { include_usage: true });
  assert.deepEqual(sent.messages, ask("Hello, usage-unasked"));
  const rows = await eventually(async () => {
    const r = await stack.platform.psql(
      "SELECT input_tokens, output_tokens, cost, processed_request->'stream_options'->>'include_usage' " +
        "FROM interactions WHERE request::text LIKE '%usage-unasked%'",
    );
    return r.length === 1 ? r : null;
  }, 10000);
  assert.ok(rows, "the interaction must be recorded");
  const [[input, output, cost, processed]] = rows;
  assert.equal(Number(input), 19);
  assert.equal(Number(output), 10);
  assert.ok(Number(cost) > 0, `cost ${cost}`);
  assert.equal(processed, "true", "the processed request shows what went upstream");
});

test("a stream without tool calls is relayed byte for byte (no re-serialization, usage chunk kept)", async () => {
  chatCalls++;
  const res = await fetch(`${stack.platform.baseUrl}/v1/openai/${profileId}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
    body: JSON.stringify({ model: "gpt-4o", messages: ask("Hello"), stream: true, stream_options: { include_usage: true } }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  assert.equal(await res.text(), fixture("openai/chat-stream-text.sse"));
});

test("streaming parallel tool calls: the SDK assembles both calls with their full arguments", async () => {
  chatCalls++;
  const runner = client().chat.completions.stream({
    model: "gpt-4o",
    messages: ask("Weather in Paris, then email Bob. scenario:parallel-tools"),
    tools,
  });
  const completion = await runner.finalChatCompletion();
  const choice = completion.choices[0];
  assert.equal(choice.finish_reason, "tool_calls");
  const calls = choice.message.tool_calls;
  assert.equal(calls.length, 2);
  assert.equal(calls[0].id, "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  assert.equal(calls[0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(calls[0].function.arguments), { location: "Paris, France" });
  assert.equal(calls[1].id, "call_ABTnZzSxcmYuQ4yY1qEjZ2Cv");
  assert.equal(calls[1].function.name, "send_email");
  assert.deepEqual(JSON.parse(calls[1].function.arguments), { to: "bob@example.com", body: "Bring an umbrella" });
});

test("streaming parallel tool calls: the finish chunk comes after every tool-call delta", async () => {
  chatCalls++;
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:parallel-tools"),
    tools,
    stream: true,
  });
  const order = [];
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      if (choice.delta?.tool_calls) order.push("tool");
      if (choice.finish_reason) order.push(`finish:${choice.finish_reason}`);
    }
  }
  assert.ok(order.includes("tool"), "tool-call deltas must be relayed");
  assert.equal(order[order.length - 1], "finish:tool_calls", `order was ${order.join(",")}`);
  assert.equal(order.filter((o) => o.startsWith("finish")).length, 1);
});

test("non-streaming parallel tool calls", async () => {
  chatCalls++;
  const completion = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:parallel-tools"),
    tools,
  });
  const calls = completion.choices[0].message.tool_calls;
  assert.deepEqual(
    calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    [
      ["get_weather", { location: "Paris, France" }],
      ["send_email", { to: "bob@example.com", body: "Bring an umbrella" }],
    ],
  );
});

test("upstream 401 becomes OpenAI.AuthenticationError with the provider's error body", async () => {
  chatCalls++;
  await assert.rejects(
    client({ apiKey: "sk-bad" }).chat.completions.create({ model: "gpt-4o", messages: ask("scenario:error-401") }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, "invalid_api_key");
      assert.equal(err.type, "invalid_request_error");
      assert.match(err.error.message, /Incorrect API key provided/);
      return true;
    },
  );
});

test("upstream 429 becomes OpenAI.RateLimitError with Retry-After and x-ratelimit-* headers", async () => {
  chatCalls++;
  await assert.rejects(
    client().chat.completions.create({ model: "gpt-4o", messages: ask("scenario:error-429") }),
    (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, "rate_limit_exceeded");
      assert.equal(err.headers.get("retry-after"), "7");
      assert.equal(err.headers.get("x-ratelimit-limit-requests"), "500");
      assert.equal(err.headers.get("x-ratelimit-remaining-requests"), "0");
      assert.equal(err.headers.get("x-ratelimit-reset-tokens"), "260ms");
      return true;
    },
  );
});

test("upstream 500 becomes OpenAI.InternalServerError", async () => {
  chatCalls++;
  await assert.rejects(
    client().chat.completions.create({ model: "gpt-4o", messages: ask("scenario:error-500") }),
    (err) => {
      assert.ok(err instanceof OpenAI.InternalServerError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 500);
      assert.equal(err.type, "server_error");
      return true;
    },
  );
});

test("an error while streaming is requested still arrives as the SDK's error class", async () => {
  chatCalls++;
  await assert.rejects(
    client().chat.completions.create({ model: "gpt-4o", messages: ask("scenario:error-429"), stream: true }),
    (err) => err instanceof OpenAI.RateLimitError && err.headers.get("retry-after") === "7",
  );
});

test("slow first byte: the answer still arrives (non-streaming and streaming)", async () => {
  chatCalls += 2;
  let started = Date.now();
  const completion = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:slow-first-byte-1500"),
  });
  assert.ok(Date.now() - started >= 1400);
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");

  started = Date.now();
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:slow-first-byte-1500"),
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.ok(Date.now() - started >= 1400);
  assert.equal(text, "Hello! How can I help you today?");
});

test("deltas are relayed as they arrive, not buffered until the end", async () => {
  chatCalls++;
  const started = Date.now();
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:slow-stream-150"),
    stream: true,
  });
  let firstContentAt = 0;
  let text = "";
  for await (const chunk of stream) {
    const piece = chunk.choices[0]?.delta?.content;
    if (piece && !firstContentAt) firstContentAt = Date.now() - started;
    text += piece ?? "";
  }
  const total = Date.now() - started;
  assert.equal(text, "Hello! How can I help you today?");
  // 13 events 150 ms apart: the first text arrives after ~300 ms, the stream ends after ~1950 ms.
  assert.ok(total - firstContentAt >= 1000, `first text at ${firstContentAt} ms, end at ${total} ms`);
});

test("a stream that dies midway makes the SDK raise after the deltas that did arrive", async () => {
  chatCalls++;
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("scenario:stream-dies"),
    stream: true,
  });
  const received = [];
  await assert.rejects(async () => {
    for await (const chunk of stream) received.push(chunk);
  });
  assert.ok(received.length >= 1, "the chunks sent before the break must reach the client");
  // Recorded as the error the client saw (502), not as the upstream's 200, with what did arrive.
  const rows = await eventually(() =>
    stack.platform.psql(
      "SELECT status_code, response->'choices'->0->'message'->>'content' FROM interactions " +
        "WHERE request->'messages'->0->>'content' = 'scenario:stream-dies'",
    ),
  );
  assert.equal(rows.length, 1);
  assert.equal(rows[0][0], "502");
  assert.ok(rows[0][1]?.length > 0, `partial text recorded: ${JSON.stringify(rows[0])}`);
});

test("after an upstream stream died, the next request is served normally (no stale connection, no hang)", async () => {
  chatCalls++;
  const completion = await client({ timeout: 5000 }).chat.completions.create({ model: "gpt-4o", messages: ask("Hello again") });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
});

test("a client that gives up on a slow upstream gets the SDK timeout, and the platform keeps serving", async () => {
  chatCalls++;
  await assert.rejects(
    client({ timeout: 300 }).chat.completions.create({ model: "gpt-4o", messages: ask("scenario:slow-first-byte-2000") }),
    (err) => err instanceof OpenAI.APIConnectionTimeoutError,
  );
  chatCalls++;
  const completion = await client().chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
  await sleep(2000); // let the abandoned upstream answer finish before counting requests
});

test("the request body reaches the upstream byte for byte (unknown fields, key order, spacing, unicode)", async () => {
  chatCalls++;
  const body =
    '{ "model":"gpt-4o",  "top_p":0.9,"response_format":{"type":"json_object"},\n' +
    '"stream_options":{"include_usage":true},"seed":42,"logit_bias":{"1234":-100},"x_unknown_field":[1,2.50,"\\u00e9"],' +
    '"messages":[{"role":"user","content":"Grüße 👋 — reply in JSON"}],"n":1,"user":"user-1234","stream":false }';
  const res = await fetch(`${stack.platform.baseUrl}/v1/openai/${profileId}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
    body,
  });
  assert.equal(res.status, 200);
  await res.json();
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.method, "POST");
  assert.equal(upstream.path, "/v1/chat/completions");
  assert.equal(Buffer.from(upstream.bodyBase64, "base64").toString("utf8"), body);
});

test("fields the original dropped (response_format, top_p, stream_options, seed, user) reach the upstream from the SDK", async () => {
  chatCalls++;
  const stream = await client().chat.completions.create({
    model: "gpt-4o",
    messages: ask("Hello"),
    stream: true,
    stream_options: { include_usage: true },
    top_p: 0.9,
    seed: 42,
    user: "user-1234",
    response_format: { type: "text" },
    tools,
    tool_choice: "auto",
  });
  for await (const _chunk of stream) {
    // drain
  }
  const sent = JSON.parse((await stack.standin.lastRequest()).body);
  assert.equal(sent.top_p, 0.9);
  assert.equal(sent.seed, 42);
  assert.equal(sent.user, "user-1234");
  assert.deepEqual(sent.response_format, { type: "text" });
  assert.deepEqual(sent.stream_options, { include_usage: true });
  assert.equal(sent.tool_choice, "auto");
  assert.deepEqual(sent.tools, tools);
});

test("provider headers go upstream unchanged and the upstream's headers come back", async () => {
  chatCalls++;
  const { data, response } = await client({
    organization: "org-e2e-test",
    project: "proj_e2e_test",
  })
    .chat.completions.create({ model: "gpt-4o", messages: ask("Hello") })
    .withResponse();
  assert.equal(data.choices[0].message.content, "Hello! How can I help you today?");
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.headers.authorization, "Bearer sk-test-openai-key");
  assert.equal(upstream.headers["openai-organization"], "org-e2e-test");
  assert.equal(upstream.headers["openai-project"], "proj_e2e_test");
  assert.match(response.headers.get("x-request-id") ?? "", /^req_standin/);
  assert.equal(response.headers.get("openai-processing-ms"), "321");
  assert.equal(response.headers.get("x-ratelimit-remaining-requests"), "9999");
});

test("other paths pass through with the profile segment stripped: models.list()", async () => {
  const models = [];
  for await (const model of client().models.list()) models.push(model.id);
  assert.deepEqual(models, ["gpt-4o", "gpt-4o-mini"]);
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.method, "GET");
  assert.equal(upstream.path, "/v1/models");
  assert.equal(upstream.headers.authorization, "Bearer sk-test-openai-key");
});

test("interaction log: one row per chat request that reached the upstream", async () => {
  const chats = (await stack.standin.requests()).filter((r) => r.path === "/v1/chat/completions");
  const seen = chats.map((r) => JSON.parse(r.body).messages.at(-1).content).join(" | ");
  assert.equal(chats.length, chatCalls, `every chat call reaches the upstream exactly once; upstream saw: ${seen}`);
  const rows = await eventually(async () => {
    const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions WHERE type LIKE 'openai%'");
    return Number(count) === chatCalls ? Number(count) : 0;
  }, 15000);
  const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions");
  assert.equal(Number(count), chatCalls, `interactions rows (last poll ${rows})`);
  const [[withProfile]] = await stack.platform.psql(
    `SELECT count(*) FROM interactions WHERE profile_id = '${profileId}' AND model IS NOT NULL`,
  );
  assert.equal(Number(withProfile), chatCalls);
});
