import { describe, expect, it } from "vitest";
import { Rng, type RngState } from "../../src/core/rng.js";

function draws(rng: Rng, n: number, f: (r: Rng) => number): number[] {
  return Array.from({ length: n }, () => f(rng));
}

function meanVar(xs: number[]): { mean: number; variance: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, variance };
}

describe("Rng", () => {
  it("is xoshiro128** (reference outputs from state 1, 2, 3, 4)", () => {
    // First outputs of the reference C code, prng.di.unimi.it/xoshiro128starstar.c.
    const rng = Rng.fromState({ s: [1, 2, 3, 4], spare: null });
    expect(draws(rng, 6, (r) => r.uint32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492,
    ]);
  });

  it("keeps its seeding fixed (stored seeds must keep giving the same models)", () => {
    // splitmix32 of the low word twice and of (high word ^ 0x6a09e667) twice, from a Python port.
    expect(new Rng(0).getState()).toEqual({
      s: [1684164658, 3653269916, 1726121538, 4013404985],
      spare: null,
    });
    expect(new Rng(42).getState().s).toEqual([551831576, 144025891, 1726121538, 4013404985]);
    expect(new Rng(2 ** 53 - 1).getState().s).toEqual([
      3950124170, 4293442868, 787519449, 3751927360,
    ]);
  });

  it("gives the same bits for the same seed", () => {
    for (const seed of [0, 1, 42, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1]) {
      const a = new Rng(seed);
      const b = new Rng(seed);
      expect(draws(a, 200, (r) => r.uint32())).toEqual(draws(b, 200, (r) => r.uint32()));
      expect(draws(a, 200, (r) => r.normal())).toEqual(draws(b, 200, (r) => r.normal()));
    }
  });

  it("gives different sequences for different seeds, the high word included", () => {
    const seeds = [0, 1, 2, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, -1];
    const firsts = seeds.map((seed) => draws(new Rng(seed), 4, (r) => r.uint32()).join(","));
    expect(new Set(firsts).size).toBe(seeds.length);
  });

  it("rejects seeds that are not safe integers", () => {
    for (const seed of [0.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => new Rng(seed)).toThrow(RangeError);
    }
  });

  it("continues identically after a JSON round trip of its state, normal()'s spare included", () => {
    const rng = new Rng(7);
    rng.uniform();
    rng.normal(); // leaves a spare
    const state = JSON.parse(JSON.stringify(rng.getState())) as RngState;
    expect(state.spare).not.toBeNull();
    const restored = Rng.fromState(state);
    const next = (r: Rng) => [r.normal(), r.uniform(), r.normal(), r.normal(), r.int(1000)];
    for (let i = 0; i < 50; i++) expect(next(restored)).toEqual(next(rng));

    const other = new Rng(99);
    other.setState(rng.getState());
    expect(draws(other, 20, (r) => r.normal())).toEqual(draws(rng, 20, (r) => r.normal()));
  });

  it("returns a state the caller cannot use to change the generator", () => {
    const rng = new Rng(3);
    const state = rng.getState();
    state.s[0] = 0;
    expect(rng.getState().s[0]).not.toBe(0);
  });

  it("refuses invalid states", () => {
    const bad: unknown[] = [
      { s: [0, 0, 0, 0], spare: null },
      { s: [1, 2, 3], spare: null },
      { s: [1, 2, 3, 2 ** 32], spare: null },
      { s: [1, 2, 3, -1], spare: null },
      { s: [1, 2, 3, 4], spare: Number.NaN },
      null,
    ];
    for (const state of bad) expect(() => Rng.fromState(state as RngState)).toThrow(RangeError);
  });

  it("draws uniform() in [0, 1) with mean 1/2 and variance 1/12", () => {
    const xs = draws(new Rng(1), 100_000, (r) => r.uniform());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const { mean, variance } = meanVar(xs);
    // Standard error of the mean: √(1/12 / 1e5) ≈ 0.0009.
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.002);
    // More than 32 bits: the values are not all multiples of 2^-32.
    expect(xs.some((x) => (x * 2 ** 32) % 1 !== 0)).toBe(true);
  });

  it("draws normal() with mean 0, variance 1 and the normal's mass within ±1σ", () => {
    const xs = draws(new Rng(2), 100_000, (r) => r.normal());
    expect(xs.every(Number.isFinite)).toBe(true);
    const { mean, variance } = meanVar(xs);
    // Standard errors: 0.003 for the mean, √(2/1e5) ≈ 0.0045 for the variance.
    expect(Math.abs(mean)).toBeLessThan(0.015);
    expect(Math.abs(variance - 1)).toBeLessThan(0.025);
    const within1 = xs.filter((x) => Math.abs(x) < 1).length / xs.length;
    expect(Math.abs(within1 - 0.682689)).toBeLessThan(0.01);
  });

  it("draws int(n) in range, roughly uniform (chi-square)", () => {
    const rng = new Rng(3);
    const n = 10;
    const counts = new Array<number>(n).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const k = rng.int(n);
      if (Number.isInteger(k) && k >= 0 && k < n) counts[k]++;
      else outside++;
    }
    expect(outside).toBe(0);
    const expected = 100_000 / n;
    const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(30); // 9 degrees of freedom: P(χ² > 30) ≈ 0.0004
    expect(new Rng(5).int(1)).toBe(0);
  });

  it("has no modulo bias (n = 3·2^30: x mod n would put half the draws below 2^30)", () => {
    const rng = new Rng(4);
    const n = 3 * 2 ** 30;
    let below = 0;
    for (let i = 0; i < 20_000; i++) if (rng.int(n) < 2 ** 30) below++;
    expect(Math.abs(below / 20_000 - 1 / 3)).toBeLessThan(0.02);
  });

  it("refuses int(n) outside [1, 2^32]", () => {
    const rng = new Rng(0);
    for (const n of [0, -1, 1.5, 2 ** 32 + 1, Number.NaN])
      expect(() => rng.int(n)).toThrow(RangeError);
  });

  it("fills minibatch indices in [0, n), with replacement, as int(n) would draw them", () => {
    const out = new Int32Array(1000);
    new Rng(11).fillIndices(out, 60_000);
    expect(out.every((k) => k >= 0 && k < 60_000)).toBe(true);
    const again = new Rng(11);
    expect(Array.from(out)).toEqual(draws(again, 1000, (r) => r.int(60_000)));

    const small = new Int32Array(100);
    new Rng(12).fillIndices(small, 5);
    expect(small.every((k) => k >= 0 && k < 5)).toBe(true);
    expect(new Set(small).size).toBe(5); // every index drawn, so some drawn more than once
  });
});
