// A throwaway PostgreSQL server for fault tests: its own cluster on 127.0.0.1 and a free port (trust auth),
// which the test can stop and start again on the same port and data (the database "unreachable" and back),
// and which outlives a platform it serves (rows can be counted after the platform has exited).
import { spawn, execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { freePort, sleep } from "./harness.mjs";

const execFileAsync = promisify(execFile);

function pgBinDir() {
  const dirs = fs.readdirSync("/usr/lib/postgresql").map((v) => `/usr/lib/postgresql/${v}/bin`);
  const found = dirs
    .filter((d) => fs.existsSync(`${d}/initdb`))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  if (!found.length) throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql");
  return found[0];
}

/// Starts a cluster; resolves once it accepts connections and the database `archestra` exists.
/// Returns { url, port, psql(sql), count(sql), stop(), start(), destroy() }. `maxConnections`: the server's
/// max_connections (several platforms on one database need more than one's pool).
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
    async destroy() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  await psql("CREATE DATABASE archestra", "postgres");
  return server;
}
