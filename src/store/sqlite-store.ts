import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { endianness } from "node:os";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { migrate } from "./migrations.js";
import type { Store } from "./repository.js";
import { SqliteJobRepository } from "./sqlite-jobs.js";
import { SqliteModelRepository } from "./sqlite-models.js";

export const DATABASE_FILE = "backprop.db";

/**
 * The store in DATA_DIR cannot be opened: a missing, read-only or full directory, or a database
 * this version cannot use. An operator's problem, reported as one line naming the place.
 */
export class StoreOpenError extends Error {
  override name = "StoreOpenError";
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns under /proc (it retries
 * the ENOENT there forever), so DATA_DIR=/proc/nope would hang the start instead of failing it.
 */
function makeDirectory(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeDirectory(parent);
  mkdirSync(dir);
}

/**
 * Opens (creating if need be) the embedded store in `dataDir`. One connection per process: the
 * service's writes are small and serial, and WAL lets readers run beside the writer.
 */
export function openStore(dataDir: string): Store {
  // Parameters are stored as the typed arrays' bytes, which are in the host's byte order.
  if (endianness() !== "LE") throw new Error("the store needs a little-endian host");
  const dir = resolve(dataDir);
  try {
    makeDirectory(dir);
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new StoreOpenError(`data directory ${dir} is not writable: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const file = join(dir, DATABASE_FILE);
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (err) {
    throw new StoreOpenError(`cannot open the store ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    // WAL: readers do not block the writer. FULL: a committed job or model survives power loss,
    // not just a process crash. Busy timeout: wait out another process's write instead of failing.
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`${file}: could not switch to WAL (journal_mode ${mode})`);
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrate(db);
  } catch (err) {
    db.close();
    // e.g. SQLITE_FULL on a full disk, which by itself names no file.
    throw new StoreOpenError(`cannot set up the store ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const models = new SqliteModelRepository(db);
  const jobs = new SqliteJobRepository(db, models);
  return {
    models,
    jobs,
    close() {
      if (db.open) db.close();
    },
  };
}
