// Three archestra-platform processes on different ports against one PostgreSQL, as the Helm chart runs N
// replicas behind a Service, with a round-robin client: all three start at once (migrations under the advisory
// lock), a session made on one works on the others and a sign-out on one ends it everywhere, a profile change
// through one reaches the others' proxy caches within a second (LISTEN/NOTIFY), an MCP gateway session moves
// between replicas and ends everywhere, interaction rows = requests, a token_cost limit set through one trips on
// every replica at the same total, a tool-invocation policy created/edited through one applies on the others
// within a second, a replica SIGKILLed mid-load loses nothing it acknowledged (its write-ahead log is replayed
// when it restarts on its data dir) while the others keep serving, and a replica stopped mid-load (SIGTERM, as
// Kubernetes stops a pod) loses nothing either.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startStandin, startPlatform, ADMIN_EMAIL, ADMIN_PASSWORD } from "../e2e/lib/harness.mjs";
import { startPostgres } from "../e2e/lib/postgres.mjs";
import { openAiTools } from "../e2e/lib/sdk-clients.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const REPLICAS = 3;

let pg;
let standin;
let replicas = [];
let replicaEnv = []; // per replica: the environment it was started with (its own data dir), to restart it

// ---- client helpers ---------------------------------------------------------------------------------------

async function signIn(replica) {
  const origin = `http://localhost:${replica.apiPort}`;
  const res = await fetch(`${replica.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}

/// A request with the session cookie; the Origin names the replica it goes to (cookie auth checks Origin).
function api(replica, cookie, p, init = {}) {
  return fetch(replica.baseUrl + p, {
    ...init,
    headers: { cookie, origin: `http://localhost:${replica.apiPort}`, "content-type": "application/json", ...(init.headers ?? {}) },
  });
}

function chat(replica, profileId, text) {
  return fetch(`${replica.baseUrl}/v1/openai/${profileId}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
    body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: text }] }),
    signal: AbortSignal.timeout(15000),
  });
}

async function interactionCount() {
  return Number(await pg.psql("SELECT count(*) FROM interactions"));
}

async function eventually(probe, timeout_ms) {
  const deadline = Date.now() + timeout_ms;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

before(async () => {
  // One shared PostgreSQL on 127.0.0.1 (trust auth inside a throwaway cluster); three platforms' pools.
  pg = await startPostgres({ maxConnections: 300 });
  standin = await startStandin();
  // One shared auth secret, as the chart's Secret gives every pod. All three start at once: their migrations
  // race and must serialise on the advisory lock.
  const env = { ARCHESTRA_DATABASE_URL: pg.url, ARCHESTRA_AUTH_SECRET: "replicas-test-secret-".padEnd(64, "x") };
  // Each replica's data dir is ours (not the harness's throwaway one), so a killed replica can restart on it.
  replicaEnv = Array.from({ length: REPLICAS }, () => ({
    ...env,
    ARCHESTRA_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "arch-replica-")),
  }));
  replicas = await Promise.all(
    replicaEnv.map((e) => startPlatform({ upstream: standin.url, env: e, readyTimeout_ms: 180000 })),
  );
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop().catch(() => {})));
  for (const e of replicaEnv) fs.rmSync(e.ARCHESTRA_DATA_DIR, { recursive: true, force: true });
  await standin?.stop();
  await pg?.destroy();
});

test("three replicas migrated one database once and share the seed", async () => {
  assert.equal(replicas.length, REPLICAS);
  assert.equal(Number(await pg.psql("SELECT count(*) FROM organization")) >= 1, true);
  assert.equal(Number(await pg.psql(`SELECT count(*) FROM "user" WHERE email = '${ADMIN_EMAIL}'`)), 1, "one seeded admin");
  assert.equal(Number(await pg.psql("SELECT count(*) FROM agents WHERE is_default")), 1, "one default profile");
});

test("a session made on one replica works on the others; signing out on one ends it everywhere", async () => {
  const cookie = await signIn(replicas[0]);
  for (const r of replicas) assert.equal((await api(r, cookie, "/api/teams")).status, 200, `replica on ${r.apiPort}`);
  const out = await api(replicas[2], cookie, "/api/auth/sign-out", { method: "POST", body: "{}" });
  assert.equal(out.status, 200, await out.clone().text());
  assert.equal((await api(replicas[2], cookie, "/api/teams")).status, 401, "the replica that signed out");
  // Other replicas keep a verified credential for the auth cache's TTL (AuthService::Options::cacheTtl, 5 s).
  const t0 = Date.now();
  for (const r of replicas.slice(0, 2)) {
    const ended = await eventually(async () => (await api(r, cookie, "/api/teams")).status === 401, 6000);
    assert.ok(ended, `replica on ${r.apiPort} still accepts the signed-out session after 6 s`);
  }
  console.log(`# sign-out effective on the other replicas after ${Date.now() - t0} ms`);
});

test("a profile deleted through one replica stops working on the others within a second", async () => {
  const cookie = await signIn(replicas[1]);
  const created = await api(replicas[0], cookie, "/api/agents", { method: "POST", body: JSON.stringify({ name: "replicated profile", teams: [] }) });
  assert.equal(created.status, 200, await created.clone().text());
  const { id } = await created.json();
  // Every replica serves it (and so holds it in its proxy snapshot).
  for (const r of replicas) assert.equal((await chat(r, id, "warm")).status, 200);
  const del = await api(replicas[1], cookie, `/api/agents/${id}`, { method: "DELETE" });
  assert.equal(del.status, 200, await del.clone().text());
  const t0 = Date.now();
  for (const r of [replicas[0], replicas[2]]) {
    const gone = await eventually(async () => (await chat(r, id, "after delete")).status === 404, 1000);
    assert.ok(gone, `replica on ${r.apiPort} still serves the deleted profile after 1 s`);
  }
  console.log(`# deletion visible on the other replicas after ${Date.now() - t0} ms`);
});

/// One MCP JSON-RPC call to the gateway of `replica`; returns {status, body, session}.
async function mcp(replica, profileId, key, method, { session, id = 1, params = {} } = {}) {
  const headers = { authorization: `Bearer ${key}`, "content-type": "application/json", accept: "application/json, text/event-stream" };
  if (session) headers["mcp-session-id"] = session;
  const res = await fetch(`${replica.baseUrl}/v1/mcp/${profileId}`, {
    method: "POST",
    headers,
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });
  const text = await res.text();
  // JSON or a single SSE event, depending on the gateway's framing choice.
  const data = text.startsWith("{") ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? "null");
  return { status: res.status, body: JSON.parse(data), session: res.headers.get("mcp-session-id") };
}

test("an MCP gateway session opened on one replica is served by the others and ended everywhere", async () => {
  const cookie = await signIn(replicas[0]);
  const keyRes = await api(replicas[0], cookie, "/api/auth/api-key/create", { method: "POST", body: JSON.stringify({ name: "replicas" }) });
  assert.equal(keyRes.status, 200, await keyRes.clone().text());
  const { key } = await keyRes.json();
  const { id: profile } = await (await api(replicas[0], cookie, "/api/agents/default")).json();

  const init = await mcp(replicas[0], profile, key, "initialize", {
    id: 0,
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "replicas-test", version: "1" } },
  });
  assert.equal(init.status, 200, JSON.stringify(init.body));
  assert.ok(init.session && init.session.length >= 32, "Mcp-Session-Id issued");
  let id = 1;
  const lists = [];
  for (const r of [replicas[1], replicas[2], replicas[0]]) {
    const list = await mcp(r, profile, key, "tools/list", { session: init.session, id: id++ });
    assert.equal(list.status, 200, `tools/list on ${r.apiPort}: ${JSON.stringify(list.body)}`);
    assert.ok(Array.isArray(list.body.result?.tools), JSON.stringify(list.body));
    lists.push(list.body.result.tools.map((t) => t.name).sort());
  }
  assert.deepEqual(lists[0], lists[1], "same tools on every replica");
  assert.deepEqual(lists[1], lists[2], "same tools on every replica");

  const end = await fetch(`${replicas[2].baseUrl}/v1/mcp/${profile}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${key}`, "mcp-session-id": init.session },
  });
  assert.equal(end.status, 200, `DELETE session: ${end.status} ${await end.text()}`);
  for (const r of [replicas[0], replicas[1]]) {
    const after = await mcp(r, profile, key, "tools/list", { session: init.session, id: id++ });
    // The gateway answers an unknown or ended session with 400 "Invalid or expired session" (JSON-RPC error).
    assert.equal(after.status, 400, `replica on ${r.apiPort} still serves the ended session: ${JSON.stringify(after.body)}`);
    assert.match(after.body?.error?.message ?? "", /Invalid or expired session/);
  }
});

async function createProfile(replica, cookie, name) {
  const res = await api(replica, cookie, "/api/agents", { method: "POST", body: JSON.stringify({ name, teams: [] }) });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()).id;
}

test("a token_cost limit set through one replica trips on every replica at the same total", async () => {
  const cookie = await signIn(replicas[0]);
  const profile = await createProfile(replicas[0], cookie, "replicas limit profile");
  const model = "replicas-limit-model";
  // Input at $100000 per million tokens ($0.10 a token), output free: the stand-in's recorded answer reports the
  // same prompt_tokens for every request, read from the first row below.
  const price = await api(replicas[0], cookie, "/api/token-prices", {
    method: "POST",
    body: JSON.stringify({ provider: "openai", model, pricePerMillionInput: "100000.00", pricePerMillionOutput: "0.00" }),
  });
  assert.equal(price.status, 200, await price.clone().text());
  const LIMIT_USD = 10;
  const limit = await api(replicas[0], cookie, "/api/limits", {
    method: "POST",
    body: JSON.stringify({ entityType: "agent", entityId: profile, limitType: "token_cost", limitValue: LIMIT_USD, model: [model] }),
  });
  assert.equal(limit.status, 200, await limit.clone().text());
  const rows = async () => Number(await pg.psql(`SELECT count(*) FROM interactions WHERE profile_id = '${profile}' AND status_code = 200`));
  const ask = (r) =>
    fetch(`${r.baseUrl}/v1/openai/${profile}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: "limit" }] }),
      signal: AbortSignal.timeout(15000),
    });

  // One request at a time, round-robin; after each, its row (and so the usage) is in the database and every
  // replica has had time to reload (the writer's NOTIFY). Counting per replica would allow 3 x 5 requests.
  let answered = 0;
  let firstBlockedOn = -1;
  let tokensIn = 0;
  for (let i = 0; i < 3 * LIMIT_USD * 10 + REPLICAS; i++) {
    const r = replicas[i % REPLICAS];
    const res = await ask(r);
    const body = await res.text();
    if (res.status === 429) {
      firstBlockedOn = i % REPLICAS;
      break;
    }
    assert.equal(res.status, 200, body);
    answered++;
    assert.ok(await eventually(async () => (await rows()) === answered, 5000), `row ${answered} not recorded`);
    if (!tokensIn) tokensIn = Number(await pg.psql(`SELECT input_tokens FROM interactions WHERE profile_id = '${profile}'`));
    await sleep(400);
  }
  assert.ok(tokensIn > 0, "the stand-in reported prompt tokens");
  // Blocked once usage >= limit: the first request count whose cost (tokensIn x 10 cents) reaches it. Counting per
  // replica would allow about three times as many.
  const expected = Math.ceil((LIMIT_USD * 100) / (tokensIn * 10));
  assert.equal(answered, expected, `answered before the limit tripped (replica ${firstBlockedOn} blocked first)`);
  // Every replica now refuses, with the limit's message.
  for (const r of replicas) {
    const res = await ask(r);
    const body = await res.text();
    assert.equal(res.status, 429, `replica on ${r.apiPort}: ${body}`);
    assert.match(body, /limit/i);
  }
  const usage = await pg.psql(
    `SELECT sum(current_usage_tokens_in) FROM limit_model_usage u JOIN limits l ON l.id = u.limit_id WHERE l.entity_id = '${profile}'`,
  );
  assert.equal(Number(usage), tokensIn * answered, "usage counted once per request across replicas");
  console.log(
    `# token_cost limit of $${LIMIT_USD} at $${(tokensIn / 10).toFixed(2)} a request: ${answered} requests answered ` +
      `round-robin across ${REPLICAS} replicas, then 429 on all`,
  );
});

test("a tool-invocation policy created and edited through one replica applies on the others within a second", async () => {
  const cookie = await signIn(replicas[0]);
  const profile = await createProfile(replicas[0], cookie, "replicas policy profile");
  // The stand-in answers "scenario:parallel-tools" with get_weather(Paris) and send_email(bob@example.com).
  const callsOn = async (r) => {
    const res = await fetch(`${r.baseUrl}/v1/openai/${profile}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
      body: JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "go on scenario:parallel-tools" }], tools: openAiTools }),
      signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return (JSON.parse(text).choices[0].message.tool_calls ?? []).map((c) => c.function.name).sort();
  };
  for (const r of replicas) assert.deepEqual(await callsOn(r), ["get_weather", "send_email"], "trusted context: both calls pass");
  let email;
  assert.ok(
    await eventually(async () => {
      const res = await api(replicas[0], cookie, `/api/agent-tools?agentId=${profile}&search=send_email`);
      email = (await res.json()).data?.find((item) => item.tool.name === "send_email");
      return Boolean(email);
    }, 10000),
    "send_email was not discovered",
  );

  const others = [replicas[1], replicas[2]];
  const measure = async (what, expected) => {
    const t0 = Date.now();
    const delays = [];
    for (const r of others) {
      const ok = await eventually(async () => JSON.stringify(await callsOn(r)) === JSON.stringify(expected), 1000);
      assert.ok(ok, `${what}: replica on ${r.apiPort} did not apply it within 1 s`);
      delays.push(Date.now() - t0);
    }
    console.log(`# policy ${what}: applied on the other replicas after ${delays.join(" and ")} ms`);
  };

  const created = await api(replicas[0], cookie, "/api/autonomy-policies/tool-invocation", {
    method: "POST",
    body: JSON.stringify({ agentToolId: email.id, argumentName: "to", operator: "endsWith", value: "@example.com", action: "block_always", reason: "replicas test" }),
  });
  assert.equal(created.status, 200, await created.clone().text());
  const policy = await created.json();
  await measure("created (block_always)", ["get_weather"]);

  const edited = await api(replicas[0], cookie, `/api/autonomy-policies/tool-invocation/${policy.id}`, {
    method: "PUT",
    body: JSON.stringify({ value: "@nowhere.test" }),
  });
  assert.equal(edited.status, 200, await edited.clone().text());
  await measure("edited (no longer matching)", ["get_weather", "send_email"]);
});

test("round-robin load: interaction rows = acknowledged requests", async () => {
  const cookie = await signIn(replicas[0]);
  const { id: profile } = await (await api(replicas[0], cookie, "/api/agents/default")).json();
  const before = await interactionCount();
  const upstreamBefore = (await standin.requests()).length;
  const N = 90;
  let ok = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < N) {
        const i = next++;
        const res = await chat(replicas[i % REPLICAS], profile, `rr ${i}`);
        if (res.status === 200) ok++;
        await res.arrayBuffer();
      }
    }),
  );
  assert.equal(ok, N, "every request answered 200");
  assert.equal((await standin.requests()).length - upstreamBefore, N);
  const recorded = await eventually(async () => (await interactionCount()) - before >= N, 15000);
  assert.ok(recorded, `interactions recorded: ${(await interactionCount()) - before} of ${N}`);
  await sleep(300);
  assert.equal((await interactionCount()) - before, N, "no duplicate rows");
});

test("one replica SIGKILLed mid-load: the others keep serving, every acknowledged request has its row", async () => {
  const cookie = await signIn(replicas[0]);
  const { id: profile } = await (await api(replicas[0], cookie, "/api/agents/default")).json();
  const victimIndex = 1;
  const victim = replicas[victimIndex];
  const run = `sigkill-${Date.now()}`;
  const N = 240;
  const killAt = 80;
  const acknowledged = new Set();
  let byVictim = 0;
  let failedOver = 0;
  let killed = false;
  let next = 0;
  let rr = 0;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < N) {
        const i = next++;
        if (i === killAt) {
          victim.child.kill("SIGKILL");
          killed = true;
        }
        for (let attempt = 0; attempt < 2 * REPLICAS; attempt++) {
          const r = replicas[rr++ % REPLICAS];
          if (r === victim && killed) continue;
          try {
            const res = await chat(r, profile, `${run}-${i}`);
            const body = await res.text();
            if (r !== victim) assert.equal(res.status, 200, `surviving replica on ${r.apiPort}: ${body}`);
            if (res.status === 200) {
              acknowledged.add(i);
              if (r === victim) byVictim++;
              break;
            }
            failedOver++;
          } catch (err) {
            if (r !== victim) throw err; // the survivors must not fail
            failedOver++;
          }
        }
      }
    }),
  );
  assert.equal(acknowledged.size, N, `every request answered 200 somewhere (failed over: ${failedOver})`);
  assert.ok(byVictim > 0, "the victim answered some requests before the kill");
  for (const r of replicas) if (r !== victim) assert.equal((await fetch(`${r.baseUrl}/ready`)).status, 200);

  const recorded = async () =>
    new Set(
      (await pg.psql(`SELECT request->'messages'->0->>'content' FROM interactions WHERE request->'messages'->0->>'content' LIKE '${run}-%'`))
        .split("\n")
        .filter(Boolean)
        .map((t) => Number(t.slice(run.length + 1))),
    );
  let r0 = await recorded();
  const missing = async () => [...acknowledged].filter((i) => !r0.has(i));
  // The survivors' rows arrive within their flush interval; the victim's unflushed ones wait for its restart.
  await eventually(async () => {
    r0 = await recorded();
    return (await missing()).length === 0;
  }, 1500);
  const missingBeforeRestart = (await missing()).length;
  await victim.stop(); // the harness's cleanup (the process is gone already)
  const restarted = await startPlatform({ upstream: standin.url, env: replicaEnv[victimIndex], readyTimeout_ms: 180000 });
  replicas[victimIndex] = restarted;
  const complete = await eventually(async () => {
    r0 = await recorded();
    return (await missing()).length === 0;
  }, 15000);
  assert.ok(complete, `acknowledged but not recorded after the restart: ${(await missing()).slice(0, 20).join(", ")}`);
  console.log(
    `# SIGKILL: ${N} acknowledged (${byVictim} by the victim), ${failedOver} retried elsewhere; ` +
      `${missingBeforeRestart} rows only in the victim's write-ahead log until it restarted; ${r0.size} recorded`,
  );
});

test("one replica stopped mid-load: the others keep serving, nothing acknowledged is lost", async () => {
  const cookie = await signIn(replicas[0]);
  const { id: profile } = await (await api(replicas[0], cookie, "/api/agents/default")).json();
  const before = await interactionCount();
  const victim = replicas[2];
  const alive = new Set(replicas);
  const N = 150;
  let acknowledged = 0;
  let failedOver = 0;
  let next = 0;
  let rr = 0;
  const stopAt = 50;
  let stopping;
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      while (next < N) {
        const i = next++;
        if (i === stopAt) stopping = victim.stop(); // SIGTERM while requests are in flight
        // A load balancer's behaviour: try the next replica when one refuses or drops the connection.
        for (let attempt = 0; attempt < REPLICAS; attempt++) {
          const r = replicas[rr++ % REPLICAS];
          if (!alive.has(r)) continue;
          try {
            const res = await chat(r, profile, `kill ${i}`);
            if (res.status !== 200 && r !== victim) {
              assert.fail(`surviving replica on ${r.apiPort} answered ${res.status}: ${await res.text()}`);
            }
            await res.arrayBuffer();
            if (res.status === 200) {
              acknowledged++;
              break;
            }
            if (r === victim) {
              failedOver++;
              continue;
            }
            assert.fail(`surviving replica on ${r.apiPort} answered ${res.status}: ${await res.text().catch(() => "")}`);
          } catch (err) {
            if (r !== victim) throw err;
            alive.delete(victim);
            failedOver++;
          }
        }
      }
    }),
  );
  await stopping;
  assert.equal(acknowledged, N, `every request answered 200 somewhere (failed over: ${failedOver})`);
  for (const r of replicas.slice(0, 2)) assert.equal((await fetch(`${r.baseUrl}/ready`)).status, 200);
  const recorded = await eventually(async () => (await interactionCount()) - before >= acknowledged, 15000);
  assert.ok(recorded, `acknowledged ${acknowledged}, recorded ${(await interactionCount()) - before}`);
  console.log(`# ${acknowledged} acknowledged, ${failedOver} retried on another replica, ${(await interactionCount()) - before} recorded`);
});
