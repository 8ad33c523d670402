// A lost COMMIT reply (issue 14, faults): the platform reaches PostgreSQL through a TCP relay written here that
// follows each session's frontend protocol. Once the load has been acknowledged N times, the relay waits for the
// interaction writer's next COMMIT after its `COPY interactions` (the batch fast path) and
//   1. "reply lost": forwards the COMMIT, holds back the server's answer until it has seen the server report the
//      commit (CommandComplete "COMMIT"), then cuts both sockets: the rows are stored, the writer cannot know;
//   2. "commit lost": cuts both sockets before the COMMIT reaches the server: the server rolls the batch back.
// The writer must spool the batch and replay it: interaction rows = requests acknowledged, every id of both cut
// batches stored exactly once, a token_cost limit's usage = the tokens of the rows (nothing counted twice).
// Each wait is bounded and says what it waited for.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";

import { adminSession, apiClient, eventually, freePort, sleep, startStack } from "../lib/harness.mjs";
import { startPostgres, tokenCostLimit } from "../lib/postgres.mjs";
import { startLoad } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const REQUESTS_BEFORE_TRAP = 40; // acknowledged requests before each trap is armed
const TRAP_WAIT_MS = 20000; // the writer COMMITs every ~100 ms under load; 20 s is generous on a loaded machine
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/// Splits the complete messages off the front of `state.buffer`: typed ones {type, body, bytes}, and the untyped
/// ones a session starts with (SSL/GSS requests, the startup message) as {type: null, code, bytes}.
function takeMessages(state) {
  const messages = [];
  for (;;) {
    const b = state.buffer;
    const header = state.untyped ? 0 : 1;
    if (b.length < header + 4) break;
    const length = b.readInt32BE(header);
    if (b.length < header + length) break;
    const bytes = b.subarray(0, header + length);
    state.buffer = b.subarray(header + length);
    if (state.untyped) {
      const code = bytes.readInt32BE(4);
      // After an SSL or GSS encryption request (refused: the server has neither) the startup message follows.
      if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) state.untyped = false;
      messages.push({ type: null, code, bytes });
    } else {
      messages.push({ type: String.fromCharCode(bytes[0]), body: bytes.subarray(5), bytes });
    }
  }
  return messages;
}

/// The SQL of a simple Query ('Q': the text) or a Parse ('P': statement name, then the text); else null.
function statementOf(message) {
  if (message.type === "Q") return message.body.toString("utf8", 0, message.body.indexOf(0));
  if (message.type === "P") {
    const start = message.body.indexOf(0) + 1;
    return message.body.toString("utf8", start, message.body.indexOf(0, start));
  }
  return null;
}

/// A relay on 127.0.0.1 to PostgreSQL at `port`. arm(mode) sets the trap for the next COMMIT of a transaction that
/// ran the writer's `COPY interactions`; it resolves with { mode, ids (of the batch's rows), committed (the server said
/// COMMIT), serverTag }.
async function startRelay(port) {
  const relayPort = await freePort();
  const relay = { sessions: 0, trap: null, url: `postgresql://archestra@127.0.0.1:${relayPort}/archestra` };
  const server = net.createServer((client) => {
    relay.sessions++;
    const upstream = net.connect(port, "127.0.0.1");
    const state = { buffer: Buffer.alloc(0), untyped: true, copy: null, holding: null, dead: false };
    const cut = () => {
      state.dead = true;
      client.destroy();
      upstream.destroy();
    };
    client.on("error", cut);
    upstream.on("error", cut);
    client.on("close", cut);
    upstream.on("close", cut);

    upstream.on("data", (chunk) => {
      if (state.dead) return;
      if (!state.holding) {
        client.write(chunk);
        return;
      }
      // The answer to the trapped COMMIT: never relayed. Cut once the server has reported the outcome.
      const held = state.holding;
      held.server.buffer = Buffer.concat([held.server.buffer, chunk]);
      for (const m of takeMessages(held.server)) {
        if (m.type === "C") held.fired.serverTag = m.body.toString("utf8", 0, m.body.indexOf(0));
        if (m.type === "E") held.fired.serverTag = "error";
      }
      if (held.fired.serverTag) {
        held.fired.committed = held.fired.serverTag === "COMMIT";
        cut();
        held.resolve(held.fired);
      }
    });

    client.on("data", (chunk) => {
      if (state.dead) return;
      state.buffer = Buffer.concat([state.buffer, chunk]);
      const forward = [];
      for (const m of takeMessages(state)) {
        const sql = statementOf(m);
        if (sql !== null && /^COPY interactions \(/.test(sql)) state.copy = { data: [] };
        else if (m.type === "d" && state.copy) state.copy.data.push(Buffer.from(m.body));
        else if (sql !== null && /^(BEGIN|ROLLBACK)/.test(sql)) state.copy = null;
        else if (sql === "COMMIT" && state.copy && relay.trap) {
          const trap = relay.trap;
          relay.trap = null;
          const ids = Buffer.concat(state.copy.data).toString("utf8").split("\n").filter(Boolean).map((l) => l.split("\t")[0]);
          const fired = { mode: trap.mode, ids, committed: false, serverTag: null };
          if (trap.mode === "commit lost") {
            // What came before the COMMIT still goes; the COMMIT and everything after it never do.
            if (forward.length) upstream.write(Buffer.concat(forward));
            upstream.end(); // the server sees the client leave inside the transaction and rolls it back
            cut();
            trap.resolve(fired);
            return;
          }
          state.holding = { fired, resolve: trap.resolve, server: { buffer: Buffer.alloc(0), untyped: false } };
          state.copy = null;
        }
        forward.push(m.bytes);
      }
      if (forward.length) upstream.write(Buffer.concat(forward));
    });
  });
  await new Promise((resolve) => server.listen(relayPort, "127.0.0.1", resolve));
  relay.arm = (mode) =>
    new Promise((resolve) => {
      relay.trap = { mode, resolve };
    });
  relay.close = () => new Promise((resolve) => server.close(resolve));
  return relay;
}

/// Resolves with `promise`'s value, or throws `message` after `ms`.
async function within(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const ctx = { pg: null, relay: null, stack: null };
before(async () => {
  ctx.pg = await startPostgres();
  ctx.relay = await startRelay(ctx.pg.port);
  ctx.stack = await startStack({ env: { ARCHESTRA_DATABASE_URL: ctx.relay.url } });
});
after(async () => {
  await ctx.stack?.stop();
  await ctx.relay?.close();
  await ctx.pg?.destroy();
});

test("a lost COMMIT reply or a lost COMMIT: the batch is replayed, nothing lost or stored twice", { timeout: 240000 }, async () => {
  const { pg, relay, stack } = ctx;
  const { platform } = stack;
  const api = apiClient(platform, await adminSession(platform));
  const limit = await tokenCostLimit(pg, api);
  const agent = `lost-commit-${Date.now()}`;
  const rows = () => pg.count(`SELECT count(*) FROM interactions WHERE external_agent_id = '${agent}'`);

  const load = startLoad(platform.baseUrl, { agentId: agent, concurrency: 4, streamEvery: 2 });
  const fired = [];
  try {
    for (const mode of ["reply lost", "commit lost"]) {
      const target = load.stats.acknowledged + REQUESTS_BEFORE_TRAP;
      const reached = await eventually(() => load.stats.acknowledged >= target, 30000, 50);
      assert.ok(reached, `${mode}: only ${load.stats.acknowledged} of ${target} requests acknowledged within 30 s`);
      const trap = relay.arm(mode);
      fired.push(await within(trap, TRAP_WAIT_MS, `${mode}: no interaction batch COMMIT passed the relay within ${TRAP_WAIT_MS} ms`));
    }
    await sleep(2000); // load after the second cut, on the reconnected sessions
  } finally {
    relay.trap = null;
  }
  const stats = await load.stop();
  const acknowledged = stats.acknowledged;
  console.log({ acknowledged, errors: stats.errors.length, sessions: relay.sessions, fired: fired.map((f) => ({ ...f, ids: f.ids.length })) });

  assert.deepEqual(stats.errors.slice(0, 5), [], `${stats.errors.length} failed requests`);
  const [replyLost, commitLost] = fired;
  assert.ok(replyLost.ids.length > 0 && commitLost.ids.length > 0, "a trapped batch had no rows");
  assert.equal(replyLost.serverTag, "COMMIT", "reply lost: the server did not report the commit before the cut");
  assert.ok(replyLost.committed);

  // Replayed: rows = requests acknowledged; each id of the cut batches exactly once.
  const drainStart = Date.now();
  const drained = await eventually(async () => (await rows()) === acknowledged, 60000, 250);
  const recorded = await rows();
  assert.ok(drained, `interaction rows ${recorded} != requests acknowledged ${acknowledged} 60 s after the load stopped`);
  const drain_ms = Date.now() - drainStart;
  for (const f of fired) {
    const stored = await pg.count(`SELECT count(*) FROM interactions WHERE id = ANY('{${f.ids.join(",")}}'::uuid[])`);
    assert.equal(stored, f.ids.length, `${f.mode}: ${stored} of the batch's ${f.ids.length} rows stored`);
  }
  const duplicates = await pg.count(`SELECT count(*) FROM (SELECT id FROM interactions GROUP BY id HAVING count(*) > 1) d`);
  assert.equal(duplicates, 0);

  // Usage counted once per row: the limit's counters = the tokens of the profile's rows.
  const { tokens, usage } = await limit.counted();
  assert.ok(tokens[0] > 0, "the rows carry no input tokens: the usage check would prove nothing");
  assert.deepEqual(usage, tokens, "tokens counted in the limit (in, out) != tokens of the rows");

  // The writer saw both cuts at its COMMIT (not elsewhere), and took the spool path.
  const atCommit = platform.logTail(400).split("\n")
    .filter((l) => /\[proxy\.interactions\] database unavailable \(PostgreSQL connection lost while running 'COMMIT'/.test(l));
  assert.equal(atCommit.length, 2, `writer warnings at COMMIT:\n${atCommit.join("\n")}`);

  recordReliability("e2e_hardening_lost_commit_reply", [
    { what: "COMMIT reply lost (relay forwards the writer's COMMIT, the server commits, both sockets cut before the reply)", how: "rows of the cut batch stored / in the batch", figure: `${replyLost.ids.length} / ${replyLost.ids.length}, none twice` },
    { what: "COMMIT lost (relay cuts both sockets before the writer's COMMIT reaches the server)", how: "rows of the cut batch stored / in the batch", figure: `${commitLost.ids.length} / ${commitLost.ids.length}` },
    { what: "nothing lost, nothing twice (4 clients, half streamed)", how: "interaction rows = requests acknowledged, duplicate ids, limit usage = tokens of the rows", figure: `${recorded} = ${acknowledged}, 0 duplicates, ${usage[0]} = ${tokens[0]} tokens in; all rows ${drain_ms} ms after the load stopped` },
  ]);
});
