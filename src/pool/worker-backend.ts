/**
 * What every worker thread does with its backend: builds the one the main thread chose (passed as
 * workerData), counts what falls off its fast path, and copies results out of its arena, whose
 * memory cannot be transferred to another thread.
 */
import { workerData } from "node:worker_threads";
import { Backend, type FallbackReason, type KernelPath } from "../core/backend.js";
import { mapTree } from "../wire/tree.js";

export interface WorkerOptions {
  kernels: KernelPath;
  /** Most bytes the thread's WebAssembly arena may grow to. */
  arenaBytes: number;
  /** The library the openblas path opens. */
  openblasLibrary: string;
}

/** The workerData of a pool's threads, from the pool's configuration. */
export function workerOptions(pool: {
  kernels: KernelPath;
  arenaMb: number;
  openblasLibrary: string;
}): WorkerOptions {
  return {
    kernels: pool.kernels,
    arenaBytes: pool.arenaMb * 1024 * 1024,
    openblasLibrary: pool.openblasLibrary,
  };
}

/** Fallbacks since the last `take()`, by reason: they travel back with each result. */
export type FallbackCounts = Partial<Record<FallbackReason, number>>;

export interface WorkerBackend {
  backend: Backend;
  /** The fallbacks counted since the last call, and a fresh count. */
  takeFallbacks(): FallbackCounts | undefined;
}

/** This thread's backend, from workerData (the TypeScript reference outside a pool, as in tests). */
export function workerBackend(): WorkerBackend {
  const options = workerData as WorkerOptions | null;
  let counts: FallbackCounts = {};
  let any = false;
  const onFallback = (reason: FallbackReason) => {
    counts[reason] = (counts[reason] ?? 0) + 1;
    any = true;
  };
  const backend = options
    ? Backend.create(options.kernels, { ...options, onFallback })
    : Backend.typescript();
  return {
    backend,
    takeFallbacks() {
      if (!any) return undefined;
      const taken = counts;
      counts = {};
      any = false;
      return taken;
    },
  };
}

/** `value` with every typed array that lies in `backend`'s arena replaced by a copy on the heap. */
export function outOfArena<T>(value: T, backend: Backend): T {
  const { arena } = backend;
  if (!arena) return value;
  return mapTree(value, (item) =>
    ArrayBuffer.isView(item) && arena.owns(item) ? (item as Float32Array).slice() : undefined,
  );
}
