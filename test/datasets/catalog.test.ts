import { describe, expect, it } from "vitest";
import { DatasetError, listDatasets, loadDataset } from "../../src/datasets/catalog.js";

describe("dataset catalog", () => {
  it("lists MNIST from static metadata", () => {
    expect(listDatasets()).toEqual([
      expect.objectContaining({
        name: "mnist",
        inputSize: 784,
        classes: 10,
        splits: { train: 60000, test: 10000 },
        description: expect.any(String),
      }),
    ]);
  });

  it("rejects unknown names, splits and bad limits with a DatasetError", () => {
    const error = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err;
      }
      throw new Error("did not throw");
    };
    const name = error(() => loadDataset("cifar", "train"));
    expect(name).toBeInstanceOf(DatasetError);
    expect(name).toMatchObject({ field: "name", message: 'unknown dataset "cifar"; known: mnist' });
    expect(error(() => loadDataset("mnist", "validation"))).toMatchObject({
      field: "split",
      message: 'dataset mnist has no split "validation"; it has train, test',
    });
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      expect(error(() => loadDataset("mnist", "test", limit))).toMatchObject({ field: "limit" });
    }
  });
});

describe("MNIST", () => {
  it("train split: 60000 × 784 in [0, 1], digit labels, known first labels", () => {
    const train = loadDataset("mnist", "train");
    expect(train).toMatchObject({ count: 60000, inputSize: 784, classes: 10, split: "train" });
    expect(train.x).toBeInstanceOf(Float32Array);
    expect(train.x.length).toBe(60000 * 784);
    expect(train.labels.length).toBe(60000);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of train.x) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 1]);
    expect(new Set(train.labels)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Array.from(train.labels.subarray(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  });

  it("test split: 10000 samples, known first labels", () => {
    const test = loadDataset("mnist", "test");
    expect(test.count).toBe(10000);
    expect(test.x.length).toBe(10000 * 784);
    expect(new Set(test.labels)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it("limit takes the first N samples as views on the same buffers", () => {
    const full = loadDataset("mnist", "train");
    const some = loadDataset("mnist", "train", 100);
    expect(some.count).toBe(100);
    expect(some.x.length).toBe(100 * 784);
    expect(some.labels.length).toBe(100);
    expect(some.x.buffer).toBe(full.x.buffer);
    expect(some.x.byteOffset).toBe(full.x.byteOffset);
    expect(some.labels.buffer).toBe(full.labels.buffer);
    expect(some.x).toEqual(full.x.subarray(0, 100 * 784));
    expect(some.labels).toEqual(full.labels.subarray(0, 100));
  });

  it("loads each split once and clamps a limit above its size", () => {
    expect(loadDataset("mnist", "test").x.buffer).toBe(loadDataset("mnist", "test").x.buffer);
    expect(loadDataset("mnist", "test", 20000).count).toBe(10000);
  });
});
