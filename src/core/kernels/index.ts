import type { Arena } from "../arena.js";
import { setAllocator } from "../tensor.js";
import type { MatKernels } from "./kernels.js";
import { tsKernels } from "./ts-kernels.js";
import { createWasmKernels, supportsVariant, type WasmVariant } from "./wasm-kernels.js";

/** The implementations of the products, fastest first. */
export const KERNEL_PATHS = ["relaxed-simd", "simd", "typescript"] as const;
export type KernelPath = (typeof KERNEL_PATHS)[number];

/** The products layers use. A live binding: importers see what `setKernels` installs. */
export let kernels: MatKernels = tsKernels;

/** Installs another implementation for every layer from now on. */
export function setKernels(next: MatKernels): void {
  kernels = next;
}

/** Whether this runtime can run a path (relaxed SIMD needs --experimental-wasm-relaxed-simd). */
export function supportsPath(path: KernelPath): boolean {
  return path === "typescript" || supportsVariant(path as WasmVariant);
}

/** The fastest path this runtime runs. */
export function bestKernelPath(): KernelPath {
  return KERNEL_PATHS.find(supportsPath)!;
}

/**
 * Makes `path` this thread's kernels. A WebAssembly path also routes the core's allocations to
 * the arena it returns (at most `arenaBytes`), so tensors are born where the kernels read them;
 * the caller resets the arena between tasks. Meant for worker threads, which own their memory.
 */
export function useKernels(path: KernelPath, arenaBytes: number): Arena | null {
  if (path === "typescript") {
    setKernels(tsKernels);
    setAllocator(null);
    return null;
  }
  const wasm = createWasmKernels(path, arenaBytes);
  setKernels(wasm.kernels);
  setAllocator((dtype, length) => wasm.arena.alloc(dtype, length));
  return wasm.arena;
}

export type { MatKernels } from "./kernels.js";
export { tsKernels } from "./ts-kernels.js";
