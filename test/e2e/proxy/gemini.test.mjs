// The official `@google/genai` SDK talks to archestra-platform, which talks to the LLM upstream stand-in:
// generateContent and streamGenerateContent (the original could not stream Gemini), function calls, errors,
// slow and broken upstreams, and what reaches the upstream.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { GoogleGenAI, ApiError } from "@google/genai";
import { startStack, defaultProfileId, eventually } from "../lib/harness.mjs";

let stack;
let profileId;
let calls = 0;

const MODEL = "gemini-2.5-flash";
const tools = [
  {
    functionDeclarations: [
      {
        name: "get_weather",
        description: "Current weather for a place",
        parameters: { type: "OBJECT", properties: { location: { type: "STRING" } }, required: ["location"] },
      },
      {
        name: "send_email",
        description: "Send an email",
        parameters: {
          type: "OBJECT",
          properties: { to: { type: "STRING" }, body: { type: "STRING" } },
          required: ["to", "body"],
        },
      },
    ],
  },
];

// The platform's routes are /v1/gemini/{profileId}/models/{model}:generateContent, so the SDK's API-version
// path segment is turned off (apiVersion "").
function client(profile = profileId, apiKey = "gemini-test-key") {
  return new GoogleGenAI({
    apiKey,
    httpOptions: { baseUrl: `${stack.platform.baseUrl}/v1/gemini/${profile}`, apiVersion: "", timeout: 20000 },
  });
}

before(async () => {
  stack = await startStack();
  profileId = await defaultProfileId(stack.platform);
});

after(async () => {
  await stack?.stop();
});

test("generateContent: text", async () => {
  calls++;
  const response = await client().models.generateContent({ model: MODEL, contents: "Hello" });
  assert.equal(response.text, "Hello! How can I help you today?");
  assert.equal(response.usageMetadata.totalTokenCount, 18);
  assert.equal(response.responseId, "kBFxaPHBLt2-kdUP8qnQ4QE");
  const upstream = await stack.standin.lastRequest();
  assert.match(upstream.path, /^\/v1beta\/models\/gemini-2\.5-flash:generateContent/);
});

test("generateContentStream: text chunks in order (streaming works for Gemini)", async () => {
  calls++;
  const stream = await client().models.generateContentStream({ model: MODEL, contents: "Hello" });
  const pieces = [];
  let last;
  for await (const chunk of stream) {
    pieces.push(chunk.text);
    last = chunk;
  }
  assert.deepEqual(pieces, ["Hello", "! How can I help you", " today?"]);
  assert.equal(last.candidates[0].finishReason, "STOP");
  assert.equal(last.usageMetadata.candidatesTokenCount, 10);
  const upstream = await stack.standin.lastRequest();
  assert.match(upstream.path, /:streamGenerateContent\?alt=sse$/);
});

test("generateContent: parallel function calls with their arguments", async () => {
  calls++;
  const response = await client().models.generateContent({
    model: MODEL,
    contents: "Weather in Paris, then email Bob. scenario:parallel-tools",
    config: { tools },
  });
  assert.deepEqual(
    response.functionCalls.map((c) => [c.name, c.args]),
    [
      ["get_weather", { location: "Paris, France" }],
      ["send_email", { to: "bob@example.com", body: "Bring an umbrella" }],
    ],
  );
});

test("generateContentStream: parallel function calls reach the SDK intact", async () => {
  calls++;
  const stream = await client().models.generateContentStream({
    model: MODEL,
    contents: "scenario:parallel-tools",
    config: { tools },
  });
  const functionCalls = [];
  let text = "";
  for await (const chunk of stream) {
    functionCalls.push(...(chunk.functionCalls ?? []));
    for (const part of chunk.candidates?.[0]?.content?.parts ?? []) text += part.text ?? "";
  }
  assert.equal(text, "Let me check.");
  assert.deepEqual(
    functionCalls.map((c) => [c.name, c.args]),
    [
      ["get_weather", { location: "Paris, France" }],
      ["send_email", { to: "bob@example.com", body: "Bring an umbrella" }],
    ],
  );
});

// Without alt=sse Google streams one JSON array whose elements arrive while the answer is generated; the proxy
// relays each element as it completes (raw HTTP: the SDK always asks for alt=sse).
test("streamGenerateContent without alt=sse: array elements are relayed as they arrive", async () => {
  calls++;
  const started = performance.now();
  const res = await fetch(`${stack.platform.baseUrl}/v1/gemini/${profileId}/models/${MODEL}:streamGenerateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "scenario:slow-stream-400" }] }] }),
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^application\/json/);
  const decoder = new TextDecoder();
  let body = "";
  let firstAt = null;
  for await (const piece of res.body) {
    body += decoder.decode(piece, { stream: true });
    if (firstAt === null && /"text"/.test(body)) firstAt = performance.now() - started;
  }
  const total = performance.now() - started;
  const chunks = JSON.parse(body);
  assert.ok(Array.isArray(chunks) && chunks.length >= 3, body);
  const text = chunks.map((c) => c.candidates?.[0]?.content?.parts?.map((p) => p.text ?? "").join("") ?? "").join("");
  assert.equal(text, "Hello! How can I help you today?");
  // The stand-in waits 400 ms between elements: the first one must arrive long before the array ends.
  assert.ok(firstAt !== null && firstAt < total - 600, `first element at ${firstAt} ms, whole array at ${total} ms`);
});

test("streamGenerateContent without alt=sse: function calls arrive intact in the array", async () => {
  calls++;
  const res = await fetch(`${stack.platform.baseUrl}/v1/gemini/${profileId}/models/${MODEL}:streamGenerateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "scenario:parallel-tools" }] }], tools }),
  });
  assert.equal(res.status, 200);
  const chunks = await res.json();
  const calls_ = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []).filter((p) => p.functionCall);
  assert.deepEqual(
    calls_.map((p) => [p.functionCall.name, p.functionCall.args]),
    [
      ["get_weather", { location: "Paris, France" }],
      ["send_email", { to: "bob@example.com", body: "Bring an umbrella" }],
    ],
  );
});

for (const status of [401, 429, 500]) {
  test(`upstream ${status} becomes ApiError with status ${status}`, async () => {
    calls++;
    await assert.rejects(
      client().models.generateContent({ model: MODEL, contents: `scenario:error-${status}` }),
      (err) => {
        assert.ok(err instanceof ApiError, `got ${err.constructor.name}: ${err.message}`);
        assert.equal(err.status, status);
        const expected = { 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL" }[status];
        assert.match(err.message, new RegExp(expected));
        return true;
      },
    );
  });
}

test("upstream 429 keeps its Retry-After header (raw HTTP, the SDK does not expose headers)", async () => {
  calls++;
  const res = await fetch(`${stack.platform.baseUrl}/v1/gemini/${profileId}/models/${MODEL}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "scenario:error-429" }] }] }),
  });
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "7");
  assert.equal((await res.json()).error.status, "RESOURCE_EXHAUSTED");
});

test("slow first byte: the answer still arrives", async () => {
  calls++;
  const started = Date.now();
  const response = await client().models.generateContent({ model: MODEL, contents: "scenario:slow-first-byte-1500" });
  assert.ok(Date.now() - started >= 1400);
  assert.equal(response.text, "Hello! How can I help you today?");
});

test("a stream that dies midway makes the SDK raise", async () => {
  calls++;
  const stream = await client().models.generateContentStream({ model: MODEL, contents: "scenario:stream-dies" });
  const pieces = [];
  await assert.rejects(async () => {
    for await (const chunk of stream) pieces.push(chunk.text);
  });
  assert.equal(pieces[0], "Hello", "the chunks sent before the break must reach the client");
});

test("after an upstream stream died, the next request is served normally (no stale connection, no hang)", async () => {
  calls++;
  const ai = new GoogleGenAI({
    apiKey: "gemini-test-key",
    httpOptions: { baseUrl: `${stack.platform.baseUrl}/v1/gemini/${profileId}`, apiVersion: "", timeout: 5000 },
  });
  const response = await ai.models.generateContent({ model: MODEL, contents: "Hello again" });
  assert.equal(response.text, "Hello! How can I help you today?");
});

test("the body and x-goog-api-key reach the upstream unchanged", async () => {
  calls++;
  const body =
    '{"contents":[{"role":"user","parts":[{"text":"Grüße 👋"}]}],  "generationConfig":{"temperature":0.2,' +
    '"thinkingConfig":{"thinkingBudget":0}},"safetySettings":[],"x_unknown":{"k":[1,2]}}';
  const res = await fetch(`${stack.platform.baseUrl}/v1/gemini/${profileId}/models/${MODEL}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body,
  });
  assert.equal(res.status, 200);
  await res.json();
  const upstream = await stack.standin.lastRequest();
  assert.equal(upstream.headers["x-goog-api-key"], "gemini-test-key");
  assert.equal(Buffer.from(upstream.bodyBase64, "base64").toString("utf8"), body);
});

test("default profile (no id in the path) works the same", async () => {
  calls++;
  const ai = new GoogleGenAI({
    apiKey: "gemini-test-key",
    httpOptions: { baseUrl: `${stack.platform.baseUrl}/v1/gemini`, apiVersion: "" },
  });
  const response = await ai.models.generateContent({ model: MODEL, contents: "Hello" });
  assert.equal(response.text, "Hello! How can I help you today?");
});

// @google/genai puts its API version in the path (apiVersion "v1beta" by default, "v1" or "v1alpha" on request).
// Every version runs through the guardrails (here: it is recorded like the others) and keeps its version
// upstream; v1 and v1alpha used to fall into the pass-through, which applies no policy and records nothing.
for (const apiVersion of ["v1", "v1alpha", "v1beta"]) {
  test(`the SDK with apiVersion "${apiVersion}": guardrails apply, the upstream gets the same version`, async () => {
    calls++;
    const [[before]] = await stack.platform.psql("SELECT count(*) FROM interactions");
    const ai = new GoogleGenAI({
      apiKey: "gemini-test-key",
      httpOptions: { baseUrl: `${stack.platform.baseUrl}/v1/gemini/${profileId}`, apiVersion, timeout: 20000 },
    });
    const response = await ai.models.generateContent({ model: MODEL, contents: "Hello" });
    assert.equal(response.text, "Hello! How can I help you today?");
    const upstream = await stack.standin.lastRequest();
    assert.equal(upstream.path, `/${apiVersion}/models/${MODEL}:generateContent`);
    const recorded = await eventually(async () => {
      const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions");
      return Number(count) === Number(before) + 1;
    }, 10000);
    assert.ok(recorded, `no interaction recorded for the ${apiVersion} route`);
  });
}

// The model path segment goes into the upstream's request line: a decoded CR LF used to inject headers (or a
// second request) into a pooled upstream connection. Anything but ^[a-zA-Z0-9-.]+$ is a Gemini-shaped 400.
test("a model segment that is not a model name: 400 INVALID_ARGUMENT, nothing sent upstream", async () => {
  const before = (await stack.standin.requests()).length;
  for (const model of ["gemini-2.5-flash%0D%0AX-Injected:%20yes%0D%0AX-Pad:%20a", "gemini%20flash", "gemini%3Fkey=x"]) {
    for (const prefix of [`/v1/gemini/${profileId}/models/`, "/v1/gemini/v1beta/models/"]) {
      const res = await fetch(`${stack.platform.baseUrl}${prefix}${model}:generateContent`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] }),
      });
      const body = await res.json();
      assert.equal(res.status, 400, `${prefix}${model}: ${JSON.stringify(body)}`);
      assert.equal(body.error.code, 400);
      assert.equal(body.error.status, "INVALID_ARGUMENT");
      assert.match(body.error.message, /'model'/);
    }
  }
  assert.equal((await stack.standin.requests()).length, before);
});

test("an unknown profile: the SDK's ApiError 404 with Google's NOT_FOUND body", async () => {
  const unknown = "3b0f6a3e-5a8e-4c1e-9d3b-8b1f2a7c9e01";
  await assert.rejects(client(unknown).models.generateContent({ model: MODEL, contents: "Hello" }), (err) => {
    assert.ok(err instanceof ApiError, `got ${err.constructor.name}: ${err.message}`);
    assert.equal(err.status, 404);
    assert.match(err.message, /NOT_FOUND/);
    return true;
  });
  const res = await fetch(`${stack.platform.baseUrl}/v1/gemini/not-a-uuid/models/${MODEL}:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gemini-test-key" },
    body: JSON.stringify({ contents: [] }),
  });
  assert.equal(res.status, 400);
  const { error } = await res.json();
  assert.deepEqual([error.code, error.status], [400, "INVALID_ARGUMENT"]);
});

test("interaction log: one row per generateContent call that reached the upstream", async () => {
  const upstreamCalls = (await stack.standin.requests()).filter((r) => /:(stream)?[gG]enerateContent/.test(r.path)).length;
  assert.equal(upstreamCalls, calls);
  await eventually(async () => {
    const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions");
    return Number(count) === calls;
  }, 15000);
  const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions WHERE type LIKE 'gemini:%'");
  assert.equal(Number(count), calls);
  const [[model]] = await stack.platform.psql("SELECT DISTINCT model FROM interactions");
  assert.equal(model, MODEL);
});
