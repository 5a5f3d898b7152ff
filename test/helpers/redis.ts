import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.js";

export interface RedisServer {
  url: string;
  /** Stops the server (SIGTERM; it saves its append-only file first). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it for good and removes its data. */
  close(): Promise<void>;
}

/** Where `redis-server` is, or null: the distributed suite needs it (Debian's `redis-server`). */
export function redisBinary(): string | null {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

/**
 * A private redis-server on loopback, as a real process, with an append-only file so that a
 * stop and start keep the queue (as a production Redis for BullMQ must).
 */
export async function startRedis(): Promise<RedisServer> {
  const binary = redisBinary();
  if (!binary)
    throw new Error("redis-server is not installed (Debian: apt-get install redis-server)");
  const dir = mkdtempSync(join(tmpdir(), "backprop-redis-"));
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir];
      args.push("--appendonly", "yes", "--save", "", "--protected-mode", "no");
      const started = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      const onData = (chunk: Buffer) => {
        log += chunk;
        if (log.includes("Ready to accept connections")) {
          started.stdout?.off("data", onData);
          started.stdout?.resume();
          resolve();
        }
      };
      started.stdout?.on("data", onData);
      started.stderr?.on("data", (chunk) => {
        log += chunk;
      });
      started.once("exit", (code) => reject(new Error(`redis-server exited (${code}):\n${log}`)));
      child = started;
    });

  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    stop,
    start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
