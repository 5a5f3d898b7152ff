/** The numpy contender of `npm run bench`: one round of bench/products.py in a child process. */
import { execFileSync, spawnSync } from "node:child_process";
import type { DType } from "../src/core/tensor.js";

export interface NumpyWork {
  readonly products: { id: string; kind: string; m: number; k: number; n: number; dtype: DType }[];
  /** A step on MNIST's images has their rows of the train split (in mnistDir). */
  readonly steps: { id: string; dtype: DType; mnistRows?: number[] }[];
  readonly mnistDir: string;
  /** Each row runs at least once, and again while its time so far is under this. */
  readonly budgetMs: number;
  readonly maxReps: number;
}

export interface NumpyRound {
  readonly numpy: string;
  /** OpenBLAS's kernel and thread count as loaded, null when they cannot be read. */
  readonly blas: { kernel: string; threads: number } | null;
  /** Milliseconds of each call, by row id. */
  readonly times: Record<string, number[]>;
}

/**
 * Variables that make OpenBLAS pick slower kernels than its own detection would (seen: 1.4-1.9×):
 * unset for numpy's baseline and for our own openblas path alike, so both run at their best.
 * OpenBLAS reads them once, when it is loaded, so they must be gone from the process by then.
 */
const OPENBLAS_OVERRIDES = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

/** `env` without OPENBLAS_OVERRIDES. */
export function withoutOpenblasOverrides(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const name of OPENBLAS_OVERRIDES) delete clean[name];
  return clean;
}

/**
 * Runs this very script again without OPENBLAS_OVERRIDES, when any is set, and exits with its
 * code; returns when there is none. Call before anything opens OpenBLAS.
 */
export function rerunWithoutOpenblasOverrides(): void {
  if (!OPENBLAS_OVERRIDES.some((name) => process.env[name] !== undefined)) return;
  const { status } = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: withoutOpenblasOverrides(process.env),
    stdio: "inherit",
  });
  process.exit(status ?? 1);
}

/** The environment of a numpy baseline: OpenBLAS (and OpenMP) on `threads` threads, at its best. */
export function numpyEnv(threads = 1): NodeJS.ProcessEnv {
  return {
    ...withoutOpenblasOverrides(process.env),
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
  };
}

/** Times `work` in numpy pinned to one thread; null (with the reason printed) without numpy. */
export function numpyRound(work: NumpyWork): NumpyRound | null {
  try {
    const out = execFileSync("python3", [new URL("products.py", import.meta.url).pathname], {
      env: numpyEnv(),
      input: JSON.stringify(work),
      stdio: ["pipe", "pipe", "pipe"],
    });
    return JSON.parse(out.toString()) as NumpyRound;
  } catch (error) {
    const err = error as Error & { stderr?: Buffer };
    const reason = err.stderr?.toString().trim().split("\n").pop() || err.message.split("\n")[0];
    console.log(`numpy column skipped: ${reason}`);
    return null;
  }
}
