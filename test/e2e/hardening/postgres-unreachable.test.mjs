// PostgreSQL unreachable for 60 s (the number; FAULTS_PG_DOWN_S changes it) while the proxy is under
// load: the proxy keeps answering from its in-memory snapshots, interactions spool to disk, and when the
// database returns everything is replayed: interaction rows = requests acknowledged. /ready stays 200 with
// status "degraded" naming the database meanwhile (a database blip must not take every replica out of its
// Service while they keep serving), and is "ready" again once it returns.
import { test } from "node:test";
import assert from "node:assert/strict";

import { eventually, sleep } from "../lib/harness.mjs";
import { stackOnPostgres } from "../lib/postgres.mjs";
import { startLoad, latenciesBetween, percentile, metric } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const DOWN_S = Number(process.env.FAULTS_PG_DOWN_S || 60);
const ctx = stackOnPostgres();

const rows = (agent) => ctx.pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);

test(`PostgreSQL unreachable for ${DOWN_S} s under load: the proxy keeps serving, nothing is lost`, { timeout: 240000 + DOWN_S * 1000 }, async () => {
  const { pg, stack } = ctx;
  const { platform } = stack;
  const agent = `pg-down-${Date.now()}`;
  const load = startLoad(platform.baseUrl, { agentId: agent, concurrency: 6, streamEvery: 2 });
  await sleep(3000);
  const downAt = Date.now();
  await pg.stop();
  const ackAtDown = load.stats.acknowledged;

  // While it is away: the proxy answers, rows go to the spool, /ready reports the database as degraded (200).
  let spoolPeak = 0;
  let readyWhileDown = null;
  while (Date.now() - downAt < DOWN_S * 1000) {
    await sleep(2000);
    spoolPeak = Math.max(spoolPeak, await metric(platform, "archestra_interaction_log_spool_bytes"));
    if (!readyWhileDown || !readyWhileDown.body.degraded.includes("database")) {
      const res = await fetch(`${platform.baseUrl}/ready`);
      readyWhileDown = { status: res.status, body: await res.json() };
    }
  }
  const upAt = Date.now();
  const ackWhileDown = load.stats.acknowledged - ackAtDown;
  await pg.start();
  await sleep(5000);
  const stats = await load.stop();
  const acknowledged = stats.acknowledged;

  assert.deepEqual(stats.errors.slice(0, 5), [], `${stats.errors.length} failed requests`);
  assert.ok(ackWhileDown > 50, `only ${ackWhileDown} requests answered while the database was away`);
  assert.ok(spoolPeak > 0, "nothing was spooled while the database was away");
  assert.equal(readyWhileDown.status, 200, JSON.stringify(readyWhileDown.body));
  assert.equal(readyWhileDown.body.status, "degraded", JSON.stringify(readyWhileDown.body));
  assert.ok(readyWhileDown.body.degraded.includes("database"), JSON.stringify(readyWhileDown.body));
  assert.deepEqual(readyWhileDown.body.failing, [], JSON.stringify(readyWhileDown.body));
  assert.match(readyWhileDown.body.checks.database.detail, /database does not answer; the proxy serves/);

  // Replayed: rows = requests acknowledged, and the spool is empty again.
  const replayStart = Date.now();
  const final = await eventually(async () => ((await rows(agent)) === acknowledged ? acknowledged : null), 90000, 500);
  const replay_ms = Date.now() - replayStart;
  const recorded = await rows(agent);
  assert.equal(recorded, acknowledged, `interaction rows ${recorded} != requests acknowledged ${acknowledged}`);
  assert.ok(final);
  assert.equal(await metric(platform, "archestra_interaction_log_spool_bytes"), 0);
  const duplicates = await pg.count(
    `SELECT count(*) FROM (SELECT id FROM interactions GROUP BY id HAVING count(*) > 1) d`,
  );
  assert.equal(duplicates, 0);
  const ready = await eventually(async () => {
    const res = await fetch(`${platform.baseUrl}/ready`);
    const body = await res.json();
    return res.status === 200 && body.status === "ready" ? true : null;
  }, 30000, 500);
  assert.ok(ready, "/ready did not return to status ready after the database came back");

  const before = latenciesBetween(stats, 0, downAt);
  const during = latenciesBetween(stats, downAt, upAt);
  const p = (v, q) => `${percentile(v, q).toFixed(1)} ms`;
  console.log({ acknowledged, ackWhileDown, spoolPeak, replay_ms, readyWhileDown: readyWhileDown.status });
  recordReliability("e2e_hardening_postgres_unreachable", [
    { what: `PostgreSQL unreachable for ${DOWN_S} s under load (6 clients, half streamed)`, how: "requests answered while it was away / failed", figure: `${ackWhileDown} / ${stats.errors.length}` },
    { what: "latency before / while the database was away", how: "p50, p99 of client-observed latency", figure: `${p(before, 50)}, ${p(before, 99)} / ${p(during, 50)}, ${p(during, 99)}` },
    { what: "interactions spooled while it was away", how: "peak of archestra_interaction_log_spool_bytes", figure: `${spoolPeak} bytes` },
    { what: "replay after it returned", how: "interaction rows = requests acknowledged (no duplicate ids)", figure: `${recorded} = ${acknowledged}, all rows within ${((Date.now() - upAt) / 1000).toFixed(1)} s of its return` },
    { what: "/ready while it was away", how: "HTTP status, status field, degraded checks", figure: `${readyWhileDown.status} ${readyWhileDown.body.status} [${readyWhileDown.body.degraded.join(", ")}]` },
  ]);
});
