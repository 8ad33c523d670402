// Helpers shared by the chat tests: a stand-in script, the chat's SSE stream read into events, and the MCP setup
// (server-everything installed by orchestrator.local, its echo tool on the profile, a policy blocking a word).
import assert from "node:assert/strict";
import path from "node:path";
import { installationStatus, repoRoot } from "../lib/harness.mjs";

export const everythingJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
export const ECHO = "everything_chat__echo";

export function client(platform, who) {
  return async function call(method, p, body) {
    const res = await fetch(platform.baseUrl + p, {
      method,
      headers: { cookie: who.cookie, origin: who.origin, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // SSE or empty
    }
    return { status: res.status, body: parsed, text, headers: res.headers };
  };
}

/// Queues scripted replies on the stand-in ({text} or {toolCall:{name, arguments}}).
export async function script(standin, replies) {
  const res = await fetch(`${standin.url}/__script`, { method: "POST", body: JSON.stringify({ replies }) });
  assert.equal(res.status, 200);
}

/// The `data:` events of an SSE body; `[DONE]` kept as the string.
export function sseEvents(text) {
  const events = [];
  for (const block of text.split("\n\n")) {
    for (const line of block.split("\n")) {
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      events.push(data === "[DONE]" ? data : JSON.parse(data));
    }
  }
  return events;
}

/// Installs server-everything, assigns its echo tool to `profileId` and blocks echo calls whose message
/// contains "forbidden".
export async function setupEcho(platform, call, profileId) {
  const catalog = await call("POST", "/api/internal_mcp_catalog", {
    name: "Everything Chat",
    serverType: "local",
    localConfig: { command: process.execPath, arguments: [everythingJs, "stdio"] },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await call("POST", "/api/mcp_server", { name: "everything", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const done = await installationStatus(call, installed.body.id, { timeout_ms: 60000 });
  assert.deepEqual(done, { localInstallationStatus: "success", localInstallationError: null });
  const tools = await call("GET", `/api/mcp_server/${installed.body.id}/tools`);
  const echo = tools.body.find((t) => t.name === ECHO);
  assert.ok(echo, tools.body.map((t) => t.name).join(","));
  const assigned = await call("POST", `/api/agents/${profileId}/tools/${echo.id}`, {});
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  const rows = await platform.psql(`SELECT id FROM agent_tools WHERE agent_id = '${profileId}' AND tool_id = '${echo.id}'`);
  const policy = await call("POST", "/api/autonomy-policies/tool-invocation", {
    agentToolId: rows[0][0],
    argumentName: "message",
    operator: "contains",
    value: "forbidden",
    action: "block_always",
    reason: "No forbidden words through echo",
  });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
}
