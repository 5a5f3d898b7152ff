/** What the HTTP benches send: the book's TwoLayerNet, and pixels to feed it. */

/** The book's TwoLayerNet (784-50-10, ReLU) as POST /v1/models takes it. */
export function twoLayerNet(seed: number, weightInit: "he" | number = "he") {
  return {
    seed,
    architecture: {
      inputSize: 784,
      hiddenSizes: [50],
      outputSize: 10,
      activation: "relu",
      weightInit,
    },
  };
}

/** A deterministic stand-in for MNIST pixels in [0, 1) (no Math.random). */
export function pixels(n: number, seed: number): number[] {
  const out = new Array<number>(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = s / 2147483648;
  }
  return out;
}
