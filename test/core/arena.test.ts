import { describe, expect, it } from "vitest";
import { Arena } from "../../src/core/arena.js";
import type { FloatArray } from "../../src/core/tensor.js";

const PAGE = 65_536;

const isZero = (view: FloatArray) => view.every((v) => Object.is(v, 0));

describe("Arena", () => {
  it("hands out views 64-byte aligned, one after another, past the reserved bytes", () => {
    const arena = new Arena(1000, 4 * PAGE);
    let end = arena.reserved;
    for (const [dtype, length] of [
      ["float32", 1],
      ["float64", 3],
      ["float32", 17],
      ["float64", 0],
      ["float64", 64],
      ["float32", 5],
    ] as const) {
      const view = arena.alloc(dtype, length)!;
      expect(view).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
      expect(view.length).toBe(length);
      expect(view.byteOffset % 64).toBe(0);
      expect(view.byteOffset).toBeGreaterThanOrEqual(end);
      expect(arena.owns(view)).toBe(true);
      end = view.byteOffset + view.byteLength;
      expect(arena.mark()).toBe(end);
    }
  });

  it("never hands out the reserved bytes, whose contents it leaves alone", () => {
    const arena = new Arena(PAGE + 100, 4 * PAGE);
    const statics = new Uint8Array(arena.memory.buffer, 0, arena.reserved).fill(0xab);
    const view = arena.alloc("float64", 10)!;
    expect(view.byteOffset).toBe(PAGE + 128);
    view.fill(1);
    arena.reset();
    arena.reserve(2 * PAGE);
    expect(arena.alloc("float64", 10)!.byteOffset).toBe(PAGE + 128);
    expect(new Uint8Array(arena.memory.buffer, 0, arena.reserved).every((b) => b === 0xab)).toBe(
      true,
    );
    expect(statics.length).toBe(0); // detached by the growth, as documented
  });

  it("gives zeroed views, also over memory dirtied before a reset or release", () => {
    const arena = new Arena(0, 4 * PAGE);
    arena.alloc("float64", 100)!.fill(Number.NaN);
    arena.alloc("float32", 7)!.fill(3);
    arena.reset();
    // Reused with the other dtype, across the dirty end and past it.
    const reused = arena.alloc("float32", 300)!;
    expect(reused.byteOffset).toBe(0);
    expect(isZero(reused)).toBe(true);
    reused.fill(-1);
    const mark = arena.mark();
    arena.alloc("float64", 50)!.fill(Number.POSITIVE_INFINITY);
    arena.release(mark);
    const again = arena.alloc("float64", 60)!;
    expect(isZero(again)).toBe(true);
    expect(reused.every((v) => v === -1)).toBe(true);
    // After a small allocation, what lies above it is still known dirty.
    arena.reset();
    arena.alloc("float32", 1);
    expect(isZero(arena.alloc("float64", 200)!)).toBe(true);
  });

  it("hands out bytes as they are, aligned, and zeroes them for a later view", () => {
    const arena = new Arena(0, 4 * PAGE);
    arena.alloc("float32", 10)!.fill(7);
    arena.reset();
    const bytes = arena.bytes(1000)!;
    expect(bytes.byteOffset).toBe(0);
    expect(new Float32Array(bytes.buffer, 0, 10).every((v) => v === 7)).toBe(true); // not zeroed
    bytes.fill(0xff);
    expect(arena.bytes(10)!.byteOffset).toBe(1024);
    expect(arena.bytes(4 * PAGE)).toBeNull();
    arena.reset();
    expect(isZero(arena.alloc("float64", 200)!)).toBe(true);
  });

  it("returns null when full, and has room again after a reset", () => {
    const arena = new Arena(0, PAGE);
    expect(arena.capacity).toBe(PAGE);
    const whole = arena.alloc("float32", PAGE / 4 - 16)!;
    expect(whole).not.toBeNull();
    expect(arena.alloc("float64", 8)!.byteOffset + 64).toBe(PAGE);
    expect(arena.alloc("float32", 1)).toBeNull();
    arena.reset();
    expect(arena.alloc("float64", PAGE / 8 + 1)).toBeNull();
    expect(arena.alloc("float64", PAGE / 8)).not.toBeNull();
  });

  it("grows on reserve only while nothing is allocated; views from before a growth are not its", () => {
    const arena = new Arena(0, 16 * PAGE);
    const live = arena.alloc("float64", 10)!.fill(2);
    arena.reserve(8 * PAGE);
    expect(arena.capacity).toBe(PAGE);
    expect(arena.owns(live)).toBe(true);
    expect(live.every((v) => v === 2)).toBe(true);

    arena.reset();
    arena.reserve(8 * PAGE);
    expect(arena.capacity).toBe(8 * PAGE);
    expect(arena.owns(live)).toBe(false);
    const large = arena.alloc("float32", 2 * PAGE - 16)!;
    expect(arena.owns(large)).toBe(true);
    expect(isZero(large)).toBe(true);
    // No shrinking, and no growth when the room is there.
    arena.reset();
    arena.reserve(PAGE);
    expect(arena.capacity).toBe(8 * PAGE);
  });

  it("makes room on reserve for its bytes beyond the reserved ones", () => {
    const arena = new Arena(PAGE + 64, 8 * PAGE);
    arena.reserve(3 * PAGE);
    expect(arena.alloc("float32", (3 * PAGE) / 4)).not.toBeNull();
  });

  it("grows no further than maxBytes", () => {
    const arena = new Arena(0, 4 * PAGE);
    arena.reserve(100 * PAGE);
    expect(arena.capacity).toBe(4 * PAGE);
    expect(arena.alloc("float64", (4 * PAGE) / 8 + 1)).toBeNull();
    expect(arena.alloc("float64", (4 * PAGE) / 8)).not.toBeNull();
    expect(() => arena.memory.grow(1)).toThrow(RangeError);
  });

  it("owns only views of its current memory", () => {
    const arena = new Arena(0, PAGE);
    const other = new Arena(0, PAGE);
    expect(arena.owns(arena.alloc("float32", 4)!)).toBe(true);
    expect(arena.owns(other.alloc("float32", 4)!)).toBe(false);
    expect(arena.owns(new Float32Array(4))).toBe(false);
    expect(arena.owns(new Float32Array(arena.memory.buffer, 128, 4))).toBe(true);
  });
});
