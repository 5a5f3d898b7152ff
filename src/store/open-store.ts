import { accessSync, constants, existsSync, mkdirSync } from "node:fs";
import { endianness } from "node:os";
import { dirname, join, resolve } from "node:path";
import Database from "better-sqlite3";
import { Kysely, sql } from "kysely";
import type pg from "pg";
import { EmbeddedSqliteDialect, ServerPostgresDialect } from "./dialects.js";
import { Engine } from "./engine.js";
import { JobEventLog } from "./job-events.js";
import { Jobs } from "./jobs.js";
import { migrate as migratePostgres } from "./migrations/postgres.js";
import { migrate as migrateSqlite } from "./migrations/sqlite.js";
import { CachedModels } from "./model-cache.js";
import { Models } from "./models.js";
import type { Store } from "./repository.js";
import type { Schema } from "./schema.js";

/** Parameters a replica on PostgreSQL keeps of the models it read lately. */
const MODEL_CACHE_BYTES = 256 * 1024 * 1024;

export const DATABASE_FILE = "backprop.db";

/** PRAGMA auto_vacuum's value for INCREMENTAL. */
const INCREMENTAL = 2;
/** Bytes a WAL keeps after a checkpoint resets it. */
const WAL_SIZE_LIMIT = 16 * 1024 * 1024;

/**
 * The store cannot be opened: a missing, read-only or full directory, a database this version
 * cannot use, or a PostgreSQL server that refuses us. An operator's problem, reported as one line
 * naming the place.
 */
export class StoreOpenError extends Error {
  override name = "StoreOpenError";
}

export interface StoreOptions {
  /** Where the embedded store lives when there is no `databaseUrl`. */
  dataDir: string;
  /** `postgres://…`: the store is that PostgreSQL database instead. */
  databaseUrl?: string | null;
}

/** Opens the store (creating and migrating it if need be): PostgreSQL when given a URL, else SQLite. */
export async function openStore({ dataDir, databaseUrl }: StoreOptions): Promise<Store> {
  // Parameters are stored as the typed arrays' bytes, which are in the host's byte order.
  if (endianness() !== "LE") throw new Error("the store needs a little-endian host");
  return databaseUrl ? openPostgres(databaseUrl) : openSqlite(dataDir);
}

function storeOn(engine: Engine): Store {
  let closed: Promise<void> | undefined;
  return {
    engine: engine.kind,
    // On PostgreSQL a read of parameters is costly (see CachedModels); SQLite reads them in place.
    models:
      engine.kind === "postgres"
        ? new CachedModels(new Models(engine), MODEL_CACHE_BYTES)
        : new Models(engine),
    jobs: new Jobs(engine),
    events: new JobEventLog(engine),
    adoptOpenRecords(tenant) {
      return engine.write(async (trx) => {
        const adopt = async (table: "models" | "jobs") =>
          Number(
            (
              await trx
                .updateTable(table)
                .set({ tenant })
                .where("tenant", "is", null)
                .executeTakeFirst()
            ).numUpdatedRows,
          );
        return { models: await adopt("models"), jobs: await adopt("jobs") };
      });
    },
    async ping() {
      await sql`SELECT 1`.execute(engine.db);
    },
    close() {
      closed ??= engine.db.destroy();
      return closed;
    },
  };
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
 * The embedded store in `dataDir`. One connection per process (Kysely serialises its use): the
 * service's writes are small and serial, and WAL lets other processes read beside the writer.
 */
function openSqlite(dataDir: string): Store {
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
    // Deleted models' pages go back to the file system (Engine.reclaimSpace). A new file takes
    // the mode only before anything is written to it (WAL's header included); an older one
    // switches with a one-off VACUUM below.
    db.pragma("auto_vacuum = INCREMENTAL");
    // WAL: readers do not block the writer. FULL: a committed job or model survives power loss,
    // not just a process crash. Busy timeout: wait out another process's write instead of failing.
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal") throw new Error(`${file}: could not switch to WAL (journal_mode ${mode})`);
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
    migrateSqlite(db);
    if (db.pragma("auto_vacuum", { simple: true }) !== INCREMENTAL) db.exec("VACUUM");
    // A WAL is reused, not shrunk, after a checkpoint: past this it is cut back.
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
  } catch (err) {
    db.close();
    // e.g. SQLITE_FULL on a full disk, which by itself names no file.
    throw new StoreOpenError(`cannot set up the store ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return storeOn(
    new Engine("sqlite", new Kysely<Schema>({ dialect: new EmbeddedSqliteDialect(db) }), db),
  );
}

/**
 * How this pool's clients read values, set on the pool (never on pg's global registry): bigint
 * (event ids, counts) as a number, which holds ids up to 2^53 exactly, and jsonb as its text,
 * parsed by the repositories as SQLite's JSON text is.
 */
function pgTypes(types: typeof pg.types): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: "text" | "binary") => {
      if (oid === types.builtins.INT8) return (value: string) => Number(value);
      if (oid === types.builtins.JSONB || oid === types.builtins.JSON) {
        return (value: string) => value;
      }
      return types.getTypeParser(oid, format);
    }) as pg.CustomTypesConfig["getTypeParser"],
  };
}

/** The URL without its password, for messages. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable DATABASE_URL)";
  }
}

async function openPostgres(url: string): Promise<Store> {
  // Loaded only for PostgreSQL: an embedded server's heap need not hold it.
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({
    connectionString: url,
    types: pgTypes(pg.types),
    max: 10,
    // Fail a query in 2 s when the server is down rather than queue it until it is back.
    connectionTimeoutMillis: 2_000,
    keepAlive: true,
  });
  // An idle client whose server went away emits this; without a listener it would crash the
  // process. The pool drops that client, and the next query connects anew.
  pool.on("error", () => {});
  const db = new Kysely<Schema>({ dialect: new ServerPostgresDialect({ pool }) });
  try {
    await migratePostgres(db as Kysely<unknown>);
  } catch (err) {
    await db.destroy();
    throw new StoreOpenError(
      `cannot set up the store ${redacted(url)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return storeOn(new Engine("postgres", db));
}
