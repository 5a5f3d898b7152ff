import type Database from "better-sqlite3";
import { InvalidCursorError, type ListQuery, type Page } from "./repository.js";

/**
 * Keyset pagination over (createdAt, id), newest first: the cursor is the last row's key, so a
 * page costs an index seek however deep it is, and rows inserted meanwhile do not shift pages.
 */
interface CursorKey {
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

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`page limit must be a positive integer, got ${limit}`);
  }
}

/** The columns a keyset page is ordered and resumed by. */
interface KeyedRow {
  id: string;
  created_at: string;
}

/**
 * One tenant's rows of `table`, a page at a time, newest first: the two statements of a keyset
 * page (the first, and the one after a cursor) and the cursor of the last row.
 */
export class KeysetPages<Row extends KeyedRow, Item> {
  private readonly firstPage: Database.Statement<[string | null, number], Row>;
  private readonly nextPage: Database.Statement<[string | null, string, string, number], Row>;

  /** `table` and `columns` are SQL text: the caller's constants, never request values. */
  constructor(
    db: Database.Database,
    table: string,
    columns: string,
    private readonly toItem: (row: Row) => Item,
  ) {
    this.firstPage = db.prepare(
      `SELECT ${columns} FROM ${table} WHERE tenant IS ?
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    );
    this.nextPage = db.prepare(
      `SELECT ${columns} FROM ${table} WHERE tenant IS ? AND (created_at, id) < (?, ?)
       ORDER BY created_at DESC, id DESC LIMIT ?`,
    );
  }

  list({ tenant, limit, cursor }: ListQuery): Page<Item> {
    checkLimit(limit);
    const key = cursor ? decodeCursor(cursor) : null;
    // One row more than asked tells whether another page exists.
    const rows = key
      ? this.nextPage.all(tenant, key.createdAt, key.id, limit + 1)
      : this.firstPage.all(tenant, limit + 1);
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(this.toItem),
      nextCursor:
        rows.length > limit ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
    };
  }
}
