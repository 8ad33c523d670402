// PostgreSQL crash-restarted under load (issue 14, "PostgreSQL restarted during load"): while 6 clients (half of
// them streaming) go through the proxy, the postmaster and all its backends are SIGKILLed at once (a crash: no
// shutdown checkpoint, clients' sockets reset, WAL recovery at the next start), and after a short gap
// (FAULTS_PG_RESTART_GAP_S, 2 s) it is started again on the same port and data directory; twice
// (FAULTS_PG_RESTARTS). The odd crashes (1st, 3rd, ...) land while the interaction writer is inside a write
// transaction (its COPY sent, the COMMIT not): a statement trigger the test adds makes every interaction insert
// wait for an advisory lock the test holds, and the kill comes once the writer is seen waiting there. The even
// ones find the writer as the load leaves it (usually between batches). Nothing may be lost or counted twice: zero client errors, interaction rows = requests
// acknowledged with no duplicate ids (a batch whose COMMIT reached the server just before the kill is spooled and
// replayed with ON CONFLICT DO NOTHING), the token usage of a limit = the tokens of the rows (a replay never
// counts usage twice), /ready back to "ready", and the platform's session pool working again (a management API
// write after each restart).
import { test } from "node:test";
import assert from "node:assert/strict";

import { adminSession, apiClient, eventually, sleep } from "../lib/harness.mjs";
import { stackOnPostgres, tokenCostLimit } from "../lib/postgres.mjs";
import { startLoad, latenciesBetween, percentile, metric } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const GAP_S = Number(process.env.FAULTS_PG_RESTART_GAP_S || 2);
const RESTARTS = Number(process.env.FAULTS_PG_RESTARTS || 2);
const HOLD_LOCK = 4242; // the advisory lock key the trigger waits for
// Load between (and after) the crashes, so each restart is followed by writes on reconnected sessions.
const SETTLE_S = 4;
const ctx = stackOnPostgres();

const readyNow = async (platform) => {
  try {
    const res = await fetch(`${platform.baseUrl}/ready`, { signal: AbortSignal.timeout(5000) });
    return { at: Date.now(), status: res.status, body: await res.json() };
  } catch (err) {
    return { at: Date.now(), status: 0, body: { error: String(err) } };
  }
};

test(`PostgreSQL SIGKILLed and restarted ${RESTARTS} times under load (${GAP_S} s gap): nothing lost or counted twice`, { timeout: 120000 + RESTARTS * (GAP_S + 30) * 1000 }, async () => {
  const { pg, stack } = ctx;
  const { platform } = stack;
  const api = apiClient(platform, await adminSession(platform));
  // A token_cost limit on the profile and model the load uses: usage = the rows' tokens shows no batch counted twice.
  const limit = await tokenCostLimit(pg, api);
  // Every interaction insert (the writer's COPY or INSERT) ends by taking HOLD_LOCK shared, for its transaction:
  // free unless the test holds the lock.
  await pg.psql(`CREATE FUNCTION faults_hold_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_advisory_xact_lock_shared(${HOLD_LOCK}); RETURN NULL; END $$;
    CREATE TRIGGER faults_hold_write AFTER INSERT ON interactions FOR EACH STATEMENT EXECUTE FUNCTION faults_hold_write();`);
  // The statements waiting for HOLD_LOCK: COPY, or INSERT (the writer's row-by-row fallback and replay).
  const heldWrites = async () =>
    (await pg.psql(`SELECT CASE WHEN query LIKE 'COPY%' THEN 'COPY' ELSE 'INSERT' END FROM pg_stat_activity WHERE wait_event = 'advisory' AND query NOT LIKE '%pg_advisory_lock(%'`))
      .split("\n").filter(Boolean);
  const agent = `pg-restart-${Date.now()}`;
  const rows = () => pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);

  // /ready sampled every 250 ms for the whole run: it must never say 503 (the spool is writable).
  const readiness = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      readiness.push(await readyNow(platform));
      await sleep(250);
    }
  })();

  // The platform's LISTEN sessions (profile cache, notifications): each must be re-established after a crash.
  const listeners = () => pg.count(`SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`);
  const listenersBefore = await eventually(listeners, 10000, 200);
  assert.ok(listenersBefore > 0, "no LISTEN session before the crashes");

  const load = startLoad(platform.baseUrl, { agentId: agent, concurrency: 6, streamEvery: 2 });
  await sleep(3000);
  const rounds = [];
  try {
    for (let r = 0; r < RESTARTS; r++) {
      const held = r % 2 === 0;
      let heldAt = [];
      let lock = null;
      if (held) {
        lock = await pg.holdAdvisoryLock(HOLD_LOCK);
        heldAt = await eventually(heldWrites, 15000, 50);
        assert.ok(heldAt.length > 0, `round ${r + 1}: the writer never reached the held lock`);
      }
      const ackBefore = load.stats.acknowledged;
      const killedAt = Date.now();
      await pg.kill();
      const killed = pg.killed;
      lock?.release();
      await sleep(GAP_S * 1000);
      const ackWhileDown = load.stats.acknowledged - ackBefore;
      const startAt = Date.now();
      await pg.start();
      const upAt = Date.now();
      // The pool must hand out working sessions again: a management API write (a new profile) through it.
      let writeAttempts = 0;
      const written = await eventually(async () => {
        writeAttempts++;
        const res = await api("POST", "/api/agents", { name: `pg-restart-probe-${r}-${Date.now()}`, teams: [] });
        return res.status === 200 ? res.body : null;
      }, 20000, 250);
      const writeOkAt = Date.now();
      const ready = await eventually(async () => {
        const s = await readyNow(platform);
        return s.status === 200 && s.body.status === "ready" ? s : null;
      }, 30000, 250);
      rounds.push({
        held: heldAt.join("+") || null, killed, ackWhileDown, writeAttempts, write_ms: writeOkAt - upAt, written: Boolean(written?.id),
        ready: Boolean(ready), ready_ms: ready ? ready.at - upAt : NaN, down_ms: upAt - killedAt, start_ms: upAt - startAt,
      });
      assert.ok(written?.id, `round ${r + 1}: no management API write succeeded within 20 s of the restart`);
      assert.ok(ready, `round ${r + 1}: /ready did not return to status ready within 30 s of the restart`);
      await sleep(SETTLE_S * 1000);
    }
  } finally {
    sampling = false;
    await sampler;
  }
  const stats = await load.stop();
  const acknowledged = stats.acknowledged;
  console.log({ acknowledged, errors: stats.errors.length, rounds });

  assert.deepEqual(stats.errors.slice(0, 5), [], `${stats.errors.length} failed requests`);
  for (const [i, round] of rounds.entries()) {
    assert.ok(round.ackWhileDown > 0, `round ${i + 1}: no request answered while PostgreSQL was down`);
  }
  const not200 = readiness.filter((s) => s.status !== 200);
  assert.deepEqual(not200.slice(0, 3), [], `${not200.length} of ${readiness.length} /ready samples were not 200`);
  const degradedSeen = readiness.filter((s) => s.body.status === "degraded").length;

  // Where each crash found the writer (its one warning per outage): 'BEGIN' or 'connect' = between batches;
  // COPY, INSERT, the usage statement or COMMIT = inside a write transaction whose outcome it cannot know. Where
  // the test held the writer, it must have been cut in the statement it was seen waiting in.
  const cut = platform
    .logTail(400)
    .split("\n")
    .map((l) => /\[proxy\.interactions\] database unavailable \((.*)/.exec(l)?.[1])
    .filter(Boolean)
    .map((why) => {
      if (why.startsWith("COPY interactions")) return "COPY";
      const sql = /^PostgreSQL connection lost while running '([^']*)'/.exec(why)?.[1];
      if (!sql) return "connect"; // its idle session was found dead and a new one refused: between batches
      return sql.startsWith("WITH ins AS (INSERT") ? "INSERT" : sql.startsWith("WITH") ? "usage upsert" : sql;
    });
  const midTransaction = cut.filter((c) => c !== "BEGIN" && c !== "connect").length;
  assert.equal(cut.length, RESTARTS, `one writer warning per crash: ${JSON.stringify(cut)}`);
  for (const [i, round] of rounds.entries()) {
    if (round.held) assert.equal(cut[i], round.held, `crash ${i + 1}: the writer was held in ${round.held}`);
  }

  // Every acknowledged request has exactly one row, none twice.
  const drainStart = Date.now();
  await eventually(async () => ((await rows()) === acknowledged ? true : null), 60000, 500);
  const drain_ms = Date.now() - drainStart;
  const recorded = await rows();
  assert.equal(recorded, acknowledged, `interaction rows ${recorded} != requests acknowledged ${acknowledged}`);
  const duplicates = await pg.count(`SELECT count(*) FROM (SELECT id FROM interactions GROUP BY id HAVING count(*) > 1) d`);
  assert.equal(duplicates, 0);
  assert.equal(await metric(platform, "archestra_interaction_log_spool_bytes"), 0);
  assert.equal(await metric(platform, "archestra_interaction_log_rows_dropped_total"), 0);

  // Usage counted once per row: the limit's counters = the tokens of the profile's rows.
  const { tokens: [tokensIn, tokensOut], usage: [usageIn, usageOut] } = await limit.counted();
  assert.ok(tokensIn > 0, "the rows carry no input tokens: the usage check would prove nothing");
  assert.equal(usageIn, tokensIn, "input tokens counted in the limit != input tokens of the rows");
  assert.equal(usageOut, tokensOut, "output tokens counted in the limit != output tokens of the rows");

  const listenersAfter = await eventually(async () => ((await listeners()) >= listenersBefore ? listeners() : null), 15000, 250);
  assert.equal(listenersAfter, listenersBefore, "LISTEN sessions after the crashes");

  const final = await readyNow(platform);
  assert.equal(final.status, 200);
  assert.equal(final.body.status, "ready", JSON.stringify(final.body));

  const fmt = (v) => `${percentile(v, 50).toFixed(1)}, ${percentile(v, 99).toFixed(1)} ms`;
  const all = latenciesBetween(stats, 0);
  const worst = Math.max(...all);
  const list = (key, unit = "") => rounds.map((r) => `${r[key]}${unit}`).join(" / ");
  recordReliability("e2e_hardening_postgres_restart", [
    { what: `PostgreSQL SIGKILLed (postmaster + backends) and restarted ${RESTARTS} times under load, ${GAP_S} s gap (6 clients, half streamed)`, how: "requests answered / failed; answered while it was down, per crash", figure: `${acknowledged} / ${stats.errors.length}; ${list("ackWhileDown")}` },
    { what: "processes SIGKILLed per crash", how: "the postmaster (stopped first, so it forks nothing more) and every process it had forked: backends, checkpointer, WAL writer, ...", figure: list("killed") },
    { what: "client latency across the crashes", how: "p50, p99 and worst of client-observed latency", figure: `${fmt(all)}, worst ${worst.toFixed(1)} ms` },
    { what: "where each crash found the interaction writer", how: "statement it lost the connection in (odd crashes: held inside its transaction by a lock the test took)", figure: `${cut.join(" / ")}: ${midTransaction} of ${cut.length} inside a write transaction` },
    { what: "session pool after each restart", how: "first management API write (POST /api/agents) that succeeded: ms after PostgreSQL accepted connections (attempts)", figure: rounds.map((r) => `${r.write_ms} ms (${r.writeAttempts})`).join(" / ") },
    { what: "LISTEN sessions (cache invalidation across replicas)", how: "sessions whose last statement is LISTEN, before the first crash / after the last", figure: `${listenersBefore} / ${listenersAfter}` },
    { what: "/ready across the crashes", how: "samples every 250 ms: not 200 / degraded / total; back to ready after each restart", figure: `${not200.length} / ${degradedSeen} / ${readiness.length}; ${list("ready_ms", " ms")}` },
    { what: "nothing lost, nothing twice", how: "interaction rows = requests acknowledged, duplicate ids, limit usage = tokens of the rows", figure: `${recorded} = ${acknowledged}, 0 duplicates, ${usageIn} = ${tokensIn} tokens in; all rows ${drain_ms} ms after the load stopped` },
  ]);
});
