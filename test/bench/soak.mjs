// Soak: concurrency 100 through the LLM proxy (default profile, policies and interaction logging on) for
// SOAK_MINUTES against nginx returning a fixed chat completion (the fast upstream stand-in of `make bench`).
// `concurrency` keep-alive clients in this process send back to back for the whole run; the run is cut into
// windows (SOAK_WINDOW_S each) and in the middle of each the platform's RSS, threads and open files are sampled,
// next to that window's p99 and errors. At the end it checks the rules below,
// prints the per-window table, records the figures for docs/reliability.md (recordReliability("soak")) and exits
// 1 if any rule is broken:
//   errors        zero errors (connection errors, no answer within 10 s, non-200, not a chat.completion),
//                 warm-up included
//   RSS           the last window's sample is less than 5 % above the first window's (after the warm-up)
//   p99           the median window p99 of the last third of the windows <= 2 x that of the first third
//   threads/fds   the last window's sample at most 10 above the most the first half of the windows had
//   rows          interaction rows = requests answered = requests that reached nginx (its access log)
//
// Environment: SOAK_MINUTES (default 30), SOAK_WINDOW_S (default 60, or 10 when SOAK_MINUTES <= 5),
// SOAK_WARMUP_S (default 60, or 30 when SOAK_MINUTES <= 5), SOAK_WARMUP_MAX_S (default 600, or 180 when
// SOAK_MINUTES <= 5; see the warm-up below), SOAK_CONCURRENCY (default 100), ARCHESTRA_PLATFORM_BINARY,
// SOAK_RECORD_AS (the recordReliability name, default "soak").
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPlatform, freePort, sleep } from "../e2e/lib/harness.mjs";
import { recordReliability } from "../e2e/lib/reliability.mjs";
import { startNginx, stopChildren } from "./lib/nginx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const short = minutes <= 5;
const window_s = Number(process.env.SOAK_WINDOW_S ?? (short ? 10 : 60));
const warmup_s = Number(process.env.SOAK_WARMUP_S ?? (short ? 30 : 60));
const warmupMax_s = Number(process.env.SOAK_WARMUP_MAX_S ?? (short ? 180 : 600));
const concurrency = Number(process.env.SOAK_CONCURRENCY ?? 100);
const recordAs = process.env.SOAK_RECORD_AS ?? "soak";
const work = fs.mkdtempSync(path.join(os.tmpdir(), "arch-soak-"));
const children = [];

const log = (...args) => console.error("[soak]", ...args);

async function startUpstream() {
  const port = await freePort();
  const json = fs.readFileSync(path.join(here, "upstream/chat-completion.json"), "utf8").trim();
  const accessLog = path.join(work, "upstream.log");
  // Only requests carrying a key (the platform forwards the client's) are counted: not the readiness probe.
  await startNginx({ work, children, servers: [{ port, body: json, accessLog, onlyWithAuthorization: true }] });
  return { port, accessLog };
}

/// The load: `concurrency` clients, each on its own keep-alive connection, sending the next request as soon as
/// the previous answer was read, for the whole run without reconnecting (wrk restarted per window would churn
/// all connections at every window boundary and grow the thread pool). Latencies land in the window in which
/// their answer completed; stop() lets the requests in flight finish.
function startLoad(url, payload) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const body = Buffer.from(payload);
  let current = newWindow();
  let stopping = false;
  const errorSamples = [];
  function newWindow() {
    return { started: performance.now(), latencies: [], errors: 0 };
  }
  function once() {
    return new Promise((resolve) => {
      const t = performance.now();
      const fail = (why) => {
        current.errors++;
        if (errorSamples.length < 5) errorSamples.push(why);
        resolve();
      };
      const req = http.request(
        url,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": body.length, authorization: "Bearer sk-soak-not-a-real-key" },
          timeout: 10000,
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
            if (!text.includes('"chat.completion"')) return fail(`not a completion: ${text.slice(0, 200)}`);
            current.latencies.push(performance.now() - t);
            resolve();
          });
          res.on("error", (err) => fail(err.message));
        },
      );
      req.on("timeout", () => req.destroy(new Error("no answer within 10 s")));
      req.on("error", (err) => fail(err.message));
      req.end(body);
    });
  }
  const clients = Array.from({ length: concurrency }, async () => {
    while (!stopping) await once();
  });
  return {
    /// Closes the current window and opens the next: {requests, rps, p50_ms, p99_ms, max_ms, errors}.
    cut() {
      const w = current;
      current = newWindow();
      const seconds = (current.started - w.started) / 1000;
      const sorted = w.latencies.sort((a, b) => a - b);
      const pct = (q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
      return { requests: sorted.length, rps: sorted.length / seconds, p50_ms: pct(0.5), p99_ms: pct(0.99), max_ms: sorted.at(-1) ?? NaN, errors: w.errors };
    },
    async stop() {
      stopping = true;
      await Promise.all(clients);
      agent.destroy();
    },
    errorSamples,
  };
}

function processState(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  return {
    rssMb: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024,
    threads: Number(/Threads:\s+(\d+)/.exec(status)[1]),
    fds: fs.readdirSync(`/proc/${pid}/fd`).length,
  };
}

function countLines(file) {
  if (!fs.existsSync(file)) return 0;
  let n = 0;
  const buf = fs.readFileSync(file);
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
  return n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

async function main() {
  for (const tool of ["nginx", "psql"]) {
    const found = process.env.PATH.split(":").some((d) => fs.existsSync(path.join(d, tool)));
    if (!found) throw new Error(`${tool} not found; run 'bash packaging/install-deps.sh --test'`);
  }
  const windows = Math.max(3, Math.round((minutes * 60) / window_s));
  log(`${minutes} min at c=${concurrency}: ${windows} windows of ${window_s} s after a ${warmup_s} s warm-up; work dir ${work}`);
  const nginx = await startUpstream();
  const platform = await startPlatform({
    env: {
      ARCHESTRA_OPENAI_BASE_URL: `http://127.0.0.1:${nginx.port}/v1`,
      ARCHESTRA_ANTHROPIC_BASE_URL: `http://127.0.0.1:${nginx.port}`,
      ARCHESTRA_GEMINI_BASE_URL: `http://127.0.0.1:${nginx.port}`,
    },
  });
  const pid = platform.child.pid;
  const url = `${platform.baseUrl}/v1/openai/chat/completions`;
  const samples = [];
  let warmup;
  try {
    const load = startLoad(url, fs.readFileSync(path.join(here, "chat-with-tools.json")));
    try {
      // Warm-up: at least SOAK_WARMUP_S, then until RSS grew less than 1 % over 10 s (allocator arenas,
      // caches and the connection pools fill during the first ~100,000 requests), at most SOAK_WARMUP_MAX_S.
      // A process that never levels off gets its baseline at the maximum and fails the RSS rule.
      const warmStart = Date.now();
      await sleep(warmup_s * 1000);
      let previous = processState(pid).rssMb;
      while (Date.now() - warmStart < warmupMax_s * 1000) {
        await sleep(10000);
        const now = processState(pid).rssMb;
        log(`warm-up: RSS ${f(previous)} -> ${f(now)} MB over 10 s`);
        if (now - previous < 0.01 * previous) break;
        previous = now;
      }
      warmup = { ...load.cut(), seconds: (Date.now() - warmStart) / 1000 };
      log(`warm-up: ${warmup.requests} requests in ${f(warmup.seconds, 0)} s, ${warmup.errors} errors`);
      for (let i = 0; i < windows; i++) {
        // The process is sampled in the middle of each window.
        await sleep((window_s * 1000) / 2);
        const state = processState(pid);
        await sleep((window_s * 1000) / 2);
        const s = { window: i + 1, ...load.cut(), ...state };
        samples.push(s);
        log(
          `window ${s.window}/${windows}: ${f(s.rps, 0)} req/s p50 ${f(s.p50_ms, 2)} ms p99 ${f(s.p99_ms, 2)} ms errors ${s.errors}; ` +
            `RSS ${f(s.rssMb)} MB threads ${s.threads} fds ${s.fds}`,
        );
      }
    } finally {
      await load.stop();
    }
    const tail = load.cut(); // the requests in flight when the last window closed
    samples.at(-1).requests += tail.requests;
    samples.at(-1).errors += tail.errors;
    if (load.errorSamples.length) log(`errors, first ones: ${load.errorSamples.join(" | ")}`);
    // Every request that reached nginx through the platform must become exactly one interaction row.
    let upstream = 0;
    let rows = NaN;
    const deadline = Date.now() + 60000;
    while (Date.now() < deadline) {
      await sleep(1500); // nginx flushes its access log buffer every second
      upstream = countLines(nginx.accessLog);
      rows = Number((await platform.psql("SELECT count(*) FROM interactions"))[0][0]);
      if (rows === upstream) break;
    }
    const after = processState(pid);
    return judge({ warmup, samples, upstream, rows, after, windows, completed: warmup.requests + samples.reduce((n, x) => n + x.requests, 0) });
  } finally {
    await platform.stop();
  }
}

function judge({ warmup, samples, upstream, rows, after, windows, completed }) {
  // The baseline is the first window after the warm-up; "flat" threads and files means no growth in the second
  // half over the most the first half needed (the pool grows to its working size early, then stays).
  const baseline = samples[0];
  const last = samples[samples.length - 1];
  const firstHalf = samples.slice(0, Math.max(1, Math.floor(samples.length / 2)));
  const maxThreads = Math.max(...firstHalf.map((s) => s.threads));
  const maxFds = Math.max(...firstHalf.map((s) => s.fds));
  const third = Math.max(1, Math.floor(samples.length / 3));
  const firstP99 = median(samples.slice(0, third).map((s) => s.p99_ms));
  const lastP99 = median(samples.slice(-third).map((s) => s.p99_ms));
  const requests = samples.reduce((n, s) => n + s.requests, 0);
  const errors = warmup.errors + samples.reduce((n, s) => n + s.errors, 0);
  // Baseline: the peak of the first half of the windows. The allocator (jemalloc) keeps and returns pages in
  // waves, so one sample swings by tens of MB (61 to 94 MB within a minute); a leak shows as the last window
  // above everything the first half needed.
  const baselineRss = Math.max(...firstHalf.map((s) => s.rssMb));
  const rssGrowth = (100 * (last.rssMb - baselineRss)) / baselineRss;
  const maxRss = Math.max(...samples.map((s) => s.rssMb));
  const measured_s = samples.length * window_s;
  const checks = [
    ["zero errors", errors === 0, `${errors} errors in ${requests + warmup.requests} responses`],
    ["RSS growth < 5 % over the first half's peak", rssGrowth < 5, `${f(baselineRss)} MB -> ${f(last.rssMb)} MB (${f(rssGrowth, 2)} %; first window ${f(baseline.rssMb)} MB, max ${f(maxRss)} MB)`],
    ["p99 stable: median p99 of the last third of the windows <= 2 x the first third", lastP99 <= 2 * firstP99, `${f(firstP99, 2)} ms -> ${f(lastP99, 2)} ms`],
    ["threads flat (last <= first half's max + 10)", last.threads <= maxThreads + 10, `${baseline.threads} -> ${last.threads} (first half max ${maxThreads})`],
    ["open files flat (last <= first half's max + 10)", last.fds <= maxFds + 10, `${baseline.fds} -> ${last.fds} (first half max ${maxFds})`],
    ["interaction rows = requests (answered to the clients, and seen by the upstream)", rows === upstream && rows === completed, `${rows} rows / ${completed} answered / ${upstream} upstream`],
  ];

  console.log(`\nSoak: ${minutes} min at concurrency ${concurrency}, ${windows} windows of ${window_s} s after a ${f(warmup.seconds, 0)} s warm-up (${warmup.requests} requests)`);
  console.log("| window | req/s | p50 ms | p99 ms | max ms | errors | RSS MB | threads | fds |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of samples) {
    console.log(`| ${s.window} | ${f(s.rps, 0)} | ${f(s.p50_ms, 2)} | ${f(s.p99_ms, 2)} | ${f(s.max_ms, 0)} | ${s.errors} | ${f(s.rssMb)} | ${s.threads} | ${s.fds} |`);
  }
  console.log(`| after the load | | | | | | ${f(after.rssMb)} | ${after.threads} | ${after.fds} |`);
  console.log("");
  for (const [name, ok, value] of checks) console.log(`${ok ? "ok  " : "FAIL"} ${name}: ${value}`);

  const how = `test/bench/soak.mjs, SOAK_MINUTES=${minutes}: ${concurrency} keep-alive clients POSTing chat-with-tools.json to /v1/openai/chat/completions, default profile with interaction logging, nginx upstream, ${windows} x ${window_s} s windows after a warm-up of ${f(warmup.seconds, 0)} s / ${warmup.requests} requests (until RSS grew < 1 % in 10 s)`;
  recordReliability(recordAs, [
    {
      what: `Soak: ${minutes} min at concurrency ${concurrency} through the proxy`,
      how,
      figure: `${requests} requests (${f(requests / measured_s, 0)} req/s), ${errors} errors`,
    },
    { what: "Soak: RSS growth (rule < 5 %)", how: "VmRSS mid-window: peak of the first half of the windows vs the last window", figure: checks[1][2] },
    {
      what: "Soak: p99 stability (rule last <= 2 x first)",
      how: "median of the per-window p99 over the first and the last third of the windows",
      figure: `${checks[2][2]} (window p99 range ${f(Math.min(...samples.map((s) => s.p99_ms)), 2)}-${f(Math.max(...samples.map((s) => s.p99_ms)), 2)} ms)`,
    },
    { what: "Soak: threads and open files", how: "/proc/<pid>/status Threads and /proc/<pid>/fd mid-window: first vs last window (rule: last <= first half's max + 10)", figure: `threads ${checks[3][2]}, fds ${checks[4][2]}` },
    { what: "Soak: interaction rows = requests", how: "count(*) FROM interactions vs responses the clients read vs nginx access-log lines", figure: checks[5][2] },
    { what: "Soak: verdict", how: "every rule above", figure: checks.every((c) => c[1]) ? "all rules met" : `broken: ${checks.filter((c) => !c[1]).map((c) => c[0]).join("; ")}` },
  ]);
  return checks.every((c) => c[1]);
}

async function cleanup() {
  await stopChildren(children);
  fs.rmSync(work, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    cleanup().finally(() => process.exit(130));
  });
}

main()
  .then(async (ok) => {
    await cleanup();
    process.exit(ok ? 0 : 1);
  })
  .catch(async (err) => {
    console.error(`[soak] failed: ${err.stack ?? err.message}`);
    await cleanup();
    process.exit(1);
  });
