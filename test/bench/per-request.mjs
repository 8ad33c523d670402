// The platform's cost per proxied request, counted rather than timed (a busy machine does not move it): user-space
// instructions (callgrind's Ir: this machine's VM has no hardware counters for perf) and system calls (perf's
// raw_syscalls tracepoint) of the platform process over a fixed number of requests, divided by that number.
// Starts the benchmark's nginx upstream, then per binary and mode: the platform natively (system calls and
// CPU time per request over PER_REQUEST_N requests sent by `hey -n`), then the platform under callgrind
// (instrumentation switched on after start-up and a warm-up, counters zeroed, PER_REQUEST_CG_N requests, dump).
//
//   test/e2e/node.sh test/bench/per-request.mjs [binary ...]      (default: build/default/core/archestra-platform)
//
// Environment: PER_REQUEST_N (default 5000), PER_REQUEST_CG_N (default 1000; 0: no callgrind run),
// PER_REQUEST_MODES (default "json,sse"), PER_REQUEST_CONCURRENCY (hey workers, default 10), PER_REQUEST_KEEP
// (a directory: the callgrind output files are kept there, read them with callgrind_annotate). Needs perf,
// valgrind, hey and nginx. A binary's plugins are <binary dir>/../plugins-out, as for the tests.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startPlatform, freePort, repoRoot, sleep } from "../e2e/lib/harness.mjs";
import { startNginx, stopChildren } from "./lib/nginx.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const requests = Number(process.env.PER_REQUEST_N ?? 5000);
const callgrindRequests = Number(process.env.PER_REQUEST_CG_N ?? 1000);
const keepDir = process.env.PER_REQUEST_KEEP;
const modes = (process.env.PER_REQUEST_MODES ?? "json,sse").split(",").filter(Boolean);
const concurrency = Number(process.env.PER_REQUEST_CONCURRENCY ?? 10);
const binaries = process.argv.slice(2).length
  ? process.argv.slice(2).map((b) => path.resolve(b))
  : [path.join(repoRoot, "build/default/core/archestra-platform")];
for (const b of binaries) if (!fs.existsSync(b)) throw new Error(`no platform binary at ${b}`);
for (const m of modes) if (m !== "json" && m !== "sse") throw new Error(`PER_REQUEST_MODES: unknown mode ${m}`);

const work_dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-per-request-"));
const children = [];
const log = (...args) => console.error("[per-request]", ...args);

function hey(url, n, stream) {
  const payload = path.join(here, stream ? "chat-with-tools-stream.json" : "chat-with-tools.json");
  const args = ["-n", String(n), "-c", String(concurrency), "-m", "POST", "-T", "application/json"];
  args.push("-H", "Authorization: Bearer sk-bench-not-a-real-key", "-D", payload, url);
  const out = execFileSync("hey", args, { encoding: "utf8", maxBuffer: 1 << 24 });
  const ok = /\[200\]\s+(\d+) responses/.exec(out);
  if (!ok || Number(ok[1]) !== n) throw new Error(`hey: not every response was 200:\n${out}`);
}

/// perf stat (software events and tracepoints only) on every thread of `pid` while `work` runs; the counters by
/// event name.
async function counted(pid, work) {
  const events = "raw_syscalls:sys_enter,task-clock";
  const file = path.join(work_dir, `perf-stat.csv`);
  const perf = spawn("perf", ["stat", "-x", ",", "-e", events, "-p", String(pid), "-o", file], { stdio: "inherit" });
  await sleep(300); // perf attached
  work();
  await sleep(400); // the interaction writer's batch (flushed every 100 ms) is part of the request's cost
  await new Promise((resolve) => {
    perf.on("exit", resolve);
    perf.kill("SIGINT");
  });
  const counts = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const f = line.split(",");
    if (f.length > 3 && /^[\d.]+$/.test(f[0])) counts[f[2]] = Number(f[0]);
  }
  return counts;
}

/// A launcher that runs `binary` under callgrind, instrumentation off until switched on; beside it a link to
/// the binary's plugins (the harness looks for <launcher dir>/../plugins-out).
function callgrindLauncher(binary, name) {
  const dir = path.join(work_dir, name);
  fs.mkdirSync(path.join(dir, "core"), { recursive: true });
  fs.symlinkSync(path.join(path.dirname(path.dirname(binary)), "plugins-out"), path.join(dir, "plugins-out"));
  const out = path.join(dir, "callgrind.out");
  const launcher = path.join(dir, "core", "archestra-platform");
  fs.writeFileSync(
    launcher,
    `#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=${out} ${binary} "$@"\n`,
    { mode: 0o755 },
  );
  return { launcher, out, dir };
}

function callgrindControl(pid, ...args) {
  execFileSync("callgrind_control", [...args, String(pid)], { stdio: ["ignore", "pipe", "pipe"] });
}

/// Ir of the newest dump in `dir` ("summary:" line of a callgrind output file).
function dumpedInstructions(out) {
  const dir = path.dirname(out);
  const dumps = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(path.basename(out) + "."))
    .map((f) => path.join(dir, f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  if (!dumps.length) throw new Error(`no callgrind dump in ${dir}`);
  const m = /^summary:\s+(\d+)/m.exec(fs.readFileSync(dumps[0], "utf8"));
  if (!m) throw new Error(`no summary line in ${dumps[0]}`);
  return { instructions: Number(m[1]), file: dumps[0] };
}

async function main() {
  const json = fs.readFileSync(path.join(here, "upstream/chat-completion.json"), "utf8").trim();
  const sse = fs.readFileSync(path.join(here, "upstream/chat-stream.sse"), "utf8");
  const ports = { json: await freePort(), sse: await freePort() };
  await startNginx({
    work: work_dir,
    children,
    servers: [
      { port: ports.json, body: json },
      { port: ports.sse, body: sse, contentType: "text/event-stream" },
    ],
  });
  log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; c=${concurrency}`);
  const rows = [];
  let launcherCount = 0;
  for (const binary of binaries) {
    for (const mode of modes) {
      const stream = mode === "sse";
      const upstream = `http://127.0.0.1:${stream ? ports.sse : ports.json}`;
      const row = { mode, binary };
      process.env.ARCHESTRA_PLATFORM_BINARY = binary;
      let platform = await startPlatform({ upstream });
      try {
        const url = `${platform.baseUrl}/v1/openai/chat/completions`;
        hey(url, 2000, stream);
        const c = await counted(platform.child.pid, () => hey(url, requests, stream));
        row.syscalls = c["raw_syscalls:sys_enter"] / requests;
        row.cpuMs = c["task-clock"] / requests;
      } finally {
        await platform.stop();
      }
      if (callgrindRequests > 0) {
        const { launcher, out } = callgrindLauncher(binary, `cg-${++launcherCount}`);
        process.env.ARCHESTRA_PLATFORM_BINARY = launcher;
        platform = await startPlatform({ upstream, readyTimeout_ms: 300000 });
        try {
          const url = `${platform.baseUrl}/v1/openai/chat/completions`;
          callgrindControl(platform.child.pid, "-i", "on");
          hey(url, 300, stream);
          await sleep(500);
          callgrindControl(platform.child.pid, "-z");
          hey(url, callgrindRequests, stream);
          await sleep(1500); // the interaction writer's batches
          callgrindControl(platform.child.pid, "--dump=measured");
          await sleep(500);
          const dump = dumpedInstructions(out);
          row.instructions = dump.instructions / callgrindRequests;
          if (keepDir) {
            fs.mkdirSync(keepDir, { recursive: true });
            const kept = path.join(keepDir, `callgrind-${mode}-${launcherCount}.out`);
            fs.copyFileSync(dump.file, kept);
            row.kept = kept;
          }
        } finally {
          await platform.stop();
        }
      }
      rows.push(row);
      log(
        `${mode} ${binary}: ${row.instructions ? (row.instructions / 1000).toFixed(1) + "k instructions (user), " : ""}` +
          `${row.syscalls.toFixed(2)} syscalls, ${row.cpuMs.toFixed(3)} ms CPU per request${row.kept ? `; ${row.kept}` : ""}`,
      );
    }
  }
  console.log("| mode | binary | user instructions / req (callgrind) | syscalls / req | CPU ms / req (timed) |");
  console.log("|---|---|---:|---:|---:|");
  for (const r of rows)
    console.log(
      `| ${r.mode} | ${r.binary} | ${r.instructions ? (r.instructions / 1000).toFixed(1) + "k" : "-"} | ${r.syscalls.toFixed(2)} | ${r.cpuMs.toFixed(3)} |`,
    );
}

main()
  .catch((err) => {
    console.error(`[per-request] failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopChildren(children);
    fs.rmSync(work_dir, { recursive: true, force: true });
  });
