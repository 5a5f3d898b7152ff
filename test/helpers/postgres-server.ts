/**
 * A private PostgreSQL for a test file: a real server process on loopback, in a temp directory,
 * that a test may stop and start again (same port, same data) to see the service ride out an
 * outage. As root (CI), initdb and postgres refuse to run, so they run as the `postgres` user.
 * No vitest in here: benches start servers too (describeWithPostgres is in postgres.ts).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./free-port.js";

const ROOT = "/usr/lib/postgresql";

/** The bin directory of the newest PostgreSQL installed, or why there is none. */
export function findPostgres(): { bin: string } | { missing: string } {
  const versions = existsSync(ROOT)
    ? readdirSync(ROOT)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const bin = join(ROOT, version, "bin");
    if (["initdb", "postgres", "pg_ctl"].every((b) => existsSync(join(bin, b)))) return { bin };
  }
  return {
    missing: `PostgreSQL server binaries (initdb, postgres) under ${ROOT}/<version>/bin: apt-get install postgresql`,
  };
}

/** uid and gid to run the server as: root may not run it, so the `postgres` user does. */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"]).toString().trim());
  return { uid: id("-u"), gid: id("-g") };
}

export interface PostgresServer {
  readonly port: number;
  /** A fresh, empty database; its URL. */
  createDatabase(): Promise<string>;
  /** Fast shutdown (clients are disconnected); resolves once the process has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its directory. */
  destroy(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresServer> {
  const found = findPostgres();
  if ("missing" in found) throw new Error(`no PostgreSQL: ${found.missing}`);
  const { bin } = found;
  const dir = mkdtempSync(join(tmpdir(), "pg-"));
  const data = join(dir, "data");
  const user = runAs();
  if (user) chownSync(dir, user.uid, user.gid);
  execFileSync(
    join(bin, "initdb"),
    ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
    { ...user, stdio: "pipe" },
  );
  const port = await freePort();
  let child: ChildProcess | null = null;
  let databases = 0;
  const kill = () => child?.kill("SIGKILL");
  process.once("exit", kill);

  const start = () =>
    new Promise<void>((resolve, reject) => {
      // Durability off: a test database need not survive power loss, and fsync is slow here.
      const args = ["-D", data, "-p", String(port), "-k", dir, "-h", "127.0.0.1"];
      const settings = ["fsync=off", "synchronous_commit=off", "full_page_writes=off"];
      const spawned = spawn(
        join(bin, "postgres"),
        [...args, ...settings.flatMap((s) => ["-c", s])],
        {
          ...user,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      child = spawned;
      let log = "";
      const onData = (chunk: Buffer) => {
        log += chunk;
        if (log.includes("database system is ready to accept connections")) {
          spawned.stderr?.off("data", onData);
          // Drained from now on: a full pipe would block the server at its next log line.
          spawned.stderr?.resume();
          spawned.off("exit", onExit);
          resolve();
        }
      };
      const onExit = (code: number | null) =>
        reject(new Error(`postgres exited (${code}) while starting:\n${log}`));
      spawned.stderr?.on("data", onData);
      spawned.stdout?.resume();
      spawned.once("exit", onExit);
    });

  const stop = async () => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill("SIGINT");
    await exited;
    running.stderr?.resume();
  };

  await start();
  return {
    port,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      const admin = new pg.Client({
        host: "127.0.0.1",
        port,
        user: "postgres",
        database: "postgres",
      });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop,
    start,
    async destroy() {
      await stop();
      process.off("exit", kill);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
