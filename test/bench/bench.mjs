// LLM proxy benchmark: the same chat-with-tools payload, side by side in one run, sent by wrk (keep-alive) to
//   direct    nginx returning a fixed OpenAI completion (the ceiling),
//   archestra archestra-platform on its default profile (policies and interaction logging on) in front of nginx,
//   portkey   the Portkey AI gateway (@portkey-ai/gateway) in front of the same nginx,
// at concurrency 10 and 100, plus a streaming run (nginx returning an SSE body). Prints requests/s, p50/p99,
// latency added over direct, the platform's CPU per 1,000 requests and peak RSS, and interaction rows written vs
// requests that reached the upstream; writes the table to docs/benchmark.md. Everything listens on 127.0.0.1.
//
// Environment: BENCH_DURATION (seconds per measured run, default 10), BENCH_WARMUP (seconds, default 2),
// BENCH_CONCURRENCY (default "1,10,100"; c=1 is the serial added latency, no queueing), BENCH_STREAM_CONCURRENCY (default "10"), BENCH_THREADS (wrk threads,
// default 2), BENCH_RATE (total req/s of the fixed-rate json run with hey, 10 workers; default 1000; 0 = none),
// BENCH_TARGETS (default "direct,archestra,portkey,passthrough-threads,passthrough-epoll"), ARCHESTRA_PLATFORM_BINARY,
// BENCH_PASSTHROUGH_BINARY (default: test/bench/passthrough/passthrough_bench beside the platform's build), BENCH_OUTPUT (markdown file, default docs/benchmark.md; "-" for none),
// BENCH_PERF (a path prefix: `perf record -g` of the platform during each measured archestra run, written to
// <prefix>-<mode>-c<N>.data; read it with `perf report -i ...`), BENCH_ATTACH (any command run against the
// platform during each measured archestra run and stopped with SIGINT after it; {pid}, {mode} and {c} are
// replaced, e.g. BENCH_ATTACH='strace -c -f -o /tmp/sc-{mode}-{c}.txt -p {pid}').
import { spawn, spawnSync, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPlatform, freePort, repoRoot, sleep } from "../e2e/lib/harness.mjs";
import { startNginx, stopChildren } from "./lib/nginx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const duration_s = Number(process.env.BENCH_DURATION ?? 10);
const warmup_s = Number(process.env.BENCH_WARMUP ?? 2);
const concurrencies = (process.env.BENCH_CONCURRENCY ?? "1,10,100").split(",").filter(Boolean).map(Number);
const streamConcurrencies = (process.env.BENCH_STREAM_CONCURRENCY ?? "10").split(",").filter(Boolean).map(Number);
const threads = Number(process.env.BENCH_THREADS ?? 2);
const fixedRate = Number(process.env.BENCH_RATE ?? 1000);
const rateWorkers = 10;
const targetNames = (process.env.BENCH_TARGETS ?? "direct,archestra,portkey,passthrough-threads,passthrough-epoll").split(",");
const passthroughKinds = ["threads", "epoll"].filter((k) => targetNames.includes(`passthrough-${k}`));
const outputFile = process.env.BENCH_OUTPUT ?? path.join(repoRoot, "docs/benchmark.md");
const portkeyDir = path.join(repoRoot, "test/e2e/node_modules/@portkey-ai/gateway");
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;

const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-bench-"));
const children = [];

function log(...args) {
  console.error("[bench]", ...args);
}

// ---- processes --------------------------------------------------------------------------------------------

async function startUpstream() {
  const ports = { json: await freePort(), sse: await freePort(), platformJson: await freePort(), platformSse: await freePort() };
  const json = fs.readFileSync(path.join(here, "upstream/chat-completion.json"), "utf8").trim();
  const sse = fs.readFileSync(path.join(here, "upstream/chat-stream.sse"), "utf8");
  const sseType = "text/event-stream";
  // The platform gets its own upstream ports so nginx counts exactly the requests it forwarded.
  const child = await startNginx({
    work,
    children,
    servers: [
      { port: ports.json, body: json },
      { port: ports.sse, body: sse, contentType: sseType },
      { port: ports.platformJson, body: json, accessLog: `${work}/upstream-platform-json.log` },
      { port: ports.platformSse, body: sse, contentType: sseType, accessLog: `${work}/upstream-platform-sse.log` },
    ],
  });
  return { child, ports };
}

async function waitHttp(url, what, timeout_ms = 30000, init = { method: "POST", body: "{}" }) {
  const deadline = Date.now() + timeout_ms;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err.message;
    }
    await sleep(150);
  }
  throw new Error(`${what} did not answer at ${url}: ${last}`);
}

async function startPortkey(nginxJsonPort) {
  if (!fs.existsSync(path.join(portkeyDir, "build/start-server.js"))) {
    throw new Error(`Portkey gateway not installed at ${portkeyDir}; run test/e2e/install-npm.sh`);
  }
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ["--require", path.join(here, "portkey-listen-localhost.cjs"), "build/start-server.js", "--headless", `--port=${port}`],
    { cwd: portkeyDir, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stdout.on("data", (d) => (output = (output + d).slice(-4000)));
  child.stderr.on("data", (d) => (output = (output + d).slice(-4000)));
  try {
    await waitHttp(`http://127.0.0.1:${port}/v1/chat/completions`, "portkey", 30000, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: "Bearer sk-bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `http://127.0.0.1:${nginxJsonPort}/v1`,
      },
      body: fs.readFileSync(path.join(here, "chat-with-tools.json")),
    });
  } catch (err) {
    throw new Error(`${err.message}\n${output}`);
  }
  return { child, port };
}

/// The I/O model's ceiling (test/bench/passthrough): a proxy doing nothing per request but framing, as a
/// thread per connection (the platform's shape) or as two event loops, in front of the same nginx. json only.
async function startPassthrough(kind, upstreamPort) {
  const binary =
    process.env.BENCH_PASSTHROUGH_BINARY ??
    path.resolve(path.dirname(process.env.ARCHESTRA_PLATFORM_BINARY ?? path.join(repoRoot, "build/default/core/archestra-platform")), "../test/bench/passthrough/passthrough_bench");
  if (!fs.existsSync(binary)) throw new Error(`no passthrough_bench at ${binary}: run 'make build' (or leave passthrough-* out of BENCH_TARGETS)`);
  const port = await freePort();
  const child = spawn(binary, [kind, String(port), String(upstreamPort), "2"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  await waitHttp(`http://127.0.0.1:${port}/v1/chat/completions`, `passthrough ${kind}`, 10000, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: fs.readFileSync(path.join(here, "chat-with-tools.json")),
  });
  return { child, port };
}

// ---- measurement ------------------------------------------------------------------------------------------

function runWrk({ url, concurrency, seconds, stream, headers = {} }) {
  const args = [`-t${Math.min(threads, concurrency)}`, `-c${concurrency}`, `-d${seconds}s`, "--timeout", "10s", "-s", path.join(here, "wrk-post.lua")];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push(url);
  const payload = path.join(here, stream ? "chat-with-tools-stream.json" : "chat-with-tools.json");
  return new Promise((resolve, reject) => {
    const child = spawn("wrk", args, { env: { ...process.env, BENCH_PAYLOAD: payload }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      const m = /BENCH_RESULT (\{.*\})/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`wrk failed (${code}): ${out}`));
      const r = JSON.parse(m[1]);
      const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
      resolve({
        requests: r.requests,
        rps: r.requests / (r.duration_us / 1e6),
        p50_ms: r.latency_us.p50 / 1000,
        p99_ms: r.latency_us.p99 / 1000,
        errors,
        errorDetail: r.errors,
      });
    });
    child.on("error", reject);
  });
}

/// Open-loop-ish load: `rateWorkers` hey processes, one keep-alive connection each, each limited to
/// rate/rateWorkers req/s, so the latency is measured below saturation instead of being concurrency / throughput
/// as in wrk's closed loop. One hey with `-c 10 -q N` would not do: its workers' tickers start together, so the
/// requests arrive in bursts of 10 every 1/N s and the last of each burst queues behind the other nine (that
/// measured the time to serve a burst, not one request). Separate processes started 1/rate s apart spread the
/// arrivals over each period, as independent agents would.
async function runHey({ url, rate, seconds, headers = {} }) {
  const args = ["-z", `${seconds}s`, "-c", "1", "-q", String(rate / rateWorkers), "-t", "10", "-m", "POST", "-T", "application/json"];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push("-D", path.join(here, "chat-with-tools.json"), "-o", "csv", url);
  const one = () =>
    new Promise((resolve, reject) => {
      const child = spawn("hey", args, { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => {
        // csv: response-time,DNS+dialup,DNS,Request-write,Response-delay,Response-read,status-code,offset
        const lines = out.split("\n").slice(1).filter((l) => l.trim());
        if (code !== 0 || lines.length === 0) return reject(new Error(`hey failed (${code}): ${err}${out.slice(0, 400)}`));
        resolve(lines);
      });
      child.on("error", reject);
    });
  const workers = [];
  for (let i = 0; i < rateWorkers; i++) {
    workers.push(one());
    await sleep(1000 / rate);
  }
  const latencies = [];
  let errors = 0;
  let last = 0;
  for (const lines of await Promise.all(workers)) {
    for (const line of lines) {
      const f = line.split(",");
      latencies.push(Number(f[0]) * 1000);
      if (f[6] !== "200") errors += 1;
      last = Math.max(last, Number(f[7]) + Number(f[0]));
    }
  }
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { requests: latencies.length, rps: latencies.length / Math.max(last, seconds), p50_ms: q(0.5), p99_ms: q(0.99), errors };
}

/// Profilers attached to the platform while wrk runs (BENCH_PERF, BENCH_ATTACH): what is behind the CPU figure.
function attachTools(pid, mode, concurrency) {
  const commands = [];
  if (process.env.BENCH_PERF)
    commands.push(["perf", "record", "-g", "-F", "499", "-p", String(pid), "-o", `${process.env.BENCH_PERF}-${mode}-c${concurrency}.data`]);
  if (process.env.BENCH_ATTACH)
    commands.push(process.env.BENCH_ATTACH.replaceAll("{pid}", String(pid)).replaceAll("{mode}", mode).replaceAll("{c}", String(concurrency)).split(/\s+/));
  return commands.map(([cmd, ...args]) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", (err) => log(`${cmd} failed: ${err.message}`));
    return child;
  });
}

function stopAttached(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.kill("SIGINT");
  });
}

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  return { self: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
}

/// CPU ticks of the embedded PostgreSQL: the postmaster, its live backends, and the backends that exited.
function databaseTicks(platform) {
  const pidFile = path.join(platform.dataDir, "postgres", "postmaster.pid");
  if (!fs.existsSync(pidFile)) return 0;
  const postmaster = Number(fs.readFileSync(pidFile, "utf8").split("\n")[0]);
  let total = 0;
  try {
    const t = cpuTicks(postmaster);
    total += t.self + t.children;
  } catch {
    return 0;
  }
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) total += cpuTicks(Number(entry)).self;
    } catch {
      // raced with an exiting process
    }
  }
  return total;
}

function peakRssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

function countLines(file) {
  if (!fs.existsSync(file)) return 0;
  const text = fs.readFileSync(file, "utf8");
  return text.split("\n").filter((l) => l.length).length;
}

// ---- the run ----------------------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const loadBefore = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  log(`work dir ${work}; ${duration_s} s per run, warm-up ${warmup_s} s, concurrency ${concurrencies.join("/")}, stream ${streamConcurrencies.join("/")}`);
  const nginx = await startUpstream();
  const portkey = targetNames.includes("portkey") ? await startPortkey(nginx.ports.json) : null;
  const passthrough = {};
  for (const kind of passthroughKinds) passthrough[kind] = await startPassthrough(kind, nginx.ports.json);
  log(`nginx json :${nginx.ports.json} sse :${nginx.ports.sse}; portkey :${portkey?.port ?? "-"}`);

  const results = [];
  const platformStats = [];

  for (const mode of ["json", "sse"]) {
    const stream = mode === "sse";
    const levels = stream ? streamConcurrencies : concurrencies;
    if (levels.length === 0 && (stream || fixedRate <= 0)) continue;
    const upstreamPort = stream ? nginx.ports.platformSse : nginx.ports.platformJson;
    const accessLog = path.join(work, `upstream-platform-${mode}.log`);
    const withPlatform = targetNames.includes("archestra");
    if (withPlatform) log(`starting archestra-platform (${mode} upstream)`);
    const platform = !withPlatform ? null : await startPlatform({
      env: {
        ARCHESTRA_OPENAI_BASE_URL: `http://127.0.0.1:${upstreamPort}/v1`,
        ARCHESTRA_ANTHROPIC_BASE_URL: `http://127.0.0.1:${upstreamPort}`,
        ARCHESTRA_GEMINI_BASE_URL: `http://127.0.0.1:${upstreamPort}`,
      },
    });
    try {
      const directPort = stream ? nginx.ports.sse : nginx.ports.json;
      const allTargets = {
        direct: { url: `http://127.0.0.1:${directPort}/v1/chat/completions` },
        archestra: platform && { url: `${platform.baseUrl}/v1/openai/chat/completions` },
        portkey: portkey && {
          url: `http://127.0.0.1:${portkey.port}/v1/chat/completions`,
          headers: { "x-portkey-provider": "openai", "x-portkey-custom-host": `http://127.0.0.1:${directPort}/v1` },
        },
      };
      for (const kind of stream ? [] : passthroughKinds)
        allTargets[`passthrough-${kind}`] = { url: `http://127.0.0.1:${passthrough[kind].port}/v1/chat/completions` };
      const targets = Object.fromEntries(targetNames.filter((n) => allTargets[n]).map((n) => [n, allTargets[n]]));
      for (const t of Object.values(targets)) {
        if (warmup_s > 0) await runWrk({ ...t, concurrency: 10, seconds: warmup_s, stream });
      }
      let wrkCompleted = 0;
      for (const concurrency of levels) {
        for (const [name, t] of Object.entries(targets)) {
          const before = name === "archestra" ? { cpu: cpuTicks(platform.child.pid).self, db: databaseTicks(platform) } : null;
          const attached = name === "archestra" ? attachTools(platform.child.pid, mode, concurrency) : [];
          const r = await runWrk({ ...t, concurrency, seconds: duration_s, stream });
          for (const tool of attached) await stopAttached(tool);
          const row = { mode: stream ? "stream" : "json", target: name, concurrency, ...r };
          if (before) {
            const cpu = cpuTicks(platform.child.pid).self - before.cpu;
            const db = databaseTicks(platform) - before.db;
            row.cpuMsPer1k = ((cpu / clockTicks) * 1000 * 1000) / Math.max(1, r.requests);
            row.dbCpuMsPer1k = ((db / clockTicks) * 1000 * 1000) / Math.max(1, r.requests);
            wrkCompleted += r.requests;
          }
          results.push(row);
          log(
            `${row.mode} c=${concurrency} ${name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50_ms.toFixed(2)} ms p99 ${r.p99_ms.toFixed(2)} ms errors ${r.errors}` +
              (row.cpuMsPer1k !== undefined ? ` cpu ${row.cpuMsPer1k.toFixed(0)} ms/1k` : ""),
          );
        }
      }
      // The fixed-rate row (json only): direct, archestra and the passthrough proxies (what one extra hop costs
      // in latency on this machine); Portkey cannot hold the rate (it would only show its own saturation, as in
      // the closed-loop rows).
      if (!stream && fixedRate > 0) {
        for (const [name, t] of Object.entries(targets)) {
          if (name === "portkey") continue;
          const before = name === "archestra" ? { cpu: cpuTicks(platform.child.pid).self, db: databaseTicks(platform) } : null;
          const attached = name === "archestra" ? attachTools(platform.child.pid, "fixed", fixedRate) : [];
          const r = await runHey({ ...t, rate: fixedRate, seconds: duration_s });
          for (const tool of attached) await stopAttached(tool);
          const row = { mode: "json", target: name, concurrency: `${rateWorkers} @ ${fixedRate}/s`, fixedRate: true, ...r };
          if (before) {
            const cpu = cpuTicks(platform.child.pid).self - before.cpu;
            const db = databaseTicks(platform) - before.db;
            row.cpuMsPer1k = ((cpu / clockTicks) * 1000 * 1000) / Math.max(1, r.requests);
            row.dbCpuMsPer1k = ((db / clockTicks) * 1000 * 1000) / Math.max(1, r.requests);
            wrkCompleted += r.requests;
          }
          results.push(row);
          log(`json fixed ${fixedRate}/s ${name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50_ms.toFixed(2)} ms p99 ${r.p99_ms.toFixed(2)} ms errors ${r.errors}`);
        }
      }
      if (!platform) continue;
      // Every request that reached nginx through the platform must become exactly one interaction row.
      let upstreamRequests = 0;
      let rows = NaN;
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline) {
        await sleep(1500); // nginx flushes its access log buffer every second
        upstreamRequests = countLines(accessLog);
        try {
          rows = Number((await platform.psql("SELECT count(*) FROM interactions"))[0][0]);
        } catch (err) {
          log(`psql failed: ${err.message}`);
          rows = NaN;
          break;
        }
        if (rows === upstreamRequests) break;
      }
      platformStats.push({
        mode: stream ? "stream" : "json",
        peakRssMb: peakRssMb(platform.child.pid),
        upstreamRequests,
        rows,
        wrkCompleted,
      });
      log(`platform (${mode}): peak RSS ${peakRssMb(platform.child.pid).toFixed(1)} MB; rows ${rows} vs upstream requests ${upstreamRequests}`);
    } finally {
      await platform?.stop();
    }
  }

  const report = render({ startedAt, loadBefore, results, platformStats });
  console.log(report);
  if (outputFile !== "-") {
    fs.mkdirSync(path.dirname(outputFile), { recursive: true });
    fs.writeFileSync(outputFile, report);
    log(`wrote ${path.relative(process.cwd(), outputFile)}`);
  }
}

function machine() {
  const cpu = (/model name\s*:\s*(.*)/.exec(fs.readFileSync("/proc/cpuinfo", "utf8")) ?? [])[1] ?? os.cpus()[0]?.model;
  // nginx -v prints to stderr and wrk -v exits 1: take whatever either stream says.
  const version = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    return `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  };
  const portkeyVersion = JSON.parse(fs.readFileSync(path.join(portkeyDir, "package.json"), "utf8")).version;
  return {
    cpu: `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM`,
    os: `${os.type()} ${os.release()}`,
    tools: [
      version("nginx", ["-v"]).replace("nginx version: ", ""),
      version("wrk", ["-v"]).split("\n")[0].split(" [")[0],
      `node ${process.version}`,
      `@portkey-ai/gateway ${portkeyVersion}`,
    ].join(", "),
  };
}

function render({ startedAt, loadBefore, results, platformStats }) {
  const f = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");
  const m = machine();
  const lines = [];
  lines.push("# LLM proxy benchmark");
  lines.push("");
  lines.push(`Generated by \`make bench\` (test/bench/run.sh) on ${startedAt.toISOString()}. Do not edit by hand.`);
  lines.push("");
  lines.push(`- Machine: ${m.cpu}; ${m.os}; load average before the run: ${loadBefore}`);
  lines.push(`- Tools: ${m.tools}`);
  lines.push(
    `- Load: wrk, ${threads} threads, keep-alive, ${duration_s} s per run (BENCH_DURATION) after a ${warmup_s} s warm-up; payload test/bench/chat-with-tools.json (\`"stream": true\` added for the streaming run).`,
  );
  lines.push(
    "- Targets: **direct** = nginx returning a fixed chat.completion with one tool call (or a 13-event SSE stream), the ceiling; " +
      "**archestra** = archestra-platform, default profile, policies and interaction logging on, embedded PostgreSQL; " +
      "**portkey** = Portkey AI gateway (`x-portkey-provider: openai`, `x-portkey-custom-host`) in front of the same nginx; " +
      "**passthrough-threads** / **passthrough-epoll** (json only) = test/bench/passthrough, a proxy that does nothing per request but HTTP framing, " +
      "as a thread per connection with blocking poll/recv/send (the platform's shape) or as two epoll event loops: the ceiling of each I/O model on this machine. " +
      "All processes share the same cores, on 127.0.0.1.",
  );
  if (fixedRate > 0)
    lines.push(
      `- Fixed-rate rows (conc. "${rateWorkers} @ ${fixedRate}/s"): hey (Debian), ${rateWorkers} processes of one keep-alive connection each, limited to ${fixedRate / rateWorkers} req/s and started ${f(1000 / fixedRate, 1)} ms apart (arrivals spread, not in bursts), ${duration_s} s: ` +
        "latency below saturation (wrk's closed loop measures concurrency / throughput). Portkey is left out: it cannot hold the rate.",
    );
  lines.push("");
  lines.push("| Run | Target | Conc. | Req/s | p50 ms | p99 ms | Added p50 ms | Added p99 ms | Errors | Platform CPU ms / 1k req | DB CPU ms / 1k req |");
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of results) {
    const direct = results.find((d) => d.mode === r.mode && d.concurrency === r.concurrency && d.target === "direct");
    const added = r.target === "direct" || !direct ? ["-", "-"] : [f(r.p50_ms - direct.p50_ms, 3), f(r.p99_ms - direct.p99_ms, 3)];
    lines.push(
      `| ${r.mode} | ${r.target} | ${r.concurrency} | ${f(r.rps, 0)} | ${f(r.p50_ms, 3)} | ${f(r.p99_ms, 3)} | ${added[0]} | ${added[1]} | ${r.errors} | ` +
        `${r.cpuMsPer1k !== undefined ? f(r.cpuMsPer1k, 0) : "-"} | ${r.dbCpuMsPer1k !== undefined ? f(r.dbCpuMsPer1k, 0) : "-"} |`,
    );
  }
  lines.push("");
  lines.push("| Platform run | Peak RSS (VmHWM) MB | Requests that reached the upstream | Interaction rows | Responses completed by wrk |");
  lines.push("|---|---:|---:|---:|---:|");
  for (const s of platformStats) {
    lines.push(`| ${s.mode} | ${f(s.peakRssMb, 1)} | ${s.upstreamRequests} | ${s.rows} | ${s.wrkCompleted} (+ warm-up) |`);
  }
  lines.push("");
  // Targets from issue 5 (2-core machine).
  const at = (mode, target, c) => results.find((r) => r.mode === mode && r.target === target && r.concurrency === c);
  const checks = [];
  const a10 = at("json", "archestra", 10);
  const d10 = at("json", "direct", 10);
  if (a10 && d10) {
    checks.push([`added latency p50 <= 0.3 ms at c=10 (wrk closed loop, saturated)`, a10.p50_ms - d10.p50_ms <= 0.3, `${f(a10.p50_ms - d10.p50_ms, 3)} ms`]);
    checks.push([`added latency p99 <= 2 ms at c=10 (wrk closed loop, saturated)`, a10.p99_ms - d10.p99_ms <= 2, `${f(a10.p99_ms - d10.p99_ms, 3)} ms`]);
  }
  const aRate = results.find((r) => r.fixedRate && r.target === "archestra");
  const dRate = results.find((r) => r.fixedRate && r.target === "direct");
  if (aRate && dRate) {
    checks.push([`added latency p50 <= 0.3 ms at a fixed ${fixedRate} req/s (hey, not saturated)`, aRate.p50_ms - dRate.p50_ms <= 0.3, `${f(aRate.p50_ms - dRate.p50_ms, 3)} ms`]);
    checks.push([`added latency p99 <= 2 ms at a fixed ${fixedRate} req/s (hey, not saturated)`, aRate.p99_ms - dRate.p99_ms <= 2, `${f(aRate.p99_ms - dRate.p99_ms, 3)} ms`]);
  }
  // The throughput targets are for concurrency 10 and 100; c=1 (one request at a time) is reported
  // below as the serial added latency, not checked.
  for (const c of concurrencies.filter((n) => n >= 10)) {
    const a = at("json", "archestra", c);
    const d = at("json", "direct", c);
    const p = at("json", "portkey", c);
    if (a && d) checks.push([`throughput >= 40 % of direct at c=${c}`, a.rps >= 0.4 * d.rps, `${f((100 * a.rps) / d.rps, 1)} %`]);
    if (a && p) checks.push([`throughput >= 5x Portkey at c=${c}`, a.rps >= 5 * p.rps, `${f(a.rps / p.rps, 1)}x`]);
  }
  const archestraErrors = results.filter((r) => r.target === "archestra").reduce((n, r) => n + r.errors, 0);
  checks.push(["zero errors through archestra", archestraErrors === 0, `${archestraErrors}`]);
  for (const s of platformStats) {
    checks.push([`interaction rows = requests (${s.mode})`, s.rows === s.upstreamRequests, `${s.rows} / ${s.upstreamRequests}`]);
    checks.push([`peak RSS <= 100 MB (${s.mode})`, s.peakRssMb <= 100, `${f(s.peakRssMb, 1)} MB`]);
  }
  const ceilings = [];
  for (const c of concurrencies) {
    const d = at("json", "direct", c);
    const share = (name) => {
      const r = at("json", name, c);
      return r && d ? `${name} ${f((100 * r.rps) / d.rps, 1)} %` : null;
    };
    const parts = ["archestra", "passthrough-threads", "passthrough-epoll"].map(share).filter(Boolean);
    if (parts.length > 1) ceilings.push(`c=${c}: ${parts.join(", ")}`);
  }
  const serial = ["archestra", "portkey", "passthrough-threads", "passthrough-epoll"]
    .map((name) => [name, at("json", name, 1)])
    .filter(([, r]) => r && at("json", "direct", 1));
  if (serial.length) {
    const d1 = at("json", "direct", 1);
    lines.push(
      "Serial added latency (c=1, one request at a time: no queueing, what one call pays): " +
        serial.map(([name, r]) => `${name} p50 ${f(r.p50_ms - d1.p50_ms, 3)} ms, p99 ${f(r.p99_ms - d1.p99_ms, 3)} ms`).join("; ") +
        ` (direct p50 ${f(d1.p50_ms, 3)} ms).`,
    );
    lines.push("");
  }
  if (ceilings.length) {
    lines.push(`Share of direct's throughput (the passthrough rows bound what a proxy of that I/O model reaches here): ${ceilings.join("; ")}.`);
    lines.push("");
  }
  lines.push("| Target (issue 5, 2-core machine) | Result | Measured |");
  lines.push("|---|---|---:|");
  for (const [name, ok, value] of checks) lines.push(`| ${name} | ${ok ? "met" : "**missed**"} | ${value} |`);
  lines.push("");
  return lines.join("\n");
}

async function cleanup() {
  await stopChildren(children);
  if (!process.env.BENCH_KEEP_WORK) fs.rmSync(work, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(cleanup)
  .catch(async (err) => {
    console.error(`[bench] failed: ${err.stack ?? err.message}`);
    await cleanup();
    process.exit(1);
  });
