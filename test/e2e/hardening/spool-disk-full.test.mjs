// Disk full for the interaction spool: <data dir>/spool is a 4 MB tmpfs the test fills up (a real ENOSPC from
// the kernel, no knob). The proxy keeps serving, /ready stays 200 and lists "interaction_spool" under
// "degraded" with the reason, the metrics say so (archestra_interaction_spool_degraded, ..._write_errors_total),
// and rows still reach the database (rows = requests acknowledged). With the database away as well, the rows
// are kept in an in-memory backlog (archestra_interaction_log_backlog_rows, bounded by
// ARCHESTRA_INTERACTION_LOG_BACKLOG_ROWS; 30 here) and written when the database returns: rows = requests; past
// the bound they are counted (archestra_interaction_log_rows_dropped_total), never silently lost. /ready is 503
// while both are away (nothing durable left), 200 again after. Freeing the space clears the state. Needs root
// (mount); the test fails, not skips, without it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { startStack, eventually, sleep } from "../lib/harness.mjs";
import { startPostgres } from "../lib/postgres.mjs";
import { chatOnce, metric } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const BACKLOG = 30;
let pg;
let stack;
let dataDir;
let spoolDir;
let mounted = false;

before(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-diskfull-"));
  spoolDir = path.join(dataDir, "spool");
  fs.mkdirSync(spoolDir);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", spoolDir]);
  mounted = true;
  pg = await startPostgres();
  stack = await startStack({ env: { ARCHESTRA_DATABASE_URL: pg.url, ARCHESTRA_DATA_DIR: dataDir, ARCHESTRA_INTERACTION_LOG_BACKLOG_ROWS: String(BACKLOG) } });
});

after(async () => {
  await stack?.stop();
  await pg?.destroy();
  if (mounted) execFileSync("umount", ["-l", spoolDir]);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const rows = (agent) => pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);

async function burst(agent, n) {
  let ok = 0;
  const failures = [];
  for (let i = 0; i < n; i += 5) {
    const results = await Promise.all(
      Array.from({ length: Math.min(5, n - i) }, (_, k) => chatOnce(stack.platform.baseUrl, { agentId: agent, stream: (i + k) % 2 === 0 })),
    );
    for (const r of results) (r.ok ? ok++ : failures.push(r.reason));
  }
  return { ok, failures };
}

async function ready() {
  const res = await fetch(`${stack.platform.baseUrl}/ready`);
  return { status: res.status, body: await res.json() };
}

/// Bytes in the spool directory's files (write-ahead segments and the spool file).
function spoolBytes() {
  return fs.readdirSync(spoolDir).reduce((sum, name) => sum + fs.statSync(path.join(spoolDir, name)).size, 0);
}

/// Fills the spool's filesystem: writes until the kernel answers ENOSPC.
function fill() {
  const filler = path.join(spoolDir, "filler");
  const fd = fs.openSync(filler, "w");
  const block = Buffer.alloc(64 * 1024, 120);
  try {
    for (;;) fs.writeSync(fd, block);
  } catch (err) {
    assert.equal(err.code, "ENOSPC");
  } finally {
    fs.closeSync(fd);
  }
  // The last partial page too.
  try {
    fs.appendFileSync(filler, Buffer.alloc(4096, 120));
  } catch {}
  return filler;
}

test("a full spool disk: /ready and the metrics say so, the proxy keeps serving, nothing silently lost", { timeout: 240000 }, async () => {
  const { platform } = stack;
  const agent = `diskfull-${Date.now()}`;

  const healthy = await burst(agent, 20);
  assert.equal(healthy.ok, 20, healthy.failures.join("; "));
  const before = await ready();
  assert.equal(before.status, 200);
  assert.deepEqual(before.body.degraded, []);

  // Fill only once the healthy rows are committed and their write-ahead segment truncated: a commit after the
  // fill would free those bytes in the middle of the full burst, and the next write succeeding clears the
  // degraded state (the writer flushes on a 100 ms timer, so this raced).
  await eventually(async () => ((await rows(agent)) === healthy.ok ? true : null), 20000, 100);
  await eventually(async () => (spoolBytes() === 0 ? true : null), 10000, 100);
  const filler = fill();
  const full = await burst(agent, 100);
  assert.deepEqual(full.failures, [], "requests failed while the spool disk was full");
  const during = await ready();
  assert.equal(during.status, 200, JSON.stringify(during.body));
  assert.deepEqual(during.body.degraded, ["interaction_spool"]);
  assert.match(during.body.checks.interaction_spool.detail, /No space left on device/);
  const errors = await metric(platform, "archestra_interaction_spool_write_errors_total");
  assert.ok(errors >= 1, `archestra_interaction_spool_write_errors_total = ${errors}`);
  assert.equal(await metric(platform, "archestra_interaction_spool_degraded"), 1);
  // The database is up: the rows reach it from memory.
  const expected = healthy.ok + full.ok;
  await eventually(async () => ((await rows(agent)) === expected ? true : null), 20000, 200);
  assert.equal(await rows(agent), expected, "rows = requests acknowledged while the disk was full");

  // Disk full and the database away: the proxy still answers; N < bound rows wait in memory and all reach the
  // database when it returns (rows = N, nothing dropped); /ready says the instance has nothing durable left.
  const droppedBefore = await metric(platform, "archestra_interaction_log_rows_dropped_total");
  await pg.stop();
  const blindAgent = `${agent}-dbdown`;
  const blind = await burst(blindAgent, 20);
  assert.deepEqual(blind.failures, [], "requests failed with the disk full and the database away");
  const backlogPeak = await eventually(async () => {
    const b = await metric(platform, "archestra_interaction_log_backlog_rows");
    return b >= blind.ok ? b : null;
  }, 20000, 250);
  assert.equal(backlogPeak, blind.ok, "archestra_interaction_log_backlog_rows");
  const bothAway = await ready();
  assert.equal(bothAway.status, 503, JSON.stringify(bothAway.body));
  assert.deepEqual(bothAway.body.failing, ["database"], JSON.stringify(bothAway.body));
  assert.match(bothAway.body.checks.database.detail, /interaction spool cannot be written/);
  assert.match(bothAway.body.checks.interaction_spool.detail, /kept in memory \(up to 30 rows\)/);
  await pg.start();
  await eventually(async () => ((await ready()).status === 200 ? true : null), 30000, 250);
  await eventually(async () => ((await rows(blindAgent)) === blind.ok ? true : null), 20000, 250);
  const kept = await rows(blindAgent);
  assert.equal(kept, blind.ok, `rows ${kept} != requests acknowledged ${blind.ok} (disk full, database away, within the backlog)`);
  assert.equal((await metric(platform, "archestra_interaction_log_rows_dropped_total")) - droppedBefore, 0, "rows dropped within the backlog bound");
  assert.equal(await metric(platform, "archestra_interaction_log_backlog_rows"), 0);

  // Past the bound: 40 more with both away; 30 kept, 10 counted as dropped; rows = kept after the return.
  await pg.stop();
  const overAgent = `${agent}-over`;
  const over = await burst(overAgent, 40);
  assert.deepEqual(over.failures, [], "requests failed past the backlog bound");
  const dropped = await eventually(async () => {
    const d = (await metric(platform, "archestra_interaction_log_rows_dropped_total")) - droppedBefore;
    return d >= over.ok - BACKLOG ? d : null;
  }, 20000, 250);
  await pg.start();
  await eventually(async () => ((await rows(overAgent)) === BACKLOG ? true : null), 30000, 250);
  const overKept = await rows(overAgent);
  assert.equal(overKept, BACKLOG, "rows kept past the bound");
  assert.equal(overKept + dropped, over.ok, `kept ${overKept} + counted as dropped ${dropped} != acknowledged ${over.ok}`);

  // Space again: the next write clears the state.
  fs.rmSync(filler);
  const after = await burst(agent, 10);
  assert.equal(after.ok, 10);
  const cleared = await eventually(async () => {
    const r = await ready();
    return r.body.degraded.length === 0 ? r : null;
  }, 10000, 200);
  assert.ok(cleared, "/ready still degraded after space was freed");
  assert.equal(await metric(platform, "archestra_interaction_spool_degraded"), 0);
  await eventually(async () => ((await rows(agent)) === expected + 10 ? true : null), 20000, 200);
  assert.equal(await rows(agent), expected + 10);

  console.log({ expected, errors, backlogPeak, kept, overKept, dropped, detail: during.body.checks.interaction_spool.detail });
  recordReliability("e2e_hardening_spool_disk_full", [
    { what: "spool disk full (4 MB tmpfs filled to ENOSPC), database up", how: "requests served / failed; /ready status", figure: `${full.ok} / ${full.failures.length}; ${during.status} with degraded = [${during.body.degraded.join(", ")}]` },
    { what: "rows while the spool disk was full, database up", how: "interaction rows = requests acknowledged", figure: `${expected} = ${expected}` },
    { what: `spool disk full and the database away, ${blind.ok} requests (backlog bound ${BACKLOG})`, how: "rows after the database returned = requests acknowledged; dropped; /ready while both away", figure: `${kept} = ${blind.ok}; 0; ${bothAway.status} (failing: ${bothAway.body.failing.join(", ")})` },
    { what: `the same past the bound: ${over.ok} requests`, how: "rows kept + counted in archestra_interaction_log_rows_dropped_total", figure: `${overKept} + ${dropped}` },
    { what: "space freed", how: "/ready degraded list and archestra_interaction_spool_degraded after the next request", figure: "[] and 0" },
  ]);
});
