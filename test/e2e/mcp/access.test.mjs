// MCP server access routes (reference-api.md §1): grant teams access to the caller's installation of a catalog
// item, revoke one team, all teams, or a user; the installation's teams/users fields follow; bad input is a 400
// naming the field, unknown targets 404, and nothing changes on a refused call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startPlatform, adminSession, apiClient } from "../lib/harness.mjs";

let platform;
let session;
let api;
let userId;
let catalogId;
let serverId;
let teamA;
let teamB;

const ok = (method, p, body) => api.ok(method, p, body);

const server = () => ok("GET", `/api/mcp_server/${serverId}`);

before(async () => {
  platform = await startPlatform();
  session = await adminSession(platform);
  api = apiClient(platform, session, { requireJson: true });
  userId = (await ok("GET", "/api/auth/get-session")).user.id;
  // A server that cannot start: the installation row and its access rows are all these routes need.
  catalogId = (
    await ok("POST", "/api/internal_mcp_catalog", { name: "access-test", serverType: "local", localConfig: { command: "/nonexistent/mcp" } })
  ).id;
  serverId = (await ok("POST", "/api/mcp_server", { name: "access-test", catalogId })).id;
  teamA = (await ok("POST", "/api/teams", { name: "access-a" })).id;
  teamB = (await ok("POST", "/api/teams", { name: "access-b" })).id;
});

after(async () => {
  await platform?.stop();
});

test("grant teams, revoke one team, revoke all teams", async () => {
  assert.deepEqual((await server()).users, [userId], "installed without teams: personal access");
  assert.deepEqual(await ok("POST", `/api/mcp_server/catalog/${catalogId}/teams`, { teamIds: [teamA, teamB] }), { success: true });
  let s = await server();
  assert.deepEqual([...s.teams].sort(), [teamA, teamB].sort());
  assert.deepEqual(s.teamDetails.map((t) => t.name).sort(), ["access-a", "access-b"]);
  // Granting again is idempotent.
  await ok("POST", `/api/mcp_server/catalog/${catalogId}/teams`, { teamIds: [teamA], userId });
  assert.equal((await server()).teams.length, 2);

  assert.deepEqual(await ok("DELETE", `/api/mcp_server/${serverId}/team/${teamA}`), { success: true });
  assert.deepEqual((await server()).teams, [teamB]);
  const again = await api("DELETE", `/api/mcp_server/${serverId}/team/${teamA}`);
  assert.equal(again.status, 404);
  assert.equal(again.body.error.type, "api_not_found_error");

  await ok("POST", `/api/mcp_server/catalog/${catalogId}/teams`, { teamIds: [teamA] });
  assert.deepEqual(await ok("DELETE", `/api/mcp_server/catalog/${catalogId}/teams`), { success: true });
  assert.deepEqual((await server()).teams, []);
});

test("revoke a user's access", async () => {
  assert.deepEqual(await ok("DELETE", `/api/mcp_server/catalog/${catalogId}/user/${userId}`), { success: true });
  assert.deepEqual((await server()).users, []);
  assert.equal((await api("DELETE", `/api/mcp_server/catalog/${catalogId}/user/${userId}`)).status, 404);
});

test("bad input: 400 naming the field or 404, and nothing changes", async () => {
  const before = await platform.psql("SELECT count(*) FROM mcp_server_team");
  const cases = [
    [{}, 400, "teamIds"],
    [{ teamIds: [] }, 400, "teamIds"],
    [{ teamIds: "x" }, 400, "teamIds"],
    [{ teamIds: [7] }, 400, "teamIds"],
    [{ teamIds: ["no-such-team"] }, 400, "teamIds"],
    [{ teamIds: [teamA], userId: 5 }, 400, "userId"],
  ];
  for (const [body, status, field] of cases) {
    const res = await api("POST", `/api/mcp_server/catalog/${catalogId}/teams`, body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.match(res.body.error.message, new RegExp(field));
  }
  // A catalog item the caller has no installation of.
  const none = await api("POST", `/api/mcp_server/catalog/${crypto.randomUUID()}/teams`, { teamIds: [teamA] });
  assert.equal(none.status, 404);
  assert.equal((await api("POST", "/api/mcp_server/catalog/not-a-uuid/teams", { teamIds: [teamA] })).status, 400);
  assert.equal((await api("DELETE", `/api/mcp_server/${crypto.randomUUID()}/team/${teamA}`)).status, 404);
  assert.deepEqual(await platform.psql("SELECT count(*) FROM mcp_server_team"), before);
});
