// The gateway's built-in archestra__* tools (limits, profiles, registry, bulk assignment) through the official
// MCP SDK client, each checked against the caller's permissions: a team token acts as a team member (reads,
// no writes), the organisation token as an admin. Dynamic team credentials (the installation is picked per
// caller). The gateway's spans at the OTLP receiver stand-in. And the server-to-client SSE stream on GET:
// keep-alive comments, one stream per session, closed by the session's DELETE and by platform shutdown.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startPlatform, adminSession, defaultProfileId, installationStatus, repoRoot, apiClient, tokenValue } from "../lib/harness.mjs";
import { startOtlpReceiver, waitFor } from "../telemetry/standins.mjs";

const everythingJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const KEEPALIVE_MS = 300;

let platform;
let receiver;
let session;
let api;
let profileId;
let teamToken;
let orgToken;
let serverId;
let catalogId;

async function connect(token) {
  const client = new Client({ name: "archestra-e2e-builtins", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${platform.baseUrl}/v1/mcp/${profileId}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const text = (result) => result.content.map((c) => c.text ?? "").join("\n");

/// Calls a built-in and returns its structured answer; fails the test on an error result.
async function call(client, name, args = {}) {
  const result = await client.callTool({ name, arguments: args });
  assert.notEqual(result.isError, true, `${name}: ${text(result)}`);
  return result.structuredContent ?? JSON.parse(text(result));
}

before(async () => {
  receiver = await startOtlpReceiver();
  platform = await startPlatform({
    env: {
      ARCHESTRA_ORCHESTRATOR: "local",
      ARCHESTRA_MCP_GATEWAY_SSE_KEEPALIVE_MS: String(KEEPALIVE_MS),
      ARCHESTRA_OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/v1/traces`,
    },
    readyTimeout_ms: 240000, // a loaded machine can take minutes to initialise the embedded PostgreSQL
  });
  session = await adminSession(platform);
  api = apiClient(platform, session);
  profileId = await defaultProfileId(platform);
  teamToken = await tokenValue(api);
  orgToken = await tokenValue(api, { organization: true });
  assert.match(teamToken, /^archestra_/);
  assert.match(orgToken, /^archestra_/);

  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Everything Builtins",
    description: "The reference server with every MCP feature",
    serverType: "local",
    localConfig: { command: process.execPath, arguments: [everythingJs, "stdio"] },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  catalogId = catalog.body.id;
  const installed = await api("POST", "/api/mcp_server", { name: "everything", catalogId });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  serverId = installed.body.id;
  const done = await installationStatus(api, serverId);
  assert.equal(done.localInstallationStatus, "success", JSON.stringify(done));
});

after(async () => {
  await platform?.stop();
  await receiver?.stop();
});

test("tools/list offers the limit, profile, registry and bulk-assign built-ins", async () => {
  const { client } = await connect(teamToken);
  try {
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const name of [
      "archestra__get_limits", "archestra__create_limit", "archestra__update_limit", "archestra__delete_limit",
      "archestra__get_profile_token_usage", "archestra__get_profile", "archestra__create_profile",
      "archestra__search_private_mcp_registry", "archestra__get_mcp_servers", "archestra__get_mcp_server_tools",
      "archestra__bulk_assign_tools_to_profiles",
    ])
      assert.ok(names.includes(name), `${name} missing from ${names.join(",")}`);
  } finally {
    await client.close();
  }
});

test("a team token reads (profile, usage, limits, registry) but may not write", async () => {
  const { client } = await connect(teamToken);
  try {
    const profile = await call(client, "archestra__get_profile");
    assert.equal(profile.id, profileId);
    const usage = await call(client, "archestra__get_profile_token_usage");
    assert.equal(usage.profileId, profileId);
    assert.equal(usage.inputTokens, 0);
    assert.ok(Array.isArray((await call(client, "archestra__get_limits")).limits));
    const found = await call(client, "archestra__search_private_mcp_registry", { query: "every mcp FEATURE" });
    assert.deepEqual(found.catalogItems.map((c) => c.id), [catalogId], "description, case-insensitive");
    const none = await call(client, "archestra__search_private_mcp_registry", { query: "feature every" });
    assert.deepEqual(none.catalogItems, [], "the query is one phrase, not loose words");
    const byName = await call(client, "archestra__search_private_mcp_registry", { query: "builtins" });
    assert.deepEqual(byName.catalogItems.map((c) => c.id), [catalogId]);
    assert.equal(byName.catalogItems[0].installedServers, 1);

    for (const [name, args, permission] of [
      ["archestra__create_limit", { entityType: "agent", entityId: profileId, limitType: "tool_calls", limitValue: 1, mcpServerName: "x", toolName: "y" }, "limit:create"],
      ["archestra__create_profile", { name: "from a team token" }, "profile:create"],
      ["archestra__bulk_assign_tools_to_profiles", { assignments: [] }, "profile:update"],
    ]) {
      const refused = await client.callTool({ name, arguments: args });
      assert.equal(refused.isError, true, `${name} should be refused: ${text(refused)}`);
      assert.match(text(refused), new RegExp(`Permission denied: ${name} needs ${permission}`));
    }
    // A profile outside the token's team is "not found", not shown.
    const other = await api("POST", "/api/agents", { name: "No team profile", teams: [] });
    assert.equal(other.status, 200, JSON.stringify(other.body));
    const hidden = await client.callTool({ name: "archestra__get_profile", arguments: { id: other.body.id } });
    assert.equal(hidden.isError, true);
    assert.match(text(hidden), /not found/);
  } finally {
    await client.close();
  }
  const rows = await platform.psql("SELECT count(*) FROM agents WHERE name = 'from a team token'");
  assert.equal(rows[0][0], "0");
});

test("the organisation token manages limits, creates a profile and bulk-assigns a server's tools", async () => {
  const { client } = await connect(orgToken);
  try {
    const servers = await call(client, "archestra__get_mcp_servers");
    const mine = servers.mcpServers.find((s) => s.id === serverId);
    assert.ok(mine, JSON.stringify(servers));
    assert.equal(mine.status, "success");
    const { tools } = await call(client, "archestra__get_mcp_server_tools", { mcpServerId: serverId });
    const echo = tools.find((t) => t.name.endsWith("__echo"));
    assert.ok(echo, tools.map((t) => t.name).join(","));
    assert.equal(tools.length, mine.toolCount);

    const created = await call(client, "archestra__create_limit", {
      entityType: "agent", entityId: profileId, limitType: "tool_calls", limitValue: 5,
      mcpServerName: "Everything Builtins", toolName: echo.name,
    });
    assert.equal(created.limitValue, 5);
    const bad = await client.callTool({ name: "archestra__create_limit", arguments: { entityType: "agent", entityId: profileId, limitType: "tool_calls", limitValue: -1 } });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /limitValue/);
    const updated = await call(client, "archestra__update_limit", { id: created.id, limitValue: 7 });
    assert.equal(updated.limitValue, 7);
    const listed = await call(client, "archestra__get_limits", { entityId: profileId });
    assert.deepEqual(listed.limits.map((l) => l.id), [created.id]);
    const viaApi = await api("GET", `/api/limits/${created.id}`);
    assert.equal(viaApi.body.limitValue, 7);
    assert.deepEqual(await call(client, "archestra__delete_limit", { id: created.id }), { success: true });
    assert.equal((await api("GET", `/api/limits/${created.id}`)).status, 404);

    const profile = await call(client, "archestra__create_profile", { name: "Made over MCP" });
    assert.equal(profile.name, "Made over MCP");
    const result = await call(client, "archestra__bulk_assign_tools_to_profiles", {
      assignments: [
        { profileId: profile.id, toolId: echo.id },
        { profileId: profile.id, toolId: echo.id },
        { profileId: profile.id, toolId: "00000000-0000-4000-8000-000000000000" },
      ],
    });
    assert.equal(result.succeeded.length, 1, JSON.stringify(result));
    assert.equal(result.duplicates.length + result.failed.length, 2, JSON.stringify(result));
    const assigned = await api("GET", `/api/agents/${profile.id}/tools`);
    assert.deepEqual(assigned.body.map((t) => t.id), [echo.id]);
  } finally {
    await client.close();
  }
});

// ---- dynamic team credentials ------------------------------------------------------------------------------

test("dynamic team credentials: each caller's call runs on an installation with their credentials", async () => {
  const tokens = await api("GET", "/api/tokens");
  const team1 = tokens.body.find((t) => !t.isOrganizationToken).team.id;
  const team2 = await api("POST", "/api/teams", { name: "Credential-less team" });
  assert.equal(team2.status, 200, JSON.stringify(team2.body));
  const withTeam2 = await api("GET", "/api/tokens");
  const team2Token = withTeam2.body.find((t) => t.team?.id === team2.body.id);
  assert.ok(team2Token, JSON.stringify(withTeam2.body));
  const team2Value = (await api("GET", `/api/tokens/${team2Token.id}/value`)).body.value;

  const profile = await api("POST", "/api/agents", { name: "Dynamic credentials", teams: [team1, team2.body.id] });
  assert.equal(profile.status, 200, JSON.stringify(profile.body));
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Cred",
    serverType: "local",
    localConfig: {
      command: process.execPath,
      arguments: [everythingJs, "stdio"],
      environment: [{ key: "ACCOUNT", type: "plain_text", promptOnInstallation: true, required: true }],
    },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const install = async (name, account, teams) => {
    const res = await api("POST", "/api/mcp_server", { name, catalogId: catalog.body.id, teams, environmentValues: { ACCOUNT: account } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await installationStatus(api, res.body.id);
    assert.equal(done.localInstallationStatus, "success", JSON.stringify(done));
    return res.body.id;
  };
  const orgServer = await install("cred-org", "org-account", []);
  const teamServer = await install("cred-team", "team1-account", [team1]);
  // The catalog entry's tools are stored once; whichever installation discovered them last holds them.
  const tools = [
    ...(await api("GET", `/api/mcp_server/${orgServer}/tools`)).body,
    ...(await api("GET", `/api/mcp_server/${teamServer}/tools`)).body,
  ];
  const getEnv = tools.find((t) => t.name === "cred__get-env");
  assert.ok(getEnv, `no cred__get-env among: ${tools.map((t) => t.name).join(",")}`);
  const assigned = await api("POST", `/api/agents/${profile.body.id}/tools/${getEnv.id}`, { useDynamicTeamCredential: true });
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));

  const accountOf = async (token) => {
    const client = new Client({ name: "cred", version: "1" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${platform.baseUrl}/v1/mcp/${profile.body.id}`), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      }),
    );
    try {
      const result = await client.callTool({ name: "cred__get-env", arguments: {} });
      if (result.isError) return { error: text(result) };
      return { account: JSON.parse(text(result)).ACCOUNT };
    } finally {
      await client.close();
    }
  };
  assert.deepEqual(await accountOf(teamToken), { account: "team1-account" }, "the team's shared installation");
  assert.deepEqual(await accountOf(orgToken), { account: "org-account" }, "the organisation token: the first one");
  const none = await accountOf(team2Value);
  assert.match(none.error ?? "", /dynamic team credentials and there is no 'Cred' installation with credentials for the token of team/);
});

// ---- spans --------------------------------------------------------------------------------------------------

test("gateway calls produce mcp.* spans with the profile attributes, under the HTTP request span", async () => {
  const { client, transport } = await connect(teamToken);
  try {
    await client.listTools();
    await client.callTool({ name: "archestra__whoami", arguments: {} });
    const refused = await client.callTool({ name: "archestra__create_profile", arguments: { name: "x" } });
    assert.equal(refused.isError, true);
  } finally {
    await client.close();
  }
  const sessionId = transport.sessionId;
  const spans = await waitFor(async () => {
    const { spans } = await receiver.get("/__spans");
    const mine = spans.filter((s) => s.attributes["mcp.session.id"] === sessionId);
    return mine.filter((s) => s.name === "mcp.tools/call").length >= 2 && mine.some((s) => s.name === "mcp.initialize") ? spans : null;
  }, 15000);
  assert.ok(spans, "the gateway's spans did not arrive");
  const mine = spans.filter((s) => s.attributes["mcp.session.id"] === sessionId);
  const names = mine.map((s) => s.name).sort();
  assert.deepEqual(names, ["mcp.initialize", "mcp.tools/call", "mcp.tools/call", "mcp.tools/list"]);
  for (const span of mine) {
    assert.equal(span.attributes["route.category"], "mcp-gateway");
    assert.equal(span.attributes["profile.id"], profileId);
    assert.equal(span.attributes["agent.id"], profileId);
    assert.equal(typeof span.attributes["profile.name"], "string");
    assert.equal(span.attributes["mcp.auth"], "team_token");
    assert.equal(span.scope, "archestra");
    const parent = spans.find((s) => s.spanId === span.parentSpanId);
    assert.ok(parent, `${span.name}: its parent (the HTTP request span) was exported`);
    assert.match(parent.name, /^POST \/v1\/mcp/);
    assert.equal(parent.traceId, span.traceId);
  }
  const calls = mine.filter((s) => s.name === "mcp.tools/call");
  const whoami = calls.find((s) => s.attributes["mcp.tool.name"] === "archestra__whoami");
  const denied = calls.find((s) => s.attributes["mcp.tool.name"] === "archestra__create_profile");
  assert.equal(whoami.attributes["mcp.server.name"], "archestra");
  assert.equal(whoami.status.code, 0, "UNSET (success; only failures set a status)");
  assert.equal(denied.status.code, 2, "ERROR");
  assert.match(denied.status.message, /Permission denied/);
});

// ---- the GET stream ----------------------------------------------------------------------------------------

async function openStream(sessionId, token = teamToken) {
  return fetch(`${platform.baseUrl}/v1/mcp/${profileId}`, {
    headers: { accept: "text/event-stream", authorization: `Bearer ${token}`, ...(sessionId ? { "mcp-session-id": sessionId } : {}) },
  });
}

/// Reads the stream until `predicate(textSoFar)` holds or it ends; returns {text, ended}.
async function readUntil(reader, predicate, timeout_ms = 10000) {
  const decoder = new TextDecoder();
  let textSoFar = "";
  const deadline = Date.now() + timeout_ms;
  while (Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise((r) => setTimeout(() => r(null), deadline - Date.now()))]);
    if (!chunk) break;
    if (chunk.done) return { text: textSoFar, ended: true };
    textSoFar += decoder.decode(chunk.value, { stream: true });
    if (predicate(textSoFar)) return { text: textSoFar, ended: false };
  }
  return { text: textSoFar, ended: false };
}

/// A session of our own, initialized with a plain POST (the SDK client would open its own GET stream).
async function newSession() {
  const res = await fetch(`${platform.baseUrl}/v1/mcp/${profileId}`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${teamToken}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
  });
  assert.equal(res.status, 200);
  return res.headers.get("mcp-session-id");
}

test("GET with Accept: text/event-stream streams keep-alives until the session is deleted", async () => {
  assert.equal((await openStream(undefined)).status, 400);
  assert.equal((await openStream("nope")).status, 400);
  const sessionId = await newSession();
  const res = await openStream(sessionId);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/event-stream/);
  assert.equal(res.headers.get("mcp-session-id"), sessionId);
  const reader = res.body.getReader();
  const started = Date.now();
  const seen = await readUntil(reader, (t) => (t.match(/: keep-alive\n\n/g) || []).length >= 2);
  assert.equal((seen.text.match(/: keep-alive\n\n/g) || []).length, 2, JSON.stringify(seen));
  assert.ok(Date.now() - started >= KEEPALIVE_MS, "keep-alives are paced");

  const second = await openStream(sessionId);
  assert.equal(second.status, 409);

  const deleted = await fetch(`${platform.baseUrl}/v1/mcp/${profileId}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${teamToken}`, "mcp-session-id": sessionId },
  });
  assert.equal(deleted.status, 200);
  const rest = await readUntil(reader, () => false, 3000);
  assert.equal(rest.ended, true, "the stream ends with its session");
});

test("the SDK client's own GET stream works alongside its requests", async () => {
  const { client } = await connect(teamToken);
  try {
    await new Promise((r) => setTimeout(r, 2 * KEEPALIVE_MS));
    assert.equal(text(await client.callTool({ name: "archestra__whoami", arguments: {} })).includes(profileId), true);
  } finally {
    await client.close();
  }
});

test("shutdown ends open streams at once", async () => {
  const sessionId = await newSession();
  const res = await openStream(sessionId);
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  await readUntil(reader, (t) => t.includes(": keep-alive"));
  const started = Date.now();
  const ended = readUntil(reader, () => false, 15000);
  await platform.stop();
  const stopped_ms = Date.now() - started;
  platform = null;
  assert.equal((await ended).ended, true);
  assert.ok(stopped_ms < 8000, `shutdown took ${stopped_ms} ms with a stream open`);
});
