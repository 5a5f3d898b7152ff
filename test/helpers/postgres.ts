/** Test files' side of a private PostgreSQL: the server itself is in postgres-server.ts. */
import { describe } from "vitest";
import { findPostgres } from "./postgres-server.js";

export { findPostgres, type PostgresServer, startPostgres } from "./postgres-server.js";

/**
 * `describe`, or, without PostgreSQL, `describe.skip` with one line saying what is missing.
 * Under CI=true a missing server fails the file instead: CI must test both engines.
 */
export function describeWithPostgres(name: string, body: () => void): void {
  const found = findPostgres();
  if ("missing" in found) {
    if (process.env.CI === "true") {
      describe(name, () => {
        throw new Error(`CI=true and no PostgreSQL: ${found.missing}`);
      });
      return;
    }
    console.warn(`skipping "${name}": missing ${found.missing}`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}
