// /metrics on the metrics listener: bearer check (401 bodies of the reference), never served on the API or UI
// port, and a real Prometheus server (Debian's `prometheus`) scraping it with the bearer token and answering
// queries for the llm_* and http_* series after traffic through the proxy.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStack, freePort } from "../lib/harness.mjs";
import { openAiClient } from "../lib/sdk-clients.mjs";
import { sleep, waitFor } from "./standins.mjs";

const SECRET = "metrics-e2e-secret-7f3a";
let stack;
let prometheus;
let promUrl;
let promDir;

async function startPrometheus(metricsPort) {
  const binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((p) => fs.existsSync(p));
  assert.ok(binary, "the prometheus binary is missing: run packaging/install-deps.sh --test");
  promDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-prom-"));
  const config = `global:
  scrape_interval: 1s
  scrape_timeout: 900ms
scrape_configs:
  - job_name: archestra
    authorization:
      type: Bearer
      credentials: ${SECRET}
    static_configs:
      - targets: ["127.0.0.1:${metricsPort}"]
`;
  fs.writeFileSync(path.join(promDir, "prometheus.yml"), config);
  const port = await freePort();
  const child = spawn(
    binary,
    [
      `--config.file=${path.join(promDir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(promDir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  promUrl = `http://127.0.0.1:${port}`;
  const ready = await waitFor(async () => {
    try {
      return (await fetch(`${promUrl}/-/ready`)).status === 200;
    } catch {
      return false;
    }
  }, 30000);
  assert.ok(ready, `prometheus did not become ready:\n${output}`);
  return child;
}

async function query(expr) {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await res.json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.result;
}

before(async () => {
  stack = await startStack({ env: { ARCHESTRA_METRICS_SECRET: SECRET } });
  prometheus = await startPrometheus(stack.platform.metricsPort);
});

after(async () => {
  if (prometheus) {
    prometheus.kill("SIGTERM");
    await sleep(300);
    if (prometheus.exitCode === null) prometheus.kill("SIGKILL");
  }
  if (promDir) fs.rmSync(promDir, { recursive: true, force: true });
  await stack?.stop();
});

test("/metrics needs the bearer secret: 401 JSON bodies of the reference", async () => {
  const url = `http://127.0.0.1:${stack.platform.metricsPort}/metrics`;
  let res = await fetch(url);
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: "Unauthorized: Bearer token required" });
  res = await fetch(url, { headers: { authorization: `Token ${SECRET}` } });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: "Unauthorized: Bearer token required" });
  res = await fetch(url, { headers: { authorization: "Bearer archestra-metrics-secret" } });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { error: "Unauthorized: Invalid token" });
  res = await fetch(url, { headers: { authorization: `Bearer ${SECRET}` } });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  assert.match(text, /^process_resident_memory_bytes \d/m);
  assert.match(text, /^archestra_database_pool_capacity 16/m);
  assert.match(text, /^archestra_plugin_status\{.*status="loaded"/m);
  // The health route of the metrics listener needs no token.
  res = await fetch(`http://127.0.0.1:${stack.platform.metricsPort}/health`);
  assert.deepEqual(await res.json(), { status: "ok" });
});

test("/metrics is never served on the API or UI port", async () => {
  for (const port of [stack.platform.apiPort, stack.platform.uiPort]) {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${SECRET}` } });
    const text = await res.text();
    assert.notEqual(res.status, 200, `port ${port} answered /metrics: ${text.slice(0, 200)}`);
    assert.doesNotMatch(text, /llm_request_duration_seconds|process_cpu_seconds_total/);
  }
});

test("Prometheus scrapes the platform and sees the LLM and HTTP series after traffic", async () => {
  const openai = openAiClient(stack.platform, undefined, { defaultHeaders: { "X-Archestra-Agent-Id": "prom-agent-1" } });
  for (let i = 0; i < 3; i++) {
    await openai.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] });
  }
  const stream = await openai.chat.completions.create({
    model: "gpt-4o",
    messages: [{ role: "user", content: "Hello" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of stream) void chunk;
  await fetch(`${stack.platform.baseUrl}/api/features`);

  const up = await waitFor(async () => {
    const r = await query('up{job="archestra"}');
    return r.length && r[0].value[1] === "1" ? r : null;
  }, 20000);
  assert.ok(up, "Prometheus never scraped the platform successfully (bearer token or target wrong)");

  const durations = await waitFor(async () => {
    const r = await query('llm_request_duration_seconds_count{provider="openai",agent_id="prom-agent-1"}');
    const total = r.reduce((sum, s) => sum + Number(s.value[1]), 0);
    return total >= 4 ? r : null;
  }, 20000);
  assert.ok(durations, "llm_request_duration_seconds never reached 4 calls in Prometheus");
  const series = durations[0].metric;
  assert.equal(series.model, "gpt-4o");
  assert.equal(series.status_code, "200");
  assert.match(series.profile_id, /^[0-9a-f-]{36}$/);
  assert.ok("profile_name" in series);

  const tokens = await query('llm_tokens_total{provider="openai",agent_id="prom-agent-1"}');
  const types = new Set(tokens.map((s) => s.metric.type));
  assert.ok(types.has("input") && types.has("output"), JSON.stringify(tokens));
  assert.ok(tokens.every((s) => Number(s.value[1]) > 0));

  const ttft = await query('llm_time_to_first_token_seconds_count{agent_id="prom-agent-1"}');
  assert.equal(ttft.reduce((sum, s) => sum + Number(s.value[1]), 0), 1, "one streamed call -> one TTFT sample");
  const buckets = await query('llm_request_duration_seconds_bucket{agent_id="prom-agent-1"}');
  const les = new Set(buckets.map((s) => s.metric.le));
  for (const le of ["0.1", "0.5", "1", "2", "5", "10", "30", "60", "+Inf"]) assert.ok(les.has(le), `bucket le=${le}`);

  const http = await waitFor(async () => {
    const r = await query('http_request_duration_seconds_count{route="/api/features",method="GET",status_code="200"}');
    return r.length ? r : null;
  }, 10000);
  assert.ok(http, "http_request_duration_seconds has no /api/features series");
  const proxyRoute = await query('http_request_duration_seconds_count{route="/v1/openai/chat/completions"}');
  assert.ok(proxyRoute.length, "the proxy route is labelled with its template");
  const health = await query('http_request_duration_seconds_count{route="/health"}');
  assert.equal(health.length, 0, "/health is excluded");
  // The reference's fastify-metrics summary beside the histogram: same labels, prom-client's default percentiles.
  const summary = await query('http_request_summary_seconds{route="/api/features",method="GET",status_code="200"}');
  assert.deepEqual(new Set(summary.map((s) => s.metric.quantile)), new Set(["0.01", "0.05", "0.5", "0.9", "0.95", "0.99", "0.999"]));
});

test("MCP server installations by type, runtime and state follow the registry's rows", async () => {
  // Rows as the registry writes them (status set by install, discovery and restarts).
  await stack.platform.psql(
    "INSERT INTO mcp_server (name, server_type, local_installation_status) VALUES " +
      "('metrics-remote', 'remote', 'success'), ('metrics-local-a', 'local', 'error'), " +
      "('metrics-local-b', 'local', 'error'), ('metrics-local-c', 'local', 'pending')",
  );
  const value = async (labels) => {
    const r = await query(`archestra_mcp_servers{${labels}}`);
    return r.length === 1 ? { value: Number(r[0].value[1]), metric: r[0].metric } : null;
  };
  const errors = await waitFor(async () => {
    const v = await value('server_type="local",state="error"');
    return v?.value === 2 ? v : null;
  }, 15000);
  assert.ok(errors, "archestra_mcp_servers never showed the two local servers in error");
  assert.equal(errors.metric.runtime, "local", "the orchestrator that runs local servers");
  assert.equal((await value('server_type="local",state="pending"'))?.value, 1);
  const remote = await value('server_type="remote",state="success"');
  assert.equal(remote?.value, 1);
  assert.equal(remote.metric.runtime, "remote");
  // A state change moves the count; a state left empty drops to 0 rather than vanishing.
  await stack.platform.psql("UPDATE mcp_server SET local_installation_status = 'success' WHERE server_type = 'local'");
  const moved = await waitFor(async () => {
    const [err, ok] = [await value('server_type="local",state="error"'), await value('server_type="local",state="success"')];
    return err?.value === 0 && ok?.value === 3 ? true : null;
  }, 15000);
  assert.ok(moved, "the gauge did not follow the state change");
  await stack.platform.psql("DELETE FROM mcp_server WHERE name LIKE 'metrics-%'");
});

test("the OTLP exporter is on by default, pointed at the documented endpoint", () => {
  // deployment.md: ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT defaults to http://localhost:4318/v1/traces.
  assert.match(stack.platform.logTail(400), /traces: OTLP\/HTTP \(http\/json\) to http:\/\/localhost:4318\/v1\/traces/);
});
