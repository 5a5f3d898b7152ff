/**
 * `npm run bench:replicas`: the service as replicas on PostgreSQL and Redis (private servers
 * started here on loopback, as the tests start them), measured four ways, each median of a few:
 * - takeover: from SIGKILL of the replica training a job to the job training again on another
 *   (the new runner's first progress event, read on the survivor's event stream);
 * - event latency: how old a progress event is when a client of another replica reads it;
 * - model write and read latency, PostgreSQL against the embedded SQLite, in the same run;
 * - predict throughput through one replica and through two at once.
 */
import autocannon from "autocannon";
import { startPostgres } from "../test/helpers/postgres-server.js";
import { startRedis } from "../test/helpers/redis.js";
import { pixels, twoLayerNet } from "./fixtures.js";
import { follow } from "./job-events.js";
import { type BenchServer, postJson, startBenchServer } from "./server.js";

const TAKEOVER_S = Number(process.env.BENCH_TAKEOVER_S ?? 10);
const TRIALS = Number(process.env.BENCH_TRIALS ?? 3);
const MODEL_OPS = 40;
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 10);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** A job that trains until it is cancelled. */
const endlessJob = {
  model: twoLayerNet(1),
  data: { dataset: { name: "mnist", split: "train", limit: 2000 } },
  optimizer: { type: "sgd", lr: 0.1 },
  batchSize: 100,
  iterations: 1_000_000,
  evaluateEvery: 1_000_000,
};

async function untilRunning(url: string, id: string) {
  for (;;) {
    const job = (await (await fetch(`${url}/v1/training-jobs/${id}`)).json()) as {
      status: string;
      progress: { iteration: number };
    };
    if (job.status === "running" && job.progress.iteration > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cancel = (url: string, id: string) =>
  fetch(`${url}/v1/training-jobs/${id}/cancel`, { method: "POST" });

async function takeover(env: Record<string, string>): Promise<number> {
  const doomed = await startBenchServer(env);
  const { id } = await postJson<{ id: string }>(`${doomed.url}/v1/training-jobs`, endlessJob);
  await untilRunning(doomed.url, id);
  const survivor = await startBenchServer(env);
  let killedAt = Number.POSITIVE_INFINITY;
  let restarted = false;
  let streaming: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    streaming = resolve;
  });
  const resumed = new Promise<number>((resolve) => {
    void follow(survivor.url, id, (e) => {
      streaming();
      if (e.receivedAt < killedAt) return;
      // The new runner says the job runs again (from its checkpoint), then reports progress.
      if (e.event === "status" && e.data.status === "running") restarted = true;
      else if (restarted && e.event === "progress") {
        resolve(e.receivedAt - killedAt);
        return true;
      }
    });
  });
  // The stream is open (it has had its first event) before the kill.
  await opened;
  killedAt = Date.now();
  await doomed.kill();
  const elapsed = await resumed;
  await cancel(survivor.url, id);
  await survivor.stop();
  return elapsed;
}

async function eventAges(env: Record<string, string>): Promise<number[]> {
  const trainer = await startBenchServer(env);
  const { id } = await postJson<{ id: string }>(`${trainer.url}/v1/training-jobs`, endlessJob);
  await untilRunning(trainer.url, id);
  const reader = await startBenchServer(env);
  const ages: number[] = [];
  await follow(reader.url, id, (e) => {
    if (e.event !== "progress" || typeof e.data.at !== "string") return;
    ages.push(e.receivedAt - Date.parse(e.data.at));
    return ages.length >= 40;
  });
  await cancel(reader.url, id);
  await Promise.all([trainer.stop(), reader.stop()]);
  return ages;
}

/** Writes and reads a 784-50-10 model (base64 parameters) `MODEL_OPS` times each. */
async function modelLatency(server: BenchServer) {
  const made = await postJson<{ id: string }>(`${server.url}/v1/models`, twoLayerNet(2));
  const { layers } = (await (
    await fetch(`${server.url}/v1/models/${made.id}/parameters?encoding=base64`)
  ).json()) as { layers: unknown[] };
  const writes: number[] = [];
  const reads: number[] = [];
  for (let i = 0; i < MODEL_OPS; i++) {
    let t = performance.now();
    const copy = await postJson<{ id: string }>(`${server.url}/v1/models`, { layers });
    writes.push(performance.now() - t);
    t = performance.now();
    const res = await fetch(`${server.url}/v1/models/${copy.id}/parameters?encoding=base64`);
    await res.arrayBuffer();
    reads.push(performance.now() - t);
  }
  return { write: median(writes), read: median(reads) };
}

async function predictRps(urls: string[], modelId: string): Promise<number> {
  const x = [pixels(784, 3)];
  const results = await Promise.all(
    urls.map((url) =>
      autocannon({
        url: `${url}/v1/models/${modelId}/predict`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ x }),
        connections: 16 / urls.length,
        duration: LOAD_SECONDS,
      }),
    ),
  );
  for (const r of results) {
    if (r.errors || r.non2xx)
      throw new Error(`predict load: ${r.errors} errors, ${r.non2xx} non-2xx`);
  }
  return results.reduce((sum, r) => sum + r.requests.average, 0);
}

const [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
const env = {
  DATABASE_URL: await pg.createDatabase(),
  REDIS_URL: redis.url,
  JOB_TAKEOVER_S: String(TAKEOVER_S),
  POOL_THREADS: "1",
  CHECKPOINT_INTERVAL_MS: "1000",
};
try {
  const takeovers: number[] = [];
  for (let i = 0; i < TRIALS; i++) takeovers.push(await takeover(env));
  console.log(
    `takeover after SIGKILL (JOB_TAKEOVER_S=${TAKEOVER_S}): median ${ms(median(takeovers))} (${takeovers.map(ms).join(", ")})`,
  );

  const ages = await eventAges(env);
  console.log(
    `progress event age read on another replica: median ${ms(median(ages))}, max ${ms(Math.max(...ages))} (${ages.length} events)`,
  );

  const embedded = await startBenchServer({ POOL_THREADS: "1" });
  const replica = await startBenchServer(env);
  const rows: string[] = [];
  for (let i = 0; i < TRIALS; i++) {
    const sqlite = await modelLatency(embedded);
    const postgres = await modelLatency(replica);
    rows.push(
      `| ${i + 1} | ${ms(sqlite.write)} | ${ms(postgres.write)} | ${(postgres.write / sqlite.write).toFixed(2)}× | ${ms(sqlite.read)} | ${ms(postgres.read)} | ${(postgres.read / sqlite.read).toFixed(2)}× |`,
    );
  }
  console.log(
    "\n| run | SQLite write | PostgreSQL write | ratio | SQLite read | PostgreSQL read | ratio |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) console.log(row);
  await embedded.stop();

  const second = await startBenchServer(env);
  const model = await postJson<{ id: string }>(`${replica.url}/v1/models`, twoLayerNet(4));
  const one: number[] = [];
  const two: number[] = [];
  for (let i = 0; i < TRIALS; i++) {
    one.push(await predictRps([replica.url], model.id));
    two.push(await predictRps([replica.url, second.url], model.id));
  }
  console.log(
    `\npredict at batch 1, 16 connections: one replica ${median(one).toFixed(0)} req/s, two ${median(two).toFixed(0)} req/s (${(median(two) / median(one)).toFixed(2)}×)`,
  );
  await Promise.all([replica.stop(), second.stop()]);
} finally {
  await Promise.all([pg.destroy(), redis.close()]);
}
