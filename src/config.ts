import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { z } from "zod";
import { bestKernelPath, KERNEL_PATHS, type KernelPath, supportsPath } from "./core/backend.js";
import { loadOpenblasOps, OPENBLAS_LIBRARY } from "./core/kernels/openblas-ops.js";
import { type ApiKey, parseApiKeys } from "./http/api-keys.js";

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max);

/** Every environment variable the service reads, with its safe default (documented in README). */
const EnvSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/./, "must be a postgres:// or postgresql:// URL")
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/./, "must be a redis:// or rediss:// URL")
    .optional(),
  JOB_TAKEOVER_S: int(2, 3600).default(30),
  TRUST_PROXY: z.string().optional(),
  POOL_THREADS: int(1, 256).default(availableParallelism()),
  POOL_MAX_QUEUE: int(0).default(64),
  BODY_LIMIT_BYTES: int(1024).default(64 * 1024 * 1024),
  MAX_TENSOR_ELEMENTS: int(1).default(4_194_304),
  MAX_TENSOR_RANK: int(1, 32).default(8),
  MAX_MODEL_PARAMETERS: int(1).default(8_388_608),
  REQUEST_TIMEOUT_MS: int(1).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(100).default(8_000),
  TRAINING_CONCURRENCY: int(1, 64).default(1),
  CHECKPOINT_INTERVAL_MS: int(100).default(30_000),
  MAX_TRAINING_ITERATIONS: int(1).default(1_000_000),
  MAX_BATCH_SIZE: int(1).default(10_000),
  MAX_DATASET_SAMPLES: int(1).default(60_000),
  WORKER_HEAP_MB: int(16).default(512),
  WORKER_ARENA_MB: int(16, 4096).default(1024),
  KERNELS: z.enum(["auto", ...KERNEL_PATHS]).default("auto"),
  OPENBLAS_LIBRARY: z.string().min(1).default(OPENBLAS_LIBRARY),
  API_KEYS: z.string().optional(),
  API_KEYS_FILE: z.string().optional(),
  OPEN_RECORDS_TENANT: z.string().min(1).optional(),
  METRICS_KEY: z.string().min(16).optional(),
  RATE_LIMIT_PER_MINUTE: int(1).optional(),
  MAX_PENDING_JOBS_PER_TENANT: int(1).default(8),
  POOL_QUEUE_TIMEOUT_MS: int(1).default(5_000),
  SSE_HEARTBEAT_MS: int(10).default(15_000),
  CORS_ORIGINS: z.string().optional(),
});

/** `https://a.example,https://b.example`: each an origin (scheme, host, port), or `*`. */
function corsOrigins(value: string | undefined): string[] | "*" | null {
  if (value === undefined) return null;
  const origins = value
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  if (origins.length === 1 && origins[0] === "*") return "*";
  for (const origin of origins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {}
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(
        `invalid configuration: CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com (scheme, host and port only), or *`,
      );
    }
  }
  return origins;
}

export interface Limits {
  maxTensorElements: number;
  maxTensorRank: number;
  /** Every W and b of a model or network together. */
  maxModelParameters: number;
}

export interface Config {
  port: number;
  host: string;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  dataDir: string;
  /** PostgreSQL holds the store when set; null: the embedded SQLite file in `dataDir`. */
  databaseUrl: string | null;
  /**
   * Distributed mode (DATABASE_URL and REDIS_URL): jobs on BullMQ, events through Redis pub/sub,
   * rate limits in Redis. Null: the in-process queue and bus.
   */
  distributed: { redisUrl: string; takeoverMs: number } | null;
  /** Fastify's `trustProxy`: whose X-Forwarded-For to believe (false: nobody's). */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
  pool: {
    threads: number;
    maxQueue: number;
    heapMb: number;
    /** What every worker computes with, and the most memory its WebAssembly arena takes. */
    kernels: KernelPath;
    /**
     * For the start line: the OpenBLAS build on the openblas path, or why `auto` did not choose
     * it; null for a WebAssembly or TypeScript path asked for by name.
     */
    kernelsNote: string | null;
    /** The OpenBLAS shared library the openblas path opens (a soname or a path). */
    openblasLibrary: string;
    arenaMb: number;
  };
  auth: {
    /** Empty: the service runs open. */
    keys: ApiKey[];
    metricsKey: string | null;
    /** Requests per tenant (or client IP, open) a minute; null: no limit. */
    rateLimitPerMinute: number | null;
    maxPendingJobsPerTenant: number;
    /** The tenant given, at start, the models and jobs made while the service ran open. */
    openRecordsTenant: string | null;
  };
  bodyLimit: number;
  limits: Limits;
  /** Longest wait for a compute thread before `503 OVERLOADED`. */
  poolQueueTimeoutMs: number;
  sseHeartbeatMs: number;
  /** Origins allowed cross-origin (CORS); null: no CORS headers at all. */
  corsOrigins: string[] | "*" | null;
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
  const keys = [
    ...(e.API_KEYS ? keysFrom(e.API_KEYS, "API_KEYS") : []),
    ...(e.API_KEYS_FILE ? keysFrom(readKeysFile(e.API_KEYS_FILE), e.API_KEYS_FILE) : []),
  ];
  if (e.OPEN_RECORDS_TENANT && !keys.some((k) => k.tenant === e.OPEN_RECORDS_TENANT)) {
    throw new ConfigError(
      `invalid configuration: OPEN_RECORDS_TENANT: ${JSON.stringify(e.OPEN_RECORDS_TENANT)} is not a tenant of API_KEYS or API_KEYS_FILE (its models and jobs would be visible to no key)`,
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL ?? null,
    distributed: distributed(e.DATABASE_URL, e.REDIS_URL, e.JOB_TAKEOVER_S),
    trustProxy: trustProxy(e.TRUST_PROXY),
    pool: {
      threads: e.POOL_THREADS,
      maxQueue: e.POOL_MAX_QUEUE,
      heapMb: e.WORKER_HEAP_MB,
      ...kernelPath(e.KERNELS, e.OPENBLAS_LIBRARY),
      openblasLibrary: e.OPENBLAS_LIBRARY,
      arenaMb: e.WORKER_ARENA_MB,
    },
    auth: {
      keys,
      metricsKey: e.METRICS_KEY ?? null,
      // Open, no limit unless asked for (a gateway's business); with keys, one per tenant.
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE ?? (e.API_KEYS || e.API_KEYS_FILE ? 6000 : null),
      maxPendingJobsPerTenant: e.MAX_PENDING_JOBS_PER_TENANT,
      openRecordsTenant: e.OPEN_RECORDS_TENANT ?? null,
    },
    bodyLimit: e.BODY_LIMIT_BYTES,
    limits: {
      maxTensorElements: e.MAX_TENSOR_ELEMENTS,
      maxTensorRank: e.MAX_TENSOR_RANK,
      maxModelParameters: e.MAX_MODEL_PARAMETERS,
    },
    poolQueueTimeoutMs: e.POOL_QUEUE_TIMEOUT_MS,
    sseHeartbeatMs: e.SSE_HEARTBEAT_MS,
    corsOrigins: corsOrigins(e.CORS_ORIGINS),
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

/**
 * `auto` is the fastest path this runtime runs (saying why it is not openblas); a path it cannot
 * run is a configuration error.
 */
function kernelPath(
  wanted: KernelPath | "auto",
  library: string,
): { kernels: KernelPath; kernelsNote: string | null } {
  const native = loadOpenblasOps(library);
  const note = "config" in native ? native.config : native.reason;
  if (wanted === "auto") return { kernels: bestKernelPath(library), kernelsNote: note };
  if (!supportsPath(wanted, library)) {
    const hint =
      wanted === "relaxed-simd" ? "start node with --experimental-wasm-relaxed-simd" : note;
    throw new ConfigError(
      `invalid configuration: KERNELS: ${wanted} is not supported by this runtime (${hint})`,
    );
  }
  return { kernels: wanted, kernelsNote: wanted === "openblas" ? note : null };
}

/** Redis without PostgreSQL would share a queue over stores that do not know each other's jobs. */
function distributed(
  databaseUrl: string | undefined,
  redisUrl: string | undefined,
  takeoverS: number,
): Config["distributed"] {
  if (!redisUrl) return null;
  if (!databaseUrl) {
    throw new ConfigError(
      "invalid configuration: REDIS_URL needs DATABASE_URL: replicas share their jobs through Redis and their store through PostgreSQL",
    );
  }
  return { redisUrl, takeoverMs: takeoverS * 1000 };
}

/** `true`/`false`, a number of hops, or addresses and CIDR ranges, comma-separated. */
function trustProxy(value: string | undefined): Config["trustProxy"] {
  if (value === undefined || value === "false") return false;
  if (value === "true") return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  const entries = value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  const address = /^[0-9a-fA-F:.]+(\/\d{1,3})?$/;
  const bad = entries.find((v) => !address.test(v));
  if (bad !== undefined || entries.length === 0) {
    throw new ConfigError(
      `invalid configuration: TRUST_PROXY: ${JSON.stringify(bad ?? value)} is not true, false, a hop count, or an address or CIDR range (comma-separated)`,
    );
  }
  return entries;
}

function keysFrom(text: string, source: string): ApiKey[] {
  try {
    return parseApiKeys(text, source);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function readKeysFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`API_KEYS_FILE ${path} cannot be read: ${(error as Error).message}`);
  }
}
