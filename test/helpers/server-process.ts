import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  dataDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

/**
 * How `npm start` runs node: relaxed SIMD on (the fastest kernels), V8's GC on its own thread,
 * and room in the old generation for the external memory big bodies make (README, "GC").
 */
export const NODE_FLAGS = [
  "--experimental-wasm-relaxed-simd",
  "--single-threaded-gc",
  "--initial-old-space-size=128",
];
export const SERVER_ARGS = [...NODE_FLAGS, "dist/server.js"];

/** Starts the compiled server (dist/server.js) as a real process on a free port. */
export async function startServer(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = env.DATA_DIR ?? mkdtempSync(join(tmpdir(), "backprop-"));
  const child = spawn(process.execPath, SERVER_ARGS, {
    cwd: new URL("../..", import.meta.url).pathname,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
      DATA_DIR: dataDir,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  child.stdout?.on("data", (chunk) => {
    log += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    log += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    // A bound for a server that will never listen, not a speed target: starting takes a second
    // or two, but up to 20 on this 2-core machine under a load of 15 (its start self-checks the
    // kernels, opens and migrates the store, and starts its threads).
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 90_000);
    const poll = setInterval(() => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(match[1]);
      }
    }, 20);
    void exited.then(() => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`server exited while starting:\n${log}`));
    });
  });
  return { child, url, dataDir, exited, output: () => log };
}

export interface FailedStart {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled server where it is expected not to start, and returns how it ended. */
export function startServerExpectingFailure(
  env: Record<string, string>,
  timeoutMs = 20_000,
  args = SERVER_ARGS,
): Promise<FailedStart> {
  const child = spawn(process.execPath, args, {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`server still running after ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    // "close", not "exit": it comes after the last chunk of output.
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** POSTs JSON to a real server process; the answer's status and parsed body. */
export async function postJson(url: string, body: unknown) {
  const res = await fetch(url, {
    method: "POST",
    // One connection per request: a server killed mid-test leaves no pooled socket behind.
    headers: { "content-type": "application/json", connection: "close" },
    body: JSON.stringify(body),
  });
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown> & { id: string },
  };
}
