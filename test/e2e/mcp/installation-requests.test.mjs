// MCP installation requests over real HTTP: a member asks for a server, sees only their own requests, both
// sides add notes, an admin approves (the catalog item appears, exactly as requested) or declines, and bad
// input is refused with the field named and nothing written.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";

import { startPlatform, adminSession, signUpMember } from "../lib/harness.mjs";

let platform;
let admin;
let member;
let memberUserId;
const base = "/api/mcp_server_installation_requests";

before(async () => {
  platform = await startPlatform();
  admin = await adminSession(platform);
  ({ session: member, userId: memberUserId } = await signUpMember(platform, admin, "asker@example.com", { name: "Asker", password: "asker-password-1" }));
});

after(async () => {
  await platform?.stop();
});

async function call(who, method, path, body) {
  const res = await fetch(platform.baseUrl + path, {
    method,
    headers: { cookie: who.cookie, origin: who.origin, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

const serverDefinition = {
  name: "requested-everything",
  serverType: "local",
  description: "asked for by a member",
  localConfig: { command: "npx", arguments: ["-y", "@modelcontextprotocol/server-everything"], environment: [] },
};

test("a member asks, sees only their own, and both sides add notes", async () => {
  const created = await call(member, "POST", base, { requestReason: "need the demo tools", customServerConfig: serverDefinition });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.equal(created.body.status, "pending");
  assert.equal(created.body.requestedBy, memberUserId);
  assert.deepEqual(created.body.customServerConfig, serverDefinition);
  assert.equal(created.body.reviewedAt, null);
  assert.deepEqual(created.body.notes, []);
  assert.match(created.body.createdAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

  const adminOwn = await call(admin, "POST", base, { externalCatalogId: "io.github.example/other", requestReason: null });
  assert.equal(adminOwn.status, 200);

  const mine = await call(member, "GET", base);
  assert.deepEqual(mine.body.map((r) => r.id), [created.body.id], "a member sees only their own requests");
  const hidden = await call(member, "GET", `${base}/${adminOwn.body.id}`);
  assert.equal(hidden.status, 404);
  const all = await call(admin, "GET", `${base}?status=pending`);
  assert.deepEqual(new Set(all.body.map((r) => r.id)), new Set([created.body.id, adminOwn.body.id]));

  const noteByMember = await call(member, "POST", `${base}/${created.body.id}/notes`, { content: "it is for the demo" });
  assert.equal(noteByMember.status, 200);
  const noteByAdmin = await call(admin, "POST", `${base}/${created.body.id}/notes`, { content: "looking at it" });
  assert.deepEqual(noteByAdmin.body.notes.map((n) => [n.userId === memberUserId, n.content]), [
    [true, "it is for the demo"],
    [false, "looking at it"],
  ]);
  assert.match(noteByAdmin.body.notes[1].createdAt, /Z$/);

  const edited = await call(member, "PATCH", `${base}/${created.body.id}`, { requestReason: "need the demo tools today" });
  assert.equal(edited.body.requestReason, "need the demo tools today");
  assert.deepEqual(edited.body.customServerConfig, serverDefinition, "a partial update keeps the other fields");

  // Members may not decide.
  const forbidden = await call(member, "POST", `${base}/${created.body.id}/approve`, {});
  assert.equal(forbidden.status, 403);
});

test("approving adds the catalog item exactly as requested; decided requests are final", async () => {
  const pending = (await call(admin, "GET", `${base}?status=pending`)).body.find((r) => r.customServerConfig);
  const approved = await call(admin, "POST", `${base}/${pending.id}/approve`, { adminResponse: "added" });
  assert.equal(approved.status, 200, JSON.stringify(approved.body));
  assert.equal(approved.body.status, "approved");
  assert.equal(approved.body.adminResponse, "added");
  assert.match(approved.body.reviewedAt, /Z$/);
  assert.notEqual(approved.body.reviewedBy, null);

  const catalog = await call(admin, "GET", "/api/internal_mcp_catalog");
  const item = catalog.body.find((c) => c.name === serverDefinition.name);
  assert.ok(item, "approval did not add the catalog item");
  assert.deepEqual(item.localConfig, serverDefinition.localConfig);
  assert.equal(item.description, serverDefinition.description);

  const again = await call(admin, "POST", `${base}/${pending.id}/decline`, {});
  assert.equal(again.status, 400);
  assert.match(again.body.error.message, /already approved/);
  const change = await call(member, "PATCH", `${base}/${pending.id}`, { requestReason: "x" });
  assert.equal(change.status, 400);

  const other = (await call(admin, "GET", `${base}?status=pending`)).body[0];
  const declined = await call(admin, "POST", `${base}/${other.id}/decline`, { adminResponse: "not now" });
  assert.equal(declined.body.status, "declined");
  assert.deepEqual((await call(admin, "GET", `${base}?status=declined`)).body.map((r) => r.id), [other.id]);
});

test("a server definition the catalog refuses leaves the request pending, naming the field", async () => {
  const bad = await call(member, "POST", base, {
    customServerConfig: { name: "broken", serverType: "local", localConfig: { arguments: ["x"] } },
  });
  assert.equal(bad.status, 200);
  const before = (await call(admin, "GET", "/api/internal_mcp_catalog")).body.length;
  const refused = await call(admin, "POST", `${base}/${bad.body.id}/approve`, {});
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.match(refused.body.error.message, /^customServerConfig: .*localConfig/);
  assert.equal((await call(admin, "GET", `${base}/${bad.body.id}`)).body.status, "pending");
  assert.equal((await call(admin, "GET", "/api/internal_mcp_catalog")).body.length, before);
});

test("bad input is refused with the field named and nothing written", async () => {
  const count = async () => (await call(admin, "GET", base)).body.length;
  const before = await count();
  const cases = [
    [{}, /externalCatalogId' or 'customServerConfig/],
    [{ externalCatalogId: 12 }, /externalCatalogId/],
    [{ customServerConfig: "npx" }, /customServerConfig/],
    [{ customServerConfig: { serverType: "local" } }, /customServerConfig\.name/],
    [{ externalCatalogId: "x", requestReason: ["a"] }, /requestReason/],
  ];
  for (const [body, message] of cases) {
    const res = await call(member, "POST", base, body);
    assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status}`);
    assert.match(res.body.error.message, message);
  }
  assert.equal((await call(member, "POST", base, "{not json")).status, 400);
  assert.equal((await call(admin, "GET", `${base}?status=maybe`)).status, 400);
  assert.equal((await call(admin, "GET", `${base}/not-a-uuid`)).status, 400);
  assert.equal((await call(admin, "GET", `${base}/00000000-0000-4000-8000-000000000000`)).status, 404);
  const note = await call(member, "POST", `${base}/00000000-0000-4000-8000-000000000000/notes`, { content: "x" });
  assert.equal(note.status, 404);
  assert.equal(await count(), before);

  const own = (await call(member, "GET", base)).body[0];
  const deleted = await call(admin, "DELETE", `${base}/${own.id}`);
  assert.deepEqual(deleted.body, { success: true });
  assert.equal(await count(), before - 1);
});
