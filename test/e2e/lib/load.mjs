// Closed-loop proxy load for the fault tests: `concurrency` clients, each sending OpenAI chat completions one
// after another (every `streamEvery`-th one streamed) until stop(). A request is "acknowledged" when its whole
// answer arrived with 200 (a stream: through `data: [DONE]`); those are the requests the interaction log owes a
// row. Everything else is an error, kept with its reason.

/// One OpenAI chat completion through the proxy; resolves { ok, status, latency_ms, reason }.
export async function chatOnce(baseUrl, { agentId, stream = false, scenario = "text", timeout_ms = 30000 } = {}) {
  const started = performance.now();
  try {
    const res = await fetch(`${baseUrl}/v1/openai/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test", "x-archestra-agent-id": agentId },
      body: JSON.stringify({ model: "gpt-4o", stream, messages: [{ role: "user", content: `hello scenario:${scenario}` }] }),
      signal: AbortSignal.timeout(timeout_ms),
    });
    const text = await res.text();
    const latency_ms = performance.now() - started;
    if (res.status !== 200) return { ok: false, status: res.status, latency_ms, reason: `${res.status} ${text.slice(0, 200)}` };
    if (stream && !/data: \[DONE\]/.test(text)) return { ok: false, status: 200, latency_ms, reason: "stream ended without [DONE]" };
    if (!stream && !/"choices"/.test(text)) return { ok: false, status: 200, latency_ms, reason: `no choices: ${text.slice(0, 200)}` };
    return { ok: true, status: 200, latency_ms, events: stream ? (text.match(/^data: /gm) || []).length : 0 };
  } catch (err) {
    return { ok: false, status: 0, latency_ms: performance.now() - started, reason: err.cause?.code || err.name || String(err) };
  }
}

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/// Starts the load; returns { stats, stop() } (stop resolves when every client finished its current request).
/// stats: { acknowledged, errors: [{at, reason}], latencies: [{at, ms, stream}] } (at = Date.now()).
export function startLoad(baseUrl, { agentId, concurrency = 8, streamEvery = 2, scenario = "text", pause_ms = 0 } = {}) {
  const stats = { acknowledged: 0, errors: [], latencies: [] };
  let running = true;
  const clients = Array.from({ length: concurrency }, async (_, c) => {
    for (let i = 0; running; i++) {
      const stream = streamEvery > 0 && (i + c) % streamEvery === 0;
      const result = await chatOnce(baseUrl, { agentId, stream, scenario });
      if (result.ok) {
        stats.acknowledged++;
        stats.latencies.push({ at: Date.now(), ms: result.latency_ms, stream });
      } else {
        stats.errors.push({ at: Date.now(), reason: result.reason });
      }
      if (pause_ms) await new Promise((r) => setTimeout(r, pause_ms));
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(clients);
      return stats;
    },
  };
}

/// Milliseconds of latencies recorded between `from` and `to` (Date.now() values).
export function latenciesBetween(stats, from, to = Infinity) {
  return stats.latencies.filter((l) => l.at >= from && l.at < to).map((l) => l.ms);
}

/// One Prometheus sample value from the platform's /metrics (the first series of `name`), or NaN.
export async function metric(platform, name) {
  const res = await fetch(`http://127.0.0.1:${platform.metricsPort}/metrics`, {
    headers: { authorization: `Bearer ${process.env.ARCHESTRA_METRICS_SECRET || "archestra-metrics-secret"}` },
  });
  const text = await res.text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}
