import { InvalidCursorError } from "./repository.js";

/**
 * Keyset pagination over (createdAt, id), newest first: the cursor is the last row's key, so a
 * page costs an index seek however deep it is, and rows inserted meanwhile do not shift pages.
 */
export interface CursorKey {
  createdAt: string;
  id: string;
}

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.createdAt, key.id])).toString("base64url");
}

export function decodeCursor(cursor: string): CursorKey {
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

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`page limit must be a positive integer, got ${limit}`);
  }
}
