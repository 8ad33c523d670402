// A throwaway PostgreSQL server for fault tests: its own cluster on 127.0.0.1 and a free port (trust auth),
// which the test can stop and start again on the same port and data (the database "unreachable" and back),
// and which outlives a platform it serves (rows can be counted after the platform has exited).
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { before, after } from "node:test";

import { freePort, sleep, startStack } from "./harness.mjs";

const execFileAsync = promisify(execFile);

function pgBinDir() {
  const dirs = fs.readdirSync("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin`);
  const found = dirs
    .filter((d) => fs.existsSync(`${d}/initdb`))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  if (!found.length) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql");
  return found[0];
}

/// [pid, ppid, state] of every process (state "Z": a zombie waiting to be reaped, holding nothing).
function processes() {
  const all = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;  // exited meanwhile
    }
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    all.push([Number(entry), Number(ppid), state]);
  }
  return all;
}

/// Starts a cluster; resolves once it accepts connections and the database `archestra` exists.
/// Returns { url, port, psql(sql), count(sql), holdAdvisoryLock(key), stop(), kill(), start(), destroy() };
/// after kill(), `killed` is the number of processes it killed. `maxConnections`: the server's max_connections
/// (several platforms on one database need more than one's pool).
export async function startPostgres({ maxConnections = 200 } = {}) {
  const bin = pgBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "arch-faults-pg-"));
  const data = path.join(dir, "data");
  const port = await freePort();
  let ids = {};
  if (process.getuid() === 0) {
    // postgres refuses to run as root: hand the cluster to the postgres system user.
    const uid = Number((await execFileAsync("id", ["-u", "postgres"])).stdout);
    const gid = Number((await execFileAsync("id", ["-g", "postgres"])).stdout);
    fs.chmodSync(dir, 0o755);
    fs.chownSync(dir, uid, gid);
    ids = { uid, gid };
  }
  await new Promise((resolve, reject) => {
    const p = spawn(`${bin}/initdb`, ["-D", data, "-U", "archestra", "--auth=trust", "-E", "UTF8"], {
      ...ids,
      stdio: "ignore",
    });
    p.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`initdb exited ${code}`))));
  });
  let child = null;
  const psql = async (sql, db = "archestra") => {
    const { stdout } = await execFileAsync(`${bin}/psql`, [
      "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", String(port), "-U", "archestra", "-d", db,
      "-v", "ON_ERROR_STOP=1", "-c", sql,
    ]);
    return stdout.trim();
  };
  const waitUp = async () => {
    for (let i = 0; ; i++) {
      try {
        await psql("SELECT 1", "postgres");
        return;
      } catch (err) {
        if (i > 300) throw err;
        await sleep(100);
      }
    }
  };
  const server = {
    url: `postgresql://archestra@127.0.0.1:${port}/archestra`,
    port,
    psql,
    async count(sql) {
      return Number(await psql(sql));
    },
    /// Takes PostgreSQL advisory lock `key` (exclusive) on a session of its own and holds it until release()
    /// (or until the server goes away): a way to make other sessions wait at a point the test chooses.
    async holdAdvisoryLock(key) {
      const session = spawn(`${bin}/psql`, [
        "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", String(port), "-U", "archestra", "-d", "archestra",
      ], { stdio: ["pipe", "pipe", "ignore"] });
      let out = "";
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`advisory lock ${key} not taken within 10 s`)), 10000);
        session.stdout.on("data", (chunk) => {
          out += chunk;
          if (out.includes("faults-locked")) {
            clearTimeout(timer);
            resolve();
          }
        });
        session.once("exit", (code) => reject(new Error(`psql holding advisory lock ${key} exited ${code}`)));
        session.stdin.write(`SELECT pg_advisory_lock(${Number(key)});\n\\echo faults-locked\n`);
      });
      return {
        release() {
          session.stdin.end();
          session.kill("SIGKILL");
        },
      };
    },
    /// Starts (again) on the same port and data.
    async start() {
      child = spawn(
        `${bin}/postgres`,
        ["-D", data, "-c", "listen_addresses=127.0.0.1", "-c", `port=${port}`, "-c", `unix_socket_directories=${dir}`,
         "-c", `max_connections=${maxConnections}`, "-c", "fsync=off"],
        { ...ids, stdio: "ignore" },
      );
      await waitUp();
    },
    /// Fast shutdown (clients disconnected, new connections refused) and waits for the exit.
    async stop() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGINT");
      await exited;
    },
    /// A crash: SIGKILL to the postmaster and every process it forked (backends, checkpointer, WAL writer...;
    /// each is a process group of its own, so they are found by parent pid), as a lost node or a container
    /// kill does it. The postmaster is stopped first so that it forks nothing while its children are collected.
    /// Nothing is flushed or checkpointed, clients see their connections reset, and the next start() runs WAL
    /// crash recovery on the same data. Resolves once none of them runs any more (a surviving backend would
    /// keep the shared memory and make the next start() refuse).
    async kill() {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      const postmaster = child.pid;
      process.kill(postmaster, "SIGSTOP");
      const victims = [postmaster, ...processes().filter(([, ppid]) => ppid === postmaster).map(([pid]) => pid)];
      for (const pid of victims) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await exited;
      const running = () => {
        const set = new Set(victims);
        return processes().filter(([pid, , state]) => set.has(pid) && state !== "Z").map(([pid]) => pid);
      };
      for (let i = 0; i < 100 && running().length > 0; i++) await sleep(50);
      if (running().length > 0) throw new Error(`PostgreSQL processes ${running().join(", ")} survived SIGKILL`);
      server.killed = victims.length;
    },
    async destroy() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  await psql("CREATE DATABASE archestra", "postgres");
  return server;
}

/// For a test file whose platform runs on a PostgreSQL of its own: registers node:test hooks, before() starting
/// the server (`postgres`: startPostgres's options) and then startStack with ARCHESTRA_DATABASE_URL pointing at
/// it (plus `env` and the other startStack options), after() stopping both. Returns { pg, stack }, filled in
/// once before() has run.
export function stackOnPostgres({ env = {}, postgres = {}, ...stackOptions } = {}) {
  const ctx = { pg: null, stack: null };
  before(async () => {
    ctx.pg = await startPostgres(postgres);
    ctx.stack = await startStack({ ...stackOptions, env: { ARCHESTRA_DATABASE_URL: ctx.pg.url, ...env } });
  });
  after(async () => {
    await ctx.stack?.stop();
    await ctx.pg?.destroy();
  });
  return ctx;
}

/// A token_cost limit (out of reach) on the seeded default profile and `model`, created through `api` (an admin
/// apiClient): every interaction row written adds its tokens to limit_model_usage in the same transaction, so
/// usage = the rows' tokens shows that no batch was counted twice. Returns { profile, limit, counted() }, where
/// counted() resolves { tokens: [in, out] of the profile's rows of `model`, usage: [in, out] counted in the limit }.
export async function tokenCostLimit(pg, api, model = "gpt-4o") {
  const profile = await pg.psql("SELECT id FROM agents WHERE is_default ORDER BY created_at LIMIT 1");
  if (!/^[0-9a-f-]{36}$/.test(profile)) throw new Error(`no seeded default profile (got '${profile}')`);
  const limit = await api.ok("POST", "/api/limits", {
    entityType: "agent", entityId: profile, limitType: "token_cost", limitValue: 1000000000, model: [model],
  });
  const pair = async (sql) => (await pg.psql(sql)).split(" ").map(Number);
  return {
    profile,
    limit,
    async counted() {
      return {
        tokens: await pair(
          `SELECT COALESCE(sum(input_tokens), 0) || ' ' || COALESCE(sum(output_tokens), 0) FROM interactions WHERE profile_id = '${profile}' AND model = '${model}'`,
        ),
        usage: await pair(
          `SELECT COALESCE(sum(current_usage_tokens_in), 0) || ' ' || COALESCE(sum(current_usage_tokens_out), 0) FROM limit_model_usage WHERE limit_id = '${limit.id}'`,
        ),
      };
    },
  };
}
