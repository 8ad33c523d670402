// nginx as the fast upstream stand-in of the benchmark and the soak: every server answers any request with a
// fixed body (a chat completion or an SSE stream) from memory. One nginx process, its files under `work`.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { sleep } from "../../e2e/lib/harness.mjs";

/// `text` as an nginx single-quoted string.
export function nginxString(text) {
  return "'" + text.replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/// Starts nginx with one `server` per entry of `servers`:
///   { port, body, contentType = "application/json", accessLog, onlyWithAuthorization = false }
/// `accessLog` (a path) logs "$msec $status" per request, buffered and flushed every second; with
/// `onlyWithAuthorization` only requests carrying an Authorization header are logged (the platform forwards the
/// client's key; a readiness probe has none). The child is pushed onto `children` as soon as it is spawned (the
/// caller's cleanup stops it); resolves when the first server answers 200.
export async function startNginx({ work, servers, children, timeout_ms = 30000 }) {
  for (const d of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) fs.mkdirSync(path.join(work, "nginx", d), { recursive: true });
  const server = ({ port, body, contentType = "application/json", accessLog, onlyWithAuthorization = false }) => `
  server {
    listen 127.0.0.1:${port};
    ${accessLog ? `access_log ${accessLog} counted buffer=64k flush=1s${onlyWithAuthorization ? " if=$counted" : ""};` : "access_log off;"}
    location / {
      default_type ${contentType};
      return 200 ${nginxString(body)};
    }
  }`;
  const conf = `
worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log warn;
events { worker_connections 8192; }
http {
  log_format counted '$msec $status';
  map $http_authorization $counted { "" 0; default 1; }
  client_body_temp_path ${work}/nginx/client_body;
  proxy_temp_path ${work}/nginx/proxy;
  fastcgi_temp_path ${work}/nginx/fastcgi;
  uwsgi_temp_path ${work}/nginx/uwsgi;
  scgi_temp_path ${work}/nginx/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_buffer_size 64k;
${servers.map(server).join("\n")}
}
`;
  const confFile = path.join(work, "nginx.conf");
  fs.writeFileSync(confFile, conf);
  const child = spawn("nginx", ["-p", work, "-e", `${work}/nginx-error.log`, "-c", confFile], { stdio: ["ignore", "inherit", "inherit"] });
  children.push(child);
  const url = `http://127.0.0.1:${servers[0].port}/v1/chat/completions`;
  const deadline = Date.now() + timeout_ms;
  let last = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} (see ${work}/nginx-error.log)`);
    try {
      const res = await fetch(url, { method: "POST", body: "{}", signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return child;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(100);
  }
  throw new Error(`nginx did not answer at ${url}: ${last}`);
}

/// Stops what a run started, last first: nginx with SIGQUIT (graceful), the rest with SIGTERM, then SIGKILL for
/// whatever is still running half a second later.
export async function stopChildren(children) {
  for (const child of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill(child.spawnfile === "nginx" ? "SIGQUIT" : "SIGTERM");
  }
  await sleep(500);
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
