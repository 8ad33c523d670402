// Shared end-to-end harness: starts the LLM upstream stand-in and the real archestra-platform binary (free
// ports on 127.0.0.1, a temporary data directory, the embedded PostgreSQL), waits for /ready, signs in as the
// seeded admin, reads the interaction log, and tears everything down.
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");
export const standinScript = path.join(repoRoot, "test/standins/llm-upstream/server.mjs");

export const ADMIN_EMAIL = "admin@localhost.ai";
export const ADMIN_PASSWORD = "password";

/// The platform binary: $ARCHESTRA_PLATFORM_BINARY (CTest passes $<TARGET_FILE:archestra-platform>), else the
/// default preset's build output.
export function platformBinary() {
  const candidate = process.env.ARCHESTRA_PLATFORM_BINARY || path.join(repoRoot, "build/default/core/archestra-platform");
  if (!fs.existsSync(candidate)) {
    throw new Error(`archestra-platform not found at ${candidate}; build it or set ARCHESTRA_PLATFORM_BINARY`);
  }
  return candidate;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/// Keeps the last lines a child process wrote, for error messages.
function captureOutput(child, keep = 400) {
  const lines = [];
  const logFile = process.env.E2E_LOG_DIR
    ? fs.createWriteStream(path.join(process.env.E2E_LOG_DIR, `${path.basename(child.spawnfile)}-${child.pid}.log`))
    : null;
  const onData = (chunk) => {
    logFile?.write(chunk);
    for (const line of chunk.toString("utf8").split("\n")) {
      if (line.length) lines.push(line);
    }
    if (lines.length > keep) lines.splice(0, lines.length - keep);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  return { tail: (n = 60) => lines.slice(-n).join("\n"), lines };
}

function waitExit(child, timeout_ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeout_ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

// ---- the upstream stand-in --------------------------------------------------------------------------------

export async function startStandin() {
  const child = spawn(process.execPath, [standinScript, "0"], { stdio: ["ignore", "pipe", "pipe"] });
  const output = captureOutput(child);
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stand-in did not start:\n${output.tail()}`)), 10000);
    const onData = () => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(output.lines.join("\n"));
      if (m) {
        clearTimeout(timer);
        child.stdout.off("data", onData);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => reject(new Error(`stand-in exited with ${code}:\n${output.tail()}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const getJson = async (p) => {
    const res = await fetch(url + p);
    return res.status === 404 ? null : res.json();
  };
  return {
    port,
    url,
    child,
    /// The last API request the stand-in received: {method, path, headers, rawHeaders, body, bodyBase64}.
    lastRequest: () => getJson("/__last_request"),
    requests: async () => (await getJson("/__requests")).requests,
    reset: () => fetch(url + "/__reset", { method: "POST" }).then((r) => r.json()),
    async stop() {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 5000))) child.kill("SIGKILL");
    },
  };
}

// ---- the platform -----------------------------------------------------------------------------------------

/// Starts archestra-platform with every listener on 127.0.0.1 and the provider upstreams pointed at `upstream`
/// (a stand-in URL); `env` overrides or adds settings. Resolves once /ready answers 200.
export async function startPlatform({ upstream, env = {}, readyTimeout_ms = 120000 } = {}) {
  const binary = platformBinary();
  const [apiPort, uiPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  // Short path: the embedded PostgreSQL's Unix socket lives inside it (sun_path is 108 bytes).
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-e2e-"));
  const childEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("ARCHESTRA_") && k !== "DATABASE_URL") childEnv[k] = v;
  }
  Object.assign(childEnv, {
    ARCHESTRA_API_BASE_URL: `http://localhost:${apiPort}`,
    ARCHESTRA_UI_PORT: String(uiPort),
    ARCHESTRA_METRICS_PORT: String(metricsPort),
    ARCHESTRA_LISTEN_ADDRESS: "127.0.0.1",
    ARCHESTRA_DATA_DIR: dataDir,
    ARCHESTRA_ANALYTICS: "disabled",
    ARCHESTRA_LOGGING_LEVEL: process.env.E2E_PLATFORM_LOG_LEVEL || "info",
    ...(upstream
      ? {
          ARCHESTRA_OPENAI_BASE_URL: `${upstream}/v1`,
          ARCHESTRA_ANTHROPIC_BASE_URL: upstream,
          ARCHESTRA_GEMINI_BASE_URL: upstream,
        }
      : {}),
    ...env,
  });
  // The bundled plugins (the secrets backend every platform needs) come after any directory the test names:
  // <build>/plugins-out beside <build>/core/archestra-platform.
  const bundled = path.join(path.dirname(path.dirname(binary)), "plugins-out");
  childEnv.ARCHESTRA_PLUGINS_DIR = childEnv.ARCHESTRA_PLUGINS_DIR ? `${childEnv.ARCHESTRA_PLUGINS_DIR}:${bundled}` : bundled;
  const child = spawn(binary, [], { env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  const output = captureOutput(child);
  const baseUrl = `http://127.0.0.1:${apiPort}`;

  const platform = {
    child,
    binary,
    apiPort,
    uiPort,
    metricsPort,
    dataDir,
    baseUrl,
    logTail: output.tail,
    /// Unix socket directory of the embedded PostgreSQL (from its postmaster.pid).
    pgSocketDir() {
      const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
      const lines = fs.readFileSync(pidFile, "utf8").split("\n");
      return lines[4] || path.join(dataDir, "postgres");
    },
    /// Runs SQL against the embedded database with psql; returns the rows as arrays of strings.
    async psql(sql) {
      const { stdout } = await execFileAsync("psql", [
        "-X", "-q", "-A", "-t", "-F", "\t",
        "-h", platform.pgSocketDir(), "-p", "5432", "-U", "archestra", "-d", "archestra",
        "-v", "ON_ERROR_STOP=1", "-c", sql,
      ]);
      return stdout.split("\n").filter((l) => l.length).map((l) => l.split("\t"));
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        if (!(await waitExit(child, 30000))) {
          child.kill("SIGKILL");
          await waitExit(child, 5000);
        }
      }
      // A platform that had to be killed leaves its PostgreSQL behind: stop it by the pid it recorded.
      const pidFile = path.join(dataDir, "postgres", "postmaster.pid");
      if (fs.existsSync(pidFile)) {
        const pgPid = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
        if (pgPid > 0) {
          try {
            process.kill(pgPid, "SIGQUIT");
            for (let i = 0; i < 50; i++) {
              process.kill(pgPid, 0);
              await sleep(100);
            }
          } catch {
            // gone
          }
        }
      }
      if (!process.env.E2E_KEEP_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };

  const deadline = Date.now() + readyTimeout_ms;
  let lastStatus = "no answer";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await platform.stop();
      throw new Error(`archestra-platform exited (${child.exitCode ?? child.signalCode}) before /ready:\n${output.tail()}`);
    }
    try {
      const res = await fetch(`${baseUrl}/ready`, { signal: AbortSignal.timeout(2000) });
      lastStatus = `${res.status} ${await res.text()}`;
      if (res.status === 200) return platform;
    } catch (err) {
      lastStatus = err.message;
    }
    await sleep(150);
  }
  await platform.stop();
  throw new Error(`archestra-platform not ready after ${readyTimeout_ms} ms (last: ${lastStatus}):\n${output.tail()}`);
}

/// Stand-in + platform wired together.
export async function startStack(options = {}) {
  const standin = await startStandin();
  let platform;
  try {
    platform = await startPlatform({ upstream: standin.url, ...options });
  } catch (err) {
    await standin.stop();
    throw err;
  }
  return {
    standin,
    platform,
    async stop() {
      await platform.stop();
      await standin.stop();
    },
  };
}

// ---- management API ---------------------------------------------------------------------------------------

/// Signs in as the seeded admin; returns request headers carrying the session cookie (and the Origin the
/// platform requires for cookie-authenticated calls).
export async function adminSession(platform) {
  const origin = `http://localhost:${platform.apiPort}`;
  const res = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email: ADMIN_EMAIL, password: ADMIN_PASSWORD }),
  });
  if (res.status !== 200) {
    throw new Error(`sign-in as ${ADMIN_EMAIL} failed: ${res.status} ${await res.text()}`);
  }
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]);
  if (cookies.length === 0) throw new Error("sign-in answered 200 without a session cookie");
  return { cookie: cookies.join("; "), origin };
}

/// A new member: invited by `admin` (adminSession's headers) with `role`, signed up through the invitation with
/// `password`, then signed in. Returns { session, userId } (session: request headers like adminSession's).
export async function signUpMember(platform, admin, email, { name = "Member", password = "member-password-1", role = "member" } = {}) {
  const { origin } = admin;
  const invite = await apiClient(platform, admin).ok("POST", "/api/auth/organization/invite-member", { email, role });
  const signUp = await fetch(`${platform.baseUrl}/api/auth/sign-up/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({
      name,
      email,
      password,
      callbackURL: `${origin}/auth/sign-up-with-invitation?invitationId=${invite.id}&email=${email}`,
    }),
  });
  if (signUp.status !== 200) throw new Error(`sign-up of ${email} failed: ${signUp.status} ${await signUp.text()}`);
  const userId = (await signUp.json()).user.id;
  const signIn = await fetch(`${platform.baseUrl}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email, password }),
  });
  if (signIn.status !== 200) throw new Error(`sign-in of ${email} failed: ${signIn.status} ${await signIn.text()}`);
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  return { session: { cookie, origin }, userId };
}

/// GET on the management API as the admin; returns {status, body}.
export async function apiGet(platform, session, p) {
  return apiClient(platform, session)("GET", p);
}

/// A management-API client for `platform` with the request headers `session` (adminSession's, or anyone's):
///   await api(method, path, body)     -> { status, type, body }: `body` (when given) is sent as JSON; the answer's
///                                        body is parsed when it is JSON and kept as text otherwise
///   await api.ok(method, path, body)  -> the parsed body; throws unless the status is 200
/// With `requireJson` every answer must say application/json (a route answering HTML or text fails the call).
export function apiClient(platform, session, { requireJson = false, timeout_ms } = {}) {
  const api = async (method, p, body) => {
    const res = await fetch(platform.baseUrl + p, {
      method,
      headers: { ...session, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(timeout_ms ? { signal: AbortSignal.timeout(timeout_ms) } : {}),
    });
    const type = res.headers.get("content-type") || "";
    const text = await res.text();
    if (requireJson && !/application\/json/.test(type)) {
      throw new Error(`${method} ${p}: expected an application/json answer, got ${res.status} '${type}': ${text.slice(0, 300)}`);
    }
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON; keep the text
    }
    return { status: res.status, type, body: parsed };
  };
  api.ok = async (method, p, body) => {
    const res = await api(method, p, body);
    if (res.status !== 200) throw new Error(`${method} ${p}: ${res.status} ${typeof res.body === "string" ? res.body : JSON.stringify(res.body)}`);
    return res.body;
  };
  return api;
}

/// The value of the first team token (or, with `organization`, of the organisation token), via `api` (an
/// apiClient signed in as the admin).
export async function tokenValue(api, { organization = false } = {}) {
  const tokens = await api.ok("GET", "/api/tokens");
  const token = tokens.find((t) => Boolean(t.isOrganizationToken) === organization);
  if (!token) throw new Error(`no ${organization ? "organisation" : "team"} token in ${JSON.stringify(tokens)}`);
  return (await api.ok("GET", `/api/tokens/${token.id}/value`)).value;
}

/// The default profile's id, read from the database (the API route may not exist yet).
export async function defaultProfileId(platform) {
  const rows = await platform.psql("SELECT id FROM agents WHERE is_default ORDER BY created_at LIMIT 1");
  if (rows.length === 0) throw new Error("no default profile seeded (agents.is_default)");
  return rows[0][0];
}

/// A recorded provider response from test/fixtures/providers (what the stand-in serves), as text.
export function fixture(relative) {
  return fs.readFileSync(path.join(repoRoot, "test/fixtures/providers", relative), "utf8");
}

/// Polls until `probe()` returns a truthy value or the timeout passes; returns the last value.
export async function eventually(probe, timeout_ms = 10000, interval_ms = 100) {
  const deadline = Date.now() + timeout_ms;
  let value;
  while (Date.now() < deadline) {
    value = await probe();
    // An empty array (e.g. psql rows not written yet) is truthy in JavaScript but means "not yet".
    if (value && !(Array.isArray(value) && value.length === 0)) return value;
    await sleep(interval_ms);
  }
  return value;
}

/// Polls GET /api/mcp_server/{serverId}/installation-status through `api` (apiClient-style: resolves {status,
/// body}) until localInstallationStatus is one of `wanted` (default: finished, either way); returns that body.
/// Fails naming the last status seen, plus the platform's log tail when `platform` is given.
export async function installationStatus(api, serverId, { wanted = ["success", "error"], timeout_ms = 45000, platform } = {}) {
  let last;
  const reached = await eventually(async () => {
    last = await api("GET", `/api/mcp_server/${serverId}/installation-status`);
    return last.status === 200 && wanted.includes(last.body.localInstallationStatus) ? last.body : null;
  }, timeout_ms, 200);
  if (!reached) {
    const tail = platform ? `\n${platform.logTail()}` : "";
    throw new Error(`MCP server ${serverId}: installation status never reached ${wanted.join(" or ")}: ${last?.status} ${JSON.stringify(last?.body)}${tail}`);
  }
  return reached;
}

export { sleep };
