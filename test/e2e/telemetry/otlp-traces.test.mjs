// telemetry.otlp: spans of incoming HTTP requests and LLM calls at the OTLP receiver stand-in, which decodes them
// with the OpenTelemetry project's OTLP definitions (JSON and protobuf encodings): names, attributes of
// reference-proxy.md §5, parentage from the client's traceparent, propagation upstream, error status; auth header
// rules, retry on 503; an unreachable endpoint not slowing the proxy (measured), warned about once, then
// "recovered" when a collector appears.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStandin, startPlatform, defaultProfileId, freePort } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";
import { startOtlpReceiver, waitFor, sleep } from "./standins.mjs";

let upstream;
let receiver;
const platforms = [];
let bearerPlatform; // reused as the "endpoint up" side of the latency measurement
let basicPlatform; // reused for the retry test

async function platformWith(env) {
  const platform = await startPlatform({ upstream: upstream.url, env });
  platforms.push(platform);
  return platform;
}

const openaiFor = (platform, headers = {}) => openAiClient(platform, undefined, { defaultHeaders: headers });

async function spansNamed(name, count = 1) {
  return waitFor(async () => {
    const { spans } = await receiver.get("/__spans");
    const found = spans.filter((s) => s.name === name);
    return found.length >= count ? found : null;
  }, 15000);
}

before(async () => {
  upstream = await startStandin();
  receiver = await startOtlpReceiver();
});

after(async () => {
  for (const p of platforms) await p.stop();
  await receiver?.stop();
  await upstream?.stop();
});

test("LLM and HTTP spans: names, attributes, parentage, traceparent upstream, bearer auth, resource", async () => {
  const platform = (bearerPlatform = await platformWith({
    ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/v1/traces`,
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_BEARER: "otlp-bearer-token",
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME: "ignored-user",
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_PASSWORD: "ignored-password",
  }));
  const profileId = await defaultProfileId(platform);
  const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const clientSpan = "00f067aa0ba902b7";
  await upstream.reset();
  const openai = openaiFor(platform, {
    traceparent: `00-${clientTrace}-${clientSpan}-01`,
    "X-Archestra-Agent-Id": "trace-agent",
  });
  await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] });
  const stream = await openai.chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "Hello" }],
    stream: true,
  });
  for await (const chunk of stream) void chunk;
  const anthropic = anthropicClient(platform, undefined, { apiKey: "sk-ant-test" });
  await anthropic.messages.create({ model: "claude-sonnet-4-5-20250929", max_tokens: 16, messages: [{ role: "user", content: "Hello" }] });
  const gemini = await fetch(`${platform.baseUrl}/v1/gemini/models/gemini-2.5-flash:generateContent`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-goog-api-key": "gm-test" },
    body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "Hello" }] }] }),
  });
  assert.equal(gemini.status, 200);
  await assert.rejects(
    openaiFor(platform).chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "scenario:error-500" }] }),
  );

  const llm = await spansNamed("openai.chat.completions", 3);
  assert.ok(llm, "no openai.chat.completions spans arrived");
  const [plain, streamed] = llm.filter((s) => s.attributes["archestra.external_agent_id"] === "trace-agent");
  for (const span of [plain, streamed]) {
    assert.equal(span.traceId, clientTrace, "the client's trace continues");
    assert.equal(span.attributes["route.category"], "llm-proxy");
    assert.equal(span.attributes["llm.provider"], "openai");
    assert.equal(span.attributes["llm.model"], "gpt-4o");
    assert.equal(span.attributes["profile.id"], profileId);
    assert.equal(span.attributes["agent.id"], profileId);
    assert.equal(typeof span.attributes["profile.name"], "string");
    assert.equal(span.status.code, 1, "OK");
    assert.equal(span.resource["service.name"], "Archestra Platform API");
    assert.ok(span.resource["service.version"]);
    assert.equal(span.scope, "archestra");
  }
  assert.equal(plain.attributes["llm.stream"], false);
  assert.equal(streamed.attributes["llm.stream"], true);

  // Parentage: client span -> HTTP server span -> LLM span.
  const { spans } = await receiver.get("/__spans");
  const server = spans.find((s) => s.spanId === plain.parentSpanId);
  assert.ok(server, "the LLM span's parent (the HTTP server span) was exported");
  assert.equal(server.name, "POST /v1/openai/chat/completions");
  assert.equal(server.parentSpanId, clientSpan);
  assert.equal(server.attributes["http.route"], "/v1/openai/chat/completions");
  assert.equal(server.attributes["http.response.status_code"], 200);
  assert.equal(server.kind, 2, "SERVER");
  assert.equal(plain.kind, 3, "CLIENT");
  // The stream's span ends when the stream ends, after the HTTP span started.
  assert.ok(BigInt(streamed.endNs) >= BigInt(streamed.startNs));

  // traceparent propagated upstream: the LLM span is the upstream call's parent.
  const seen = await upstream.requests();
  const propagated = seen.map((r) => r.headers?.traceparent).filter(Boolean);
  assert.ok(propagated.includes(`00-${clientTrace}-${plain.spanId}-01`), JSON.stringify(propagated));

  const anthropicSpans = await spansNamed("anthropic.messages");
  assert.ok(anthropicSpans, "no anthropic.messages span");
  assert.equal(anthropicSpans[0].attributes["llm.provider"], "anthropic");
  const geminiSpans = await spansNamed("gemini.generateContent");
  assert.ok(geminiSpans, "no gemini.generateContent span");
  assert.equal(geminiSpans[0].attributes["llm.model"], "gemini-2.5-flash");

  const failed = llm.find((s) => s.attributes["http.response.status_code"] === 500) ||
    (await spansNamed("openai.chat.completions", 3)).find((s) => s.status.code === 2);
  assert.ok(failed, "the failing call has no span");
  assert.equal(failed.status.code, 2, "ERROR");
  assert.ok(failed.status.message);

  const { requests } = await receiver.get("/__requests");
  assert.ok(requests.length > 0);
  for (const r of requests) {
    assert.equal(r.headers.authorization, "Bearer otlp-bearer-token", "bearer wins over basic");
    assert.equal(r.contentType, "application/json", "OTLP/HTTP JSON is the default encoding");
    assert.equal(r.error, null, r.error);
  }
});

test("http/protobuf encoding and basic auth with both values; only one of them: a warning and no header", async () => {
  await receiver.post("/__reset");
  const both = (basicPlatform = await platformWith({
    ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/v1/traces`,
    ARCHESTRA_OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME: "collector",
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_PASSWORD: "pa55",
  }));
  const profileId = await defaultProfileId(both);
  const clientTrace = "0af7651916cd43dd8448eb211c80319c";
  const clientSpan = "b7ad6b7169203331";
  await openaiFor(both, { traceparent: `00-${clientTrace}-${clientSpan}-01` }).chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "Hello" }],
  });
  await fetch(`${both.baseUrl}/api/features`);
  let requests = await waitFor(async () => (await receiver.get("/__requests")).requests.filter((r) => !r.error).length && (await receiver.get("/__requests")).requests);
  assert.ok(requests, "no export arrived");
  assert.equal(requests[0].headers.authorization, `Basic ${Buffer.from("collector:pa55").toString("base64")}`);
  for (const r of requests) {
    assert.equal(r.contentType, "application/x-protobuf");
    assert.equal(r.error, null, r.error);
  }
  // Decoded from protobuf with ExportTraceServiceRequest.decode + verify: the same spans as the JSON encoding.
  const [llmSpan] = await spansNamed("openai.chat.completions");
  assert.ok(llmSpan, "no openai.chat.completions span from the protobuf exporter");
  assert.equal(llmSpan.traceId, clientTrace);
  assert.equal(llmSpan.kind, 3, "CLIENT");
  assert.equal(llmSpan.status.code, 1, "OK");
  assert.equal(llmSpan.attributes["route.category"], "llm-proxy");
  assert.equal(llmSpan.attributes["llm.provider"], "openai");
  assert.equal(llmSpan.attributes["llm.model"], "gpt-4o");
  assert.equal(llmSpan.attributes["llm.stream"], false, "bool attribute");
  assert.equal(llmSpan.attributes["http.response.status_code"], 200, "int64 attribute");
  assert.equal(llmSpan.attributes["profile.id"], profileId);
  assert.equal(llmSpan.resource["service.name"], "Archestra Platform API");
  assert.equal(llmSpan.scope, "archestra");
  assert.ok(BigInt(llmSpan.endNs) > BigInt(llmSpan.startNs), "fixed64 times");
  const { spans } = await receiver.get("/__spans");
  const serverSpan = spans.find((s) => s.spanId === llmSpan.parentSpanId);
  assert.ok(serverSpan, "the LLM span's parent (the HTTP server span) was exported");
  assert.equal(serverSpan.name, "POST /v1/openai/chat/completions");
  assert.equal(serverSpan.parentSpanId, clientSpan);
  assert.equal(serverSpan.kind, 2, "SERVER");

  await receiver.post("/__reset");
  const one = await platformWith({
    ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/v1/traces`,
    ARCHESTRA_OTEL_EXPORTER_OTLP_AUTH_USERNAME: "collector",
  });
  await fetch(`${one.baseUrl}/api/features`);
  requests = await waitFor(async () => {
    const r = (await receiver.get("/__requests")).requests;
    return r.length ? r : null;
  });
  assert.ok(requests, "no export arrived");
  assert.equal(requests[0].headers.authorization, undefined);
  assert.match(one.logTail(400), /only one is set/);
  await one.stop();
});

test("429/5xx are retried with backoff", async () => {
  const platform = basicPlatform;
  await sleep(1500); // the previous test's spans are exported (1 s batches) before the counters reset
  await receiver.post("/__reset");
  await receiver.post("/__fail?status=503&count=2");
  await fetch(`${platform.baseUrl}/api/features`);
  const requests = await waitFor(async () => {
    const r = (await receiver.get("/__requests")).requests;
    return r.some((x) => !x.error && x.spans > 0) ? r : null;
  });
  assert.ok(requests, "the batch never arrived after the 503s");
  assert.ok(requests.filter((r) => r.error).length >= 2, JSON.stringify(requests.map((r) => r.error)));
  const { spans } = await receiver.get("/__spans");
  assert.ok(spans.some((s) => s.name === "GET /api/features"));
});

test("an unreachable endpoint does not slow the proxy (measured)", async () => {
  const deadPort = await freePort();
  const down = await platformWith({ ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}/v1/traces` });
  const up = bearerPlatform;
  // Calls alternate between the two platforms, so load from the other tenants of this shared machine falls on
  // both samples alike (measuring one platform after the other compared two different moments).
  async function medians() {
    const clients = [openaiFor(down), openaiFor(up)];
    const times = [[], []];
    for (let i = 0; i < 80; i++) {
      const which = i % 2;
      const t0 = performance.now();
      await clients[which].chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] });
      times[which].push(performance.now() - t0);
    }
    return times.map((t) => {
      t.sort((a, b) => a - b);
      return { p50: t[20], p90: t[36] };
    });
  }
  await medians(); // warm-up of connections on both
  const [withDown, withUp] = await medians();
  console.log(`proxy latency, OTLP endpoint down: p50 ${withDown.p50.toFixed(2)} ms p90 ${withDown.p90.toFixed(2)} ms; ` +
    `endpoint up: p50 ${withUp.p50.toFixed(2)} ms p90 ${withUp.p90.toFixed(2)} ms`);
  // Shared 2-core machine: a generous margin; a blocking exporter would add its connect/timeout per call.
  assert.ok(withDown.p50 < withUp.p50 * 1.5 + 25, `endpoint down p50 ${withDown.p50} ms vs up ${withUp.p50} ms`);
  // The exporter sends in batches from its own thread: wait (bounded) for the first failed export to be counted.
  let failures = 0;
  for (let i = 0; i < 100 && failures === 0; i++) {
    const metrics = await (
      await fetch(`http://127.0.0.1:${down.metricsPort}/metrics`, { headers: { authorization: "Bearer archestra-metrics-secret" } })
    ).text();
    failures = Number(/^archestra_telemetry_span_export_failures_total (\S+)/m.exec(metrics)?.[1] ?? 0);
    if (failures === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(failures > 0, "export failures are counted within 10 s");

  // No collector must not flood the log: one warning for the outage, the rest at debug level (not shown at info).
  const warnings = () => down.logTail(400).split("\n").filter((l) => /cannot export spans/.test(l));
  assert.equal(warnings().length, 1, warnings().join("\n"));
  assert.match(warnings()[0], / warn /);
  assert.ok(failures >= 1);
  // A collector appears where the exporter points: the next batch goes through and the log says "recovered".
  const late = await startOtlpReceiver(deadPort);
  try {
    await fetch(`${down.baseUrl}/api/features`);
    const arrived = await waitFor(async () => {
      const { spans } = await late.get("/__spans");
      return spans.some((s) => s.name === "GET /api/features") && /recovered after \d+ failed batches/.test(down.logTail(400));
    }, 15000);
    assert.ok(arrived, `no recovery after the collector came up:\n${down.logTail(30)}`);
    assert.equal(warnings().length, 1, "no new warning once recovered");
  } finally {
    await late.stop();
  }
});
