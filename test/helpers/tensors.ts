/** Small helpers for building request bodies in tests. */

/** A deterministic generator for test data (mulberry32), so no test depends on Math.random. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomMatrix(
  rows: number,
  cols: number,
  random: () => number,
  scale = 1,
): number[][] {
  return Array.from({ length: rows }, () =>
    Array.from({ length: cols }, () => (random() * 2 - 1) * scale),
  );
}

export function base64Tensor(
  shape: number[],
  values: ArrayLike<number>,
  dtype: "float32" | "float64" = "float32",
) {
  const data = dtype === "float32" ? Float32Array.from(values) : Float64Array.from(values);
  return { shape, dtype, base64: Buffer.from(data.buffer).toString("base64") };
}

export function decodeBase64(t: { dtype: string; base64: string }): number[] {
  const bytes = Buffer.from(t.base64, "base64");
  const copy = new Uint8Array(bytes).buffer;
  return Array.from(t.dtype === "float32" ? new Float32Array(copy) : new Float64Array(copy));
}

/** A gradient check is cheap to send and slow to compute: 2 forward passes per parameter. */
export function slowBody(width: number) {
  const random = seeded(width);
  return {
    layers: [
      { type: "affine", W: randomMatrix(width, width, random), b: new Array(width).fill(0) },
      { type: "softmaxWithLoss" },
    ],
    x: randomMatrix(32, width, random),
    t: Array.from({ length: 32 }, (_, i) => i % width),
  };
}

/**
 * A gradient check that runs for seconds on the fastest machine we know and a minute here
 * (its cost grows as width⁴): for tests that abort it, once the pool reports it started, and
 * must never see it end by itself first.
 */
export function endlessBody() {
  return slowBody(160);
}
