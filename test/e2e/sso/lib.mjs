// Browser-less helpers for the SSO tests: a cookie jar per origin, manual redirect following, and the
// platform started with the bundled plugins on a known frontend origin.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, platformBinary, startPlatform } from "../lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));

/// Cookies by origin host (ports ignored, as browsers do); values only, attributes dropped except Max-Age=0.
export class CookieJar {
  constructor() {
    this.jars = new Map();
  }
  jar(url) {
    const host = new URL(url).hostname;
    if (!this.jars.has(host)) this.jars.set(host, new Map());
    return this.jars.get(host);
  }
  store(url, response) {
    const jar = this.jar(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === "") jar.delete(name);
      else jar.set(name, value);
    }
  }
  header(url) {
    return [...this.jar(url)].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  get(url, name) {
    return this.jar(url).get(name);
  }
  set(url, name, value) {
    this.jar(url).set(name, value);
  }
}

/// One request with the jar's cookies; no redirect following.
export async function request(jar, url, { method = "GET", headers = {}, body } = {}) {
  const cookie = jar.header(url);
  const res = await fetch(url, {
    method,
    redirect: "manual",
    headers: { ...(cookie ? { cookie } : {}), ...headers },
    body,
  });
  jar.store(url, res);
  return res;
}

/// Follows redirects until `stopAt(url)` is true or a non-redirect answer; returns {url, response}.
export async function follow(jar, url, stopAt, limit = 15) {
  let current = url;
  for (let i = 0; i < limit; i++) {
    if (stopAt(current)) return { url: current, response: null };
    const res = await request(jar, current);
    if (res.status < 300 || res.status >= 400) return { url: current, response: res };
    await res.arrayBuffer();
    current = new URL(res.headers.get("location"), current).toString();
  }
  throw new Error(`too many redirects from ${url}`);
}

/// The platform with the bundled plugins, EE on, and a frontend origin the callbacks are built on.
export async function startSsoPlatform(env = {}) {
  const uiPort = await freePort();
  const frontend = `http://127.0.0.1:${uiPort}`;
  const pluginsDir = path.resolve(path.dirname(platformBinary()), "../plugins-out");
  const platform = await startPlatform({
    env: {
      ARCHESTRA_UI_PORT: String(uiPort),
      ARCHESTRA_FRONTEND_URL: frontend,
      ARCHESTRA_PLUGINS_DIR: pluginsDir,
      ARCHESTRA_ENTERPRISE_LICENSE_ACTIVATED: "true",
      ...env,
    },
  });
  return { platform, frontend };
}

/// Starts a Node script from this folder that prints "listening on <url>"; resolves {url, child, stop}.
export async function startNodeServer(script, args) {
  const child = spawn(process.execPath, [path.join(here, script), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start:\n${output}`)), 20000);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (c) => (output += c.toString()));
    child.once("exit", (code) => reject(new Error(`${script} exited with ${code}:\n${output}`)));
  });
  child.stdout.on("data", (c) => (output += c.toString()));
  return {
    url,
    child,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
    },
  };
}

/// Signs in as the seeded admin through the frontend origin; returns {cookie, origin} headers.
export async function adminHeaders(frontend) {
  const res = await fetch(`${frontend}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: frontend },
    body: JSON.stringify({ email: "admin@localhost.ai", password: "password" }),
  });
  if (res.status !== 200) throw new Error(`admin sign-in failed: ${res.status} ${await res.text()}`);
  return { cookie: res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; "), origin: frontend };
}

export async function api(frontend, headers, method, p, body) {
  const res = await fetch(frontend + p, {
    method,
    headers: { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: res.status, body: json };
}
