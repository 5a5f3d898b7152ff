import { serialize } from "node:v8";
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads";
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
  const task: TrainingTask = {
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
    port: port2,
    control: new Int32Array(new SharedArrayBuffer(4)).fill(CONTROL.run),
    evaluateInPool: false,
  };
  const result = runTraining(task, Backend.typescript(), () => undefined);
  const messages: TrainingMessage[] = [];
  for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) {
    messages.push(m.message);
  }
  port1.close();
  const checkpoints = messages.flatMap((m) => (m.type === "checkpoint" ? [m.checkpoint] : []));
  const entries = messages.flatMap((m) => (m.type === "evaluation" ? [m.entry] : []));
  return { result, checkpoints, entries };
}

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
