/**
 * `npm run bench:forward`: a float32 1000³ product end to end, POST /v1/networks/forward of one
 * 1000→1000 Affine layer on x [1000, 1000], everything in base64 (W, b, x and the answer), one
 * request at a time, beside numpy's own 1000³ product on one thread in the same run. The target
 * (issue 16): at least 0.4× numpy's GFLOP/s, counting the product's 2·10⁹ operations only.
 * Interleaved with the service's requests, the same bytes go through a bare node:http server that
 * does no work (bench/echo-server.ts): the transport's own time on this machine, which with
 * numpy's product added is the best a server that answers after its product could do.
 */
import { execFileSync, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { availableParallelism } from "node:os";
import { NODE_FLAGS } from "../test/helpers/server-process.js";
import { numpyEnv } from "./numpy.js";
import { startBenchServer } from "./server.js";

const N = 1000;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 25);
const FLOPS = 2 * N * N * N;

const agent = new Agent({ keepAlive: true });

/**
 * POSTs a JSON body held as bytes and reads the whole answer: as text when `keep`, else only
 * counted (a client would decode the base64 from the bytes; making them a string here would time
 * this process's own work).
 */
function post(
  url: string,
  body: Buffer,
  keep = false,
): Promise<{ status: number; body: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": "application/json", "content-length": body.length };
    const req = request(url, { method: "POST", headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (keep || res.statusCode !== 200) chunks.push(chunk);
      });
      res.on("end", () =>
        resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), bytes }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

const base64 = (shape: number[], data: Float32Array) => ({
  shape,
  dtype: "float32",
  base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("base64"),
});

function uniform(length: number, seed: number): Float32Array {
  const data = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    seed = (seed * 48271) % 2147483647;
    data[i] = seed / 2147483647 - 0.5;
  }
  return data;
}

/** Median milliseconds of numpy's float32 1000³ product on `threads` threads, or null without numpy. */
function numpyMs(threads: number): number | null {
  const code = `
import json, time, numpy as np
a = np.random.default_rng(1).uniform(-1, 1, (${N}, ${N})).astype(np.float32)
b = np.random.default_rng(2).uniform(-1, 1, (${N}, ${N})).astype(np.float32)
a @ b
times = []
for _ in range(${REQUESTS}):
    t0 = time.perf_counter(); a @ b; times.append((time.perf_counter() - t0) * 1e3)
print(json.dumps(sorted(times)[len(times) // 2]))`;
  try {
    return Number(execFileSync("python3", ["-c", code], { env: numpyEnv(threads) }));
  } catch (error) {
    console.log(`numpy: not run (${(error as Error).message.split("\n")[0]})`);
    return null;
  }
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

/**
 * CPU milliseconds a process (all its threads) has used, from /proc: on a shared machine the time
 * a request takes moves with the load, the work it costs much less.
 */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const server = await startBenchServer({ LOG_LEVEL: "info" });
try {
  const W = uniform(N * N, 1);
  const x = uniform(N * N, 2);
  const body = Buffer.from(
    JSON.stringify({
      layers: [{ type: "affine", W: base64([N, N], W), b: base64([N], new Float32Array(N)) }],
      x: base64([N, N], x),
      outputEncoding: "base64",
    }),
  );
  const url = `${server.url}/v1/networks/forward`;
  // One answer checked against a product computed here, in float64, on a few elements.
  const first = await post(url, body, true);
  if (first.status !== 200) throw new Error(`forward answered ${first.status}: ${first.body}`);
  const out = Buffer.from(JSON.parse(first.body).out.base64, "base64");
  const values = new Float32Array(out.buffer, out.byteOffset, N * N);
  for (const [i, j] of [
    [0, 0],
    [517, 3],
    [999, 999],
  ]) {
    let sum = 0;
    for (let p = 0; p < N; p++) sum += x[i * N + p] * W[p * N + j];
    if (Math.abs(values[i * N + j] - sum) > 1e-3) throw new Error(`out[${i}, ${j}] is wrong`);
  }
  // The transport floor, interleaved with the service's requests so that both meet the same load.
  const echo = fork(new URL("echo-server.ts", import.meta.url).pathname, {
    execArgv: ["--import", "tsx", ...NODE_FLAGS],
    env: { ...process.env, ANSWER_BYTES: String(first.bytes) },
  });
  const echoUrl = `http://127.0.0.1:${await new Promise<number>((r) => echo.once("message", r))}/`;
  const times: number[] = [];
  const floorTimes: number[] = [];
  const serverCpu = cpuMs(server.pid);
  let clientCpuUs = 0;
  try {
    for (let i = 0; i < REQUESTS; i++) {
      const cpu = process.cpuUsage();
      const started = performance.now();
      const answer = await post(url, body);
      times.push(performance.now() - started);
      const { user, system } = process.cpuUsage(cpu);
      clientCpuUs += user + system;
      if (answer.status !== 200 || answer.bytes !== first.bytes)
        throw new Error(`forward answered ${answer.status}, ${answer.bytes} bytes`);
      const floorStarted = performance.now();
      const floor = await post(echoUrl, body);
      floorTimes.push(performance.now() - floorStarted);
      if (floor.bytes !== first.bytes)
        throw new Error(`the echo server answered ${floor.bytes} bytes`);
    }
  } finally {
    echo.kill();
  }
  const ours = median(times);
  const floorMs = median(floorTimes);
  const serverCpuMs = (cpuMs(server.pid) - serverCpu) / REQUESTS;
  const clientCpuMs = clientCpuUs / 1000 / REQUESTS;
  const numpy = numpyMs(1);
  const cores = availableParallelism();
  const numpyAllCores = cores > 1 && numpy !== null ? numpyMs(cores) : null;
  const gflops = (ms: number) => (FLOPS / ms / 1e6).toFixed(1);
  console.log(
    `\nfloat32 [${N}×${N}]·[${N}×${N}] through POST /v1/networks/forward, base64 in and out, ` +
      `${(body.length / 1e6).toFixed(1)} MB sent (median of ${REQUESTS})`,
  );
  console.log(`  service: ${ours.toFixed(1)} ms, ${gflops(ours)} GFLOP/s end to end`);
  console.log(
    `  CPU per request: server ${serverCpuMs.toFixed(1)} ms (every thread), this client ${clientCpuMs.toFixed(1)} ms`,
  );
  console.log(
    `  transport floor: ${floorMs.toFixed(1)} ms, a bare node:http server (bench/echo-server.ts) taking the same body and answering as many bytes`,
  );
  if (numpy !== null) {
    const ratio = numpy / ours;
    console.log(
      `  numpy:   ${numpy.toFixed(1)} ms, ${gflops(numpy)} GFLOP/s (the product alone, one thread: the target's baseline)`,
    );
    if (numpyAllCores !== null) {
      console.log(
        `  numpy on ${cores} threads: ${numpyAllCores.toFixed(1)} ms, ${gflops(numpyAllCores)} GFLOP/s; the service reaches ${(numpyAllCores / ours).toFixed(2)}× that (its large products use the second core too)`,
      );
    }
    console.log(
      `  floor + numpy's product: ${(floorMs + numpy).toFixed(1)} ms, ${(numpy / (floorMs + numpy)).toFixed(2)}× numpy for a server that answers after its product`,
    );
    console.log(
      `  ${ratio >= 0.4 ? "PASS" : "FAIL"} ${ratio.toFixed(2)}× numpy's GFLOP/s (at least 0.4×)`,
    );
  }
} finally {
  agent.destroy();
  await server.stop();
}
