// Stand-in for the OpenAI, Anthropic and Gemini HTTP APIs (NOT the real services): answers with the recorded
// provider responses in test/fixtures/providers/ so end-to-end tests can run the real SDKs through the platform
// without leaving the machine. Only node's own modules; listens on 127.0.0.1.
//
// Usage: node server.mjs [port]        (port 0 or absent: a free one; the chosen port is printed)
//
// Routes
//   POST /v1/chat/completions, /chat/completions              OpenAI Chat Completions (stream when "stream":true)
//   POST /v1/messages                                         Anthropic Messages (stream when "stream":true)
//   POST /v1beta/models/{model}:generateContent               Gemini (also /v1/models/..., /v1alpha/models/...)
//   POST /v1beta/models/{model}:streamGenerateContent[?alt=sse]
//   GET  /v1/models (OpenAI shape, or Anthropic shape when anthropic-version/x-api-key is sent), /v1beta/models
//   GET  /__last_request   the last API request received: {method, path, headers, rawHeaders, body, bodyBase64,
//                          outcome: answering | completed | peer closed | dropped by stand-in}
//   GET  /__requests       every API request received so far: {count, requests:[...]}
//   POST /__reset          forgets the recorded requests (and the scripted replies)
//   POST /__script         {replies:[{text, match?}]}: queues text answers. A model call takes the first queued reply
//                          whose `match` (a substring) occurs in its body, or that has no `match`, and gets that text
//                          as a plain (non-streaming) answer in its provider's shape; without one it gets its
//                          scenario. Used to script the dual-LLM rounds. GET /__script shows what is left.
//                          A reply {toolCall:{name, arguments}, text?, match?} answers with that tool call instead
//                          (Anthropic tool_use / OpenAI tool_calls / Gemini functionCall, after the text if any);
//                          used to script a chat's tool round.
//                          A streaming call (OpenAI/Anthropic "stream":true, Gemini streamGenerateContent) gets the
//                          scripted reply as that provider's event stream: the text in word-sized deltas, then the
//                          tool call (OpenAI arguments / Anthropic input_json in two deltas). `pauseMs` (optional)
//                          waits that long after the first text delta, so a test can see a delta reach its client
//                          while the stream is still open (GET /__last_request shows outcome "answering").
//
// Scenario: the `x-standin-scenario` request header, else the last `scenario:<name>` found in the request body
// (put it in the last user message), else "text".
//   text                  recorded text answer (streamed or not, as requested)
//   parallel-tools        two tool calls in one answer (alias: tools)
//   thinking              Anthropic stream with thinking blocks, ping and signature (others: text)
//   error-401 | error-429 | error-500   provider-style error body; 429 carries Retry-After and rate-limit headers
//   slow-first-byte[-<ms>]              waits (default 1500 ms) before the status line, then answers "text"
//   slow-stream[-<ms>]                  streams "text" with a pause (default 100 ms) before each event
//   stream-dies                         sends the first part of the answer, then drops the connection
//
// OpenAI streams honour stream_options.include_usage as the API does: without it no chunk has "usage" and the
// usage-only chunk ("choices":[]) is left out.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixturesDir = process.env.LLM_STANDIN_FIXTURES || path.resolve(here, "../../fixtures/providers");

const fixtureCache = new Map();
function fixture(relative) {
  if (!fixtureCache.has(relative)) {
    fixtureCache.set(relative, fs.readFileSync(path.join(fixturesDir, relative), "utf8"));
  }
  return fixtureCache.get(relative);
}

// Recorded answers per provider and scenario: [non-streaming JSON, SSE stream].
const answers = {
  openai: {
    text: ["openai/chat-response-text.json", "openai/chat-stream-text.sse"],
    "parallel-tools": ["openai/chat-response-two-tool-calls.json", "openai/chat-stream-two-tool-calls.sse"],
  },
  anthropic: {
    text: ["anthropic/messages-response-text.json", "anthropic/messages-stream-text.sse"],
    "parallel-tools": ["anthropic/messages-response-two-tool-use.json", "anthropic/messages-stream-two-tool-use.sse"],
    thinking: ["anthropic/messages-response-text.json", "anthropic/messages-stream-thinking-text.sse"],
  },
  gemini: {
    text: ["gemini/generate-content-text.json", "gemini/stream-text.sse"],
    "parallel-tools": ["gemini/generate-content-function-calls.json", "gemini/stream-function-calls.sse"],
  },
};

let requestCounter = 0;

// Headers a real provider sends with a successful answer (values as the providers format them).
function successHeaders(provider, streaming) {
  const id = `${++requestCounter}`.padStart(6, "0");
  const type = streaming
    ? "text/event-stream; charset=utf-8"
    : provider === "gemini"
      ? "application/json; charset=UTF-8"
      : "application/json";
  if (provider === "openai") {
    return {
      "content-type": type,
      "x-request-id": `req_standin${id}`,
      "openai-organization": "org-standin",
      "openai-processing-ms": "321",
      "openai-version": "2020-10-01",
      "x-ratelimit-limit-requests": "10000",
      "x-ratelimit-remaining-requests": "9999",
      "x-ratelimit-reset-requests": "6ms",
      "x-ratelimit-limit-tokens": "30000000",
      "x-ratelimit-remaining-tokens": "29999980",
      "x-ratelimit-reset-tokens": "0s",
    };
  }
  if (provider === "anthropic") {
    return {
      "content-type": type,
      "request-id": `req_standin${id}`,
      "anthropic-ratelimit-requests-limit": "4000",
      "anthropic-ratelimit-requests-remaining": "3999",
      "anthropic-ratelimit-requests-reset": "2025-10-15T12:00:01Z",
      "anthropic-ratelimit-tokens-limit": "400000",
      "anthropic-ratelimit-tokens-remaining": "399000",
      "anthropic-ratelimit-tokens-reset": "2025-10-15T12:00:01Z",
    };
  }
  return { "content-type": type, "x-gemini-service-tier": "standard", "server-timing": "gfet4t7; dur=321" };
}

function errorHeaders(provider, status) {
  const headers = { "content-type": provider === "gemini" ? "application/json; charset=UTF-8" : "application/json" };
  if (provider === "openai") headers["x-request-id"] = `req_standin_err${status}`;
  if (provider === "anthropic") headers["request-id"] = `req_standin_err${status}`;
  if (status === 429) {
    headers["retry-after"] = "7";
    if (provider === "openai") {
      Object.assign(headers, {
        "x-ratelimit-limit-requests": "500",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-reset-requests": "120ms",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29870",
        "x-ratelimit-reset-tokens": "260ms",
      });
    } else if (provider === "anthropic") {
      Object.assign(headers, {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2025-10-15T12:00:07Z",
      });
    } else {
      headers["x-ratelimit-limit-requests"] = "10";
      headers["x-ratelimit-remaining-requests"] = "0";
    }
  }
  return headers;
}

// Scenario name from the header or the request body; a numeric suffix is the scenario's parameter.
function scenarioOf(req, rawBody) {
  let name = req.headers["x-standin-scenario"];
  if (!name) {
    const found = [...rawBody.matchAll(/scenario:([a-z0-9-]+)/g)];
    name = found.length ? found[found.length - 1][1] : "text";
  }
  const m = /^(.*?)-(\d+)$/.exec(name);
  if (m && !m[1].startsWith("error")) return { name: m[1], param: Number(m[2]) };
  return { name: name === "tools" ? "parallel-tools" : name, param: undefined };
}

// Splits an SSE fixture into its events, each keeping its blank-line terminator (Gemini uses CRLF).
function sseEvents(text) {
  return text.split(/(?<=\r\n\r\n|\n\n)/).filter((e) => e.trim().length > 0);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// OpenAI streams carry their usage only when asked (stream_options.include_usage): then every chunk ends in
// "usage":null and a last chunk with "choices":[] holds the usage; without it, neither (as the real API does).
function openAiStreamEvents(events, includeUsage) {
  if (includeUsage) return events;
  return events
    .filter((e) => !e.includes('"choices":[],"usage":{'))
    .map((e) => e.replace(/,"usage":null\}(\r?\n)/, "}$1"));
}

function includesUsage(rawBody) {
  try {
    return JSON.parse(rawBody).stream_options?.include_usage === true;
  } catch {
    return false;
  }
}

async function answer(res, provider, streaming, scenario, sseRequested = true, includeUsage = true) {
  const { name, param } = scenario;
  const error = /^error-(\d{3})$/.exec(name);
  if (error) {
    const status = Number(error[1]);
    res.writeHead(status, errorHeaders(provider, status));
    res.end(fixture(`${provider}/error-${status}.json`));
    return;
  }
  let firstByteDelay = 0;
  let eventDelay = 0;
  let die = false;
  let kind = name;
  if (name === "slow-first-byte") {
    firstByteDelay = param ?? 1500;
    kind = "text";
  } else if (name === "slow-stream") {
    eventDelay = param ?? 100;
    kind = "text";
  } else if (name === "stream-dies") {
    die = true;
    kind = "text";
  }
  const files = answers[provider][kind] ?? answers[provider].text;
  if (firstByteDelay) await sleep(firstByteDelay);
  if (res.destroyed) return;

  if (!streaming) {
    const body = fixture(files[0]);
    const headers = successHeaders(provider, false);
    if (die) {
      headers["content-length"] = String(Buffer.byteLength(body));
      res.writeHead(200, headers);
      res.write(body.slice(0, Math.floor(body.length / 2)));
      await sleep(50);
      res.standinDropped = true; // not to be mistaken for the peer hanging up
      res.socket?.destroy();
      return;
    }
    res.writeHead(200, headers);
    res.end(body);
    return;
  }

  let events = sseEvents(fixture(files[1]));
  if (provider === "openai") events = openAiStreamEvents(events, includeUsage);
  if (provider === "gemini" && !sseRequested) {
    // Without alt=sse Gemini streams one JSON array of the same chunks.
    const chunks = events.map((e) => e.replace(/^data: /, "").trim());
    res.writeHead(200, { ...successHeaders(provider, false) });
    if (!eventDelay) {
      res.end("[" + chunks.join(",\r\n") + "]");
      return;
    }
    // slow-stream: the array's elements one by one, as Google sends them while the answer is generated.
    res.flushHeaders();
    for (let i = 0; i < chunks.length; i++) {
      if (i) await sleep(eventDelay);
      if (res.destroyed) return;
      res.write((i ? ",\r\n" : "[") + chunks[i]);
    }
    res.end("]");
    return;
  }
  res.writeHead(200, { ...successHeaders(provider, true), "cache-control": "no-cache" });
  res.flushHeaders();
  if (die) events = events.slice(0, Math.max(2, Math.floor(events.length / 3)));
  for (const event of events) {
    if (eventDelay) await sleep(eventDelay);
    if (res.destroyed) return;
    res.write(event);
  }
  if (die) {
    await sleep(50);
    res.standinDropped = true;
    res.socket?.destroy();
    return;
  }
  res.end();
}

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

let scriptedToolCounter = 0;

// A scripted tool-call answer in each provider's non-streaming shape.
function scriptedToolCallAnswer(provider, { name, arguments: args = {} }, text) {
  const id = `call_scripted_${++scriptedToolCounter}`;
  if (provider === "openai") {
    return {
      id: "chatcmpl-scripted-tool",
      object: "chat.completion",
      created: 1760000000,
      model: "gpt-4o",
      choices: [{
        index: 0,
        message: { role: "assistant", content: text ?? null, refusal: null, tool_calls: [{ id, type: "function", function: { name, arguments: JSON.stringify(args) } }] },
        finish_reason: "tool_calls",
        logprobs: null,
      }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    };
  }
  if (provider === "anthropic") {
    return {
      id: "msg_scripted_tool",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [...(text ? [{ type: "text", text }] : []), { type: "tool_use", id: `toolu_scripted_${scriptedToolCounter}`, name, input: args }],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5 },
    };
  }
  return {
    candidates: [{ content: { role: "model", parts: [...(text ? [{ text }] : []), { functionCall: { name, args } }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
  };
}

// The scripted reply's text in word-sized pieces (each keeps its trailing space).
function pieces(text) {
  return text ? text.match(/\S+\s*|\s+/g) : [];
}

// A scripted reply ({text?, toolCall?, pauseMs?}) as the provider's event stream: the text deltas first (a pause of
// pauseMs after the first one), then the tool call, then the finish events.
async function streamScripted(res, { provider, text, toolCall, pauseMs, includeUsage }, sse) {
  const events = []; // [sse text, pause after it]
  const id = `call_scripted_${++scriptedToolCounter}`;
  const args = JSON.stringify(toolCall?.arguments ?? {});
  const half = Math.floor(args.length / 2);
  const words = pieces(text);
  if (provider === "openai") {
    const chunk = (delta, finish = null) =>
      `data: ${JSON.stringify({
        id: "chatcmpl-scripted-stream",
        object: "chat.completion.chunk",
        created: 1760000000,
        model: "gpt-4o",
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      })}\n\n`;
    events.push([chunk({ role: "assistant", content: "" })]);
    words.forEach((w, i) => events.push([chunk({ content: w }), i === 0 ? pauseMs : 0]));
    if (toolCall) {
      events.push([chunk({ tool_calls: [{ index: 0, id, type: "function", function: { name: toolCall.name, arguments: "" } }] })]);
      events.push([chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] })]);
      events.push([chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] })]);
    }
    events.push([chunk({}, toolCall ? "tool_calls" : "stop")]);
    if (includeUsage) {
      events.push([
        `data: ${JSON.stringify({ id: "chatcmpl-scripted-stream", object: "chat.completion.chunk", created: 1760000000, model: "gpt-4o", choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })}\n\n`,
      ]);
    }
    events.push(["data: [DONE]\n\n"]);
  } else if (provider === "anthropic") {
    const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    events.push([
      ev("message_start", {
        message: { id: "msg_scripted_stream", type: "message", role: "assistant", model: "claude-sonnet-4-5", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 10, output_tokens: 1 } },
      }),
    ]);
    let index = 0;
    if (words.length) {
      events.push([ev("content_block_start", { index, content_block: { type: "text", text: "" } })]);
      words.forEach((w, i) => events.push([ev("content_block_delta", { index, delta: { type: "text_delta", text: w } }), i === 0 ? pauseMs : 0]));
      events.push([ev("content_block_stop", { index })]);
      index++;
    }
    if (toolCall) {
      events.push([ev("content_block_start", { index, content_block: { type: "tool_use", id: `toolu_scripted_${scriptedToolCounter}`, name: toolCall.name, input: {} } })]);
      events.push([ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: args.slice(0, half) } })]);
      events.push([ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: args.slice(half) } })]);
      events.push([ev("content_block_stop", { index })]);
    }
    events.push([ev("message_delta", { delta: { stop_reason: toolCall ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: 5 } })]);
    events.push([ev("message_stop", {})]);
  } else {
    const chunks = [];
    words.forEach((w, i) => chunks.push([{ candidates: [{ content: { role: "model", parts: [{ text: w }] }, index: 0 }] }, i === 0 ? pauseMs : 0]));
    const last = { candidates: [{ content: { role: "model", parts: toolCall ? [{ functionCall: { name: toolCall.name, args: toolCall.arguments ?? {} } }] : [{ text: "" }] }, finishReason: "STOP", index: 0 }], usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 } };
    chunks.push([last]);
    chunks.forEach(([c, pause], i) =>
      events.push([sse ? `data: ${JSON.stringify(c)}\r\n\r\n` : (i ? ",\r\n" : "[") + JSON.stringify(c), pause]),
    );
    if (!sse) events.push(["]"]);
  }
  const streamingType = sse ? true : false;
  res.writeHead(200, { ...successHeaders(provider, streamingType), "cache-control": "no-cache" });
  res.flushHeaders();
  for (const [bytes, pause] of events) {
    if (res.destroyed) return;
    res.write(bytes);
    if (pause) await sleep(pause);
  }
  res.end();
}

// A scripted text answer in each provider's non-streaming shape.
function scriptedAnswer(provider, text) {
  if (provider === "openai") {
    return {
      id: "chatcmpl-scripted",
      object: "chat.completion",
      created: 1760000000,
      model: "gpt-4o",
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, finish_reason: "stop", logprobs: null }],
      usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
    };
  }
  if (provider === "anthropic") {
    return {
      id: "msg_scripted",
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5 },
    };
  }
  return {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 5, totalTokenCount: 15 },
  };
}

export function createStandin() {
  const requests = [];
  const script = [];

  // The provider of a model call path, or null.
  function providerOf(p) {
    if (p === "/v1/chat/completions" || p === "/chat/completions") return "openai";
    if (p === "/v1/messages") return "anthropic";
    if (/^\/(v1beta|v1alpha|v1)\/models\/[^/:]+:(generateContent|streamGenerateContent)$/.test(p)) return "gemini";
    return null;
  }
  function takeScripted(p, body) {
    const provider = providerOf(p);
    if (!provider || script.length === 0) return null;
    const i = script.findIndex((r) => !r.match || body.includes(r.match));
    if (i < 0) return null;
    const [reply] = script.splice(i, 1);
    return { provider, text: reply.text, toolCall: reply.toolCall, pauseMs: reply.pauseMs, includeUsage: includesUsage(body) };
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks)).catch((err) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: `stand-in failure: ${err.message}` } });
        else res.destroy();
      });
    });
  });

  async function handle(req, res, raw) {
    const url = new URL(req.url, "http://standin");
    const p = url.pathname;

    if (p === "/__last_request" && req.method === "GET") {
      if (requests.length === 0) return sendJson(res, 404, { error: { message: "no request received yet" } });
      return sendJson(res, 200, requests[requests.length - 1]);
    }
    if (p === "/__requests" && req.method === "GET") return sendJson(res, 200, { count: requests.length, requests });
    if (p === "/__script" && req.method === "POST") {
      const replies = JSON.parse(raw.toString("utf8") || "{}").replies ?? [];
      script.push(...replies);
      return sendJson(res, 200, { queued: script.length });
    }
    if (p === "/__script" && req.method === "GET") return sendJson(res, 200, { replies: script });
    if (p === "/__reset" && req.method === "POST") {
      requests.length = 0;
      script.length = 0;
      return sendJson(res, 200, { ok: true });
    }
    if (p === "/__health") return sendJson(res, 200, { status: "ok" });

    const record = {
      method: req.method,
      path: req.url,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body: raw.toString("utf8"),
      bodyBase64: raw.toString("base64"),
      receivedAt: new Date().toISOString(),
      // "answering" until the response ends: "completed", or "peer closed" when the client (the proxy) hung up
      // before the whole answer was written (e.g. it cancelled the upstream call after its own client left).
      outcome: "answering",
    };
    res.on("close", () => {
      if (record.outcome !== "answering") return;
      record.outcome = res.writableFinished ? "completed" : res.standinDropped ? "dropped by stand-in" : "peer closed";
      record.closedAt = new Date().toISOString();
    });
    requests.push(record);
    if (requests.length > 1000) requests.shift();

    const rawText = raw.toString("utf8");
    const scripted = takeScripted(p, rawText);
    if (scripted) {
      record.scripted = true;
      let streaming = p.endsWith(":streamGenerateContent");
      try {
        streaming ||= JSON.parse(rawText).stream === true;
      } catch {
        // not JSON: answered without a stream
      }
      if (streaming) return streamScripted(res, scripted, url.searchParams.get("alt") === "sse" || scripted.provider !== "gemini");
      res.writeHead(200, successHeaders(scripted.provider, false));
      const answer = scripted.toolCall
        ? scriptedToolCallAnswer(scripted.provider, scripted.toolCall, scripted.text)
        : scriptedAnswer(scripted.provider, scripted.text);
      return res.end(JSON.stringify(answer));
    }
    const scenario = scenarioOf(req, rawText);
    const jsonStream = () => {
      try {
        return JSON.parse(rawText).stream === true;
      } catch {
        return false;
      }
    };

    if (req.method === "POST" && (p === "/v1/chat/completions" || p === "/chat/completions")) {
      return answer(res, "openai", jsonStream(), scenario, true, includesUsage(rawText));
    }
    if (req.method === "POST" && p === "/v1/messages") {
      return answer(res, "anthropic", jsonStream(), scenario);
    }
    const gemini = /^\/(v1beta|v1alpha|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(p);
    if (req.method === "POST" && gemini) {
      const streaming = gemini[3] === "streamGenerateContent";
      return answer(res, "gemini", streaming, scenario, url.searchParams.get("alt") === "sse");
    }
    if (req.method === "GET" && p === "/v1/models") {
      const anthropic = "anthropic-version" in req.headers || "x-api-key" in req.headers;
      const provider = anthropic ? "anthropic" : "openai";
      res.writeHead(200, successHeaders(provider, false));
      return res.end(fixture(`${provider}/models-list.json`));
    }
    if (req.method === "GET" && p === "/v1beta/models") {
      return sendJson(res, 200, {
        models: [{ name: "models/gemini-2.5-flash", displayName: "Gemini 2.5 Flash", supportedGenerationMethods: ["generateContent"] }],
      });
    }
    return sendJson(res, 404, { error: { message: `llm-upstream stand-in: no route for ${req.method} ${p}`, type: "not_found" } });
  }

  return server;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] ?? 0);
  const server = createStandin();
  server.listen(port, "127.0.0.1", () => {
    console.log(`llm-upstream stand-in listening on 127.0.0.1:${server.address().port}`);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      server.close();
      server.closeAllConnections?.();
      process.exit(0);
    });
  }
}
