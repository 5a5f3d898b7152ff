import { once } from "node:events";
import { serialize } from "node:v8";
import {
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Backend } from "../../src/core/backend.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { runTraining } from "../../src/pool/training-run.js";
import { CONTROL, type TrainingMessage, type TrainingTask } from "../../src/pool/training-tasks.js";
import type { Checkpoint } from "../../src/training/checkpoint.js";
import { affineSpec, mulberry32 } from "../core/helpers.js";

const random = mulberry32(21);
const layers: LayerSpec[] = [
  affineSpec(6, 5, random, 0.5),
  { type: "relu" },
  affineSpec(5, 3, random, 0.5),
  { type: "softmaxWithLoss" },
];
const count = 40;
const data = {
  x: Float64Array.from({ length: count * 6 }, () => random() - 0.5),
  labels: Array.from({ length: count }, (_, i) => i % 3),
  count,
  inputSize: 6,
};

/** Runs a job on this thread and collects what it reports. */
function train(iterations: number, evaluateEvery: number, checkpoint?: Checkpoint) {
  const { port1, port2 } = new MessageChannel();
  const result = runTraining(
    job(port2, iterations, evaluateEvery, checkpoint),
    Backend.typescript(),
    () => undefined,
  );
  const messages: TrainingMessage[] = [];
  for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) {
    messages.push(m.message);
  }
  port1.close();
  return { result, ...reported(messages) };
}

function reported(messages: TrainingMessage[]) {
  const checkpoints = messages.flatMap((m) => (m.type === "checkpoint" ? [m.checkpoint] : []));
  const entries = messages.flatMap((m) => (m.type === "evaluation" ? [m.entry] : []));
  return { checkpoints, entries };
}

function job(
  port: MessagePort,
  iterations: number,
  evaluateEvery: number,
  checkpoint?: Checkpoint,
  evaluateInPool = false,
): TrainingTask {
  return {
    jobId: "job",
    dtype: "float64",
    layers,
    optimizer: { type: "adam", lr: 0.01 },
    batchSize: 8,
    iterations,
    weightDecay: 0,
    evaluateEvery,
    trainEvaluationSamples: 20,
    seed: 7,
    data,
    validation: data,
    checkpoint,
    checkpointEveryMs: 1e9,
    progressEveryMs: 1e9,
    port,
    control: new Int32Array(new SharedArrayBuffer(4)).fill(CONTROL.run),
    evaluateInPool,
  };
}

/**
 * The main thread's side of a job that evaluates in the pool, on a thread of its own (this one is
 * the job's, blocked while it runs): it answers evaluation n with trainLoss n, and holds the first
 * answer back until a second evaluation is asked for (or 30 s have passed, so a thread that waits
 * for it fails the test instead of hanging). validationLoss is how many had been asked for when
 * the answer went. It keeps every other message, and hands them over at "done" (sent after the
 * job's last message, on the same port, so it comes after them).
 */
const POOL_SIDE = `
const { workerData, parentPort } = require("node:worker_threads");
const { port } = workerData;
const kept = [];
const waiting = [];
let asked = 0;
let timer;
const answer = () => {
  clearTimeout(timer);
  for (const n of waiting.splice(0)) {
    port.postMessage({ trainLoss: n, trainAccuracy: 0.5, validationLoss: asked, validationAccuracy: 0.25 });
  }
};
port.on("message", (m) => {
  if (m.type === "done") {
    parentPort.postMessage(kept);
    return port.close();
  }
  if (m.type !== "evaluate") return kept.push(m);
  waiting.push(++asked);
  if (asked === 1) timer = setTimeout(answer, 30000);
  else answer();
});
`;

describe("a training run", () => {
  it("checkpoints what resuming needs, the same size after 1 evaluation as after 30", () => {
    const { checkpoints, entries } = train(60, 2);
    expect(entries).toHaveLength(30);
    expect(checkpoints).toHaveLength(30);
    // Only the numbers' encodings vary (a varint iteration, a null or numeric spare normal),
    // where 29 more history entries would add kilobytes.
    const sizes = checkpoints.map((c) => serialize(c).byteLength);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(16);
    expect(Object.keys(checkpoints[0]).sort()).toEqual(
      ["iteration", "jobId", "kernels", "loss", "optimizerState", "parameters", "rngState"].sort(),
    );
  });

  it("reports at each evaluation the dataset losses beside the accuracies", () => {
    const { entries } = train(4, 2);
    for (const entry of entries) {
      expect(entry.trainLoss).toBeGreaterThan(0);
      expect(entry.validationLoss).toBeGreaterThan(0);
      expect(entry.trainAccuracy).toBeGreaterThanOrEqual(0);
      expect(entry.validationAccuracy).toBeGreaterThanOrEqual(0);
    }
    // The validation set is the whole data, the train sample its first 20 rows: other losses.
    expect(entries[0].validationLoss).not.toBe(entries[0].trainLoss);
  });

  it("trains on while the pool measures two evaluations, recording them in order", async () => {
    const { port1, port2 } = new MessageChannel();
    const side = new Worker(POOL_SIDE, {
      eval: true,
      workerData: { port: port1 },
      transferList: [port1],
    });
    try {
      const result = runTraining(
        job(port2, 12, 3, undefined, true),
        Backend.typescript(),
        () => undefined,
      );
      expect(result.status).toBe("completed");
      port2.postMessage({ type: "done" });
      const [messages] = (await once(side, "message")) as [TrainingMessage[]];
      const { entries, checkpoints } = reported(messages);
      expect(entries.map((e) => [e.iteration, e.trainLoss])).toEqual([
        [3, 1],
        [6, 2],
        [9, 3],
        [12, 4],
      ]);
      // The first answer went only once the second evaluation had been asked for.
      expect(entries[0].validationLoss).toBe(2);
      // Each recorded with the state of its own iteration, for a resume from there.
      expect(checkpoints.map((c) => c.iteration)).toEqual([3, 6, 9, 12]);
    } finally {
      await side.terminate();
    }
  });

  it("resumes from a checkpoint to the bits of an uninterrupted run", () => {
    const whole = train(20, 5);
    const half = train(10, 5);
    const resumed = train(20, 5, half.checkpoints[half.checkpoints.length - 1]);
    if (whole.result.status !== "completed" || resumed.result.status !== "completed") {
      throw new Error("expected both runs to complete");
    }
    expect(resumed.entries).toEqual(whole.entries.slice(2));
    const bits = (r: typeof whole.result) =>
      "layers" in r
        ? r.layers.flatMap((l) => (l.type === "affine" ? [...l.W.data, ...l.b.data] : []))
        : [];
    expect(bits(resumed.result)).toEqual(bits(whole.result));
  });
});
