import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../test/helpers/free-port.js";
import { NODE_FLAGS } from "../test/helpers/server-process.js";
import { withoutOpenblasOverrides } from "./numpy.js";

export interface BenchServer {
  url: string;
  pid: number;
  /** SIGTERM, and its exit. */
  stop(): Promise<void>;
  /** SIGKILL, and its exit: a replica that dies. */
  kill(): Promise<void>;
}

/**
 * Starts the built server (dist/server.js) on a free port with a fresh data directory, and waits
 * until /readyz answers 200. At LOG_LEVEL=warn (no per-request logs to slow it down) the server
 * never says where it listens, so the port is chosen here.
 */
export async function startBenchServer(
  env: Record<string, string> = {},
  { entry = "dist/server.js" }: { entry?: string } = {},
): Promise<BenchServer> {
  const port = await freePort();
  // BENCH_CPU_PROF=<dir>: the server and each of its threads write a V8 CPU profile there.
  const dir = process.env.BENCH_CPU_PROF;
  const profiling = dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
  // BENCH_NODE_FLAGS: more flags for the server's node, e.g. "--trace-gc".
  const flags = (process.env.BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  const child: ChildProcess = spawn(
    process.execPath,
    [...profiling, ...flags, ...NODE_FLAGS, entry],
    {
      cwd: new URL("..", import.meta.url).pathname,
      env: {
        // The server's OpenBLAS at its best, as numpy's baseline is.
        ...withoutOpenblasOverrides(process.env),
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        DATA_DIR: mkdtempSync(join(tmpdir(), "backprop-bench-")),
        ...env,
        PORT: String(port),
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  let exited: number | null | undefined;
  child.once("exit", (code) => {
    exited = code;
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`server exited with ${exited} while starting`);
    const ready = await fetch(`${url}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error("server did not become ready in 30 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const end = async (signal: NodeJS.Signals) => {
    if (exited !== undefined) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await gone;
  };
  return {
    url,
    pid: child.pid!,
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
  };
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
