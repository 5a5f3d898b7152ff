import type { DType, FloatArray } from "./tensor.js";

const PAGE = 65_536;
/** Start of every allocation: a cache line, and more than any SIMD load needs. */
const ALIGN = 64;

const bytesPer = (dtype: DType) => (dtype === "float32" ? 4 : 8);

/**
 * A bump allocator over a WebAssembly memory, so that WebAssembly kernels read and write tensors
 * where they lie. Growing a memory detaches every view of it, so this one grows only when it is
 * empty: `reset()` frees everything and `reserve(bytes)` makes room for a task's working set; an
 * allocation that finds no room returns null (the caller then takes the JS heap). The first
 * `reserved` bytes are never handed out (the kernels' own statics and scratch).
 */
export class Arena {
  readonly memory: WebAssembly.Memory;
  private readonly maxPages: number;
  private top: number;
  /** Bytes below this were handed out before and may hold stale values; above it all is zero. */
  private dirty: number;

  constructor(
    readonly reserved: number,
    maxBytes: number,
  ) {
    this.maxPages = Math.max(Math.ceil(reserved / PAGE) + 1, Math.floor(maxBytes / PAGE));
    this.memory = new WebAssembly.Memory({
      initial: Math.ceil(reserved / PAGE) + 1,
      maximum: this.maxPages,
    });
    this.top = reserved;
    this.dirty = reserved;
  }

  /** Bytes the memory holds now. */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /** True when `view` lies in this arena's memory (a view from before a growth does not). */
  owns(view: ArrayBufferView): boolean {
    return view.buffer === this.memory.buffer;
  }

  /** Zeroed data in the arena, or null when it has no room. */
  alloc(dtype: DType, length: number): FloatArray | null {
    const start = this.claim(length * bytesPer(dtype));
    if (start === null) return null;
    const { buffer } = this.memory;
    const end = this.top;
    if (start < this.dirty)
      new Uint8Array(buffer, start, Math.min(end, this.dirty) - start).fill(0);
    this.dirty = Math.max(this.dirty, end);
    return dtype === "float32"
      ? new Float32Array(buffer, start, length)
      : new Float64Array(buffer, start, length);
  }

  /** Bytes as they are, not zeroed, for work that overwrites them; null when there is no room. */
  bytes(length: number): Uint8Array | null {
    const start = this.claim(length);
    if (start === null) return null;
    this.dirty = Math.max(this.dirty, this.top);
    return new Uint8Array(this.memory.buffer, start, length);
  }

  /** The start of `bytes` more at the top, aligned, or null when they do not fit. */
  private claim(bytes: number): number | null {
    const start = Math.ceil(this.top / ALIGN) * ALIGN;
    if (start + bytes > this.capacity) return null;
    this.top = start + bytes;
    return start;
  }

  /** The current end of the allocations, for `release`. */
  mark(): number {
    return this.top;
  }

  /** Frees what was allocated since `mark()` returned `mark`; views of it are dead from here on. */
  release(mark: number): void {
    this.top = mark;
  }

  /** Frees every allocation: every view handed out before is dead from here on. */
  reset(): void {
    this.top = this.reserved;
  }

  /**
   * Grows the memory, as far as its maximum allows, to hold `bytes` of allocations; only while
   * nothing is allocated (growing detaches live views), so call it right after `reset`.
   */
  reserve(bytes: number): void {
    if (this.top !== this.reserved) return;
    const pages = Math.ceil((this.reserved + bytes - this.capacity) / PAGE);
    const room = this.maxPages - this.capacity / PAGE;
    if (pages > 0 && room > 0) this.memory.grow(Math.min(pages, room));
  }
}
