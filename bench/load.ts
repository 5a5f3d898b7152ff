/**
 * `npm run load`: a mixed load against a server it starts — predict at batch 1 and 10,
 * /v1/networks/forward and /backward with a model's exported parameters, model reads — while an
 * MNIST training job runs throughout. Short probes step the connection count up (1, 2, 4, ...);
 * the highest whose p99 stays under P99_BUDGET_MS is then held for LOAD_SECONDS (60), and where
 * the hold's p99 does not stay under it, the next level down is held instead (not in the soak,
 * which holds its first level for 10 minutes whatever its p99). Reports
 * requests/s, p50/p99, errors, timeouts and 5xx, and the server's RSS before and after the hold.
 *
 * Exits 1 on any error, timeout or 5xx while holding, or on anything but a 503 (a full queue) in a
 * probe past capacity. `npm run load:soak` (LOAD_SOAK=1) holds for 10 minutes and also fails when
 * the RSS grows by more than 100 MB.
 */
import { readFileSync } from "node:fs";
import autocannon from "autocannon";
import { pixels, twoLayerNet } from "./fixtures.js";
import { postJson, startBenchServer } from "./server.js";

const SOAK = process.env.LOAD_SOAK === "1";
const HOLD_SECONDS = Number(process.env.LOAD_SECONDS ?? (SOAK ? 600 : 60));
const PROBE_SECONDS = Number(process.env.LOAD_PROBE_SECONDS ?? 5);
const P99_BUDGET_MS = 250;
const RSS_GROWTH_BUDGET_MB = 100;
const LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

const rows = (batch: number, seed: number) => {
  const x = pixels(batch * 784, seed);
  return Array.from({ length: batch }, (_, i) => x.slice(i * 784, (i + 1) * 784));
};

/** The server's resident set (main thread, pool workers and training worker), from /proc. */
function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  return kb / 1024;
}

interface Outcome {
  connections: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  timeouts: number;
  /** Every 5xx, 503 included. */
  status5xx: number;
  status503: number;
  /** Answers that are neither 2xx nor 5xx (a 4xx means the load itself is wrong). */
  otherNon2xx: number;
}

function summarise(connections: number, result: autocannon.Result): Outcome {
  const status503 = result.statusCodeStats?.["503"]?.count ?? 0;
  return {
    connections,
    seconds: result.duration,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    status5xx: result["5xx"],
    status503,
    otherNon2xx: result.non2xx - result["5xx"],
  };
}

/** Within the budget and flawless: a level the service holds. */
const fits = (o: Outcome) =>
  o.p99 < P99_BUDGET_MS && o.errors + o.timeouts + o.status5xx + o.otherNon2xx === 0;

/** Past capacity a full queue may answer 503; nothing else may go wrong. */
const broken = (o: Outcome) =>
  o.errors + o.timeouts + o.otherNon2xx + (o.status5xx - o.status503) > 0;

function row(label: string, o: Outcome): string {
  return `| ${label} | ${o.connections} | ${o.seconds} | ${o.rps.toFixed(0)} | ${o.p50} | ${o.p99} | ${o.requests} | ${o.errors} | ${o.timeouts} | ${o.status5xx} (503: ${o.status503}) |`;
}

const server = await startBenchServer({
  // One client address sends everything here; the per-tenant limit is not what is measured.
  RATE_LIMIT_PER_MINUTE: "1000000000",
  LOG_LEVEL: "warn",
});
let failed = false;
try {
  const url = server.url;
  const startRss = rssMb(server.pid);

  // The training job first, so it competes for the cores throughout.
  const job = await postJson<{ id: string }>(`${url}/v1/training-jobs`, {
    model: twoLayerNet(1),
    data: { dataset: { name: "mnist", split: "train" } },
    validation: { dataset: { name: "mnist", split: "test", limit: 1000 } },
    optimizer: { type: "sgd", lr: 0.1 },
    batchSize: 100,
    iterations: 1_000_000,
    evaluateEvery: 2_000,
    seed: 1,
  });

  const model = await postJson<{ id: string }>(`${url}/v1/models`, {
    name: "load",
    ...twoLayerNet(2),
  });
  // base64 parameters: the body the API hands out, and a tenth of nested JSON's bytes to parse.
  const exported = (await (
    await fetch(`${url}/v1/models/${model.id}/parameters?encoding=base64`)
  ).json()) as { layers: unknown[] };
  const json = { "content-type": "application/json" };
  const post = (path: string, body: unknown) => ({
    method: "POST" as const,
    path,
    headers: json,
    body: JSON.stringify(body),
  });
  const batch10 = rows(10, 10);
  const labels10 = Array.from({ length: 10 }, (_, i) => i);
  const requests: autocannon.Request[] = [
    post(`/v1/models/${model.id}/predict`, { x: rows(1, 1)[0] }),
    post(`/v1/models/${model.id}/predict`, { x: batch10 }),
    post("/v1/networks/forward", { layers: exported.layers, x: batch10 }),
    post("/v1/networks/backward", { layers: exported.layers, x: batch10, t: labels10 }),
    { method: "GET", path: `/v1/models/${model.id}` },
    { method: "GET", path: "/v1/models?limit=20" },
  ];
  const load = async (connections: number, seconds: number) =>
    summarise(
      connections,
      await autocannon({ url, connections, duration: seconds, timeout: 10, requests }),
    );

  console.log(
    `mixed load: ${requests.length} requests per round (predict ×1 and ×10, forward, backward, ` +
      `GET model, list), p99 budget ${P99_BUDGET_MS} ms, training job ${job.id} running`,
  );
  console.log(
    "\n| run | connections | s | req/s | p50 ms | p99 ms | requests | errors | timeouts | 5xx |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
  await load(2, 2); // warm-up: JIT, pool threads, the first SQLite reads

  const fitting: number[] = [];
  for (const connections of LEVELS) {
    const probe = await load(connections, PROBE_SECONDS);
    console.log(row("probe", probe));
    if (broken(probe)) failed = true;
    if (!fits(probe)) break;
    fitting.push(connections);
  }
  if (fitting.length === 0) {
    console.log(`\nno level of ${LEVELS[0]}+ connections keeps p99 under ${P99_BUDGET_MS} ms`);
    failed = true;
  } else {
    // A short probe can fit where the whole hold does not: then hold one level lower, and so on.
    const before = rssMb(server.pid);
    let hold = await load(fitting.pop()!, HOLD_SECONDS);
    console.log(row("hold", hold));
    while (!fits(hold) && fitting.length > 0 && !SOAK) {
      hold = await load(fitting.pop()!, HOLD_SECONDS);
      console.log(row("hold", hold));
    }
    const after = rssMb(server.pid);
    const trained = (await (await fetch(`${url}/v1/training-jobs/${job.id}`)).json()) as {
      status: string;
      progress: { iteration: number };
      samplesPerSecond?: number;
    };
    const growth = after - before;
    console.log(`
held ${hold.connections} connections for ${hold.seconds} s:
  ${hold.rps.toFixed(0)} req/s, p50 ${hold.p50} ms, p99 ${hold.p99} ms (budget ${P99_BUDGET_MS} ms)
  errors ${hold.errors}, timeouts ${hold.timeouts}, 5xx ${hold.status5xx} (503: ${hold.status503}), other non-2xx ${hold.otherNon2xx}
  server RSS: ${startRss.toFixed(0)} MB at start, ${before.toFixed(0)} MB before the hold, ${after.toFixed(0)} MB after (growth ${growth.toFixed(1)} MB)
  training job: ${trained.status} at iteration ${trained.progress.iteration}, ${trained.samplesPerSecond?.toFixed(0) ?? "?"} samples/s`);
    if (hold.errors + hold.timeouts + hold.status5xx + hold.otherNon2xx > 0) failed = true;
    if (hold.p99 >= P99_BUDGET_MS) console.log(`  warning: the hold's p99 passed the budget`);
    if (trained.status !== "running") {
      console.log("  the training job did not run throughout");
      failed = true;
    }
    if (SOAK && growth > RSS_GROWTH_BUDGET_MB) {
      console.log(`  RSS grew by more than ${RSS_GROWTH_BUDGET_MB} MB`);
      failed = true;
    }
  }
  await postJson(`${url}/v1/training-jobs/${job.id}/cancel`, {});
} finally {
  await server.stop();
}
if (failed) {
  console.log("\nFAILED");
  process.exit(1);
}
