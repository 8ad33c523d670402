// Profiles in the proxy path (default, explicit, created at run time, unknown, malformed) and the interaction log
// as the management API shows it (GET /api/interactions as the signed-in admin) against what was sent.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import OpenAI from "openai";
import { startStack, defaultProfileId, adminSession, apiGet, eventually } from "../lib/harness.mjs";
import { openAiClient, anthropicClient } from "../lib/sdk-clients.mjs";

let stack;
let defaultId;
const sent = []; // {profileId, externalAgentId, provider} for every request that reached the upstream

// `profileId` undefined: the route without a profile (the default one).
const openai = (profileId, options = {}) => openAiClient(stack.platform, profileId, options);
const ask = (text) => [{ role: "user", content: text }];

async function upstreamCount() {
  return (await stack.standin.requests()).length;
}

before(async () => {
  stack = await startStack();
  defaultId = await defaultProfileId(stack.platform);
});

after(async () => {
  await stack?.stop();
});

test("no profile in the path: the default profile answers", async () => {
  const completion = await openai().chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  sent.push({ profileId: defaultId, provider: "openai" });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");

  const anthropic = anthropicClient(stack.platform);
  const message = await anthropic.messages.create({
    model: "claude-sonnet-4-5-20250929",
    max_tokens: 16,
    messages: ask("Hello"),
  });
  sent.push({ profileId: defaultId, provider: "anthropic" });
  assert.equal(message.content[0].text, "Hello! How can I help you today?");
});

test("explicit profile id in the path", async () => {
  const completion = await openai(defaultId).chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  sent.push({ profileId: defaultId, provider: "openai" });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
});

test("X-Archestra-Agent-Id is trimmed and recorded", async () => {
  await openai(defaultId, { defaultHeaders: { "X-Archestra-Agent-Id": "  e2e-agent-7  " } }).chat.completions.create({
    model: "gpt-4o",
    messages: ask("Hello"),
  });
  sent.push({ profileId: defaultId, externalAgentId: "e2e-agent-7", provider: "openai" });
  const rows = await eventually(
    () => stack.platform.psql("SELECT external_agent_id FROM interactions WHERE external_agent_id IS NOT NULL"),
    10000,
  );
  assert.deepEqual(rows, [["e2e-agent-7"]]);
});

test("unknown profile id: 404 JSON error, nothing sent upstream", async () => {
  const before = await upstreamCount();
  const unknown = randomUUID();
  await assert.rejects(
    openai(unknown).chat.completions.create({ model: "gpt-4o", messages: ask("Hello") }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err.constructor.name}: ${err.message}`);
      assert.equal(err.status, 404);
      assert.equal(typeof err.error?.message, "string");
      return true;
    },
  );
  const res = await fetch(`${stack.platform.baseUrl}/v1/anthropic/${unknown}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "k", "anthropic-version": "2023-06-01" },
    body: JSON.stringify({ model: "claude-sonnet-4-5-20250929", max_tokens: 8, messages: ask("Hello") }),
  });
  assert.equal(res.status, 404);
  assert.match(res.headers.get("content-type") ?? "", /json/);
  const body = await res.json();
  assert.equal(typeof body.error.message, "string");
  assert.equal(await upstreamCount(), before);
});

test("a profile segment that is not a UUID: 400 JSON error, nothing sent upstream", async () => {
  const before = await upstreamCount();
  const res = await fetch(`${stack.platform.baseUrl}/v1/openai/not-a-uuid/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test-openai-key" },
    body: JSON.stringify({ model: "gpt-4o", messages: ask("Hello") }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(typeof body.error.message, "string");
  assert.equal(await upstreamCount(), before);
});

test("a profile created through the API is usable at once (snapshot refreshed on write)", async () => {
  const session = await adminSession(stack.platform);
  const res = await fetch(`${stack.platform.baseUrl}/api/agents`, {
    method: "POST",
    headers: { ...session, "content-type": "application/json" },
    body: JSON.stringify({ name: "E2E second profile", teams: [] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const created = await res.json();
  const completion = await openai(created.id).chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  sent.push({ profileId: created.id, provider: "openai" });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
});

// isUuidV4 accepts upper case and people paste ids in any case; PostgreSQL's text form is lower case.
test("a profile id in upper case in the path is the same profile", async () => {
  const completion = await openai(defaultId.toUpperCase()).chat.completions.create({ model: "gpt-4o", messages: ask("Hello") });
  sent.push({ profileId: defaultId, provider: "openai" });
  assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
});

// Spec §7 item 2: the routes without a profile use the is_default profile, creating it when it is missing (here the
// flag was moved away in the database behind the platform's back); a burst of first requests creates one.
test("no default profile: the first requests create one (once) and are served", async () => {
  await stack.platform.psql("UPDATE agents SET is_default = false WHERE is_default");
  await stack.platform.psql("SELECT pg_notify('archestra_proxy_cache', 'e2e')"); // what a replica's write sends
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the cache reloads within ~200 ms of a notice
  const answers = await Promise.all(
    Array.from({ length: 6 }, () => openai().chat.completions.create({ model: "gpt-4o", messages: ask("Hello") })),
  );
  for (const completion of answers) assert.equal(completion.choices[0].message.content, "Hello! How can I help you today?");
  const defaults = await stack.platform.psql("SELECT id, name FROM agents WHERE is_default");
  assert.equal(defaults.length, 1, JSON.stringify(defaults));
  const [[createdId, name]] = defaults;
  assert.notEqual(createdId, defaultId);
  assert.equal(name, "Default Profile with Archestra");
  for (let i = 0; i < answers.length; i++) sent.push({ profileId: createdId, provider: "openai" });
  // The seeded default back, for what follows.
  await stack.platform.psql(`UPDATE agents SET is_default = (id = '${defaultId}')`);
  await stack.platform.psql("SELECT pg_notify('archestra_proxy_cache', 'e2e')");
});

test("interaction rows in the database = requests sent, with the right profile", async () => {
  assert.equal(await upstreamCount(), sent.length);
  await eventually(async () => {
    const [[count]] = await stack.platform.psql("SELECT count(*) FROM interactions");
    return Number(count) >= sent.length;
  }, 15000);
  const rows = await stack.platform.psql("SELECT profile_id, count(*) FROM interactions GROUP BY profile_id ORDER BY 1");
  const expected = {};
  for (const s of sent) expected[s.profileId] = (expected[s.profileId] ?? 0) + 1;
  assert.deepEqual(
    Object.fromEntries(rows.map(([id, n]) => [id, Number(n)])),
    expected,
  );
});

test("GET /api/interactions (signed-in admin) lists one interaction per request", async () => {
  const session = await adminSession(stack.platform);
  const list = await apiGet(stack.platform, session, "/api/interactions?limit=100");
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.pagination.total, sent.length);
  assert.equal(list.body.data.length, sent.length);
  const types = list.body.data.map((i) => i.type).sort();
  assert.deepEqual(types, sent.map((s) => (s.provider === "openai" ? "openai:chatCompletions" : "anthropic:messages")).sort());
  for (const item of list.body.data) {
    assert.ok(item.id && item.profileId && item.request && item.response, JSON.stringify(item).slice(0, 300));
    // UUID v7: the creation time in its first 48 bits (primary key inserts at the B-tree's right edge).
    assert.match(item.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const idMs = parseInt(item.id.slice(0, 8) + item.id.slice(9, 13), 16);
    assert.ok(Math.abs(idMs - Date.parse(item.createdAt)) < 5000, `${item.id} vs ${item.createdAt}`);
  }

  const filtered = await apiGet(stack.platform, session, `/api/interactions?profileId=${defaultId}&limit=100`);
  assert.equal(filtered.status, 200);
  assert.equal(filtered.body.pagination.total, sent.filter((s) => s.profileId === defaultId).length);

  const one = await apiGet(stack.platform, session, `/api/interactions/${list.body.data[0].id}`);
  assert.equal(one.status, 200);
  assert.equal(one.body.id, list.body.data[0].id);

  const agents = await apiGet(stack.platform, session, "/api/interactions/external-agent-ids");
  assert.equal(agents.status, 200);
  assert.deepEqual(agents.body, ["e2e-agent-7"]);
});

test("GET /api/interactions without a session: 401", async () => {
  const res = await fetch(`${stack.platform.baseUrl}/api/interactions`);
  assert.equal(res.status, 401);
});
