/** Walks over the plain data that crosses threads: nested arrays and objects with typed arrays. */

/**
 * `value` rebuilt through its arrays and plain objects, with `replace` offered every object and
 * typed array on the way (outermost first): what it returns, when not undefined, stands in for
 * that item, which is then not walked into. Typed arrays are leaves.
 */
export function mapTree<T>(value: T, replace: (item: object) => unknown): T {
  const walk = (item: unknown): unknown => {
    if (item === null || typeof item !== "object") return item;
    const replaced = replace(item);
    if (replaced !== undefined) return replaced;
    if (ArrayBuffer.isView(item)) return item;
    if (Array.isArray(item)) return item.map(walk);
    return Object.fromEntries(Object.entries(item).map(([key, v]) => [key, walk(v)]));
  };
  return walk(value) as T;
}

/**
 * Whether `view` spans its whole ArrayBuffer, so that moving the buffer to another thread moves
 * nothing else: not so for a view into Node's shared pool of small buffers, or a part of a body.
 */
export const ownsBuffer = (view: ArrayBufferView): boolean =>
  view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;

/** Every typed-array buffer reachable from a value, for a transfer list. */
export function buffersOf(value: unknown, into: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && !into.includes(value.buffer))
      into.push(value.buffer);
  } else if (Array.isArray(value)) {
    for (const item of value) buffersOf(item, into);
  } else if (value !== null && typeof value === "object") {
    for (const item of Object.values(value)) buffersOf(item, into);
  }
  return into;
}
