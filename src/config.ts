import { availableParallelism } from "node:os";
import { z } from "zod";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

/** Every environment variable the service reads, with its safe default (documented in README). */
const EnvSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATA_DIR: z.string().min(1).default("./data"),
  POOL_THREADS: int(1, 256).default(availableParallelism()),
  POOL_MAX_QUEUE: int(0).default(64),
  BODY_LIMIT_BYTES: int(1024).default(64 * 1024 * 1024),
  MAX_TENSOR_ELEMENTS: int(1).default(4_194_304),
  MAX_TENSOR_RANK: int(1, 32).default(8),
  REQUEST_TIMEOUT_MS: int(1).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(100).default(8_000),
  TRAINING_CONCURRENCY: int(1, 64).default(1),
  CHECKPOINT_INTERVAL_MS: int(100).default(30_000),
  MAX_TRAINING_ITERATIONS: int(1).default(1_000_000),
  MAX_BATCH_SIZE: int(1).default(10_000),
  MAX_DATASET_SAMPLES: int(1).default(60_000),
});

export interface Limits {
  maxTensorElements: number;
  maxTensorRank: number;
}

export interface Config {
  port: number;
  host: string;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  dataDir: string;
  pool: { threads: number; maxQueue: number };
  bodyLimit: number;
  limits: Limits;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  training: {
    concurrency: number;
    checkpointEveryMs: number;
    maxIterations: number;
    maxBatchSize: number;
    maxDatasetSamples: number;
  };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Validates the environment once into one typed object; an invalid variable is fatal. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(
    Object.fromEntries(Object.entries(env).filter(([, value]) => value !== "")),
  );
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    pool: { threads: e.POOL_THREADS, maxQueue: e.POOL_MAX_QUEUE },
    bodyLimit: e.BODY_LIMIT_BYTES,
    limits: { maxTensorElements: e.MAX_TENSOR_ELEMENTS, maxTensorRank: e.MAX_TENSOR_RANK },
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    training: {
      concurrency: e.TRAINING_CONCURRENCY,
      checkpointEveryMs: e.CHECKPOINT_INTERVAL_MS,
      maxIterations: e.MAX_TRAINING_ITERATIONS,
      maxBatchSize: e.MAX_BATCH_SIZE,
      maxDatasetSamples: e.MAX_DATASET_SAMPLES,
    },
  };
}
