/**
 * `npm run bench:mnist`: the book's TwoLayerNet run through the API (784-50-10 ReLU, weightInit
 * 0.01, SGD lr 0.1, batch 100, 10000 iterations, full train and test evaluated every 600, seed 1)
 * on a fresh server, timed from POST to its `succeeded` event (followed as a client follows it),
 * beside the book's own numpy run in the same process tree; then He + Adam and He + Momentum for the same 10000 iterations. The server reads
 * MNIST before the clock starts, as numpy's run does.
 */
import { execFileSync } from "node:child_process";
import { mnistDataDir } from "../src/datasets/mnist.js";
import type { JobStatus } from "../src/store/repository.js";
import { isFinished } from "../src/training/job-events.js";
import { twoLayerNet } from "./fixtures.js";
import { follow } from "./job-events.js";
import { numpyEnv } from "./numpy.js";
import { postJson, startBenchServer } from "./server.js";

interface Job {
  id: string;
  status: string;
  history: { iteration: number; trainAccuracy?: number; validationAccuracy?: number }[];
  error?: unknown;
}

async function train(url: string, weightInit: "he" | number, optimizer: Record<string, unknown>) {
  const started = performance.now();
  const job = await postJson<Job>(`${url}/v1/training-jobs`, {
    model: twoLayerNet(1, weightInit),
    data: { dataset: { name: "mnist", split: "train" } },
    validation: { dataset: { name: "mnist", split: "test" } },
    optimizer,
    batchSize: 100,
    iterations: 10000,
    evaluateEvery: 600,
    trainEvaluationSamples: 60000,
    seed: 1,
  });
  // Until the job's last status: when a client following it learns it ended.
  await follow(
    url,
    job.id,
    (e) => e.event === "status" && isFinished(e.data as { status: JobStatus }),
  );
  const seconds = (performance.now() - started) / 1000;
  const state = (await (await fetch(`${url}/v1/training-jobs/${job.id}`)).json()) as Job;
  if (state.status !== "succeeded")
    throw new Error(`job ${state.status}: ${JSON.stringify(state.error)}`);
  const last = state.history[state.history.length - 1];
  return {
    seconds,
    train: last.trainAccuracy!,
    test: last.validationAccuracy!,
    itPerSec: 10000 / seconds,
  };
}

function numpyBaseline(): { seconds: number; trainAccuracy: number; testAccuracy: number } | null {
  try {
    const out = execFileSync(
      "python3",
      [new URL("two_layer_net.py", import.meta.url).pathname, mnistDataDir()],
      { env: numpyEnv() },
    );
    return JSON.parse(out.toString());
  } catch (error) {
    console.log(`numpy baseline unavailable: ${(error as Error).message.split("\n")[0]}`);
    return null;
  }
}

const fmt = (v: number, d = 4) => v.toFixed(d);
/** Reads both splits into the server's memory (once per process), outside the timed runs. */
async function loadSplits(url: string): Promise<void> {
  for (const split of ["train", "test"]) {
    const res = await fetch(`${url}/v1/datasets/mnist/samples?split=${split}&offset=0&limit=1`);
    if (!res.ok) throw new Error(`MNIST ${split}: ${res.status} ${await res.text()}`);
  }
}

const server = await startBenchServer();
try {
  await loadSplits(server.url);
  const numpy = numpyBaseline();
  const book = await train(server.url, 0.01, { type: "sgd", lr: 0.1 });
  console.log(
    "\nbook's TwoLayerNet (784-50-10 ReLU, std 0.01, SGD lr 0.1, batch 100, 10000 it, eval every 600)",
  );
  console.log(
    `  service: ${fmt(book.seconds, 2)} s POST→succeeded, ${fmt(book.itPerSec, 0)} it/s, train ${fmt(book.train)}, test ${fmt(book.test)}`,
  );
  if (numpy) {
    console.log(
      `  numpy:   ${fmt(numpy.seconds, 2)} s, train ${fmt(numpy.trainAccuracy)}, test ${fmt(numpy.testAccuracy)}`,
    );
    const ratio = book.seconds / numpy.seconds;
    const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
    console.log(`  ratio:   ${fmt(ratio, 2)}× numpy's wall time`);
    console.log(`  ${verdict(book.test >= 0.965)} test accuracy ≥ 0.965 (issue #4)`);
    console.log(`  ${verdict(ratio <= 2.5)} wall time ≤ 2.5× numpy (issue #4)`);
    console.log(`  ${verdict(ratio <= 1)} wall time ≤ 1.0× numpy (issue #5)`);
    console.log(`  ${verdict(ratio <= 0.6)} wall time ≤ 0.6× numpy (issue #16, the openblas path)`);
  }
  for (const [label, optimizer] of [
    ["He + Adam lr 0.001", { type: "adam", lr: 0.001 }],
    ["He + Momentum lr 0.1", { type: "momentum", lr: 0.1 }],
  ] as const) {
    const run = await train(server.url, "he", optimizer);
    console.log(
      `${label}: ${fmt(run.seconds, 2)} s, train ${fmt(run.train)}, test ${fmt(run.test)}`,
    );
  }
} finally {
  await server.stop();
}
