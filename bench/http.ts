/**
 * `npm run bench:http`: autocannon against a server it starts. /v1/networks/forward of a
 * 784-50-10 network at batch 1 and 100, nested JSON and base64 (parameters and x alike), beside
 * /healthz — a constant through the same Fastify stack (hooks, metrics, serializer): the
 * framework's ceiling here. Then one request at a time at batch 1000, nested against base64,
 * interleaved: the end-to-end latency ratio of issue #5's target (base64 at least 10× faster).
 */
import { Agent, request } from "node:http";
import autocannon from "autocannon";
import { pixels, twoLayerNet } from "./fixtures.js";
import { postJson, startBenchServer } from "./server.js";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);

function base64(shape: number[], data: number[]) {
  return {
    shape,
    dtype: "float32",
    base64: Buffer.from(Float32Array.from(data).buffer).toString("base64"),
  };
}

const agent = new Agent({ keepAlive: true });

/** POSTs a JSON body and reads the whole answer; resolves to its status. */
function post(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { "content-type": "application/json", "content-length": body.length };
    const req = request(url, { method: "POST", headers, agent }, (res) => {
      res.on("data", () => {});
      res.on("end", () => resolve(res.statusCode!));
    });
    req.on("error", reject);
    req.end(body);
  });
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

// One client address sends everything here; the per-tenant limit is not what is measured.
const server = await startBenchServer({ RATE_LIMIT_PER_MINUTE: "1000000000" });
try {
  const model = await postJson<{ id: string }>(`${server.url}/v1/models`, twoLayerNet(1));
  const parameters = async (encoding: string) =>
    (await (
      await fetch(`${server.url}/v1/models/${model.id}/parameters?encoding=${encoding}`)
    ).json()) as object;
  const exported = { nested: await parameters("nested"), base64: await parameters("base64") };
  const body = (encoding: "nested" | "base64", batch: number) => {
    const x = pixels(batch * 784, batch);
    const tensor =
      encoding === "base64"
        ? base64([batch, 784], x)
        : Array.from({ length: batch }, (_, i) => x.slice(i * 784, (i + 1) * 784));
    return JSON.stringify({ ...exported[encoding], x: tensor });
  };
  const forward = `${server.url}/v1/networks/forward`;
  const rows: Awaited<ReturnType<typeof run>>[] = [];
  rows.push(await run(`${server.url}/healthz`, "GET /healthz (baseline)"));
  for (const batch of [1, 100]) {
    for (const encoding of ["nested", "base64"] as const) {
      rows.push(await run(forward, `forward batch ${batch}, ${encoding}`, body(encoding, batch)));
    }
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

  // One request at a time, the two encodings interleaved so that noise hits both alike. Like
  // autocannon above, the client sends bodies it holds as bytes (node:http): turning a JSON string
  // into UTF-8 is the client's work, and here costs more than the whole base64 request (about
  // 7 ms for 4.4 MB through node:http or fetch, and 25 ms for 15.6 MB).
  const large = {
    nested: Buffer.from(body("nested", 1000)),
    base64: Buffer.from(body("base64", 1000)),
  };
  const times: Record<"nested" | "base64", number[]> = { nested: [], base64: [] };
  for (let i = 0; i < 15; i++) {
    for (const encoding of ["nested", "base64"] as const) {
      const started = performance.now();
      const status = await post(forward, large[encoding]);
      if (status !== 200) throw new Error(`forward ${encoding} answered ${status}`);
      times[encoding].push(performance.now() - started);
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const nested = median(times.nested.slice(3));
  const b64 = median(times.base64.slice(3));
  const ratio = nested / b64;
  console.log(
    `\nforward of x [1000, 784] through 784-50-10, one request at a time (median of 12):`,
  );
  console.log(
    `  nested JSON ${nested.toFixed(1)} ms (${(large.nested.length / 1e6).toFixed(1)} MB)`,
  );
  console.log(`  base64      ${b64.toFixed(1)} ms (${(large.base64.length / 1e6).toFixed(1)} MB)`);
  console.log(
    `  base64 is ${ratio.toFixed(1)}× faster: ${ratio >= 10 ? "PASS" : "FAIL"} (target ≥ 10×)`,
  );
} finally {
  agent.destroy();
  await server.stop();
}
