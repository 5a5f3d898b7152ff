import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IDX_UBYTE_1D, IDX_UBYTE_3D, parseIdx, readIdx } from "../../src/datasets/idx.js";
import { readMnist } from "../../src/datasets/mnist.js";

const dir = mkdtempSync(join(tmpdir(), "idx-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An IDX file: magic, big-endian dims, then `body` (or dims' product of counting bytes). */
function idx(magic: number, dims: number[], body?: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  for (const [i, d] of dims.entries()) header.writeUInt32BE(d, 4 + 4 * i);
  const n = dims.reduce((a, b) => a * b, 1);
  return Buffer.concat([header, body ?? Uint8Array.from({ length: n }, (_, i) => i % 256)]);
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

describe("IDX parser", () => {
  it("reads a well-formed 3-D file as a view on the read bytes", async () => {
    const file = write("good-idx3-ubyte", idx(IDX_UBYTE_3D, [2, 3, 4]));
    const { dims, data } = await readIdx(file, IDX_UBYTE_3D);
    expect(dims).toEqual([2, 3, 4]);
    expect(Array.from(data)).toEqual(Array.from({ length: 24 }, (_, i) => i));
  });

  it("does not copy the data", () => {
    const bytes = idx(IDX_UBYTE_1D, [5]);
    const { data } = parseIdx(bytes, "labels", IDX_UBYTE_1D);
    expect(data.buffer).toBe(bytes.buffer);
    expect(data.byteOffset).toBe(bytes.byteOffset + 8);
  });

  it("rejects a wrong magic number, naming the file and both magics", async () => {
    const file = write("train-images-idx3-ubyte", idx(IDX_UBYTE_1D, [3]));
    await expect(readIdx(file, IDX_UBYTE_3D)).rejects.toThrow(
      "train-images-idx3-ubyte: expected magic 0x00000803, got 0x00000801",
    );
  });

  it("rejects a truncated file, saying what the header promised", async () => {
    const full = idx(IDX_UBYTE_3D, [10, 28, 28]);
    const file = write("cut-idx3-ubyte", full.subarray(0, full.length - 1000));
    await expect(readIdx(file, IDX_UBYTE_3D)).rejects.toThrow(
      "cut-idx3-ubyte: header says 10×28×28 = 7840 bytes of data but the file holds 6840",
    );
  });

  it("rejects trailing bytes and a file shorter than its header", () => {
    const long = Buffer.concat([idx(IDX_UBYTE_1D, [3]), Buffer.from([1])]);
    expect(() => parseIdx(long, "long", IDX_UBYTE_1D)).toThrow(
      "long: header says 3 = 3 bytes of data but the file holds 4",
    );
    const short = idx(IDX_UBYTE_3D, [1, 1, 1]).subarray(0, 10);
    expect(() => parseIdx(short, "short", IDX_UBYTE_3D)).toThrow(
      "short: file holds 10 bytes, shorter than its 16-byte header",
    );
    expect(() => parseIdx(new Uint8Array(2), "tiny", IDX_UBYTE_3D)).toThrow(
      "tiny: file holds 2 bytes, too short for an IDX magic",
    );
  });

  it("names the missing file", async () => {
    await expect(readIdx(join(dir, "nope-idx1-ubyte"), IDX_UBYTE_1D)).rejects.toThrow(
      /^nope-idx1-ubyte: cannot read .*nope-idx1-ubyte: ENOENT/,
    );
  });
});

describe("MNIST split files", () => {
  function split(name: string, images: number, labels: number[], size = 28): string {
    const sub = mkdtempSync(join(dir, `${name}-`));
    writeFileSync(join(sub, "t10k-images-idx3-ubyte"), idx(IDX_UBYTE_3D, [images, size, size]));
    writeFileSync(
      join(sub, "t10k-labels-idx1-ubyte"),
      idx(IDX_UBYTE_1D, [labels.length], Uint8Array.from(labels)),
    );
    return sub;
  }

  it("scales pixels by 1/255 into float32", async () => {
    const { x, labels, count } = await readMnist(split("ok", 2, [3, 7]), "test");
    expect(count).toBe(2);
    expect(Array.from(labels)).toEqual([3, 7]);
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(2 * 784);
    expect(x[0]).toBe(0);
    expect(x[255]).toBe(1);
    expect(x[1]).toBe(Math.fround(1 / 255));
  });

  it("rejects images and labels of different counts", async () => {
    await expect(readMnist(split("mismatch", 3, [1, 2]), "test")).rejects.toThrow(
      "t10k-images-idx3-ubyte holds 3 images but t10k-labels-idx1-ubyte holds 2 labels",
    );
  });

  it("rejects images that are not 28×28 and labels that are not digits", async () => {
    await expect(readMnist(split("size", 1, [1], 27), "test")).rejects.toThrow(
      "t10k-images-idx3-ubyte: images are 27×27, expected 28×28",
    );
    await expect(readMnist(split("label", 2, [1, 12]), "test")).rejects.toThrow(
      "t10k-labels-idx1-ubyte: label 12 at index 1 is not a digit",
    );
  });
});
