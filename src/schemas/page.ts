import { z } from "zod";

/** A list route's query: keyset pages, newest first (src/store/cursor.ts). */
export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
});

/** A list route's answer: one page of `item`, and the cursor of the next (null on the last). */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
