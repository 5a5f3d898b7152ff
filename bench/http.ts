/**
 * `npm run bench:http`: autocannon against a server it starts. /v1/networks/forward of a
 * 784-50-10 network at batch 1 and 100, nested JSON and base64, beside /healthz — a constant
 * through the same Fastify stack (hooks, metrics, serializer): the framework's ceiling here.
 */
import autocannon from "autocannon";
import { postJson, startBenchServer } from "./server.js";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

/** A deterministic stand-in for data (no Math.random). */
function values(n: number, seed: number): number[] {
  const out = new Array<number>(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 2147483648;
  }
  return out;
}

function base64(shape: number[], data: number[]) {
  return {
    shape,
    dtype: "float32",
    base64: Buffer.from(Float32Array.from(data).buffer).toString("base64"),
  };
}

async function run(url: string, title: string, body?: string) {
  const result = await autocannon({
    url,
    method: body ? "POST" : "GET",
    headers: body ? { "content-type": "application/json" } : {},
    body,
    connections: CONNECTIONS,
    duration: DURATION,
  });
  const errors = result.errors + result.timeouts + result.non2xx;
  return {
    title,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
  };
}

const server = await startBenchServer();
try {
  const model = await postJson<{ id: string }>(`${server.url}/v1/models`, {
    seed: 1,
    architecture: {
      inputSize: 784,
      hiddenSizes: [50],
      outputSize: 10,
      activation: "relu",
      weightInit: "he",
    },
  });
  const exported = (await (
    await fetch(`${server.url}/v1/models/${model.id}/parameters`)
  ).json()) as object;
  const forward = `${server.url}/v1/networks/forward`;
  const rows: Awaited<ReturnType<typeof run>>[] = [];
  rows.push(await run(`${server.url}/healthz`, "GET /healthz (baseline)"));
  for (const batch of [1, 100]) {
    const x = values(batch * 784, batch);
    const nested = Array.from({ length: batch }, (_, i) => x.slice(i * 784, (i + 1) * 784));
    rows.push(
      await run(
        forward,
        `forward batch ${batch}, nested`,
        JSON.stringify({ ...exported, x: nested }),
      ),
    );
    rows.push(
      await run(
        forward,
        `forward batch ${batch}, base64`,
        JSON.stringify({ ...exported, x: base64([batch, 784], x) }),
      ),
    );
  }
  const baseline = rows[0].rps;
  console.log(`\n${CONNECTIONS} connections, ${DURATION} s each\n`);
  console.log("| route | req/s | p50 ms | p99 ms | share of baseline | errors |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const r of rows) {
    console.log(
      `| ${r.title} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.rps / baseline).toFixed(3)} | ${r.errors} |`,
    );
  }
} finally {
  await server.stop();
}
