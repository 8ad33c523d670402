// An MCP server that crashes and is restarted in a loop while the gateway is under load (issue 14, "Faults"):
// orchestrator.local runs test/e2e/hardening/crashing-mcp-server.mjs, which dies in the middle of every 5th
// call; 4 MCP SDK clients call its tool through /v1/mcp/<profile> without pause for MCP_CRASH_LOAD_S seconds.
// Every call must settle within its timeout with either the echo or a well-formed error (a JSON-RPC error or an
// isError result): never a hang, never a dropped connection; the orchestrator must have restarted the server
// several times, calls must succeed again after restarts, the platform must stay healthy, and once the load
// stops the server must come back and answer.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startPlatform, adminSession, apiClient, defaultProfileId, eventually, installationStatus, repoRoot } from "../lib/harness.mjs";
import { connectGateway, toolText as text } from "../lib/mcp-gateway.mjs";
import { percentile } from "../lib/load.mjs";
import { recordReliability } from "../lib/reliability.mjs";

const serverScript = path.join(repoRoot, "test/e2e/hardening/crashing-mcp-server.mjs");
const LOAD_S = Number(process.env.MCP_CRASH_LOAD_S || 30);
const CALL_TIMEOUT_MS = 20000;
const CLIENTS = 4;

let platform;
let session;
let profileId;
let teamToken;
let serverId;

const api = (method, p, body) => apiClient(platform, session)(method, p, body);
const connect = async () => (await connectGateway(platform, profileId, teamToken, { name: "archestra-crash-loop" })).client;

before(async () => {
  platform = await startPlatform({ env: { ARCHESTRA_ORCHESTRATOR: "local" } });
  session = await adminSession(platform);
  profileId = await defaultProfileId(platform);
  const tokens = await api("GET", "/api/tokens");
  const team = tokens.body.find((t) => !t.isOrganizationToken);
  assert.ok(team, `a team token: ${JSON.stringify(tokens.body)}`);
  teamToken = (await api("GET", `/api/tokens/${team.id}/value`)).body.value;

  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Crashing",
    serverType: "local",
    localConfig: { command: process.execPath, arguments: [serverScript], environment: [{ key: "CRASH_EVERY", type: "plain_text", value: "5" }] },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "crashing", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  serverId = installed.body.id;
  const done = await installationStatus(api, serverId);
  assert.deepEqual(done, { localInstallationStatus: "success", localInstallationError: null });
  const tools = await api("GET", `/api/mcp_server/${serverId}/tools`);
  const echo = tools.body.find((t) => t.name === "crashing__echo");
  assert.ok(echo, JSON.stringify(tools.body));
  const assigned = await api("POST", `/api/agents/${profileId}/tools/${echo.id}`, {});
  assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
  // The echo's results are trusted, so a session is never tainted and every call is a real call.
  const rows = await platform.psql(`SELECT id FROM agent_tools WHERE agent_id = '${profileId}' AND tool_id = '${echo.id}'`);
  const trusted = await api("PATCH", `/api/agent-tools/${rows[0][0]}`, { toolResultTreatment: "trusted" });
  assert.equal(trusted.status, 200, JSON.stringify(trusted.body));
});

after(async () => {
  await platform?.stop();
});

test("a server crashing every 5th call under gateway load: every call settles, the server keeps coming back", async () => {
  const outcomes = []; // { at, ms, kind: "ok" | "error", detail }
  const deadline = Date.now() + LOAD_S * 1000;
  const clients = Array.from({ length: CLIENTS }, async (_, c) => {
    let client = await connect();
    for (let i = 0; Date.now() < deadline; i++) {
      const message = `c${c}-${i}`;
      const started = Date.now();
      try {
        const result = await client.callTool({ name: "crashing__echo", arguments: { message } }, undefined, {
          timeout: CALL_TIMEOUT_MS,
        });
        const body = text(result);
        if (result.isError) outcomes.push({ at: started, ms: Date.now() - started, kind: "error", detail: body });
        else {
          assert.equal(body, `echo:${message}`, "an answer must be the answer to this call");
          outcomes.push({ at: started, ms: Date.now() - started, kind: "ok", detail: body });
        }
      } catch (err) {
        // A JSON-RPC error object is a well-formed answer; a timeout or a transport failure is not.
        const code = err?.code;
        const wellFormed = typeof code === "number" && code !== -32001 /* SDK request timeout */;
        outcomes.push({ at: started, ms: Date.now() - started, kind: wellFormed ? "error" : "broken", detail: `${code} ${err.message}` });
        if (!wellFormed) {
          await client.close().catch(() => {});
          client = await connect();
        }
      }
      if (outcomes.at(-1).kind === "error") await new Promise((r) => setTimeout(r, 50));
    }
    await client.close();
  });
  await Promise.all(clients);

  const ok = outcomes.filter((o) => o.kind === "ok");
  const errors = outcomes.filter((o) => o.kind === "error");
  const broken = outcomes.filter((o) => o.kind === "broken");
  const slowest = Math.max(...outcomes.map((o) => o.ms));
  assert.deepEqual(broken.map((o) => o.detail).slice(0, 5), [], `calls that hung or lost their connection: ${broken.length}`);
  assert.ok(slowest < CALL_TIMEOUT_MS, `slowest call ${slowest} ms`);
  assert.ok(errors.length > 0, "the crashes must show as errors");
  // Answers came from more than one process life: successes before and after the first error.
  const firstError = Math.min(...errors.map((o) => o.at));
  assert.ok(ok.some((o) => o.at < firstError), "calls succeeded before the first crash");
  assert.ok(ok.some((o) => o.at > firstError + 500), "calls succeeded again after a restart");

  const logs = await api("GET", `/api/mcp_server/${serverId}/logs`);
  const logText = typeof logs.body === "string" ? logs.body : JSON.stringify(logs.body);
  const crashes = (logText.match(/crashing on call/g) || []).length;
  assert.ok(crashes >= 2, `the orchestrator's log shows ${crashes} crashes: ${logText.slice(-1500)}`);
  assert.match(logText, /restarting in/);

  const health = await fetch(`${platform.baseUrl}/health`);
  assert.equal(health.status, 200);

  // After the load the server comes back (the backoff is at most 30 s) and answers.
  const start = Date.now();
  const recovered = await eventually(async () => {
    const client = await connect();
    try {
      const result = await client.callTool({ name: "crashing__echo", arguments: { message: "after" } }, undefined, { timeout: 10000 });
      return !result.isError && text(result) === "echo:after" ? result : null;
    } catch {
      return null;
    } finally {
      await client.close().catch(() => {});
    }
  }, 60000, 1000);
  assert.ok(recovered, "the server answers again after the crash loop");
  const recovery_ms = Date.now() - start;

  const errorKinds = [...new Set(errors.map((o) => o.detail.replace(/[0-9a-f-]{36}|c\d+-\d+|\d+/g, "#").slice(0, 120)))];
  console.log(JSON.stringify({ calls: outcomes.length, ok: ok.length, errors: errors.length, crashes, slowest, p50: percentile(outcomes.map((o) => o.ms), 50), recovery_ms, errorKinds }, null, 1));
  recordReliability("e2e_hardening_mcp_crash_loop", [
    { what: "MCP server crashing every 5th call, 4 gateway clients for " + `${LOAD_S} s`, how: "calls: answered / well-formed errors / hung or dropped", figure: `${ok.length} / ${errors.length} / ${broken.length}` },
    { what: "orchestrator.local restarts under the crash loop", how: "crashes in the server's log; slowest call", figure: `${crashes}; ${slowest} ms` },
    { what: "recovery after the load", how: "time until a call succeeds again", figure: `${recovery_ms} ms` },
  ]);
});
