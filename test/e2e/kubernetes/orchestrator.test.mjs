// orchestrator.kubernetes through the real platform against the kube-apiserver stand-in (not Kubernetes:
// test/standins/kube-apiserver, TLS with its own CA, client-certificate auth). A catalog item with a
// dockerImage is installed: pod, Secret (secret env by secretKeyRef) and labels as reference-ops.md §6, tools
// of the real @modelcontextprotocol/server-everything discovered through pods/attach, a tool call through the
// MCP gateway, logs, restart (a new pod), uninstall (pod, secret and service gone), a streamable-HTTP item
// reached through its NodePort Service, ImagePullBackOff and CrashLoopBackOff ending in error with the reason,
// and a platform restart (bearer-token kubeconfig this time) that reuses the running pod and replaces the
// existing Secret after the API's 409.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { startPlatform, adminSession, defaultProfileId, installationStatus, repoRoot, apiClient, tokenValue } from "../lib/harness.mjs";

const everythingJs = path.join(repoRoot, "test/e2e/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
const standinJs = path.join(repoRoot, "test/standins/kube-apiserver/kube-apiserver-standin.mjs");
const NS = "archestra-mcp";
const IMAGE = "standin/mcp-everything:1";
const IMAGE_HTTP = "standin/mcp-everything-http:1";

let kube; // {child, port, kubeconfigCert, ...}
let platform;
let session;
let api;
let workDir;
const keptDataDirs = [];

async function startKube() {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kube-standin-"));
  const child = spawn(process.execPath, [standinJs, "--dir", workDir], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const info = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stand-in did not start: ${err}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.once("exit", (code) => reject(new Error(`stand-in exited ${code}: ${err}`)));
  });
  const base = `https://127.0.0.1:${info.port}`;
  // Test controls are plain JSON over the same TLS port; node's fetch cannot take a CA, so use https.
  const https = await import("node:https");
  const ca = fs.readFileSync(info.caFile);
  const call = (method, p, body) =>
    new Promise((resolve, reject) => {
      const req = https.request(base + p, { method, ca, servername: "localhost", headers: { "content-type": "application/json" } }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null }));
      });
      req.on("error", reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return {
    ...info,
    child,
    call,
    state: async () => (await call("GET", "/standin/state")).body,
    image: (image, behavior, command) => call("POST", "/standin/images", { image, behavior, command }),
    stop: () => {
      child.kill("SIGTERM");
      return new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    },
  };
}

const waitStatus = (serverId, wanted, timeout_ms = 60000) => installationStatus(api, serverId, { wanted, timeout_ms, platform });

async function bootPlatform(extra = {}) {
  return startPlatform({
    env: {
      ARCHESTRA_ORCHESTRATOR: "kubernetes",
      ARCHESTRA_ORCHESTRATOR_KUBECONFIG: kube.kubeconfigCert,
      ARCHESTRA_ORCHESTRATOR_LOAD_KUBECONFIG_FROM_CURRENT_CLUSTER: "false",
      ARCHESTRA_ORCHESTRATOR_K8S_NAMESPACE: NS,
      ARCHESTRA_ORCHESTRATOR_MCP_SERVER_BASE_IMAGE: "standin/base:0.0.3",
      ...extra,
    },
  });
}

/// reference-ops.md §6: pod mcp-<rfc1123(name)>, label values at most 63 characters.
const rfc1123 = (name) => name.toLowerCase().replace(/\s+/g, "-").replace(/[^a-z0-9.-]/g, "").replace(/[-.]{2,}/g, (m) => m[0]).replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, "");
const podNameOf = (server) => `mcp-${rfc1123(server.name)}`;
let podName;
const podsOf = (state, id) => state.pods.filter((p) => p.metadata.labels["mcp-server-id"] === id);
const servicesOf = (state, id) => state.services.filter((s) => s.metadata.labels["mcp-server-id"] === id);
const secretOf = (state, id) => state.secrets.find((s) => s.metadata.name === `mcp-server-${id}-secrets`);

before(async () => {
  kube = await startKube();
  await kube.image(IMAGE, "run", [process.execPath, everythingJs, "stdio"]);
  await kube.image(IMAGE_HTTP, "run", [process.execPath, everythingJs, "streamableHttp"]);
  await kube.image("standin/broken:404", "ImagePullBackOff");
  await kube.image("standin/crashing:1", "CrashLoopBackOff");
  platform = await bootPlatform();
  session = await adminSession(platform);
  api = apiClient(platform, session);
});

after(async () => {
  await platform?.stop();
  await kube?.stop();
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  for (const dir of keptDataDirs) fs.rmSync(dir, { recursive: true, force: true });
});

let serverId;
let catalogId;

test("/api/features reports the orchestrator the registry runs", async () => {
  const res = await fetch(`${platform.baseUrl}/api/features`);
  const body = await res.json();
  assert.equal(body.orchestrator, "kubernetes");
  assert.equal(body["orchestrator-k8s-runtime"], true);
});

test("install: pod, secret and labels per the spec; tools discovered through attach", async () => {
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Everything K8s",
    serverType: "local",
    localConfig: {
      dockerImage: IMAGE,
      environment: [
        { key: "PLAIN_SETTING", type: "plain_text", value: "'quoted value'", promptOnInstallation: false },
        { key: "API_TOKEN", type: "secret", promptOnInstallation: true, required: true },
      ],
    },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  catalogId = catalog.body.id;
  const installed = await api("POST", "/api/mcp_server", {
    name: "Everything K8s",
    catalogId,
    environmentValues: { API_TOKEN: "s3cr3t-token" },
  });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  serverId = installed.body.id;
  podName = podNameOf(installed.body);
  assert.deepEqual(await waitStatus(serverId, ["success", "error"]), {
    localInstallationStatus: "success",
    localInstallationError: null,
  });
  const tools = await api("GET", `/api/mcp_server/${serverId}/tools`);
  const names = tools.body.map((t) => t.name);
  assert.ok(names.includes("everything_k8s__echo"), names.join(","));

  const state = await kube.state();
  const pods = podsOf(state, serverId);
  assert.equal(pods.length, 1);
  const pod = pods[0];
  assert.equal(pod.metadata.name, podName);
  assert.equal(pod.metadata.namespace, NS);
  assert.deepEqual(pod.metadata.labels, {
    app: "mcp-server",
    "mcp-server-id": serverId,
    "mcp-server-name": installed.body.name.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63).replace(/[^A-Za-z0-9]+$/, ""),
  });
  assert.equal(pod.spec.restartPolicy, "Always");
  assert.equal(pod.spec.containers.length, 1);
  const c = pod.spec.containers[0];
  assert.equal(c.name, "mcp-server");
  assert.equal(c.image, IMAGE);
  assert.equal(c.stdin, true);
  assert.equal(c.tty, false);
  assert.equal(c.command, undefined, "no command: the image's default runs");
  assert.equal(c.ports, undefined, "stdio servers expose no port");
  assert.deepEqual(
    [...c.env].sort((a, b) => a.name.localeCompare(b.name)),
    [
      { name: "API_TOKEN", valueFrom: { secretKeyRef: { name: `mcp-server-${serverId}-secrets`, key: "API_TOKEN" } } },
      { name: "PLAIN_SETTING", value: "quoted value" },
    ],
  );
  assert.ok(!JSON.stringify(pod).includes("s3cr3t-token"), "the secret value is not in the pod");
  const secret = secretOf(state, serverId);
  assert.ok(secret, "the per-server secret exists");
  assert.equal(secret.type, "Opaque");
  assert.deepEqual(secret.data, { API_TOKEN: Buffer.from("s3cr3t-token").toString("base64") });
  // Attach went through the API with the channel protocol, authenticated by the client certificate.
  const attach = state.requests.find((r) => r.websocket && r.path.startsWith(`/api/v1/namespaces/${NS}/pods/${podName}/attach?`));
  assert.ok(attach, JSON.stringify(state.requests.map((r) => r.path)));
  assert.equal(attach.user, "cert:archestra");
  assert.match(attach.path, /container=mcp-server/);
  assert.match(attach.path, /stdin=true/);
  assert.equal(pod.standin.attached, 1);
});

test("a tool call through the MCP gateway reaches the pod", async () => {
  const profileId = await defaultProfileId(platform);
  const tools = await api("GET", `/api/mcp_server/${serverId}/tools`);
  const echo = tools.body.find((t) => t.name === "everything_k8s__echo");
  assert.equal((await api("POST", `/api/agents/${profileId}/tools/${echo.id}`, {})).status, 200);
  const value = await tokenValue(api, { organization: true });
  const client = new Client({ name: "k8s-e2e", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${platform.baseUrl}/v1/mcp/${profileId}`), {
    requestInit: { headers: { Authorization: `Bearer ${value}` } },
  });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: "everything_k8s__echo", arguments: { message: "hello from a pod" } });
    assert.match(result.content.map((x) => x.text ?? "").join("\n"), /hello from a pod/);
  } finally {
    await client.close();
  }
});

test("logs come from the pod's log subresource", async () => {
  const res = await api("GET", `/api/mcp_server/${serverId}/logs?lines=50`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.containerName, podName);
  assert.equal(typeof res.body.logs, "string");
  assert.ok(res.body.logs.length > 0, "the server wrote something");
  const state = await kube.state();
  assert.ok(state.requests.some((r) => r.path === `/api/v1/namespaces/${NS}/pods/${podName}/log?container=mcp-server&tailLines=50`));
});

test("restart replaces the pod and the tools come back", async () => {
  const before = podsOf(await kube.state(), serverId)[0].metadata.uid;
  const res = await api("POST", `/api/mcp_server/${serverId}/restart`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.success, true);
  await waitStatus(serverId, ["success"]);
  const pods = podsOf(await kube.state(), serverId);
  assert.equal(pods.length, 1);
  assert.notEqual(pods[0].metadata.uid, before, "a new pod");
});

test("a platform restart reuses the running pod and replaces the existing secret (409 -> PUT)", async () => {
  const uid = podsOf(await kube.state(), serverId)[0].metadata.uid;
  const requestsBefore = (await kube.state()).requests.length;
  // Keep the database and data dir: the next platform resumes the installed server.
  keptDataDirs.push(platform.dataDir);
  process.env.E2E_KEEP_DATA = "1";
  try {
    await platform.stop();
  } finally {
    delete process.env.E2E_KEEP_DATA;
  }
  // This time with the bearer-token kubeconfig (the first platform used the client certificate).
  platform = await bootPlatform({ ARCHESTRA_DATA_DIR: keptDataDirs.at(-1), ARCHESTRA_ORCHESTRATOR_KUBECONFIG: kube.kubeconfigToken });
  session = await adminSession(platform);
  api = apiClient(platform, session);
  await waitStatus(serverId, ["success"]);
  const state = await kube.state();
  const pods = podsOf(state, serverId);
  assert.equal(pods.length, 1);
  assert.equal(pods[0].metadata.uid, uid, "the running pod was reused");
  const secretName = `mcp-server-${serverId}-secrets`;
  const after = state.requests.slice(requestsBefore).map((r) => `${r.method} ${r.path} ${r.status}`);
  const conflict = after.indexOf(`POST /api/v1/namespaces/${NS}/secrets 409`);
  assert.ok(conflict >= 0, after.join("\n"));
  assert.equal(after[conflict + 1], `PUT /api/v1/namespaces/${NS}/secrets/${secretName} 200`);
  assert.ok(!after.some((r) => r.startsWith(`POST /api/v1/namespaces/${NS}/pods `)), "no new pod");
  const users = new Set(state.requests.slice(requestsBefore).map((r) => r.user));
  assert.deepEqual([...users], ["token"], "every request of the second platform carried the bearer token");
});

test("an image that cannot be pulled ends in error with the reason", async () => {
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Broken Image",
    serverType: "local",
    localConfig: { dockerImage: "standin/broken:404" },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "Broken Image", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const status = await waitStatus(installed.body.id, ["success", "error"], 30000);
  assert.equal(status.localInstallationStatus, "error");
  assert.match(status.localInstallationError, /ImagePullBackOff/);
  assert.match(status.localInstallationError, /standin\/broken:404/);
  const removed = await api("DELETE", `/api/mcp_server/${installed.body.id}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
});

test("a container in CrashLoopBackOff ends in error with the reason", async () => {
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Crashing",
    serverType: "local",
    localConfig: { dockerImage: "standin/crashing:1" },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "Crashing", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const status = await waitStatus(installed.body.id, ["success", "error"], 30000);
  assert.equal(status.localInstallationStatus, "error");
  assert.match(status.localInstallationError, /CrashLoopBackOff/);
  assert.equal((await api("DELETE", `/api/mcp_server/${installed.body.id}`)).status, 200);
});

test("a streamable-HTTP server is reached through its Service, which uninstall deletes", async () => {
  const catalog = await api("POST", "/api/internal_mcp_catalog", {
    name: "Everything HTTP",
    serverType: "local",
    localConfig: { dockerImage: IMAGE_HTTP, transportType: "streamable-http", httpPort: 8080, httpPath: "/mcp" },
  });
  assert.equal(catalog.status, 200, JSON.stringify(catalog.body));
  const installed = await api("POST", "/api/mcp_server", { name: "Everything HTTP", catalogId: catalog.body.id });
  assert.equal(installed.status, 200, JSON.stringify(installed.body));
  const id = installed.body.id;
  const httpPod = podNameOf(installed.body);
  assert.deepEqual(await waitStatus(id, ["success", "error"]), { localInstallationStatus: "success", localInstallationError: null });
  const tools = await api("GET", `/api/mcp_server/${id}/tools`);
  assert.ok(tools.body.some((t) => t.name === "everything_http__echo"), JSON.stringify(tools.body.map((t) => t.name)));
  const state = await kube.state();
  const [pod] = podsOf(state, id);
  assert.deepEqual(pod.spec.containers[0].ports, [{ containerPort: 8080, protocol: "TCP" }]);
  const services = servicesOf(state, id);
  assert.equal(services.length, 1);
  const svc = services[0];
  assert.equal(svc.metadata.name, `${httpPod}-service`);
  assert.equal(svc.spec.type, "NodePort", "outside a cluster the Service is a NodePort");
  assert.deepEqual(svc.spec.selector, { app: "mcp-server", "mcp-server-id": id });
  assert.equal(svc.spec.ports[0].port, 8080);
  assert.equal(svc.spec.ports[0].targetPort, 8080);
  assert.equal((await api("DELETE", `/api/mcp_server/${id}`)).status, 200);
  const after = await kube.state();
  assert.deepEqual(servicesOf(after, id), []);
  assert.deepEqual(podsOf(after, id), []);
});

test("uninstall removes the pod, the secret and the service", async () => {
  const removed = await api("DELETE", `/api/mcp_server/${serverId}`);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  const state = await kube.state();
  assert.deepEqual(podsOf(state, serverId), []);
  assert.equal(secretOf(state, serverId), undefined);
  assert.deepEqual(servicesOf(state, serverId), []);
  assert.deepEqual(state.pods, [], "no pod left in the namespace");
});
