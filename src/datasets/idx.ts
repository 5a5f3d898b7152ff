import { readFile } from "node:fs/promises";
import { basename } from "node:path";

/**
 * The IDX format of the MNIST files (http://yann.lecun.com/exdb/mnist/): a big-endian magic
 * number `0x0000TTRR` (TT = element type, 0x08 = unsigned byte; RR = rank), then RR uint32
 * big-endian dimensions, then the elements row-major.
 */
export const IDX_UBYTE_1D = 0x00000801;
export const IDX_UBYTE_3D = 0x00000803;

export interface IdxArray {
  dims: number[];
  /** A view on the bytes that were parsed, not a copy. */
  data: Uint8Array;
}

/** Parses unsigned-byte IDX `bytes`; `name` is the file name the errors speak of. */
export function parseIdx(bytes: Uint8Array, name: string, expectedMagic: number): IdxArray {
  if (bytes.byteLength < 4) {
    throw new Error(`${name}: file holds ${bytes.byteLength} bytes, too short for an IDX magic`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    throw new Error(`${name}: expected magic ${hex(expectedMagic)}, got ${hex(magic)}`);
  }
  const rank = magic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.byteLength < headerBytes) {
    throw new Error(
      `${name}: file holds ${bytes.byteLength} bytes, shorter than its ${headerBytes}-byte header`,
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((n, d) => n * d, 1);
  const actual = bytes.byteLength - headerBytes;
  if (expected !== actual) {
    throw new Error(
      `${name}: header says ${dims.join("×")} = ${expected} bytes of data but the file holds ${actual}`,
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

export async function readIdx(file: string, expectedMagic: number): Promise<IdxArray> {
  const name = basename(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new Error(`${name}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseIdx(bytes, name, expectedMagic);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}
