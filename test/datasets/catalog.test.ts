import { MessageChannel } from "node:worker_threads";
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

  it("rejects unknown names, splits and bad limits with a DatasetError", async () => {
    const name = loadDataset("cifar", "train");
    await expect(name).rejects.toBeInstanceOf(DatasetError);
    await expect(name).rejects.toMatchObject({
      field: "name",
      message: 'unknown dataset "cifar"; known: mnist',
    });
    await expect(loadDataset("mnist", "validation")).rejects.toMatchObject({
      field: "split",
      message: 'dataset mnist has no split "validation"; it has train, test',
    });
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      await expect(loadDataset("mnist", "test", limit)).rejects.toMatchObject({ field: "limit" });
    }
  });
});

describe("MNIST", () => {
  it("train split: 60000 × 784 in [0, 1], digit labels, known first labels", async () => {
    const train = await loadDataset("mnist", "train");
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

  it("test split: 10000 samples, known first labels", async () => {
    const test = await loadDataset("mnist", "test");
    expect(test.count).toBe(10000);
    expect(test.x.length).toBe(10000 * 784);
    expect(new Set(test.labels)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Array.from(test.labels.subarray(0, 10))).toEqual([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it("limit takes the first N samples as views on the same buffers", async () => {
    const full = await loadDataset("mnist", "train");
    const some = await loadDataset("mnist", "train", 100);
    expect(some.count).toBe(100);
    expect(some.x.length).toBe(100 * 784);
    expect(some.labels.length).toBe(100);
    expect(some.x.buffer).toBe(full.x.buffer);
    expect(some.x.byteOffset).toBe(full.x.byteOffset);
    expect(some.labels.buffer).toBe(full.labels.buffer);
    expect(some.x).toEqual(full.x.subarray(0, 100 * 784));
    expect(some.labels).toEqual(full.labels.subarray(0, 100));
  });

  it("loads each split once and refuses a limit above its size instead of clamping it", async () => {
    const [a, b] = await Promise.all([loadDataset("mnist", "test"), loadDataset("mnist", "test")]);
    expect(a.x.buffer).toBe(b.x.buffer);
    expect((await loadDataset("mnist", "test", 10000)).count).toBe(10000);
    await expect(loadDataset("mnist", "test", 20000)).rejects.toThrow(
      "the test split of mnist has 10000 samples; limit must be at most 10000",
    );
  });

  it("holds the rows in shared memory, so tasks carry them to threads without a copy", async () => {
    const some = await loadDataset("mnist", "test", 100, 50);
    expect(some.x.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(some.labels.buffer).toBeInstanceOf(SharedArrayBuffer);
    const received = await new Promise<typeof some>((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port2.once("message", (message) => {
        resolve(message as typeof some);
        port1.close();
        port2.close();
      });
      port1.postMessage(some);
    });
    expect(received.x.byteOffset).toBe(50 * 784 * 4);
    expect(received.labels[0]).toBe(some.labels[0]);
    // The same memory: a write through the received view shows in the original one.
    const before = some.x[0];
    received.x[0] = 0.25;
    expect(some.x[0]).toBe(0.25);
    some.x[0] = before;
  });
});
