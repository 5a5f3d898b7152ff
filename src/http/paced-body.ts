import { Readable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * A body made by `chunks` (each a bounded amount of work), as a Readable that waits a turn of the
 * event loop before making the next one: other requests are answered between chunks however
 * fast the client reads, and a client that stops reading stops the making too.
 */
export function pacedBody(chunks: Iterable<Uint8Array>): Readable {
  async function* paced() {
    for (const chunk of chunks) {
      yield chunk;
      await nextTurn();
    }
  }
  return Readable.from(paced(), { objectMode: false });
}
