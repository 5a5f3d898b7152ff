/**
 * `npm run bench:export`: how long /healthz takes to answer while the server exports the largest
 * model it accepts (MAX_MODEL_PARAMETERS in float64), in each encoding of
 * GET /v1/models/{id}/parameters and as ONNX. A client reads the export to its end while another
 * asks /healthz again and again; latencies of every probe of every round are pooled into
 * p50/p99, and the baseline is the same probe against the idle server in the same run.
 *
 * BENCH_SERVER_ENTRY=<file> runs another build of the server (e.g. a copy of dist/ made before a
 * change) for a before/after comparison on the same machine.
 */
import { postJson, startBenchServer } from "./server.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IDLE_PROBES = 200;

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs: number[]) => quantile(xs, 0.5);

async function probe(url: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(`${url}/healthz`);
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`/healthz answered ${res.status}`);
  return performance.now() - start;
}

/** Reads `path` to its end while probing /healthz back to back; the probes' latencies in ms. */
async function duringExport(url: string, path: string) {
  const latencies: number[] = [];
  let done = false;
  const start = performance.now();
  const exporting = (async () => {
    const res = await fetch(`${url}${path}`);
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
    let bytes = 0;
    const reader = res.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
    }
    done = true;
    return { bytes, ms: performance.now() - start };
  })();
  exporting.catch(() => {
    done = true;
  });
  while (!done) latencies.push(await probe(url));
  return { ...(await exporting), latencies };
}

const entry = process.env.BENCH_SERVER_ENTRY;
const server = await startBenchServer({}, entry ? { entry } : {});
try {
  // The largest model the defaults accept: 2048·2048 + 2048 + 2048·2046 + 2046 = 8,388,606
  // parameters, each W within MAX_TENSOR_ELEMENTS.
  const model = await postJson<{ id: string; parameterCount: number }>(`${server.url}/v1/models`, {
    dtype: "float64",
    seed: 1,
    architecture: {
      inputSize: 2048,
      hiddenSizes: [2048],
      outputSize: 2046,
      activation: "relu",
      weightInit: "he",
    },
  });
  const idle: number[] = [];
  for (let i = 0; i < IDLE_PROBES; i++) idle.push(await probe(server.url));
  console.log(
    `${entry ?? "dist/server.js"}: model of ${model.parameterCount} float64 parameters, ${ROUNDS} rounds per export`,
  );
  console.log(
    `  idle /healthz: p50 ${median(idle).toFixed(2)} ms, p99 ${quantile(idle, 0.99).toFixed(2)} ms`,
  );
  const exports: Record<string, string> = {
    nested: `/v1/models/${model.id}/parameters?encoding=nested`,
    flat: `/v1/models/${model.id}/parameters?encoding=flat`,
    base64: `/v1/models/${model.id}/parameters?encoding=base64`,
    onnx: `/v1/models/${model.id}/onnx`,
  };
  console.log(
    "  export   body MB  export s (median)  probes  /healthz p50 ms  p99 ms  max ms  p99/idle p99",
  );
  for (const [name, path] of Object.entries(exports)) {
    const latencies: number[] = [];
    const times: number[] = [];
    let bytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const run = await duringExport(server.url, path);
      latencies.push(...run.latencies);
      times.push(run.ms / 1e3);
      bytes = run.bytes;
    }
    const p99 = quantile(latencies, 0.99);
    console.log(
      `  ${name.padEnd(7)} ${(bytes / 1e6).toFixed(1).padStart(8)} ${median(times).toFixed(2).padStart(18)} ${String(latencies.length).padStart(7)} ${median(latencies).toFixed(2).padStart(16)} ${p99.toFixed(1).padStart(7)} ${Math.max(
        ...latencies,
      )
        .toFixed(1)
        .padStart(7)} ${(p99 / quantile(idle, 0.99)).toFixed(1).padStart(13)}×`,
    );
  }
} finally {
  await server.stop();
}
