import { afterEach, describe, expect, it, vi } from "vitest";
import type { Arena } from "../../../src/core/arena.js";
import type { ArrayOps as MatKernels } from "../../../src/core/kernels/array-ops.js";
import { createTypescriptOps } from "../../../src/core/kernels/typescript-ops.js";
import { supportsVariant, type WasmVariant } from "../../../src/core/kernels/wasm-ops.js";
import { DTYPES, type DType, type FloatArray } from "../../../src/core/tensor.js";
import { mulberry32, wasmKernels } from "../helpers.js";
import {
  absolute,
  errorFactor,
  filled,
  integer,
  nans,
  OPERATIONS,
  type Operation,
  SHAPES,
  type Shape,
  uniform,
} from "./product-cases.js";

/** The reference the WebAssembly ops fall back to, spied on to see that they do or do not. */
const tsKernels = createTypescriptOps();
const createWasmKernels = (variant: WasmVariant, maxBytes: number) =>
  wasmKernels(variant, maxBytes, tsKernels);

const VARIANTS: readonly WasmVariant[] = ["relaxed-simd", "simd"];

/** `length` elements of the arena and their surroundings, which must not take part. */
interface Guarded {
  readonly view: FloatArray;
  /** Throws unless every byte of the surroundings (and of the view too, `whole`) is as set. */
  expectIntact(label: string, whole: boolean): void;
}

/** Elements of signalling NaN on either side of a guarded view. */
const PAD = 16;

/**
 * A view of `values` in the arena, `shift` elements past an aligned start (as a subarray may be),
 * between PAD signalling NaNs on either side: read, they turn a result into NaN; written, their
 * bits change.
 */
function guarded(arena: Arena, dtype: DType, values: FloatArray, shift: number): Guarded {
  const length = values.length;
  const all = arena.alloc(dtype, PAD + shift + length + PAD);
  if (all === null) throw new Error(`the arena has no room for ${length} elements`);
  if (all instanceof Float32Array)
    new Uint32Array(all.buffer, all.byteOffset, all.length).fill(0x7fa5a5a5);
  else new BigUint64Array(all.buffer, all.byteOffset, all.length).fill(0x7ff5a5a5a5a5a5a5n);
  const view = all.subarray(PAD + shift, PAD + shift + length);
  view.set(values);
  const bytes = () => new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  const before = bytes().slice();
  const size = all.BYTES_PER_ELEMENT;
  const [start, end] = [(PAD + shift) * size, (PAD + shift + length) * size];
  return {
    view,
    expectIntact(label, whole) {
      const after = bytes();
      for (let i = 0; i < after.length; i++) {
        if (after[i] !== before[i] && (whole || i < start || i >= end)) {
          throw new Error(`${label}: byte ${i - start} from the view's start was written`);
        }
      }
    },
  };
}

/** Operands of a product in the arena, among NaN neighbours, `out` full of NaN beforehand. */
function inArena(arena: Arena, dtype: DType, a: FloatArray, b: FloatArray, outLength: number) {
  arena.reset();
  arena.reserve((a.length + b.length + outLength + 6 * PAD + 256) * 8);
  const random = mulberry32(a.length + 3 * outLength);
  const shift = () => Math.floor(random() * 4);
  return {
    a: guarded(arena, dtype, a, shift()),
    b: guarded(arena, dtype, b, shift()),
    out: guarded(arena, dtype, nans(dtype, outLength), shift()),
  };
}

/** Runs `op` on copies of a and b in the arena, checks its neighbours, returns its output. */
function runInArena(
  kernels: MatKernels,
  arena: Arena,
  op: Operation,
  shape: Shape,
  a: FloatArray,
  b: FloatArray,
  label: string,
): FloatArray {
  const dtype = a instanceof Float32Array ? "float32" : "float64";
  const operands = inArena(arena, dtype, a, b, op.lengths(shape)[2]);
  op.run(kernels, operands.a.view, operands.b.view, operands.out.view, shape);
  operands.a.expectIntact(`${label}, a`, true);
  operands.b.expectIntact(`${label}, b`, true);
  operands.out.expectIntact(`${label}, out`, false);
  return operands.out.view.slice();
}

describe("createWasmKernels", () => {
  it.each(VARIANTS)("%s compiles here (vitest runs with --experimental-wasm-relaxed-simd)", (v) => {
    expect(supportsVariant(v)).toBe(true);
  });

  describe.each(VARIANTS)("%s", (variant) => {
    const { kernels, arena } = createWasmKernels(variant, 64 * 1024 * 1024);

    afterEach(() => {
      vi.restoreAllMocks();
    });

    for (const dtype of DTYPES) {
      for (const op of OPERATIONS) {
        it(`${op.name} on ${dtype} is within the rounding bound of the TypeScript kernels`, () => {
          const random = mulberry32(op.name.length * 31 + dtype.length);
          for (const shape of SHAPES) {
            const [lengthA, lengthB] = op.lengths(shape);
            const a = filled(dtype, lengthA, uniform(random));
            const b = filled(dtype, lengthB, uniform(random));
            const label = `${variant} ${op.name} ${dtype} [${shape.join("×")}]`;
            const actual = runInArena(kernels, arena, op, shape, a, b, label);
            const expected = nans(dtype, actual.length);
            op.run(tsKernels, a, b, expected, shape);
            const bound = new Float64Array(actual.length);
            op.run(tsKernels, absolute(a), absolute(b), bound, shape);
            const factor = errorFactor(dtype, shape[1]);
            for (let i = 0; i < actual.length; i++) {
              if (!(Math.abs(actual[i] - expected[i]) <= factor * bound[i])) {
                throw new Error(
                  `${label}: element ${i} is ${actual[i]}, TypeScript gives ${expected[i]}, ` +
                    `further apart than ${factor * bound[i]}`,
                );
              }
            }
          }
        });

        it(`${op.name} on ${dtype} is exact on small integers`, () => {
          const random = mulberry32(op.name.length * 17 + dtype.length);
          for (const shape of SHAPES) {
            const [lengthA, lengthB] = op.lengths(shape);
            const a = filled(dtype, lengthA, integer(random));
            const b = filled(dtype, lengthB, integer(random));
            const label = `${variant} ${op.name} ${dtype} [${shape.join("×")}]`;
            const actual = runInArena(kernels, arena, op, shape, a, b, label);
            const expected = nans(dtype, actual.length);
            op.run(tsKernels, a, b, expected, shape);
            for (let i = 0; i < actual.length; i++) {
              if (actual[i] !== expected[i]) {
                throw new Error(`${label}: element ${i} is ${actual[i]}, not ${expected[i]}`);
              }
            }
          }
        });
      }

      it(`runs ${dtype} operands in the arena in WebAssembly, not in the TypeScript fallback`, () => {
        const spies = OPERATIONS.map((op) => vi.spyOn(tsKernels, op.name));
        const shape: Shape = [9, 300, 17];
        const random = mulberry32(5);
        for (const op of OPERATIONS) {
          const [lengthA, lengthB] = op.lengths(shape);
          const a = filled(dtype, lengthA, uniform(random));
          const b = filled(dtype, lengthB, uniform(random));
          runInArena(kernels, arena, op, shape, a, b, `${variant} ${op.name}`);
        }
        for (const spy of spies) expect(spy).not.toHaveBeenCalled();
      });

      it(`touches nothing past the end of the memory, with a ${dtype} operand last in it`, () => {
        // Elsewhere a read past an operand may reach only padding lanes, which are never written
        // out; here any access past the end traps.
        const random = mulberry32(8);
        const size = dtype === "float32" ? 4 : 8;
        for (const shape of [
          [7, 13, 15],
          [5, 300, 9],
          [9, 5, 3],
        ] as Shape[]) {
          for (const op of OPERATIONS) {
            const lengths = op.lengths(shape);
            const a = filled(dtype, lengths[0], integer(random));
            const b = filled(dtype, lengths[1], integer(random));
            const expected = nans(dtype, lengths[2]);
            op.run(tsKernels, a, b, expected, shape);
            for (const last of [0, 1, 2]) {
              arena.reset();
              arena.reserve(1024 * 1024);
              const views = lengths.map((length, i) =>
                i === last ? null : arena.alloc(dtype, length)!,
              );
              const room = (arena.capacity - Math.ceil(arena.mark() / 64) * 64) / size;
              const end = arena.alloc(dtype, room)!.subarray(room - lengths[last]);
              expect(end.byteOffset + end.byteLength).toBe(arena.capacity);
              views[last] = end;
              const [x, y, out] = views as FloatArray[];
              x.set(a);
              y.set(b);
              op.run(kernels, x, y, out, shape);
              expect(
                Array.from(out),
                `${op.name} [${shape.join("×")}], operand ${last} last`,
              ).toEqual(Array.from(expected));
            }
          }
        }
      });

      it(`takes the TypeScript kernels for ${dtype} operands outside the arena`, () => {
        const other = createWasmKernels(variant, 1024 * 1024).arena;
        const shape: Shape = [9, 300, 17];
        const random = mulberry32(6);
        for (const op of OPERATIONS) {
          const lengths = op.lengths(shape);
          const a = filled(dtype, lengths[0], uniform(random));
          const b = filled(dtype, lengths[1], uniform(random));
          const expected = nans(dtype, lengths[2]);
          op.run(tsKernels, a, b, expected, shape);
          const spy = vi.spyOn(tsKernels, op.name);
          // Each operand in turn on the JS heap or in another arena, the others in this one
          // (colSum has no b to place elsewhere).
          const operands = op.name === "colSum" ? [0, 2] : [0, 1, 2];
          const places = ["heap", "other arena"].flatMap((place) =>
            operands.map((i) => [place, i] as const),
          );
          for (const [place, outside] of places) {
            arena.reset();
            other.reset();
            const [x, y, out] = lengths.map((length, i) => {
              if (i !== outside) return arena.alloc(dtype, length)!;
              return place === "heap" ? nans(dtype, length) : other.alloc(dtype, length)!;
            });
            x.set(a);
            y.set(b);
            out.fill(Number.NaN);
            op.run(kernels, x, y, out, shape);
            expect(Array.from(out), `${op.name}, operand ${outside} in ${place}`).toEqual(
              Array.from(expected),
            );
          }
          expect(spy).toHaveBeenCalledTimes(places.length);
        }
      });
    }

    it("overwrites out without reading it, for whole and edge tiles, over several slabs", () => {
      for (const dtype of DTYPES) {
        const shape: Shape = [6, 600, 13];
        arena.reset();
        arena.reserve(1024 * 1024);
        const a = arena.alloc(dtype, 6 * 600)!.fill(0.5);
        const b = arena.alloc(dtype, 600 * 13)!.fill(0.25);
        const out = arena.alloc(dtype, 6 * 13)!;
        for (const fill of [1e30, -7, Number.NaN]) {
          out.fill(fill);
          kernels.gemm(a, b, out, ...shape);
          expect(Array.from(out)).toEqual(new Array(6 * 13).fill(75));
        }
      }
    });
  });
});
