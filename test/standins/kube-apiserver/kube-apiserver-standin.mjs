// Kubernetes API server stand-in (NOT Kubernetes): the core/v1 pod, secret, service, pods/log and pods/attach
// endpoints orchestrator.kubernetes calls, written from the Kubernetes API reference, for tests. A pod's
// container runs as a local child process (its command/args, or the command registered for its image), so a
// real MCP server answers through the attach WebSocket (channel.k8s.io framing: 0 stdin, 1 stdout, 2 stderr,
// 3 error). It serves TLS with its own CA (made with the openssl CLI), accepts a bearer token or a client
// certificate signed by that CA, and writes ready-made kubeconfig files for both.
//
//   node kube-apiserver-standin.mjs --dir DIR [--port 0] [--token TOKEN] [--ready-delay-ms 300]
// Prints one JSON line {"port", "kubeconfigToken", "kubeconfigCert", "caFile"} once it listens on 127.0.0.1.
// Test controls (not Kubernetes API; no auth, 127.0.0.1 only):
//   POST /standin/images {"image", "behavior": "run"|"ImagePullBackOff"|"CrashLoopBackOff", "command": [..]}
//   GET  /standin/state  -> {pods, secrets, services, requests}
import https from "node:https";
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import net from "node:net";
import { spawn, execFileSync } from "node:child_process";
import { createRequire } from "node:module";

// `ws` comes from the shared e2e npm project (test/e2e/package.json pins it).
const { WebSocketServer } = createRequire(new URL("../../e2e/package.json", import.meta.url))("ws");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const dir = args.dir;
if (!dir) {
  console.error("--dir is required");
  process.exit(2);
}
const token = args.token || crypto.randomBytes(16).toString("hex");
const readyDelayMs = Number(args["ready-delay-ms"] ?? 300);
fs.mkdirSync(dir, { recursive: true });

// ---- certificates -----------------------------------------------------------------------------------------
function openssl(...argv) {
  execFileSync("openssl", argv, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}
function makeCertificates() {
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
    "-subj", "/CN=kube-apiserver-standin-ca");
  fs.writeFileSync(path.join(dir, "server.ext"),
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
    "server.crt", "-days", "2", "-extfile", "server.ext");
  fs.writeFileSync(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "client.key", "-out", "client.csr",
    "-subj", "/O=system:masters/CN=archestra");
  openssl("x509", "-req", "-in", "client.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
    "client.crt", "-days", "2", "-extfile", "client.ext");
}
makeCertificates();
const read = (name) => fs.readFileSync(path.join(dir, name));
const b64 = (name) => read(name).toString("base64");

// ---- objects ----------------------------------------------------------------------------------------------
const pods = new Map(); // `${ns}/${name}` -> {object, proc, logs[], sockets:Set, stopping}
const secrets = new Map();
const services = new Map();
const requests = []; // {method, path, status, user}
const images = new Map(); // image -> {behavior, command}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
function status(code, reason, message) {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}
function matchesSelector(object, selector) {
  if (!selector) return true;
  const labels = object.metadata.labels || {};
  return selector.split(",").every((term) => {
    const [k, v] = term.split("=");
    return labels[k] === v;
  });
}

function appendLog(pod, text) {
  for (const line of text.split("\n")) {
    if (line === "" ) continue;
    pod.logs.push(`${line}`);
    if (pod.logs.length > 5000) pod.logs.shift();
  }
  for (const follower of pod.followers) follower.write(text);
}

function sendChannel(pod, channel, data) {
  const frame = Buffer.concat([Buffer.from([channel]), Buffer.from(data)]);
  for (const ws of pod.sockets) if (ws.readyState === 1 && (channel !== 2 || ws.wantStderr)) ws.send(frame);
}

function setWaiting(pod, reason, message) {
  const c = pod.object.status.containerStatuses[0];
  c.state = { waiting: { reason, message } };
  c.ready = false;
  pod.object.status.phase = "Pending";
}

function resolveEnv(ns, container) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME || "/tmp" };
  for (const e of container.env || []) {
    if (e.valueFrom?.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = secrets.get(`${ns}/${ref.name}`);
      if (!secret) throw new Error(`secret "${ref.name}" not found`);
      if (!(ref.key in (secret.data || {}))) throw new Error(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      env[e.name] = Buffer.from(secret.data[ref.key], "base64").toString();
    } else {
      env[e.name] = e.value ?? "";
    }
  }
  return env;
}

function runContainer(ns, pod) {
  const container = pod.object.spec.containers[0];
  const image = images.get(container.image);
  if (!image) return setWaiting(pod, "ImagePullBackOff", `Back-off pulling image "${container.image}"`);
  if (image.behavior === "ImagePullBackOff")
    return setWaiting(pod, "ImagePullBackOff", `Back-off pulling image "${container.image}"`);
  if (image.behavior === "CrashLoopBackOff")
    return setWaiting(pod, "CrashLoopBackOff", "back-off 10s restarting failed container=mcp-server");
  let env;
  try {
    env = resolveEnv(ns, container);
  } catch (error) {
    return setWaiting(pod, "CreateContainerConfigError", error.message);
  }
  // No network namespaces here: each container port becomes a free host port, handed to the process as $PORT
  // (the one port convention the MCP servers used in tests follow); Services route node ports to it.
  pod.hostPorts = {};
  for (const p of container.ports || []) pod.hostPorts[p.containerPort] = freePortSync();
  const firstPort = Object.values(pod.hostPorts)[0];
  if (firstPort) env.PORT = String(firstPort);
  const argv = [...(container.command || image.command || []), ...(container.args || image.args || [])];
  if (argv.length === 0) return setWaiting(pod, "RunContainerError", "no command to run");
  const proc = spawn(argv[0], argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  pod.proc = proc;
  proc.stdin.on("error", () => {});
  proc.stdout.on("data", (d) => {
    appendLog(pod, d.toString());
    sendChannel(pod, 1, d);
  });
  proc.stderr.on("data", (d) => {
    appendLog(pod, d.toString());
    sendChannel(pod, 2, d);
  });
  proc.on("error", (error) => setWaiting(pod, "RunContainerError", error.message));
  proc.on("exit", (code, signal) => {
    pod.proc = null;
    for (const ws of pod.sockets) {
      if (ws.readyState !== 1) continue;
      const st = code === 0 ? { metadata: {}, status: "Success" }
        : { metadata: {}, status: "Failure", reason: "NonZeroExitCode", message: `command terminated with exit code ${code ?? signal}` };
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(st))]));
      ws.close(1000);
    }
    if (pod.stopping) return;
    // restartPolicy Always: back off, then run again.
    const c = pod.object.status.containerStatuses[0];
    c.restartCount++;
    c.lastState = { terminated: { exitCode: code ?? 137, reason: "Error", finishedAt: now() } };
    setWaiting(pod, "CrashLoopBackOff", "back-off 10s restarting failed container=mcp-server");
    setTimeout(() => !pod.stopping && pods.get(`${ns}/${pod.object.metadata.name}`) === pod && start(ns, pod), 1000);
  });
  const c = pod.object.status.containerStatuses[0];
  c.state = { running: { startedAt: now() } };
  c.ready = true;
  pod.object.status.phase = "Running";
  pod.object.status.startTime ??= now();
}

function freePortSync() {
  // A port the kernel just handed out and released; good enough for tests on one machine.
  const out = execFileSync(process.execPath, ["-e",
    "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"]);
  return Number(out.toString().trim());
}

/// A NodePort: a real listener on 127.0.0.1 forwarding to the host port of a pod the selector matches.
function openNodePort(ns, service) {
  return new Promise((resolve) => {
    const server = net.createServer((socket) => {
      const pod = [...pods.values()].find((p) => p.object.metadata.namespace === ns && !p.stopping && p.proc &&
        Object.entries(service.spec.selector || {}).every(([k, v]) => p.object.metadata.labels?.[k] === v));
      const target = pod?.hostPorts?.[service.spec.ports[0].targetPort];
      if (!target) return socket.destroy();
      const upstream = net.connect(target, "127.0.0.1");
      socket.pipe(upstream).pipe(socket);
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}
const nodePortServers = new Map(); // service key -> net.Server

function start(ns, pod) {
  setTimeout(() => {
    if (!pod.stopping) runContainer(ns, pod);
  }, readyDelayMs);
}

function createPod(ns, body) {
  const name = body.metadata.name;
  const object = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { ...body.metadata, namespace: ns, uid: crypto.randomUUID(), creationTimestamp: now(), resourceVersion: "1" },
    spec: body.spec,
    status: {
      phase: "Pending",
      containerStatuses: body.spec.containers.map((c) => ({
        name: c.name, image: c.image, ready: false, restartCount: 0,
        state: { waiting: { reason: "ContainerCreating" } },
      })),
    },
  };
  const pod = { object, proc: null, logs: [], sockets: new Set(), followers: new Set(), stopping: false };
  pods.set(`${ns}/${name}`, pod);
  start(ns, pod);
  return object;
}

function deletePod(ns, name) {
  const pod = pods.get(`${ns}/${name}`);
  pod.stopping = true;
  pod.object.metadata.deletionTimestamp = now();
  for (const f of pod.followers) f.end();
  if (pod.proc) {
    try {
      process.kill(-pod.proc.pid, "SIGTERM");
    } catch {}
  }
  // Graceful deletion: the object stays visible for a moment, as in a real cluster.
  setTimeout(() => pods.get(`${ns}/${name}`) === pod && pods.delete(`${ns}/${name}`), 300);
  return pod.object;
}

// ---- HTTP -------------------------------------------------------------------------------------------------
function authenticate(req) {
  const auth = req.headers.authorization || "";
  if (auth.startsWith("Bearer ")) return auth.slice(7) === token ? "token" : null;
  if (req.socket.authorized) return "cert:" + req.socket.getPeerCertificate().subject.CN;
  return null;
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString()));
  });
}

function send(res, code, body, type = "application/json") {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(code, { "content-type": type, "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const collections = { secrets, services };

async function handle(req, res, url, user) {
  const m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/(pods|secrets|services)(?:\/([a-z0-9.-]+))?(?:\/(log|attach))?$/.exec(url.pathname);
  if (!m) return send(res, 404, status(404, "NotFound", `the server could not find the requested resource`));
  const [, ns, kind, name, sub] = m;
  const text = await readBody(req);
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      return send(res, 400, status(400, "BadRequest", "the body is not JSON"));
    }
  }
  const map = kind === "pods" ? null : collections[kind];
  const key = `${ns}/${name}`;
  const get = (k) => (kind === "pods" ? pods.get(k)?.object : map.get(k));
  const singular = kind.slice(0, -1);

  if (!name) {
    if (req.method === "GET") {
      const all = kind === "pods" ? [...pods.entries()].map(([k, p]) => [k, p.object]) : [...map.entries()];
      const items = all.filter(([k, o]) => k.startsWith(ns + "/") && matchesSelector(o, url.searchParams.get("labelSelector"))).map(([, o]) => o);
      const limit = Number(url.searchParams.get("limit") || 0);
      return send(res, 200, { kind: kind[0].toUpperCase() + kind.slice(1, -1) + "List", apiVersion: "v1", metadata: {}, items: limit ? items.slice(0, limit) : items });
    }
    if (req.method === "POST") {
      const objName = body?.metadata?.name;
      if (!objName) return send(res, 422, status(422, "Invalid", `${singular} metadata.name: Required value`));
      if (body.metadata.namespace && body.metadata.namespace !== ns)
        return send(res, 400, status(400, "BadRequest", "the namespace of the object does not match the namespace on the request"));
      if (get(`${ns}/${objName}`)) return send(res, 409, status(409, "AlreadyExists", `${kind} "${objName}" already exists`));
      if (kind === "pods") {
        if (!Array.isArray(body.spec?.containers) || !body.spec.containers.length || !body.spec.containers[0].image)
          return send(res, 422, status(422, "Invalid", "spec.containers[0].image: Required value"));
        return send(res, 201, createPod(ns, body));
      }
      const object = { ...body, metadata: { ...body.metadata, namespace: ns, uid: crypto.randomUUID(), creationTimestamp: now() } };
      if (kind === "services" && object.spec?.type === "NodePort") {
        const listener = await openNodePort(ns, object);
        nodePortServers.set(`${ns}/${objName}`, listener);
        object.spec = { ...object.spec, ports: object.spec.ports.map((p) => ({ ...p, nodePort: listener.address().port })) };
      }
      if (kind === "services") object.spec = { ...object.spec, clusterIP: "10.96.0." + (services.size + 10) };
      map.set(`${ns}/${objName}`, object);
      return send(res, 201, object);
    }
    return send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
  }

  const object = get(key);
  if (!object) return send(res, 404, status(404, "NotFound", `${kind} "${name}" not found`));
  if (sub === "log") {
    if (req.method !== "GET") return send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
    const pod = pods.get(key);
    const container = url.searchParams.get("container");
    if (container && !object.spec.containers.some((c) => c.name === container))
      return send(res, 400, status(400, "BadRequest", `container ${container} is not valid for pod ${name}`));
    const waiting = object.status.containerStatuses[0].state.waiting;
    if (waiting && object.status.containerStatuses[0].restartCount === 0 && pod.logs.length === 0)
      return send(res, 400, status(400, "BadRequest", `container "mcp-server" in pod "${name}" is waiting to start: ${waiting.reason}`));
    const tail = Number(url.searchParams.get("tailLines") || 0);
    const lines = tail > 0 ? pod.logs.slice(-tail) : pod.logs;
    const textOut = lines.map((l) => l + "\n").join("");
    if (url.searchParams.get("follow") === "true") {
      res.writeHead(200, { "content-type": "text/plain", "transfer-encoding": "chunked" });
      res.write(textOut);
      pod.followers.add(res);
      req.on("close", () => pod.followers.delete(res));
      return;
    }
    return send(res, 200, textOut, "text/plain");
  }
  if (sub === "attach") return send(res, 400, status(400, "BadRequest", "Upgrade request required"));
  if (req.method === "GET") return send(res, 200, object);
  if (req.method === "DELETE") {
    if (kind === "pods") return send(res, 200, deletePod(ns, name));
    map.delete(key);
    nodePortServers.get(key)?.close();
    nodePortServers.delete(key);
    return send(res, 200, { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details: { name, kind } });
  }
  if (req.method === "PUT" && kind !== "pods") {
    if (body?.metadata?.name !== name) return send(res, 400, status(400, "BadRequest", "the name of the object does not match the name on the URL"));
    const replaced = { ...body, metadata: { ...body.metadata, namespace: ns, uid: object.metadata.uid, creationTimestamp: object.metadata.creationTimestamp } };
    map.set(key, replaced);
    return send(res, 200, replaced);
  }
  return send(res, 405, status(405, "MethodNotAllowed", "method not allowed"));
}

async function control(req, res, url) {
  if (url.pathname === "/standin/images" && req.method === "POST") {
    const body = JSON.parse(await readBody(req));
    images.set(body.image, { behavior: body.behavior || "run", command: body.command, args: body.args });
    return send(res, 200, { ok: true });
  }
  if (url.pathname === "/standin/state" && req.method === "GET") {
    return send(res, 200, {
      pods: [...pods.values()].map((p) => ({ ...p.object, standin: { pid: p.proc?.pid ?? null, attached: p.sockets.size } })),
      secrets: [...secrets.values()],
      services: [...services.values()],
      requests,
    });
  }
  return send(res, 404, { error: "unknown stand-in control" });
}

const server = https.createServer({
  key: read("server.key"),
  cert: read("server.crt"),
  ca: read("ca.crt"),
  requestCert: true,
  rejectUnauthorized: false,
}, async (req, res) => {
  const url = new URL(req.url, "https://localhost");
  if (url.pathname.startsWith("/standin/")) return control(req, res, url);
  const user = authenticate(req);
  const entry = { method: req.method, path: url.pathname + url.search, user, status: 0 };
  requests.push(entry);
  res.on("finish", () => (entry.status = res.statusCode));
  if (!user) return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
  try {
    await handle(req, res, url, user);
  } catch (error) {
    send(res, 500, status(500, "InternalError", String(error?.stack || error)));
  }
});

// pods/attach: WebSocket with the channel.k8s.io subprotocols.
const wss = new WebSocketServer({
  noServer: true,
  handleProtocols: (offered) => (offered.has("v4.channel.k8s.io") ? "v4.channel.k8s.io" : offered.has("channel.k8s.io") ? "channel.k8s.io" : false),
});
server.on("upgrade", (req, socket, head) => {
  const url = new URL(req.url, "https://localhost");
  const user = authenticate(req);
  const entry = { method: "GET", path: url.pathname + url.search, user, status: 101, websocket: true };
  requests.push(entry);
  const refuse = (code, message) => {
    entry.status = code;
    const text = JSON.stringify(status(code, code === 401 ? "Unauthorized" : "BadRequest", message));
    socket.end(`HTTP/1.1 ${code} ${code === 401 ? "Unauthorized" : code === 404 ? "Not Found" : "Bad Request"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  };
  if (!user) return refuse(401, "Unauthorized");
  const m = /^\/api\/v1\/namespaces\/([a-z0-9-]+)\/pods\/([a-z0-9.-]+)\/attach$/.exec(url.pathname);
  if (!m) return refuse(404, "not found");
  const pod = pods.get(`${m[1]}/${m[2]}`);
  if (!pod) return refuse(404, `pods "${m[2]}" not found`);
  if (url.searchParams.get("container") !== pod.object.spec.containers[0].name)
    return refuse(400, `container ${url.searchParams.get("container")} is not valid for pod ${m[2]}`);
  if (!pod.proc) return refuse(400, `container mcp-server in pod ${m[2]} is not running`);
  if (url.searchParams.get("tty") === "true") return refuse(400, "tty is not supported by this stand-in");
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.wantStderr = url.searchParams.get("stderr") === "true";
    pod.sockets.add(ws);
    ws.on("message", (data, isBinary) => {
      const buf = Buffer.from(data);
      if (!isBinary || buf.length === 0) return;
      if (buf[0] === 0 && url.searchParams.get("stdin") === "true" && pod.proc) pod.proc.stdin.write(buf.subarray(1));
    });
    ws.on("close", () => pod.sockets.delete(ws));
    ws.on("error", () => pod.sockets.delete(ws));
  });
});

server.listen(Number(args.port || 0), "127.0.0.1", () => {
  const port = server.address().port;
  const serverUrl = `https://localhost:${port}`;
  const kubeconfig = (user) => `apiVersion: v1
kind: Config
clusters:
- name: standin
  cluster:
    server: ${serverUrl}
    certificate-authority-data: ${b64("ca.crt")}
users:
- name: archestra
  user:
${user}
contexts:
- name: standin
  context:
    cluster: standin
    user: archestra
    namespace: archestra-mcp
current-context: standin
`;
  fs.writeFileSync(path.join(dir, "kubeconfig-token.yaml"), kubeconfig(`    token: "${token}"`));
  fs.writeFileSync(path.join(dir, "kubeconfig-cert.yaml"),
    kubeconfig(`    client-certificate-data: ${b64("client.crt")}\n    client-key-data: ${b64("client.key")}`));
  console.log(JSON.stringify({
    port, token,
    kubeconfigToken: path.join(dir, "kubeconfig-token.yaml"),
    kubeconfigCert: path.join(dir, "kubeconfig-cert.yaml"),
    caFile: path.join(dir, "ca.crt"),
  }));
});

function shutdown() {
  for (const pod of pods.values()) {
    pod.stopping = true;
    if (pod.proc) try { process.kill(-pod.proc.pid, "SIGKILL"); } catch {}
  }
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
