import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, onTestFinished } from "vitest";
import type { FloatArray } from "../../src/core/tensor.js";
import type { StoreOptions } from "../../src/store/open-store.js";
import type { NewModel } from "../../src/store/repository.js";
import type { JobSpec } from "../../src/training/job-spec.js";
import { describeWithPostgres, type PostgresServer, startPostgres } from "../helpers/postgres.js";

/** A fresh temp dir per call, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "store-test-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Values whose bits a lossy round trip (JSON, float64 via float32) would change. */
export function awkward(length: number, dtype: "float32" | "float64"): FloatArray {
  const a = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  for (let i = 0; i < length; i++) a[i] = Math.PI * (i + 1) * 1e-3 * (i % 2 ? -1 : 1) + 1e-30;
  if (length > 2) {
    a[1] = -0;
    a[2] = dtype === "float32" ? 1.401298464324817e-45 : Number.MIN_VALUE;
  }
  return a;
}

export function sameBits(a: FloatArray, b: FloatArray): boolean {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return a.constructor === b.constructor && x.length === y.length && x.every((v, i) => v === y[i]);
}

export function twoLayerModel(
  dtype: "float32" | "float64",
  extra: Partial<NewModel> = {},
): NewModel {
  return {
    tenant: null,
    name: "two-layer",
    dtype,
    layers: [
      {
        type: "affine",
        W: { shape: [4, 3], data: awkward(12, dtype) },
        b: { shape: [3], data: awkward(3, dtype) },
      },
      { type: "relu" },
      {
        type: "affine",
        W: { shape: [3, 2], data: awkward(6, dtype) },
        b: { shape: [2], data: awkward(2, dtype) },
      },
      { type: "softmaxWithLoss" },
    ],
    origin: { kind: "architecture", architecture: { inputSize: 4, hiddenSizes: [3] }, seed: 7 },
    ...extra,
  };
}

/** A job's spec as submit stores it: SGD on MNIST's first 100 samples for `iterations`. */
export function jobSpec(iterations: number): JobSpec {
  return {
    optimizer: { type: "sgd", lr: 0.1 },
    batchSize: 10,
    iterations,
    trainSize: 100,
    weightDecay: 0,
    evaluateEvery: 10,
    trainEvaluationSamples: 100,
    seed: 1,
    data: { dataset: { name: "mnist", split: "train", limit: 100 } },
  };
}

/** Where a test opens its store: a fresh place each call, that it may open again and again. */
export interface TestEngine {
  name: "sqlite" | "postgres";
  fresh(): Promise<StoreOptions>;
}

/**
 * The same contract tests on each engine: embedded SQLite in a temp dir, and a database of its
 * own on a private PostgreSQL server per file (skipped, saying so, where none is installed).
 */
export function describeEachEngine(name: string, body: (engine: TestEngine) => void): void {
  describe(`${name} on sqlite`, () => {
    body({ name: "sqlite", fresh: async () => ({ dataDir: tempDir() }) });
  });
  describeWithPostgres(`${name} on postgres`, () => {
    let server: PostgresServer | undefined;
    beforeAll(async () => {
      server = await startPostgres();
    }, 60_000);
    afterAll(() => server?.destroy());
    body({
      name: "postgres",
      fresh: async () => ({ dataDir: tempDir(), databaseUrl: await server!.createDatabase() }),
    });
  });
}
