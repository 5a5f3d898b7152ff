import { type RawBuilder, sql } from "kysely";
import { InvalidCursorError, type ListQuery, type Page } from "./repository.js";

/**
 * Keyset pagination over (createdAt, id), newest first: the cursor is the last row's key, so a
 * page costs an index seek however deep it is, and rows inserted meanwhile do not shift pages.
 */
export interface CursorKey {
  createdAt: string;
  id: string;
}

function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.createdAt, key.id])).toString("base64url");
}

function decodeCursor(cursor: string): CursorKey {
  try {
    const key: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(key) &&
      key.length === 2 &&
      typeof key[0] === "string" &&
      typeof key[1] === "string"
    ) {
      return { createdAt: key[0], id: key[1] };
    }
  } catch {
    // not base64url JSON: reported below like any other foreign cursor
  }
  throw new InvalidCursorError(cursor);
}

/**
 * `tenant = ?`, or `tenant IS NULL` for open mode: PostgreSQL has no `IS ?`, and its
 * `IS NOT DISTINCT FROM` would not use the tenant indexes.
 */
export function tenantIs(tenant: string | null): RawBuilder<boolean> {
  return tenant === null ? sql<boolean>`tenant IS NULL` : sql<boolean>`tenant = ${tenant}`;
}

/** Rows strictly after `key` in newest-first order. */
export function olderThan(key: CursorKey): RawBuilder<boolean> {
  return sql<boolean>`(created_at, id) < (${key.createdAt}, ${key.id})`;
}

/**
 * One page of `limit` items: `fetch` reads up to `count` rows newest first, after `key` when
 * given; one row more than asked tells whether another page exists.
 */
export async function keysetPage<Row extends { id: string; created_at: string }, Item>(
  { limit, cursor }: ListQuery,
  fetch: (key: CursorKey | null, count: number) => Promise<Row[]>,
  toItem: (row: Row) => Item,
): Promise<Page<Item>> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`page limit must be a positive integer, got ${limit}`);
  }
  const key = cursor ? decodeCursor(cursor) : null;
  const rows = await fetch(key, limit + 1);
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(toItem),
    nextCursor:
      rows.length > limit ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
  };
}
