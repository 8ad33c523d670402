// The MCP gateway through the real platform with the official @modelcontextprotocol/sdk client
// (StreamableHTTPClientTransport + team token): initialize, tools/list, a built-in call, a real
// server-everything call run by orchestrator.local, a call blocked by an invocation policy, a session tainted by
// an untrusted result, 401 on a bad token, 400 on an unknown session, and the /api/mcp-tool-calls log.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startPlatform, adminSession, defaultProfileId, installationStatus, repoRoot, apiClient, tokenValue } from "../lib/harness.mjs";

const everythingJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js");

let platform;
let session;
let api;
let profileId;
let teamToken;
let agentToolId;

async function connect(token = teamToken) {
  const client = new Client({ name: "archestra-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${platform.baseUrl}/v1/mcp/${profileId}`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

const text = (result) => result.content.map((c) => c.text ?? "").join("\n");

before(async () => {
  platform = await startPlatform({ env: { ARCHESTRA_ORCHESTRATOR: "local" } });
  session = await adminSession(platform);
  api = apiClient(platform, session);
  profileId = await defaultProfileId(platform);

  teamToken = await tokenValue(api);

  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Everything GW",
    serverType: "local",
    localConfig: { command: process.execPath, arguments: [everythingJs, "stdio"] },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "everything", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const done = await installationStatus(api, installed.body.id);
  assert.deepEqual(done, { localInstallationStatus: "success", localInstallationError: null });
  const tools = await api("GET", `/api/mcp_server/${installed.body.id}/tools`);
  const echo = tools.body.find((t) => t.name === "everything_gw__echo");
  assert.ok(echo, tools.body.map((t) => t.name).join(","));
  const assigned = await api("POST", `/api/agents/${profileId}/tools/${echo.id}`, {});
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  const rows = await platform.psql(
    `SELECT id FROM agent_tools WHERE agent_id = '${profileId}' AND tool_id = '${echo.id}'`,
  );
  agentToolId = rows[0][0];
  const policy = await api("POST", "/api/autonomy-policies/tool-invocation", {
    agentToolId,
    argumentName: "message",
    operator: "contains",
    value: "forbidden",
    action: "block_always",
    reason: "No forbidden words through echo",
  });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
});

after(async () => {
  await platform?.stop();
});

test("initialize, tools/list and a built-in call with a team token", async () => {
  const { client, transport } = await connect();
  try {
    assert.match(transport.sessionId, /^[0-9a-f]{32,}$/);
    assert.equal(client.getServerVersion().name, `archestra-agent-${profileId}`);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes("everything_gw__echo"), names.join(","));
    assert.ok(names.includes("archestra__whoami"));
    const who = await client.callTool({ name: "archestra__whoami", arguments: {} });
    assert.match(text(who), new RegExp(`Profile ID: ${profileId}`));
    await client.ping();
  } finally {
    await client.close();
  }
});

test("a real server-everything call, a blocked call, then a tainted session", async () => {
  const { client } = await connect();
  try {
    const blocked = await client.callTool({ name: "everything_gw__echo", arguments: { message: "a forbidden word" } });
    assert.equal(blocked.isError, true);
    assert.match(text(blocked), /No forbidden words through echo/);

    // echo's results keep the default treatment (untrusted): the call succeeds and taints the session.
    const echoed = await client.callTool({ name: "everything_gw__echo", arguments: { message: "hello gateway" } });
    assert.notEqual(echoed.isError, true, JSON.stringify(echoed));
    assert.match(text(echoed), /hello gateway/);
    assert.equal(echoed._meta.archestra.sessionTainted, true);

    const refused = await client.callTool({ name: "everything_gw__echo", arguments: { message: "again" } });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /context contains untrusted data/);
  } finally {
    await client.close();
  }
  // A new session starts clean.
  const fresh = await connect();
  try {
    const ok = await fresh.client.callTool({ name: "everything_gw__echo", arguments: { message: "fresh" } });
    assert.match(text(ok), /fresh/);
  } finally {
    await fresh.client.close();
  }
});

test("bad token 401, unknown session 400, unknown tool -32601", async () => {
  const url = `${platform.baseUrl}/v1/mcp/${profileId}`;
  const ping = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  const unauthorized = await fetch(url, {
    method: "POST",
    headers: { ...headers, authorization: "Bearer archestra_00000000000000000000000000000000" },
    body: ping,
  });
  assert.equal(unauthorized.status, 401);
  assert.deepEqual(await unauthorized.json(), {
    jsonrpc: "2.0",
    error: { code: -32000, message: "Unauthorized: Invalid token for this profile" },
    id: null,
  });
  await assert.rejects(connect("archestra_00000000000000000000000000000000"));

  const invalid = await fetch(url, {
    method: "POST",
    headers: { ...headers, authorization: `Bearer ${teamToken}`, "mcp-session-id": "no-such-session" },
    body: ping,
  });
  assert.equal(invalid.status, 400);
  assert.deepEqual((await invalid.json()).error, { code: -32000, message: "Bad Request: Invalid or expired session" });

  const { client } = await connect();
  try {
    await assert.rejects(client.callTool({ name: "archestra__nope", arguments: {} }), /-32601|Unknown tool/);
  } finally {
    await client.close();
  }
});

test("every initialize, list and call is in /api/mcp-tool-calls", async () => {
  const page = await api("GET", `/api/mcp-tool-calls?agentId=${profileId}&limit=100`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  const methods = page.body.data.map((r) => r.method);
  assert.ok(methods.includes("initialize") && methods.includes("tools/list") && methods.includes("tools/call"));
  const echoCalls = page.body.data.filter((r) => r.toolCall?.name === "everything_gw__echo");
  assert.equal(echoCalls.length, 4, JSON.stringify(echoCalls.map((r) => r.toolCall)));
  assert.ok(echoCalls.every((r) => r.mcpServerName === "Everything GW"));
  assert.equal(page.body.pagination.total, page.body.data.length);
  const one = await api("GET", `/api/mcp-tool-calls/${echoCalls[0].id}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, echoCalls[0]);
});
