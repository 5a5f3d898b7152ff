/** The numpy contender of `npm run bench`: one round of bench/products.py in a child process. */
import { execFileSync } from "node:child_process";
import type { DType } from "../src/core/tensor.js";

export interface NumpyWork {
  readonly products: { id: string; kind: string; m: number; k: number; n: number; dtype: DType }[];
  readonly steps: { id: string; dtype: DType }[];
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

/** The environment of a numpy baseline: OpenBLAS (and OpenMP) on one thread, at its best. */
export function singleThreadedNumpyEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OPENBLAS_NUM_THREADS: "1",
    OMP_NUM_THREADS: "1",
  };
  // These slow a current OpenBLAS down; unset for the baselines only (see the env notes).
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Times `work` in numpy pinned to one thread; null (with the reason printed) without numpy. */
export function numpyRound(work: NumpyWork): NumpyRound | null {
  try {
    const out = execFileSync("python3", [new URL("products.py", import.meta.url).pathname], {
      env: singleThreadedNumpyEnv(),
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
