// Replays the official Terraform provider (archestra-ai/archestra) against the real platform: its CI bootstrap
// (sign in with an Origin header, create an API key, then `Authorization: <key>` with no Bearer), and for every
// resource and data source of reference-api.md §2.1-2.3 the create/read/update/import/delete calls with the
// provider's exact JSON, checked with its Go client's decoding rules (JSON200 only for status 200 with a JSON
// content type, a body that must unmarshal into the typed struct: UUIDs, RFC 3339 times, typed fields, nulls
// where the struct has pointers). Then the acceptance tests' scenarios end to end, including the post-apply
// "plan must be empty" check: what Read maps back into state equals the configuration.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPlatform, eventually, repoRoot, signUpMember } from "../lib/harness.mjs";

const ADMIN_EMAIL = "admin@example.com"; // the provider CI's Helm values
const ADMIN_PASSWORD = "password";
const FRONTEND = "http://localhost:3000";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Go's time.Time UnmarshalJSON: RFC 3339 with optional fraction; the platform's rule adds UTC milliseconds.
const RFC3339_MS_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ZERO_UUID = "00000000-0000-0000-0000-000000000000";
const filesystemJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");

let platform;
let apiKey;
let adminUserId;
let fsRoot;

before(async () => {
  platform = await startPlatform({
    env: { ARCHESTRA_AUTH_ADMIN_EMAIL: ADMIN_EMAIL, ARCHESTRA_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD, ARCHESTRA_FRONTEND_URL: FRONTEND },
  });
  fsRoot = fs.mkdtempSync(path.join(os.tmpdir(), "tf-fs-"));
  // The provider CI's bootstrap: curl with a cookie jar and Origin, then the key from `.key`.
  const signIn = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: FRONTEND },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.equal(signIn.status, 200, await signIn.clone().text());
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  adminUserId = (await signIn.json()).user.id;
  const created = await fetch(`${platform.baseUrl}/api/auth/api-key/create`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: FRONTEND, cookie },
    body: JSON.stringify({ name: "terraform-acceptance-tests", expiresIn: 604800 }),
  });
  assert.equal(created.status, 200, await created.clone().text());
  apiKey = (await created.json()).key;
  assert.equal(typeof apiKey, "string");
  assert.ok(apiKey.length > 20, "an API key");
});

after(async () => {
  await platform?.stop();
  if (fsRoot) fs.rmSync(fsRoot, { recursive: true, force: true });
});

/// JSON with object keys sorted: "exactly as sent" compares every value, array order and the absence of injected
/// keys. Object key order is not part of it: PostgreSQL jsonb (the original's storage too) and our JSON library
/// both reorder keys, and the Go client decodes into a struct, where order cannot show.
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

// ---- the Go client -------------------------------------------------------------------------------------------

/// One call as the provider's generated client makes it: raw key in Authorization, JSON body. Returns
/// {status, json, text}; `json` is set like oapi-codegen's JSON200/JSON404 (status + json content type), and a
/// JSON content type whose body does not parse is the hard error the client raises.
async function call(method, p, body) {
  const headers = { authorization: apiKey };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(platform.baseUrl + p, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get("content-type") || "";
  let json = null;
  if (type.includes("json")) {
    try {
      json = JSON.parse(text);
    } catch (err) {
      assert.fail(`${method} ${p}: JSON content type but the body does not unmarshal (${err.message}): ${text.slice(0, 300)}`);
    }
  }
  return { status: res.status, type, json, text };
}

/// A call whose JSON200 the provider needs: anything else is "unexpected response" and fails the apply.
async function ok(method, p, body) {
  const res = await call(method, p, body);
  assert.equal(res.status, 200, `${method} ${p}: expected 200, got ${res.status}: ${res.text.slice(0, 500)}`);
  assert.ok(res.json !== null, `${method} ${p}: 200 without a JSON content type (${res.type})`);
  return res.json;
}

/// Read after delete: JSON404 removes the resource from state (so a 404 must carry a JSON error body).
async function expectGone(p) {
  const res = await call("GET", p);
  assert.equal(res.status, 404, `GET ${p} after delete: ${res.status} ${res.text.slice(0, 200)}`);
  assert.ok(res.json?.error && typeof res.json.error.message === "string", `GET ${p}: JSON404 body`);
}

/// Delete accepts 200 or 404; the provider also re-deletes on a destroy after a manual removal.
async function destroy(p) {
  const first = await ok("DELETE", p);
  assert.deepEqual(first, { success: true }, `DELETE ${p}`);
  await expectGone(p);
  const again = await call("DELETE", p);
  assert.ok([200, 404].includes(again.status), `second DELETE ${p}: ${again.status}`);
  assert.ok(again.json !== null, `second DELETE ${p}: JSON body`);
}

// Field checks in the Go structs' terms.
const isString = (v) => typeof v === "string";
function field(obj, name, check, what) {
  assert.ok(Object.hasOwn(obj, name), `${what}: field ${name} present (nullable fields are null, never omitted)`);
  check(obj[name], `${what}.${name}`);
}
const uuid = (v, at) => assert.match(String(v), UUID, `${at} is a UUID (got ${JSON.stringify(v)})`);
const time = (v, at) => assert.match(String(v), RFC3339_MS_UTC, `${at} is RFC 3339 UTC with ms (got ${JSON.stringify(v)})`);
const str = (v, at) => assert.ok(isString(v), `${at} is a string (got ${JSON.stringify(v)})`);
const strOrNull = (v, at) => assert.ok(v === null || isString(v), `${at} is a string or null (got ${JSON.stringify(v)})`);
const bool = (v, at) => assert.equal(typeof v, "boolean", `${at} is a boolean (got ${JSON.stringify(v)})`);
const int = (v, at) => assert.ok(Number.isInteger(v), `${at} is an integer (got ${JSON.stringify(v)})`);
const array = (v, at) => assert.ok(Array.isArray(v), `${at} is an array (got ${JSON.stringify(v)})`);
const objOrNull = (v, at) => assert.ok(v === null || (typeof v === "object" && !Array.isArray(v)), `${at} is an object or null`);

function decodeAgent(a, what = "agent") {
  field(a, "id", uuid, what);
  field(a, "name", str, what);
  for (const f of ["isDefault", "isDemo", "considerContextUntrusted"]) field(a, f, bool, what);
  field(a, "createdAt", time, what);
  field(a, "updatedAt", time, what);
  field(a, "teams", array, what);
  for (const t of a.teams) {
    field(t, "id", str, `${what}.teams[]`);
    field(t, "name", str, `${what}.teams[]`);
  }
  field(a, "labels", array, what);
  for (const l of a.labels) {
    field(l, "key", str, `${what}.labels[]`);
    field(l, "value", str, `${what}.labels[]`);
  }
  field(a, "tools", array, what);
  for (const t of a.tools) {
    field(t, "id", uuid, `${what}.tools[]`);
    field(t, "createdAt", time, `${what}.tools[]`);
  }
  return a;
}

function decodeTeam(t, what = "team") {
  for (const f of ["id", "name", "organizationId", "createdBy"]) field(t, f, str, what);
  field(t, "description", strOrNull, what);
  field(t, "createdAt", time, what);
  field(t, "updatedAt", time, what);
  return t;
}

function decodeMember(m, what = "member") {
  for (const f of ["id", "teamId", "userId", "role"]) field(m, f, str, what);
  field(m, "syncedFromSso", bool, what);
  field(m, "createdAt", time, what);
  return m;
}

const CATALOG_NULLABLE = [
  "authDescription", "authFields", "clientSecretId", "description", "docsUrl", "installationCommand", "localConfig",
  "localConfigSecretId", "oauthConfig", "repository", "serverUrl", "userConfig", "version",
];

function decodeCatalog(c, what = "catalog item") {
  field(c, "id", uuid, what);
  field(c, "name", str, what);
  field(c, "serverType", (v, at) => assert.ok(["local", "remote"].includes(v), `${at}: ${v}`), what);
  field(c, "requiresAuth", bool, what);
  for (const f of CATALOG_NULLABLE) assert.ok(Object.hasOwn(c, f), `${what}: ${f} present`);
  for (const f of ["authDescription", "description", "docsUrl", "installationCommand", "repository", "serverUrl", "version"]) {
    strOrNull(c[f], `${what}.${f}`);
  }
  for (const f of ["clientSecretId", "localConfigSecretId"]) if (c[f] !== null) uuid(c[f], `${what}.${f}`);
  assert.ok(c.authFields === null || Array.isArray(c.authFields), `${what}.authFields`);
  for (const f of ["localConfig", "oauthConfig", "userConfig"]) objOrNull(c[f], `${what}.${f}`);
  field(c, "createdAt", time, what);
  field(c, "updatedAt", time, what);
  return c;
}

function decodeInstallation(s, what = "installation") {
  field(s, "id", uuid, what);
  field(s, "name", str, what);
  field(s, "catalogId", (v, at) => (v === null ? null : uuid(v, at)), what);
  field(s, "serverType", (v, at) => assert.ok(["local", "remote"].includes(v), `${at}: ${v}`), what);
  field(s, "reinstallRequired", bool, what);
  field(s, "localInstallationStatus", (v, at) =>
    assert.ok(["idle", "pending", "discovering-tools", "success", "error"].includes(v), `${at}: ${v}`), what);
  field(s, "localInstallationError", strOrNull, what);
  field(s, "secretId", (v, at) => (v === null ? null : uuid(v, at)), what);
  field(s, "ownerId", strOrNull, what);
  field(s, "createdAt", time, what);
  field(s, "updatedAt", time, what);
  return s;
}

function decodeInvocationPolicy(p, what = "tool invocation policy") {
  field(p, "id", uuid, what);
  field(p, "agentToolId", uuid, what);
  for (const f of ["argumentName", "operator", "value", "action"]) field(p, f, str, what);
  field(p, "reason", strOrNull, what);
  field(p, "createdAt", time, what);
  field(p, "updatedAt", time, what);
  return p;
}

function decodeTrustedDataPolicy(p, what = "trusted data policy") {
  field(p, "id", uuid, what);
  field(p, "agentToolId", uuid, what);
  for (const f of ["description", "attributePath", "operator", "value", "action"]) field(p, f, str, what);
  field(p, "createdAt", time, what);
  field(p, "updatedAt", time, what);
  return p;
}

// ---- the provider's state mapping (what a post-apply plan compares with the configuration) ----------------------

/// archestra_agent: labels re-mapped by key into configuration order.
function agentState(a, configuredLabels) {
  const byKey = new Map(a.labels.map((l) => [l.key, l.value]));
  const labels = configuredLabels === null ? (a.labels.length ? a.labels : null) : configuredLabels.map((l) => ({ key: l.key, value: byKey.get(l.key) }));
  return { id: a.id, name: a.name, labels };
}

/// archestra_mcp_server: Read's mapping of the catalog item into state.
function catalogState(c) {
  let localConfig = null;
  if (c.localConfig) {
    const lc = c.localConfig;
    const env = lc.environment?.length ? Object.fromEntries(lc.environment.map((e) => [e.key, e.value])) : null;
    localConfig = {
      command: lc.command ?? null,
      arguments: lc.arguments?.length ? lc.arguments : null,
      environment: env,
      docker_image: lc.dockerImage ?? null,
      http_path: lc.httpPath ?? null,
      http_port: lc.httpPort ?? null,
      transport_type: lc.transportType ?? null,
    };
  }
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    docs_url: c.docsUrl,
    installation_command: c.installationCommand,
    auth_description: c.authDescription,
    auth_fields: c.authFields?.length ? c.authFields : null,
    local_config: localConfig,
  };
}

/// The provider's Create/Update body for archestra_mcp_server: every unset nullable field as explicit null.
function catalogBody({ name, description = null, docsUrl = null, localConfig = null }, { create }) {
  const body = {};
  for (const f of CATALOG_NULLABLE) body[f] = null;
  Object.assign(body, { name, description, docsUrl, localConfig });
  if (create) body.serverType = "local";
  return body;
}

// ---- resources: CRUD + import with the provider's exact JSON ------------------------------------------------------

test("bootstrap: the key works raw (no Bearer), a wrong key is a JSON 401, and the session-less key needs no Origin", async () => {
  const res = await call("GET", "/api/agents?limit=1");
  assert.equal(res.status, 200, res.text);
  const bad = await fetch(`${platform.baseUrl}/api/agents`, { headers: { authorization: apiKey + "x" } });
  assert.equal(bad.status, 401);
  assert.match(bad.headers.get("content-type"), /json/);
  assert.equal((await bad.json()).error.type, "api_authentication_error");
});

test("archestra_agent: create with labels:null, read, update without teams, import, delete", async () => {
  const team = decodeTeam(await ok("POST", "/api/teams", { name: "agent-owners" }));
  // A team assigned outside Terraform (UI) must survive the provider's updates, which never send `teams`.
  const created = decodeAgent(await ok("POST", "/api/agents", { name: "tf-agent-nolabels", teams: [], labels: null }));
  assert.deepEqual(created.labels, []);
  assert.deepEqual(created.tools.filter((t) => !t.name?.startsWith("archestra__")), []);
  await ok("PUT", `/api/agents/${created.id}`, { teams: [team.id] });

  const read = decodeAgent(await ok("GET", `/api/agents/${created.id}`));
  assert.deepEqual(agentState(read, null), { id: created.id, name: "tf-agent-nolabels", labels: null });

  const updated = decodeAgent(
    await ok("PUT", `/api/agents/${created.id}`, { name: "tf-agent-labelled", labels: [{ key: "tier", value: "gold" }] }),
  );
  assert.deepEqual(updated.teams.map((t) => t.id), [team.id], "an update without teams keeps them");
  assert.deepEqual(agentState(updated, [{ key: "tier", value: "gold" }]).labels, [{ key: "tier", value: "gold" }]);
  // Removing every label: the provider sends labels:null again.
  const cleared = decodeAgent(await ok("PUT", `/api/agents/${created.id}`, { name: "tf-agent-labelled", labels: null }));
  assert.deepEqual(cleared.labels, []);
  assert.deepEqual(cleared.teams.map((t) => t.id), [team.id]);

  // Import: ImportStatePassthroughID then Read.
  const imported = decodeAgent(await ok("GET", `/api/agents/${created.id}`));
  assert.equal(imported.name, "tf-agent-labelled");
  await destroy(`/api/agents/${created.id}`);
  await destroy(`/api/teams/${team.id}`);
});

test("archestra_agent acceptance: test-agent with labels, import, relabel (a key removed, one added), destroy", async () => {
  const config1 = [
    { key: "team", value: "engineering" },
    { key: "environment", value: "test" },
  ];
  const created = decodeAgent(await ok("POST", "/api/agents", { name: "test-agent", teams: [], labels: config1 }));
  assert.deepEqual(agentState(created, config1), { id: created.id, name: "test-agent", labels: config1 });
  // Labels come sorted by key; the provider re-maps by key, so only the set matters.
  assert.deepEqual(created.labels.map((l) => l.key), ["environment", "team"]);
  const imported = decodeAgent(await ok("GET", `/api/agents/${created.id}`));
  assert.equal(imported.name, "test-agent");

  const config2 = [
    { key: "environment", value: "production" },
    { key: "region", value: "us-west-2" },
  ];
  const updated = decodeAgent(await ok("PUT", `/api/agents/${created.id}`, { name: "test-agent-updated", labels: config2 }));
  assert.deepEqual(agentState(updated, config2), { id: created.id, name: "test-agent-updated", labels: config2 });
  assert.deepEqual(updated.labels.map((l) => l.key).sort(), ["environment", "region"], "the removed key is gone");
  // Post-apply plan: Read again gives the same state.
  const reread = decodeAgent(await ok("GET", `/api/agents/${created.id}`));
  assert.deepEqual(agentState(reread, config2), agentState(updated, config2));
  await destroy(`/api/agents/${created.id}`);
});

test("archestra_team acceptance: description and members, import with full verify, update, destroy", async () => {
  // A second user through the invitation flow, so the provider's member diff both adds and removes.
  const { userId: memberUserId } = await signUpMember(platform, await signedInAdmin(), "member@example.com");

  // Create: POST team (description omitted when null is tested below), then POST member per configured member.
  const created = decodeTeam(await ok("POST", "/api/teams", { name: "test-team", description: "Test Description" }));
  assert.equal(created.description, "Test Description");
  assert.equal(created.createdBy, adminUserId);
  const m1 = decodeMember(await ok("POST", `/api/teams/${created.id}/members`, { userId: adminUserId, role: "member" }));
  assert.equal(m1.teamId, created.id);
  assert.equal(m1.userId, adminUserId);
  assert.equal(m1.role, "member");

  // Read (+ members) and import with full verify: id, name, description, organization_id, created_by.
  const read = decodeTeam(await ok("GET", `/api/teams/${created.id}`));
  for (const f of ["id", "name", "description", "organizationId", "createdBy"]) assert.equal(read[f], created[f], f);
  const members = (await ok("GET", `/api/teams/${created.id}/members`)).map((m) => decodeMember(m));
  assert.deepEqual(members.map((m) => [m.userId, m.role]), [[adminUserId, "member"]]);

  // Update both fields; members: GET, remove the admin, add the new user.
  const updated = decodeTeam(await ok("PUT", `/api/teams/${created.id}`, { name: "test-team-updated", description: "Updated Description" }));
  assert.equal(updated.name, "test-team-updated");
  assert.equal(updated.description, "Updated Description");
  await ok("GET", `/api/teams/${created.id}/members`);
  const removed = await ok("DELETE", `/api/teams/${created.id}/members/${adminUserId}`);
  assert.equal(removed.success, true);
  decodeMember(await ok("POST", `/api/teams/${created.id}/members`, { userId: memberUserId, role: "admin" }));
  const after = (await ok("GET", `/api/teams/${created.id}/members`)).map((m) => decodeMember(m));
  assert.deepEqual(after.map((m) => [m.userId, m.role]), [[memberUserId, "admin"]]);
  // Removing a member that is gone is a JSON 404 (the provider treats it as done).
  const missing = await call("DELETE", `/api/teams/${created.id}/members/${adminUserId}`);
  assert.equal(missing.status, 404);
  assert.ok(missing.json?.error);

  // A team without description: the provider omits the field; Read gives null.
  const bare = decodeTeam(await ok("POST", "/api/teams", { name: "bare-team" }));
  assert.equal(bare.description, null);
  // data "archestra_team": GET team + GET members.
  decodeTeam(await ok("GET", `/api/teams/${bare.id}`));
  assert.deepEqual(await ok("GET", `/api/teams/${bare.id}/members`), []);
  await destroy(`/api/teams/${bare.id}`);
  await destroy(`/api/teams/${created.id}`);
});

/// Cookie + Origin headers for the few auth calls outside the provider's client (user set-up).
async function signedInAdmin() {
  const res = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: FRONTEND },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  assert.equal(res.status, 200);
  return { cookie: res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "), origin: FRONTEND };
}

test("archestra_mcp_server acceptance: npx local_config and the nulls round-trip exactly; import; update; destroy", async () => {
  const localConfig = { command: "npx", arguments: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] };
  const body = catalogBody(
    { name: "test-mcp-server", description: "Test MCP server", docsUrl: "https://example.com/docs", localConfig },
    { create: true },
  );
  const created = decodeCatalog(await ok("POST", "/api/internal_mcp_catalog", body));
  // Byte-exact: the stored localConfig is the sent one, nothing injected (no transportType, no environment).
  assert.equal(canonical(created.localConfig), canonical(localConfig));
  const expectedState = {
    id: created.id,
    name: "test-mcp-server",
    description: "Test MCP server",
    docs_url: "https://example.com/docs",
    installation_command: null,
    auth_description: null,
    auth_fields: null,
    local_config: { command: "npx", arguments: localConfig.arguments, environment: null, docker_image: null, http_path: null, http_port: null, transport_type: null },
  };
  assert.deepEqual(catalogState(created), expectedState);
  for (const f of ["version", "repository", "serverUrl", "userConfig", "oauthConfig", "clientSecretId", "localConfigSecretId"]) {
    assert.equal(created[f], null, `${f} sent as null stays null`);
  }

  // Import with full verify.
  const imported = decodeCatalog(await ok("GET", `/api/internal_mcp_catalog/${created.id}`));
  assert.deepEqual(catalogState(imported), expectedState);
  assert.equal(canonical(imported.localConfig), canonical(localConfig));

  // Update: PUT with the same shape minus serverType, explicit nulls again; then the provider re-reads.
  const localConfig2 = {
    command: "npx",
    arguments: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp", "/var/tmp"],
    environment: [{ key: "LOG_LEVEL", value: "debug", type: "plain_text", promptOnInstallation: false }],
    transportType: "stdio",
  };
  const put = decodeCatalog(
    await ok(
      "PUT",
      `/api/internal_mcp_catalog/${created.id}`,
      catalogBody({ name: "test-mcp-server-updated", description: "Updated", docsUrl: "https://example.com/docs2", localConfig: localConfig2 }, { create: false }),
    ),
  );
  assert.equal(put.name, "test-mcp-server-updated");
  const reread = decodeCatalog(await ok("GET", `/api/internal_mcp_catalog/${created.id}`));
  assert.equal(canonical(reread.localConfig), canonical(localConfig2));
  assert.deepEqual(catalogState(reread).local_config.environment, { LOG_LEVEL: "debug" });
  assert.equal(reread.description, "Updated");
  assert.equal(reread.docsUrl, "https://example.com/docs2");
  // Clearing: description removed from the configuration goes out as null and comes back null.
  const cleared = decodeCatalog(
    await ok("PUT", `/api/internal_mcp_catalog/${created.id}`, catalogBody({ name: "test-mcp-server-updated", localConfig }, { create: false })),
  );
  assert.equal(cleared.description, null);
  assert.equal(cleared.docsUrl, null);
  assert.equal(canonical(cleared.localConfig), canonical(localConfig));

  // Catalog DELETE never 404s (success false for a missing id); Read after it is a JSON404.
  const del = await ok("DELETE", `/api/internal_mcp_catalog/${created.id}`);
  assert.equal(del.success, true);
  await expectGone(`/api/internal_mcp_catalog/${created.id}`);
  const again = await ok("DELETE", `/api/internal_mcp_catalog/${created.id}`);
  assert.equal(typeof again.success, "boolean");
});

test("archestra_mcp_server_installation acceptance: install (200 even when nothing can start), import, destroy", async () => {
  const catalog = decodeCatalog(
    await ok(
      "POST",
      "/api/internal_mcp_catalog",
      catalogBody({ name: "tf-broken", localConfig: { command: "/nonexistent/tf-mcp-server", arguments: ["x"] } }, { create: true }),
    ),
  );
  const created = decodeInstallation(
    await ok("POST", "/api/mcp_server", { name: "test-installation", catalogId: catalog.id, localInstallationError: null, ownerId: null }),
  );
  assert.notEqual(created.name, null, "display_name is set");
  assert.equal(created.catalogId, catalog.id);
  assert.equal(created.ownerId, adminUserId);
  assert.equal(created.name, `test-installation-${adminUserId}`, "local servers are named <name>-<userId>");
  const status = await eventually(async () => {
    const s = decodeInstallation(await ok("GET", `/api/mcp_server/${created.id}`));
    return s.localInstallationStatus === "error" ? s : null;
  }, 30000);
  assert.ok(status, "a server that cannot start ends in status error");
  assert.ok(status.localInstallationError.length > 0, "with the reason");
  // Import (ignoring name): the id, catalogId -> mcp_server_id.
  const imported = decodeInstallation(await ok("GET", `/api/mcp_server/${created.id}`));
  assert.equal(imported.catalogId, catalog.id);
  await destroy(`/api/mcp_server/${created.id}`);

  // Without mcp_server_id the provider sends the zero UUID: a JSON 400 (never a 500), nothing installed.
  const before = (await ok("GET", "/api/mcp_server")).length;
  const zero = await call("POST", "/api/mcp_server", { name: "no-catalog", catalogId: ZERO_UUID, localInstallationError: null, ownerId: null });
  assert.equal(zero.status, 400, zero.text);
  assert.equal(zero.json.error.type, "api_validation_error");
  assert.equal((await ok("GET", "/api/mcp_server")).length, before);
  await ok("DELETE", `/api/internal_mcp_catalog/${catalog.id}`);
});

test("full workflow: team + agent with 2 labels + catalog + installation, tools, agent_tool and mcp_server_tool data sources, both policies", async () => {
  const team = decodeTeam(await ok("POST", "/api/teams", { name: "workflow-team", description: "Full workflow" }));
  const labels = [
    { key: "env", value: "ci" },
    { key: "owner", value: "platform" },
  ];
  const agent = decodeAgent(await ok("POST", "/api/agents", { name: "workflow-agent", teams: [], labels }));
  assert.deepEqual(agentState(agent, labels).labels, labels);
  const localConfig = { command: "node", arguments: [filesystemJs, fsRoot] };
  const catalog = decodeCatalog(await ok("POST", "/api/internal_mcp_catalog", catalogBody({ name: "workflow-fs", localConfig }, { create: true })));
  assert.equal(canonical(catalog.localConfig), canonical(localConfig));
  const server = decodeInstallation(
    await ok("POST", "/api/mcp_server", { name: "workflow-fs", catalogId: catalog.id, localInstallationError: null, ownerId: null }),
  );
  const ready = await eventually(async () => {
    const s = decodeInstallation(await ok("GET", `/api/mcp_server/${server.id}`));
    return ["success", "error"].includes(s.localInstallationStatus) ? s : null;
  }, 45000);
  assert.equal(ready?.localInstallationStatus, "success", JSON.stringify(ready));

  // data "archestra_mcp_server_tool": GET /api/tools, match mcpServer.id and name.
  const tools = await ok("GET", "/api/tools");
  array(tools, "tools");
  for (const t of tools) {
    field(t, "id", uuid, "tool");
    field(t, "name", str, "tool");
    field(t, "description", strOrNull, "tool");
    field(t, "mcpServer", objOrNull, "tool");
    if (t.mcpServer) {
      field(t.mcpServer, "id", uuid, "tool.mcpServer");
      field(t.mcpServer, "name", str, "tool.mcpServer");
    }
    field(t, "createdAt", time, "tool");
  }
  const serverTools = tools.filter((t) => t.mcpServer?.id === server.id);
  assert.ok(serverTools.length > 0, "the installation's tools are listed with mcpServer");
  const listTool = serverTools.find((t) => /list_directory$/.test(t.name));
  assert.ok(listTool, `a list_directory tool among ${serverTools.map((t) => t.name)}`);

  // Assign it to the agent (UI/API), then data "archestra_agent_tool": GET /api/agent-tools with no query.
  const assigned = await ok("POST", `/api/agents/${agent.id}/tools/${listTool.id}`);
  assert.equal(assigned.success, true);
  const page = await ok("GET", "/api/agent-tools");
  array(page.data, "agent-tools.data");
  for (const f of ["currentPage", "limit", "total", "totalPages"]) field(page.pagination, f, int, "pagination");
  for (const f of ["hasNext", "hasPrev"]) field(page.pagination, f, bool, "pagination");
  assert.equal(page.pagination.limit, 20, "no query params: the default limit");
  const agentTool = page.data.find((d) => d.agent?.id === agent.id && d.tool?.name === listTool.name);
  assert.ok(agentTool, "the provider finds the agent tool by agent.id and tool.name on the first page");
  field(agentTool, "id", uuid, "agentTool");
  field(agentTool.tool, "id", uuid, "agentTool.tool");
  field(agentTool, "allowUsageWhenUntrustedDataIsPresent", bool, "agentTool");
  field(agentTool, "toolResultTreatment", (v, at) => assert.ok(["trusted", "sanitize_with_dual_llm", "untrusted"].includes(v), `${at}: ${v}`), "agentTool");
  field(agentTool, "responseModifierTemplate", strOrNull, "agentTool");

  // archestra_tool_invocation_policy: reason sent as explicit null; update sends every field.
  const ipBody = { agentToolId: agentTool.id, argumentName: "path", operator: "contains", value: "secret", action: "block_always", reason: null };
  const ip = decodeInvocationPolicy(await ok("POST", "/api/autonomy-policies/tool-invocation", ipBody));
  for (const [k, v] of Object.entries(ipBody)) assert.equal(ip[k], v, `policy ${k}`);
  const ipRead = decodeInvocationPolicy(await ok("GET", `/api/autonomy-policies/tool-invocation/${ip.id}`));
  assert.equal(ipRead.reason, null);
  const ipUpdated = decodeInvocationPolicy(
    await ok("PUT", `/api/autonomy-policies/tool-invocation/${ip.id}`, { ...ipBody, value: "private", reason: "no private files" }),
  );
  assert.equal(ipUpdated.value, "private");
  assert.equal(ipUpdated.reason, "no private files");
  const ipCleared = decodeInvocationPolicy(await ok("PUT", `/api/autonomy-policies/tool-invocation/${ip.id}`, { ...ipBody, reason: null }));
  assert.equal(ipCleared.reason, null, "reason null clears it");
  await destroy(`/api/autonomy-policies/tool-invocation/${ip.id}`);

  // archestra_trusted_data_policy.
  const tdBody = { agentToolId: agentTool.id, description: "listing is fine", attributePath: "content", operator: "contains", value: "[FILE]", action: "mark_as_trusted" };
  const td = decodeTrustedDataPolicy(await ok("POST", "/api/trusted-data-policies", tdBody));
  for (const [k, v] of Object.entries(tdBody)) assert.equal(td[k], v, `policy ${k}`);
  decodeTrustedDataPolicy(await ok("GET", `/api/trusted-data-policies/${td.id}`));
  const tdUpdated = decodeTrustedDataPolicy(await ok("PUT", `/api/trusted-data-policies/${td.id}`, { ...tdBody, action: "block_always" }));
  assert.equal(tdUpdated.action, "block_always");
  await destroy(`/api/trusted-data-policies/${td.id}`);

  // data "archestra_team" lookup at the end of the workflow.
  const teamRead = decodeTeam(await ok("GET", `/api/teams/${team.id}`));
  assert.equal(teamRead.description, "Full workflow");
  array(await ok("GET", `/api/teams/${team.id}/members`), "members");

  // terraform destroy, in dependency order.
  await destroy(`/api/mcp_server/${server.id}`);
  await ok("DELETE", `/api/internal_mcp_catalog/${catalog.id}`);
  await destroy(`/api/agents/${agent.id}`);
  await destroy(`/api/teams/${team.id}`);
});

test("every Read of a missing object is a JSON 404 (removed from state), and a non-UUID id a JSON 400", async () => {
  const missing = "7d2b5a4c-1111-4222-8333-444455556666";
  for (const p of [
    `/api/agents/${missing}`,
    `/api/teams/${missing}`,
    `/api/internal_mcp_catalog/${missing}`,
    `/api/mcp_server/${missing}`,
    `/api/autonomy-policies/tool-invocation/${missing}`,
    `/api/trusted-data-policies/${missing}`,
  ]) {
    await expectGone(p);
  }
  for (const p of ["/api/agents/not-a-uuid", "/api/internal_mcp_catalog/not-a-uuid", "/api/mcp_server/not-a-uuid"]) {
    const res = await call("GET", p);
    assert.equal(res.status, 400, `${p}: ${res.status}`);
    assert.equal(res.json?.error?.type, "api_validation_error", p);
  }
});
