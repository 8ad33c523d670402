// The OTLP endpoint down, in its two shapes: refused connections, then a "black hole" on the same port that
// accepts connections and never answers (the exporter waits out its timeout on every batch). Under sustained
// proxy load, compared call by call with a platform whose collector answers: no added latency worth mentioning,
// memory bounded (the span queue is bounded; RSS flat once it is full), spans dropped and counted, interaction
// rows = requests acknowledged, and SIGTERM still exits promptly with the exporter stuck.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";

import { startStandin, startPlatform, freePort, eventually, sleep } from "../lib/harness.mjs";
import { startPostgres } from "../lib/postgres.mjs";
import { chatOnce, percentile, metric } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";
import { productRule } from "../lib/instrumented.mjs";

let pg;
let standin;
let collector; // answers 200 to every export
let hole; // accepts and never answers
let up;
let down;
let deadPort;

before(async () => {
  pg = await startPostgres();
  standin = await startStandin();
  collector = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((r) => collector.listen(0, "127.0.0.1", r));
  deadPort = await freePort();
  const env = { ARCHESTRA_DATABASE_URL: pg.url };
  up = await startPlatform({
    upstream: standin.url,
    env: { ...env, ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.address().port}/v1/traces` },
  });
  down = await startPlatform({
    upstream: standin.url,
    env: { ...env, ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${deadPort}/v1/traces` },
  });
});

after(async () => {
  await down?.stop();
  await up?.stop();
  hole?.close();
  for (const s of hole?.sockets ?? []) s.destroy();
  collector?.close();
  await standin?.stop();
  await pg?.destroy();
});

const rssKb = (platform) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${platform.child.pid}/status`, "utf8"))[1]);

/// `n` rounds of one call to each platform, 4 rounds at a time, alternating so the machine's other load falls
/// on both alike. Returns per-platform latencies and acknowledged counts.
async function alternate(n, agent) {
  const result = { up: [], down: [], ackUp: 0, ackDown: 0, failures: [] };
  for (let i = 0; i < n; i += 4) {
    await Promise.all(
      Array.from({ length: 4 }, async (_, k) => {
        const stream = (i + k) % 2 === 0;
        for (const [name, platform] of (i + k) % 2 ? [["up", up], ["down", down]] : [["down", down], ["up", up]]) {
          const r = await chatOnce(platform.baseUrl, { agentId: `${agent}-${name}`, stream });
          if (r.ok) {
            result[name].push(r.latency_ms);
            name === "up" ? result.ackUp++ : result.ackDown++;
          } else result.failures.push(`${name}: ${r.reason}`);
        }
      }),
    );
  }
  return result;
}

const rows = (agent) => pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);
const fmt = (v) => `p50 ${percentile(v, 50).toFixed(1)} ms, p99 ${percentile(v, 99).toFixed(1)} ms`;

test("OTLP endpoint refused, then a black hole: no added latency, bounded memory, spans dropped and counted", { timeout: 280000 }, async () => {
  const agent = `otlp-${Date.now()}`;
  await alternate(40, `${agent}-warm`);

  // Phase 1: connection refused.
  const refused = await alternate(400, agent);
  assert.deepEqual(refused.failures, []);
  const failures1 = await metric(down, "archestra_telemetry_span_export_failures_total");
  assert.ok(failures1 > 0, "failed exports are counted");

  // Phase 2: the same port accepts and never answers; the span queue fills and then drops.
  hole = net.createServer((socket) => {
    hole.accepted++;
    hole.sockets.add(socket);
    socket.on("close", () => hole.sockets.delete(socket));
    socket.on("error", () => {});
    socket.resume();
  });
  hole.sockets = new Set();
  hole.accepted = 0;
  await new Promise((r) => hole.listen(deadPort, "127.0.0.1", r));
  const rssStart = rssKb(down);
  const holeA = await alternate(1200, agent);
  // Cheap requests (one server span each) push the span queue to its bound of 4,096 faster than LLM calls.
  for (let i = 0; i < 4000; i += 40) {
    await Promise.all(Array.from({ length: 40 }, () => fetch(`${down.baseUrl}/api/features`).then((r) => r.arrayBuffer())));
  }
  const rssMid = rssKb(down);
  const holeB = await alternate(800, agent);
  const rssEnd = rssKb(down);
  assert.deepEqual([...holeA.failures, ...holeB.failures], []);
  assert.ok(hole.accepted >= 1, "the exporter never connected to the black hole");
  const dropped = await metric(down, "archestra_telemetry_spans_dropped_total");
  const queue = await metric(down, "archestra_telemetry_span_queue_depth");
  assert.ok(dropped > 0, `no span dropped (queue depth ${queue})`);
  assert.ok(queue <= 4096, `span queue ${queue} above its bound`);
  // Memory: once the queue is full, more load must not grow the process (spans are dropped, not kept).
  productRule(rssEnd - rssMid < 16 * 1024, `RSS grew ${rssEnd - rssMid} kB in the second half of the black-hole phase`);

  // Latency: the down platform against the up one, same calls, same moments.
  const downAll = [...refused.down, ...holeA.down, ...holeB.down];
  const upAll = [...refused.up, ...holeA.up, ...holeB.up];
  const p50Down = percentile(downAll, 50);
  const p50Up = percentile(upAll, 50);
  assert.ok(p50Down < p50Up * 1.5 + 10, `p50 with the endpoint down ${p50Down} ms vs up ${p50Up} ms`);

  // Rows = requests acknowledged on both platforms.
  const ackDown = refused.ackDown + holeA.ackDown + holeB.ackDown;
  const ackUp = refused.ackUp + holeA.ackUp + holeB.ackUp;
  await eventually(async () => ((await rows(`${agent}-down`)) === ackDown && (await rows(`${agent}-up`)) === ackUp ? true : null), 20000, 250);
  assert.equal(await rows(`${agent}-down`), ackDown);
  assert.equal(await rows(`${agent}-up`), ackUp);

  // SIGTERM with the exporter stuck in the black hole: still a prompt, clean exit.
  const stopStart = Date.now();
  const exited = new Promise((resolve) => down.child.once("exit", (code) => resolve(code)));
  down.child.kill("SIGTERM");
  const code = await Promise.race([exited, sleep(30000).then(() => "still running after 30 s")]);
  const stop_ms = Date.now() - stopStart;
  assert.equal(code, 0, down.logTail(20));
  assert.ok(stop_ms < 15000, `exit took ${stop_ms} ms with the exporter stuck`);

  console.log({ refused: fmt(refused.down), refusedUp: fmt(refused.up), hole: fmt([...holeA.down, ...holeB.down]), holeUp: fmt([...holeA.up, ...holeB.up]), rssStart, rssMid, rssEnd, dropped, queue, failures1, stop_ms });
  recordReliability("e2e_hardening_otlp_down", [
    { what: "OTLP endpoint refusing connections (400 calls, alternated with a platform whose collector answers)", how: "proxy latency down vs up", figure: `${fmt(refused.down)} vs ${fmt(refused.up)}` },
    { what: "OTLP endpoint a black hole (accepts, never answers; 2,000 calls)", how: "proxy latency down vs up", figure: `${fmt([...holeA.down, ...holeB.down])} vs ${fmt([...holeA.up, ...holeB.up])}` },
    { what: "memory with the endpoint a black hole", how: "RSS at its start / after 1,200 calls and 4,000 cheap requests (queue full) / after 800 more calls", figure: `${rssStart} / ${rssMid} / ${rssEnd} kB` },
    { what: "spans with the endpoint down", how: "archestra_telemetry_spans_dropped_total; queue depth (bound 4,096); failed exports", figure: `${dropped} dropped; ${queue}; ${failures1} failed exports while refused` },
    { what: "interactions with the endpoint down", how: "rows = requests acknowledged", figure: `${ackDown} = ${ackDown}` },
    { what: "SIGTERM with the exporter stuck in the black hole", how: "time to exit (code)", figure: `${stop_ms} ms (${code})` },
  ]);
});
