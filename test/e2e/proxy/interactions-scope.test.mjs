// GET /api/interactions scoped by team (reference-api.md: a non-admin only sees the profiles of its teams): a
// member sees the interactions of a profile in its team, not those of a profile of another team, in the list,
// by id and in the external agent ids; the admin sees both.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startStack, adminSession, apiClient, eventually, signUpMember } from "../lib/harness.mjs";
import { openAiClient } from "../lib/sdk-clients.mjs";

let stack;
let admin;
let member;
let teamProfileId;
let otherProfileId;

// The management API as `who` (the admin's or the member's headers): { status, body }.
const call = (who, method, path, body) => apiClient(stack.platform, who)(method, path, body);

async function chat(profileId, agentId) {
  const client = openAiClient(stack.platform, profileId);
  await client.chat.completions.create(
    { model: "gpt-4o", messages: [{ role: "user", content: "Hello" }] },
    { headers: { "X-Archestra-Agent-Id": agentId } },
  );
}

before(async () => {
  stack = await startStack();
  const platform = stack.platform;
  admin = await adminSession(platform);
  const { session, userId: memberUserId } = await signUpMember(platform, admin, "viewer@example.com", { name: "Viewer", password: "viewer-password-1" });
  member = session;

  const team = await call(admin, "POST", "/api/teams", { name: "Viewers" });
  assert.equal(team.status, 200, JSON.stringify(team.body));
  const joined = await call(admin, "POST", `/api/teams/${team.body.id}/members`, { userId: memberUserId });
  assert.equal(joined.status, 200, JSON.stringify(joined.body));
  const profile = await call(admin, "POST", "/api/agents", { name: "Viewers' profile", teams: [team.body.id] });
  assert.equal(profile.status, 200, JSON.stringify(profile.body));
  teamProfileId = profile.body.id;
  const otherTeam = await call(admin, "POST", "/api/teams", { name: "Others" });
  const otherProfile = await call(admin, "POST", "/api/agents", { name: "Others' profile", teams: [otherTeam.body.id] });
  assert.equal(otherProfile.status, 200, JSON.stringify(otherProfile.body));
  otherProfileId = otherProfile.body.id;

  await chat(teamProfileId, "team-agent");
  await chat(otherProfileId, "other-agent");
  const rows = await eventually(async () => {
    const all = await call(admin, "GET", "/api/interactions?limit=100");
    return all.body.data?.length >= 2 ? all.body.data : null;
  });
  assert.ok(rows?.length >= 2, "both interactions written");
});

after(async () => {
  await stack?.stop();
});

test("the admin sees every profile's interactions", async () => {
  const all = await call(admin, "GET", "/api/interactions?limit=100");
  const profiles = new Set(all.body.data.map((i) => i.profileId));
  assert.ok(profiles.has(teamProfileId) && profiles.has(otherProfileId), JSON.stringify([...profiles]));
  const ids = await call(admin, "GET", "/api/interactions/external-agent-ids");
  assert.ok(ids.body.includes("team-agent") && ids.body.includes("other-agent"), JSON.stringify(ids.body));
});

test("a member sees only the interactions of its teams' profiles: list, by id, external agent ids", async () => {
  const mine = await call(member, "GET", "/api/interactions?limit=100");
  assert.equal(mine.status, 200, JSON.stringify(mine.body));
  assert.ok(mine.body.data.length >= 1);
  assert.deepEqual([...new Set(mine.body.data.map((i) => i.profileId))], [teamProfileId]);
  assert.equal(mine.body.pagination.total, mine.body.data.length);

  const all = await call(admin, "GET", "/api/interactions?limit=100");
  const other = all.body.data.find((i) => i.profileId === otherProfileId);
  const hidden = await call(member, "GET", `/api/interactions/${other.id}`);
  assert.equal(hidden.status, 404, JSON.stringify(hidden.body));
  const own = await call(member, "GET", `/api/interactions/${mine.body.data[0].id}`);
  assert.equal(own.status, 200);

  const filtered = await call(member, "GET", `/api/interactions?profileId=${otherProfileId}`);
  assert.equal(filtered.body.data.length, 0);

  const ids = await call(member, "GET", "/api/interactions/external-agent-ids");
  assert.deepEqual(ids.body, ["team-agent"]);
});
