// SIGTERM under load, as Kubernetes stops a pod: every request in flight when the signal arrives (slow streams
// among them) finishes with its whole answer, the interaction log is flushed, and the process exits 0 within the
// bound: the listeners' drain (ARCHESTRA_SHUTDOWN_GRACE_S, 6 s here; 10 s by default) plus the log flush, inside
// Kubernetes' default 30 s grace period; a stream longer than the drain bound is cut at it. The
// database is an external PostgreSQL the test owns, so interaction rows = requests acknowledged is checked after
// the platform is gone.
import { test } from "node:test";
import assert from "node:assert/strict";

import { sleep } from "../lib/harness.mjs";
import { stackOnPostgres } from "../lib/postgres.mjs";
import { chatOnce } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const GRACE_S = 6;
// The drain bound plus 5 s for the log flush and the rest of the shutdown.
const BOUND_MS = GRACE_S * 1000 + 5000;
const ctx = stackOnPostgres({ env: { ARCHESTRA_SHUTDOWN_GRACE_S: String(GRACE_S) } });

test("SIGTERM under load: in-flight requests and streams finish, the log is flushed, exit 0 in the bound", { timeout: 180000 }, async () => {
  const { pg, stack } = ctx;
  const { platform } = stack;
  const agent = `sigterm-${Date.now()}`;
  let running = true;
  let acknowledged = 0;
  const failures = [];
  let inFlight = 0;
  let inFlightAtSignal = 0;
  let streamsAtSignal = 0;
  let streamsInFlight = 0;
  // 12 clients: a third stream slowly (about 3 s per answer), a third stream at full speed, the rest do not
  // stream. No client starts a request after the signal (a new connection then is refused, as it should be).
  const reference = await chatOnce(platform.baseUrl, { agentId: `${agent}-reference`, stream: true });
  assert.ok(reference.ok && reference.events > 5, JSON.stringify(reference));
  let slowAtSignal = 0;
  let slowInFlight = 0;
  let slowAfterSignal_ms = 0;
  let signalledAt = 0;
  const clients = Array.from({ length: 12 }, async (_, c) => {
    while (running) {
      const stream = c % 3 !== 2;
      const scenario = c % 3 === 0 ? "slow-stream-300" : "text";
      inFlight++;
      if (stream) streamsInFlight++;
      if (scenario !== "text") slowInFlight++;
      const result = await chatOnce(platform.baseUrl, { agentId: agent, stream, scenario, timeout_ms: 60000 });
      inFlight--;
      if (stream) streamsInFlight--;
      if (scenario !== "text") {
        slowInFlight--;
        if (signalledAt) slowAfterSignal_ms = Math.max(slowAfterSignal_ms, Date.now() - signalledAt);
      }
      // A stream counts only with every event the upstream sent (the same number as the reference stream).
      if (result.ok && stream && result.events !== reference.events)
        failures.push(`stream cut: ${result.events} of ${reference.events} events`);
      else if (result.ok) acknowledged++;
      else failures.push(result.reason);
    }
  });
  // One stream far longer than the drain bound (13 events, 2.5 s apart: about 33 s): cut at the bound, not waited
  // for. Its own agent id, so the rows check below counts only the requests that must complete.
  const longStream = chatOnce(platform.baseUrl, { agentId: `${agent}-long`, stream: true, scenario: "slow-stream-2500", timeout_ms: 60000 });
  await sleep(5000);
  running = false;
  inFlightAtSignal = inFlight;
  streamsAtSignal = streamsInFlight;
  slowAtSignal = slowInFlight;
  const exited = new Promise((resolve) => platform.child.once("exit", (code, signal) => resolve({ code, signal })));
  signalledAt = Date.now();
  platform.child.kill("SIGTERM");
  await Promise.all(clients);
  const clientsDone_ms = Date.now() - signalledAt;
  const long = await longStream;
  const longDone_ms = Date.now() - signalledAt;
  const exit = await Promise.race([exited, sleep(60000).then(() => ({ code: "still running after 60 s" }))]);
  const exit_ms = Date.now() - signalledAt;

  assert.deepEqual(failures, [], `${failures.length} requests in flight at SIGTERM failed`);
  assert.ok(streamsAtSignal >= 4, `only ${streamsAtSignal} streams were in flight at the signal`);
  // The slow streams (about 4 s each) still ran for a while after the signal: they were not cut short.
  assert.ok(slowAtSignal >= 1 && slowAfterSignal_ms > 500, `slow streams at the signal ${slowAtSignal}, last done ${slowAfterSignal_ms} ms after it`);
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}\n${platform.logTail(30)}`);
  assert.ok(exit_ms < BOUND_MS, `exited ${exit_ms} ms after SIGTERM (bound ${BOUND_MS} ms)`);
  // The over-long stream was cut by the drain bound (ARCHESTRA_SHUTDOWN_GRACE_S), not before it and not after.
  assert.ok(!long.ok || long.events < reference.events, `the 33-s stream completed: ${JSON.stringify(long)}`);
  assert.ok(longDone_ms >= GRACE_S * 1000 - 500 && longDone_ms < GRACE_S * 1000 + 3000,
    `the over-long stream ended ${longDone_ms} ms after SIGTERM; the drain bound is ${GRACE_S} s`);
  assert.match(platform.logTail(200), /termination requested/);

  const recorded = await pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);
  assert.equal(recorded, acknowledged, `interaction rows ${recorded} != requests acknowledged ${acknowledged}`);
  const leftInSpool = platform.logTail(200).match(/interaction log stopped with (\d+) bytes spooled/);
  assert.equal(leftInSpool, null, "rows left in the spool at exit");

  console.log({ longDone_ms, long, acknowledged, inFlightAtSignal, streamsAtSignal, slowAtSignal, slowAfterSignal_ms, clientsDone_ms, exit_ms, exit });
  recordReliability("e2e_hardening_sigterm_under_load", [
    { what: "SIGTERM with requests in flight (12 clients: slow streams, fast streams, plain)", how: "in flight at the signal / of them failed", figure: `${inFlightAtSignal} (${streamsAtSignal} streams, ${slowAtSignal} slow; the last slow one done ${slowAfterSignal_ms} ms after the signal) / ${failures.length}` },
    { what: "time to exit after SIGTERM", how: "last in-flight answer done / process exited (code)", figure: `${clientsDone_ms} ms / ${exit_ms} ms (exit ${exit.code}); bound ${BOUND_MS} ms` },
    { what: `a stream longer than the drain bound (ARCHESTRA_SHUTDOWN_GRACE_S=${GRACE_S})`, how: "cut after the signal", figure: `${longDone_ms} ms` },
    { what: "interaction log flushed at exit", how: "rows in PostgreSQL after exit = requests acknowledged", figure: `${recorded} = ${acknowledged}` },
  ]);
});
