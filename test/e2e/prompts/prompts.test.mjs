// /api/prompts on the real platform: create (version 1), update adds an active version and keeps the old one,
// versions newest first, rollback re-activates an old version, assignment to profiles, delete removes every
// version; the wire rules (200 JSON, UUIDs, RFC 3339 ms, nulls emitted) and 400/404 with nothing written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPlatform, adminSession, apiClient } from "../lib/harness.mjs";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const FIELDS = ["id", "organizationId", "name", "agentId", "userPrompt", "systemPrompt", "version", "parentPromptId", "isActive", "createdAt", "updatedAt"];

let platform;
let api; // every answer must be application/json
let ok;
let agentA;
let agentB;

function checkPrompt(p) {
  assert.deepEqual(Object.keys(p).sort(), [...FIELDS].sort(), "every field, nulls included");
  assert.match(p.id, UUID);
  assert.match(p.createdAt, ISO);
  assert.match(p.updatedAt, ISO);
  assert.ok(Number.isInteger(p.version));
  return p;
}

before(async () => {
  platform = await startPlatform();
  api = apiClient(platform, await adminSession(platform), { requireJson: true });
  ok = api.ok;
  agentA = (await ok("POST", "/api/agents", { name: "prompt-agent-a", teams: [] })).id;
  agentB = (await ok("POST", "/api/agents", { name: "prompt-agent-b", teams: [] })).id;
});

after(async () => {
  await platform?.stop();
});

test("create, update (new version), versions, rollback, get, list", async () => {
  const v1 = checkPrompt(await ok("POST", "/api/prompts", { name: "n8n Expert", agentId: agentA, systemPrompt: "You know n8n." }));
  assert.equal(v1.version, 1);
  assert.equal(v1.isActive, true);
  assert.equal(v1.parentPromptId, null);
  assert.equal(v1.userPrompt, null, "absent nullable field emitted as null");
  assert.equal(v1.agentId, agentA);

  const v2 = checkPrompt(await ok("PATCH", `/api/prompts/${v1.id}`, { userPrompt: "Build a workflow" }));
  assert.notEqual(v2.id, v1.id, "an update saves a new version row");
  assert.equal(v2.version, 2);
  assert.equal(v2.parentPromptId, v1.id);
  assert.equal(v2.systemPrompt, "You know n8n.", "fields left out are copied");
  assert.equal(v2.userPrompt, "Build a workflow");
  assert.equal((await ok("GET", `/api/prompts/${v1.id}`)).isActive, false, "the old version is kept, inactive");

  // Updating through any version id continues the same chain; null clears a text.
  const v3 = checkPrompt(await ok("PATCH", `/api/prompts/${v1.id}`, { name: "n8n Guru", systemPrompt: null }));
  assert.equal(v3.version, 3);
  assert.equal(v3.parentPromptId, v1.id);
  assert.equal(v3.systemPrompt, null);

  const versions = await ok("GET", `/api/prompts/${v2.id}/versions`);
  assert.deepEqual(versions.map((p) => p.version), [3, 2, 1], "newest first");
  assert.deepEqual(versions.map((p) => p.isActive), [true, false, false]);
  versions.forEach(checkPrompt);

  const list = await ok("GET", "/api/prompts");
  assert.deepEqual(list.filter((p) => p.parentPromptId === v1.id || p.id === v1.id).map((p) => p.id), [v3.id], "lists show the active version only");

  const rolled = checkPrompt(await ok("POST", `/api/prompts/${v3.id}/rollback`, { versionId: v2.id }));
  assert.equal(rolled.id, v2.id);
  assert.equal(rolled.isActive, true);
  const after = await ok("GET", `/api/prompts/${v1.id}/versions`);
  assert.deepEqual(after.map((p) => [p.version, p.isActive]), [[3, false], [2, true], [1, false]]);

  // A version of another prompt is not a rollback target; nothing changes.
  const other = await ok("POST", "/api/prompts", { name: "other", agentId: agentB });
  const bad = await api("POST", `/api/prompts/${v1.id}/rollback`, { versionId: other.id });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /versionId/);
  assert.deepEqual((await ok("GET", `/api/prompts/${v1.id}/versions`)).map((p) => p.isActive), [false, true, false]);
  await ok("DELETE", `/api/prompts/${other.id}`);
});

test("assignment to profiles: list, assign (moves every version), unassign", async () => {
  const p = await ok("POST", "/api/prompts", { name: "assign-me", agentId: agentA });
  const p2 = await ok("PATCH", `/api/prompts/${p.id}`, { userPrompt: "hi" });
  assert.ok((await ok("GET", `/api/agents/${agentA}/prompts`)).some((x) => x.id === p2.id));
  assert.deepEqual(await ok("GET", `/api/agents/${agentB}/prompts`), []);

  const assigned = await ok("POST", `/api/agents/${agentB}/prompts`, { promptIds: [p.id] });
  assert.deepEqual(assigned.map((x) => x.id), [p2.id], "the active version is listed");
  assert.ok(!(await ok("GET", `/api/agents/${agentA}/prompts`)).some((x) => x.id === p2.id));
  assert.equal((await ok("GET", `/api/prompts/${p.id}`)).agentId, agentB, "every version moved");

  assert.deepEqual(await ok("DELETE", `/api/agents/${agentB}/prompts/${p2.id}`), { success: true });
  assert.deepEqual(await ok("GET", `/api/agents/${agentB}/prompts`), []);
  assert.equal((await ok("GET", `/api/prompts/${p2.id}`)).agentId, null, "the prompt is kept");
  const again = await api("DELETE", `/api/agents/${agentB}/prompts/${p2.id}`);
  assert.equal(again.status, 404);

  const missingAgent = await api("POST", `/api/agents/${crypto.randomUUID()}/prompts`, { promptIds: [p.id] });
  assert.equal(missingAgent.status, 404);
});

test("delete removes every version; bad input is a 400 naming the field and writes nothing", async () => {
  const p = await ok("POST", "/api/prompts", { name: "to-delete", agentId: agentA });
  const p2 = await ok("PATCH", `/api/prompts/${p.id}`, { name: "to-delete-2" });
  assert.deepEqual(await ok("DELETE", `/api/prompts/${p2.id}`), { success: true });
  for (const id of [p.id, p2.id]) {
    const gone = await api("GET", `/api/prompts/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.type, "api_not_found_error");
  }
  assert.equal((await api("DELETE", `/api/prompts/${p.id}`)).status, 404);

  const before = (await platform.psql("SELECT count(*) FROM prompts"))[0][0];
  const cases = [
    [{ agentId: agentA }, "name"],
    [{ name: "", agentId: agentA }, "name"],
    [{ name: "x" }, "agentId"],
    [{ name: "x", agentId: "not-a-uuid" }, "agentId"],
    [{ name: "x", agentId: crypto.randomUUID() }, "agentId"],
    [{ name: "x", agentId: agentA, userPrompt: 5 }, "userPrompt"],
  ];
  for (const [body, field] of cases) {
    const res = await api("POST", "/api/prompts", body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.match(res.body.error.message, new RegExp(field), JSON.stringify(res.body));
  }
  const patch = await api("PATCH", `/api/prompts/${crypto.randomUUID()}`, { name: 7 });
  assert.equal(patch.status, 400);
  assert.equal((await api("PATCH", `/api/prompts/${crypto.randomUUID()}`, { name: "x" })).status, 404);
  assert.equal((await api("GET", "/api/prompts/not-a-uuid")).status, 400);
  assert.equal((await platform.psql("SELECT count(*) FROM prompts"))[0][0], before);
});
