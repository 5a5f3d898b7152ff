/**
 * A backend is where the core's arithmetic runs and where its tensors live: one set of array ops
 * and the memory they read fastest. The TypeScript backend is the reference, over the JS heap; a
 * WebAssembly backend owns an arena that its ops read in place; the OpenBLAS backend's native ops
 * read any memory in place, so it lives on the JS heap too. Every layer, optimizer and trainer
 * is handed one (tfjs-core's engine, made explicit): nothing in the core switches modes globally.
 */
import type { Arena } from "./arena.js";
import type { ArrayOps } from "./kernels/array-ops.js";
import { loadOpenblasOps, OPENBLAS_LIBRARY } from "./kernels/openblas-ops.js";
import { createTypescriptOps } from "./kernels/typescript-ops.js";
import { createWasmOps, supportsVariant, type WasmVariant, wasmArena } from "./kernels/wasm-ops.js";
import {
  allocate,
  type DType,
  dtypeOf,
  type FloatArray,
  sameShape,
  sizeOf,
  type Tensor,
} from "./tensor.js";

/** The implementations of the ops, fastest first. */
export const KERNEL_PATHS = ["openblas", "relaxed-simd", "simd", "typescript"] as const;
export type KernelPath = (typeof KERNEL_PATHS)[number];

/**
 * Why work left the fast path: an allocation that did not fit the arena (it went to the JS heap),
 * or an op whose operands were not all in the arena (it ran on the reference ops).
 */
export type FallbackReason = "arena_full" | "operand_off_arena";

export interface BackendOptions {
  /** Most bytes a WebAssembly backend's arena may grow to. */
  arenaBytes?: number;
  /** Told of every fallback, as it happens. */
  onFallback?: (reason: FallbackReason) => void;
  /** The OpenBLAS shared library the openblas backend opens (a soname or a path). */
  openblasLibrary?: string;
}

/**
 * Whether this runtime can run a path: relaxed SIMD needs --experimental-wasm-relaxed-simd;
 * openblas needs the addon and `openblasLibrary`, passing their self-check (loadOpenblasOps
 * says why not).
 */
export function supportsPath(path: KernelPath, openblasLibrary = OPENBLAS_LIBRARY): boolean {
  if (path === "openblas") return "ops" in loadOpenblasOps(openblasLibrary);
  return path === "typescript" || supportsVariant(path as WasmVariant);
}

/** The fastest path this runtime runs. */
export function bestKernelPath(openblasLibrary = OPENBLAS_LIBRARY): KernelPath {
  return KERNEL_PATHS.find((path) => supportsPath(path, openblasLibrary))!;
}

export class Backend {
  private constructor(
    readonly path: KernelPath,
    readonly ops: ArrayOps,
    /** Where the ops read in place; null for a heap backend. */
    readonly arena: Arena | null,
    private readonly onFallback: (reason: FallbackReason) => void,
  ) {}

  /** The reference: TypeScript ops over the JS heap. */
  static typescript(): Backend {
    return new Backend("typescript", createTypescriptOps(), null, () => {});
  }

  /** A backend of `path`; throws, saying why, when this runtime cannot run it (supportsPath). */
  static create(
    path: KernelPath,
    { arenaBytes = 0, onFallback, openblasLibrary = OPENBLAS_LIBRARY }: BackendOptions = {},
  ): Backend {
    if (path === "typescript") return Backend.typescript();
    const report = onFallback ?? (() => {});
    if (path === "openblas") {
      const native = loadOpenblasOps(openblasLibrary);
      if ("reason" in native) throw new Error(native.reason);
      // Native ops read any memory in place: no arena, nothing ever falls off this path.
      return new Backend(path, native.ops, null, report);
    }
    const arena = wasmArena(arenaBytes);
    const ops = createWasmOps(path, arena, createTypescriptOps(), () =>
      report("operand_off_arena"),
    );
    return new Backend(path, ops, arena, report);
  }

  /** Zeroed data where the ops read it: the arena when it has room, else the JS heap. */
  alloc(dtype: DType, length: number): FloatArray {
    if (this.arena) {
      const data = this.arena.alloc(dtype, length);
      if (data) return data;
      this.onFallback("arena_full");
    }
    return allocate(dtype, length);
  }

  zeros(shape: readonly number[], dtype: DType): Tensor {
    return { shape: [...shape], data: this.alloc(dtype, sizeOf(shape)) };
  }

  /** A copy of `values` in `dtype`, where the ops read it. */
  fromValues(shape: readonly number[], values: ArrayLike<number>, dtype: DType): Tensor {
    if (values.length !== sizeOf(shape)) {
      throw new RangeError(`${values.length} values do not fill shape [${shape.join(", ")}]`);
    }
    const data = this.alloc(dtype, values.length);
    data.set(values);
    return { shape: [...shape], data };
  }

  /** True when `data` lies where the ops read it in place. */
  holds(data: FloatArray): boolean {
    return this.arena === null || this.arena.owns(data);
  }

  /** t itself when it is in `dtype` and where the ops read it, else a copy that is. */
  local(t: Tensor, dtype: DType): Tensor {
    if (dtypeOf(t.data) === dtype && this.holds(t.data)) return t;
    return this.fromValues(t.shape, t.data, dtype);
  }

  /**
   * A tensor of `shape` over `previous`'s data when that has the same dtype and length (its stale
   * contents are to be overwritten), else over new zeroed data. Layers keep one buffer per output
   * this way across calls with the same batch shape.
   */
  reuse(previous: Tensor | null, shape: readonly number[], dtype: DType): Tensor {
    if (
      previous !== null &&
      dtypeOf(previous.data) === dtype &&
      previous.data.length === sizeOf(shape)
    ) {
      return sameShape(previous.shape, shape)
        ? previous
        : { shape: [...shape], data: previous.data };
    }
    return this.zeros(shape, dtype);
  }

  /**
   * Frees everything allocated so far and makes room for `bytes` more (a task's working set, as
   * `workingSetBytes` counts it): every tensor handed out before is dead from here on.
   */
  begin(bytes: number): void {
    this.arena?.reset();
    this.arena?.reserve(bytes);
  }

  /** Runs `work` and frees what it allocated: nothing it returns may live in the arena. */
  scoped<T>(work: () => T): T {
    const mark = this.arena?.mark();
    try {
      return work();
    } finally {
      if (mark !== undefined) this.arena!.release(mark);
    }
  }
}
