// The private MCP registry and installations through the real platform with orchestrator.local running the
// official @modelcontextprotocol/server-everything and server-filesystem: catalog round trip (Terraform's
// explicit nulls and npx localConfig), install -> success with discovered tools, logs (also streamed),
// restart (new process), uninstall and platform shutdown kill the process, a server that crashes at start and
// a dockerImage-only entry end in status error with the reason.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startPlatform, adminSession, eventually, installationStatus, freePort, repoRoot, apiClient } from "../lib/harness.mjs";

const mcpModules = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol");
const everythingJs = path.join(mcpModules, "server-everything/dist/index.js");
const filesystemJs = path.join(mcpModules, "server-filesystem/dist/index.js");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let platform;
let session;
let api;
let userId;
let fsRoot;

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/// Pids the orchestrator reported starting, in order, from the server's logs.
async function startedPids(serverId) {
  const res = await api("GET", `/api/mcp_server/${serverId}/logs?lines=1000`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return [...res.body.logs.matchAll(/\[orchestrator\.local\] started pid (\d+)/g)].map((m) => Number(m[1]));
}

const waitStatus = (serverId, wanted, timeout_ms = 45000) => installationStatus(api, serverId, { wanted, timeout_ms });

async function catalogItem(name, localConfig) {
  const res = await api("POST", "/api/internal_mcp_catalog", { name, serverType: "local", localConfig });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

before(async () => {
  fsRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-fs-root-"));
  fs.writeFileSync(path.join(fsRoot, "hello.txt"), "hello from the filesystem server\n");
  // The platform finds the bundled plugins (orchestrator.local among them) in its build tree.
  platform = await startPlatform({ env: { ARCHESTRA_ORCHESTRATOR: "local" } });
  session = await adminSession(platform);
  api = apiClient(platform, session);
  const me = await api("GET", "/api/auth/get-session");
  userId = me.body.user.id;
  assert.ok(userId, "admin user id");
});

after(async () => {
  await platform?.stop();
  fs.rmSync(fsRoot, { recursive: true, force: true });
});

test("catalog: Terraform's create/read/update/delete with explicit nulls; localConfig round-trips exactly", async () => {
  const localConfig = { command: "npx", arguments: ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"] };
  const create = {
    name: "test-mcp-server",
    serverType: "local",
    authDescription: null,
    authFields: null,
    clientSecretId: null,
    description: "A test MCP server",
    docsUrl: "https://example.com/docs",
    installationCommand: null,
    localConfig,
    localConfigSecretId: null,
    oauthConfig: null,
    repository: null,
    serverUrl: null,
    userConfig: null,
    version: null,
  };
  const created = await api("POST", "/api/internal_mcp_catalog", create);
  assert.equal(created.status, 200, JSON.stringify(created.body));
  assert.match(created.type, /application\/json/);
  assert.match(created.body.id, UUID);
  assert.match(created.body.createdAt, ISO);
  assert.match(created.body.updatedAt, ISO);
  const read = await api("GET", `/api/internal_mcp_catalog/${created.body.id}`);
  assert.equal(read.status, 200);
  for (const [key, value] of Object.entries(create)) assert.deepEqual(read.body[key], value, `field ${key}`);
  assert.deepEqual(Object.keys(read.body.localConfig).sort(), Object.keys(localConfig).sort(), "no field injected");
  assert.equal(read.body.requiresAuth, false);

  const update = { ...create, name: "test-mcp-server-updated", description: null, docsUrl: "https://example.com/v2" };
  delete update.serverType;
  const updated = await api("PUT", `/api/internal_mcp_catalog/${created.body.id}`, update);
  assert.equal(updated.status, 200, JSON.stringify(updated.body));
  assert.equal(updated.body.name, "test-mcp-server-updated");
  assert.equal(updated.body.description, null);
  assert.equal(updated.body.docsUrl, "https://example.com/v2");
  assert.deepEqual(updated.body.localConfig, localConfig);

  const listed = await api("GET", "/api/internal_mcp_catalog");
  assert.ok(listed.body.some((c) => c.id === created.body.id));

  const bad = await api("POST", "/api/internal_mcp_catalog", { name: "x", serverType: "local", localConfig: { arguments: [] } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error.message, /localConfig/);
  const badType = await api("POST", "/api/internal_mcp_catalog", { name: "x", serverType: "cloud" });
  assert.equal(badType.status, 400);
  assert.match(badType.body.error.message, /serverType/);

  const deleted = await api("DELETE", `/api/internal_mcp_catalog/${created.body.id}`);
  assert.deepEqual([deleted.status, deleted.body], [200, { success: true }]);
  const gone = await api("GET", `/api/internal_mcp_catalog/${created.body.id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.type, "api_not_found_error");
});

test("server-everything: install, tools, logs (also streamed), restart, uninstall kills the process", async () => {
  const catalog = await catalogItem("Everything Test", { command: process.execPath, arguments: [everythingJs, "stdio"] });
  const installed = await api("POST", "/api/mcp_server", {
    name: "everything",
    catalogId: catalog.id,
    localInstallationError: null,
    ownerId: null,
  });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  assert.match(installed.body.id, UUID);
  assert.equal(installed.body.name, `everything-${userId}`);
  assert.equal(installed.body.serverType, "local");
  assert.equal(installed.body.catalogId, catalog.id);
  assert.equal(installed.body.reinstallRequired, false);
  assert.ok(["pending", "discovering-tools", "success"].includes(installed.body.localInstallationStatus));
  const id = installed.body.id;

  const done = await waitStatus(id, ["success", "error"]);
  assert.deepEqual(done, { localInstallationStatus: "success", localInstallationError: null });

  const tools = await api("GET", `/api/mcp_server/${id}/tools`);
  assert.equal(tools.status, 200);
  const names = tools.body.map((t) => t.name);
  assert.ok(names.includes("everything_test__echo"), names.join(","));
  const echo = tools.body.find((t) => t.name === "everything_test__echo");
  assert.equal(echo.parameters.type, "object");
  assert.ok(echo.parameters.properties.message);
  assert.equal(echo.assignedAgentCount, 0);
  const all = await api("GET", "/api/mcp_server");
  assert.ok(all.body.some((s) => s.id === id));

  // Logs: the server's stderr plus the orchestrator's lifecycle lines.
  const logs = await api("GET", `/api/mcp_server/${id}/logs?lines=100`);
  assert.equal(logs.status, 200);
  assert.match(logs.body.logs, /Starting default \(STDIO\) server/);
  assert.equal(typeof logs.body.containerName, "string");
  assert.equal(logs.body.namespace, "local");
  const [firstPid] = await startedPids(id);
  assert.ok(alive(firstPid), "server process runs");

  // Follow: the stream stays open and carries the lines of the restart below.
  const controller = new AbortController();
  const follow = await fetch(`${platform.baseUrl}/api/mcp_server/${id}/logs?follow=true&lines=5`, {
    headers: session,
    signal: controller.signal,
  });
  assert.equal(follow.status, 200);
  assert.match(follow.headers.get("content-type"), /text\/plain/);
  const reader = follow.body.getReader();
  let streamed = "";
  const collecting = (async () => {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        streamed += decoder.decode(value);
      }
    } catch {
      // aborted
    }
  })();

  const restarted = await api("POST", `/api/mcp_server/${id}/restart`);
  assert.equal(restarted.status, 200, JSON.stringify(restarted.body));
  assert.equal(restarted.body.success, true);
  await waitStatus(id, ["success"]);
  const pids = await startedPids(id);
  const secondPid = pids[pids.length - 1];
  assert.notEqual(secondPid, firstPid, "restart started a new process");
  assert.ok(await eventually(() => !alive(firstPid), 5000), "the old process is gone");
  assert.ok(alive(secondPid));
  assert.ok(
    await eventually(() => streamed.includes(`started pid ${secondPid}`), 5000),
    `streamed logs carry the restart: ${streamed.slice(-500)}`,
  );
  controller.abort();
  await collecting;

  const removed = await api("DELETE", `/api/mcp_server/${id}`);
  assert.deepEqual([removed.status, removed.body], [200, { success: true }]);
  assert.ok(await eventually(() => !alive(secondPid), 5000), "uninstall killed the process");
  assert.equal((await api("GET", `/api/mcp_server/${id}`)).status, 404);
  const toolsAfter = await api("GET", "/api/tools");
  if (toolsAfter.status === 200) assert.ok(!toolsAfter.body.some((t) => t.name === "everything_test__echo"));
});

test("server-filesystem: tools discovered; the platform's shutdown kills it", async () => {
  const catalog = await catalogItem("Files", { command: process.execPath, arguments: [filesystemJs, fsRoot] });
  const installed = await api("POST", "/api/mcp_server", { name: "files", catalogId: catalog.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  await waitStatus(installed.body.id, ["success"]);
  const tools = await api("GET", `/api/mcp_server/${installed.body.id}/tools`);
  const names = tools.body.map((t) => t.name);
  for (const tool of ["files__read_text_file", "files__list_directory", "files__write_file"])
    assert.ok(names.includes(tool), `${tool} in ${names.join(",")}`);
  const [pid] = await startedPids(installed.body.id);
  assert.ok(alive(pid));
  globalThis.filesystemPid = pid; // checked after shutdown below
});

test("a local server speaking streamable HTTP: environment from the catalog, tools discovered over HTTP", async () => {
  const port = await freePort();
  const catalog = await catalogItem("Everything Http", {
    command: process.execPath,
    arguments: [everythingJs, "streamableHttp"],
    environment: [{ key: "PORT", type: "plain_text", value: String(port), promptOnInstallation: false }],
    transportType: "streamable-http",
    httpPort: port,
    httpPath: "/mcp",
  });
  const installed = await api("POST", "/api/mcp_server", { name: "everything-http", catalogId: catalog.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const status = await waitStatus(installed.body.id, ["success", "error"]);
  assert.deepEqual(status, { localInstallationStatus: "success", localInstallationError: null });
  const tools = await api("GET", `/api/mcp_server/${installed.body.id}/tools`);
  assert.ok(tools.body.some((t) => t.name === "everything_http__echo"), JSON.stringify(tools.body.map((t) => t.name)));
  const logs = await api("GET", `/api/mcp_server/${installed.body.id}/logs`);
  assert.match(logs.body.logs, new RegExp(`listening on port ${port}`));
  assert.equal((await api("DELETE", `/api/mcp_server/${installed.body.id}`)).status, 200);
});

test("a server that crashes at start ends in status error with its stderr; install still answers 200", async () => {
  const catalog = await catalogItem("Crasher", {
    command: process.execPath,
    arguments: ["-e", "console.error('boom: MISSING_API_KEY is not set'); process.exit(3)"],
  });
  const installed = await api("POST", "/api/mcp_server", { name: "crasher", catalogId: catalog.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const status = await waitStatus(installed.body.id, ["error", "success"]);
  assert.equal(status.localInstallationStatus, "error");
  assert.match(status.localInstallationError, /boom: MISSING_API_KEY is not set/);
  assert.match(status.localInstallationError, /exited with code 3/);
  const logs = await api("GET", `/api/mcp_server/${installed.body.id}/logs`);
  assert.match(logs.body.logs, /boom: MISSING_API_KEY/);
  assert.equal((await api("DELETE", `/api/mcp_server/${installed.body.id}`)).status, 200);
});

test("a dockerImage-only entry is refused by orchestrator.local with a clear reason; bad input is 400", async () => {
  const catalog = await catalogItem("Image Only", { dockerImage: "ghcr.io/example/mcp:1" });
  const installed = await api("POST", "/api/mcp_server", { name: "image", catalogId: catalog.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  assert.equal(installed.body.localInstallationStatus, "error");
  assert.match(installed.body.localInstallationError, /runs commands, not container images/);
  assert.match(installed.body.localInstallationError, /ghcr\.io\/example\/mcp:1/);

  const missing = await api("POST", "/api/mcp_server", { name: "x", catalogId: "00000000-0000-0000-0000-000000000000" });
  assert.equal(missing.status, 400);
  assert.match(missing.body.error.message, /catalogId/);
  const noName = await api("POST", "/api/mcp_server", { catalogId: catalog.id });
  assert.equal(noName.status, 400);
  assert.match(noName.body.error.message, /name/);
  const notUuid = await api("GET", "/api/mcp_server/not-a-uuid");
  assert.equal(notUuid.status, 400);
});

test("platform shutdown stops the servers it started", async () => {
  const pid = globalThis.filesystemPid;
  assert.ok(pid && alive(pid), "filesystem server from the earlier test still runs");
  await platform.stop();
  platform = undefined;
  assert.ok(await eventually(() => !alive(pid), 5000), "the server process died with the platform");
});
