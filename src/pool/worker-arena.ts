/**
 * What every worker thread does with its kernels: installs the path the main thread chose (passed
 * as workerData), sizes its arena for each task, and copies results out of the arena, whose
 * memory cannot be transferred to another thread.
 */
import { workerData } from "node:worker_threads";
import type { Arena } from "../core/arena.js";
import { type KernelPath, useKernels } from "../core/kernels/index.js";
import { type DType, sizeOf } from "../core/tensor.js";
import { decodeInArena } from "./base64.js";
import { mapTree, type TaskLayer } from "./tasks.js";

export interface WorkerOptions {
  kernels: KernelPath;
  /** Most bytes the thread's WebAssembly arena may grow to. */
  arenaBytes: number;
}

/** The workerData of a pool's threads. */
export function workerOptions(kernels: KernelPath, arenaMb: number): WorkerOptions {
  return { kernels, arenaBytes: arenaMb * 1024 * 1024 };
}

/**
 * This thread's arena, where its base64 is decoded too; null on the TypeScript path (or outside a
 * pool, as in tests).
 */
export function installWorkerKernels(): Arena | null {
  const options = workerData as WorkerOptions | null;
  const arena = options ? useKernels(options.kernels, options.arenaBytes) : null;
  decodeInArena(arena);
  return arena;
}

/**
 * An upper bound on the bytes a network over `rows` samples of `inputs` features allocates: the
 * input copy and its gradient, every layer's output and gradient, and four copies of the
 * parameters (values, gradients, two optimizer slots).
 */
export function workingSetBytes(
  layers: readonly TaskLayer[],
  dtype: DType,
  rows: number,
  inputs: number,
): number {
  let width = inputs;
  let elements = 2 * rows * inputs;
  for (const layer of layers) {
    if (layer.type === "affine") {
      width = layer.W.shape[1];
      elements += 4 * (sizeOf(layer.W.shape) + sizeOf(layer.b.shape));
    }
    elements += 2 * rows * width;
  }
  const alignment = 64 * 4 * (layers.length + 4);
  return elements * (dtype === "float32" ? 4 : 8) + alignment + 1024 * 1024;
}

/** `value` with every typed array that lies in `arena` replaced by a copy on the JS heap. */
export function outOfArena<T>(value: T, arena: Arena | null): T {
  if (!arena) return value;
  return mapTree(value, (item) =>
    ArrayBuffer.isView(item) && arena.owns(item) ? (item as Float32Array).slice() : undefined,
  );
}
