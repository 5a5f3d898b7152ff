/**
 * `npm run bench:http`: autocannon against a server it starts. /v1/networks/forward of a
 * 784-50-10 network at batch 1 and 100, nested JSON and base64 (parameters and x alike), beside
 * /healthz — a constant through the same Fastify stack (hooks, metrics, serializer): the
 * framework's ceiling here. Then one request at a time at batch 1000, nested against base64,
 * interleaved: the end-to-end latency ratio of issue #5's target (base64 at least 10× faster).
 * Last, a model's answers for x [1000, 784], one at a time and interleaved: /v1 predict in nested
 * JSON and base64 beside Open Inference Protocol /v2 infer in JSON and binary (issue 15's targets:
 * binary within 1.2× of base64, and at least 10× faster than /v2 JSON). BENCH_AUTOCANNON=0 skips
 * the autocannon rows.
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

const JSON_BODY = { "content-type": "application/json" };

/** POSTs a body with these headers (JSON's by default) and reads the whole answer; its status. */
function post(
  url: string,
  body: Buffer,
  given: Record<string, string> = JSON_BODY,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { ...given, "content-length": body.length };
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
  const autocannonRows = process.env.BENCH_AUTOCANNON !== "0";
  rows.push(await run(`${server.url}/healthz`, "GET /healthz (baseline)"));
  for (const batch of autocannonRows ? [1, 100] : []) {
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
  await inference(model.id, median);
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

/** A model's answer for x [1000, 784] through /v1 predict and /v2 infer, one request at a time. */
async function inference(id: string, median: (v: number[]) => number) {
  const x = pixels(1000 * 784, 1000);
  const rows = Array.from({ length: 1000 }, (_, i) => x.slice(i * 784, (i + 1) * 784));
  const oipInput = { name: "x", shape: [1000, 784], datatype: "FP32" };
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ ...oipInput, parameters: { binary_data_size: 1000 * 784 * 4 } }],
      parameters: { binary_data_output: true },
    }),
  );
  const cases = {
    "/v1 predict, nested JSON": {
      url: `${server.url}/v1/models/${id}/predict`,
      body: Buffer.from(JSON.stringify({ x: rows })),
      headers: JSON_BODY,
    },
    "/v1 predict, base64": {
      url: `${server.url}/v1/models/${id}/predict`,
      body: Buffer.from(JSON.stringify({ x: base64([1000, 784], x) })),
      headers: JSON_BODY,
    },
    "/v2 infer, JSON": {
      url: `${server.url}/v2/models/${id}/infer`,
      body: Buffer.from(JSON.stringify({ inputs: [{ ...oipInput, data: x }] })),
      headers: JSON_BODY,
    },
    // As tritonclient.http sends it: no content type, the header's length, the raw bytes.
    "/v2 infer, binary": {
      url: `${server.url}/v2/models/${id}/infer`,
      body: Buffer.concat([header, Buffer.from(Float32Array.from(x).buffer)]),
      headers: { "inference-header-content-length": String(header.length) },
    },
  };
  type Name = keyof typeof cases;
  const names = Object.keys(cases) as Name[];
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<Name, number[]>;
  for (let i = 0; i < 15; i++) {
    for (const name of names) {
      const { url, body, headers } = cases[name];
      const started = performance.now();
      const status = await post(url, body, headers);
      if (status !== 200) throw new Error(`${name} answered ${status}`);
      times[name].push(performance.now() - started);
    }
  }
  const ms = Object.fromEntries(names.map((n) => [n, median(times[n].slice(3))])) as Record<
    Name,
    number
  >;
  console.log(
    "\nmodel answers for x [1000, 784] (784-50-10), one request at a time (median of 12):\n",
  );
  console.log("| request | ms | body MB |");
  console.log("|---|---:|---:|");
  for (const name of names) {
    console.log(
      `| ${name} | ${ms[name].toFixed(1)} | ${(cases[name].body.length / 1e6).toFixed(1)} |`,
    );
  }
  const binary = ms["/v2 infer, binary"];
  const toBase64 = binary / ms["/v1 predict, base64"];
  const overJson = ms["/v2 infer, JSON"] / binary;
  console.log(
    `  /v2 binary / /v1 base64 = ${toBase64.toFixed(2)}×: ${toBase64 <= 1.2 ? "PASS" : "FAIL"} (target ≤ 1.2×)`,
  );
  console.log(
    `  /v2 JSON / /v2 binary = ${overJson.toFixed(1)}×: ${overJson >= 10 ? "PASS" : "FAIL"} (target ≥ 10×)`,
  );
}
