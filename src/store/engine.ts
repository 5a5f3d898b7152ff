/**
 * What differs between the engines, in one place: how a transaction locks what it is about to
 * check (a job's row, a tenant's pending count) and how deleted rows give their space back. The
 * repositories write everything else once, in Kysely, for both.
 */
import type Database from "better-sqlite3";
import { type Compilable, CompiledQuery, type Kysely, sql, type Transaction } from "kysely";
import type { Schema } from "./schema.js";

export type Db = Kysely<Schema> | Transaction<Schema>;

/**
 * Free pages SQLite gives back to the file per statement: a step moves at most this many pages
 * (8 MiB at the default page size) from the file's end into freed holes, so one step holds the
 * connection, and the event loop, for a bounded time and other queries run between steps.
 */
const VACUUM_STEP_PAGES = 2048;

/** Namespace of this service's advisory locks (PostgreSQL), the first of their two keys. */
const PENDING_LOCK = 0x62703031; // "bp01"

export class Engine {
  private readonly compiled = new Map<string, { sql: string; positions: number[] }>();

  constructor(
    readonly kind: "sqlite" | "postgres",
    readonly db: Kysely<Schema>,
    /** SQLite: the connection under Kysely, for what a prepared statement cannot run. */
    private readonly sqlite?: Pick<Database.Database, "exec" | "pragma">,
  ) {}

  /**
   * Runs a hot read compiled once per `key`: building and compiling a Kysely query costs about as
   * much as SQLite takes to run it. `build` receives stand-ins for `params` (strings only) and must
   * give the same SQL for every call with the same key (so a null tenant, which changes the SQL,
   * belongs in the key).
   */
  async reuse<Row>(
    key: string,
    params: string[],
    build: (p: string[]) => Compilable<Row>,
  ): Promise<Row[]> {
    let entry = this.compiled.get(key);
    if (!entry) {
      const stand = params.map((_, i) => `\u0000param${i}\u0000`);
      const query = build(stand).compile();
      const positions = query.parameters.map((p) => stand.indexOf(p as string));
      if (positions.includes(-1)) throw new Error(`query ${key} binds a value it was not given`);
      entry = { sql: query.sql, positions };
      this.compiled.set(key, entry);
    }
    const values = entry.positions.map((i) => params[i]);
    const { rows } = await this.db.executeQuery(CompiledQuery.raw(entry.sql, values));
    return rows as Row[];
  }

  /**
   * A transaction that writes. SQLite: BEGIN IMMEDIATE (dialects.ts), so it holds the write
   * lock from its first read and another process cannot change what it checked.
   */
  write<T>(fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(fn);
  }

  /** A consistent snapshot for reads spanning statements (a model and its tensors). */
  read<T>(fn: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
    return this.db
      .transaction()
      .setIsolationLevel("repeatable read")
      .setAccessMode("read only")
      .execute(fn);
  }

  /**
   * The job's runner, its row locked until the transaction ends (PostgreSQL: FOR UPDATE, so a
   * concurrent `claim` waits; SQLite: the IMMEDIATE transaction already excludes every writer).
   */
  async lockJob(
    trx: Transaction<Schema>,
    id: string,
  ): Promise<{ runner: string | null; tenant: string | null } | undefined> {
    let query = trx.selectFrom("jobs").select(["runner", "tenant"]).where("id", "=", id);
    if (this.kind === "postgres") query = query.forUpdate();
    return query.executeTakeFirst();
  }

  /**
   * Serialises the creates of one tenant's jobs, so their pending count and insert are atomic
   * (PostgreSQL: an advisory lock per tenant, released at commit; SQLite: the write lock).
   */
  async lockTenant(trx: Transaction<Schema>, tenant: string | null): Promise<void> {
    if (this.kind !== "postgres") return;
    await sql`SELECT pg_advisory_xact_lock(${PENDING_LOCK}, hashtext(${tenant === null ? "open" : `t:${tenant}`}))`.execute(
      trx,
    );
  }

  /**
   * Gives the space of deleted rows back to the file system. SQLite (auto_vacuum = INCREMENTAL,
   * see open-store.ts): the free pages are vacuumed in steps, then the WAL is checkpointed and
   * truncated, since a WAL only shrinks so and the file only shrinks at a checkpoint. PostgreSQL:
   * nothing to do here; autovacuum marks dead tuples and TOAST chunks reusable, so later writes
   * fill them instead of growing the table (shown in test/store/space.test.ts).
   */
  async reclaimSpace(): Promise<void> {
    const { sqlite } = this;
    if (!sqlite) return;
    // PRAGMA incremental_vacuum frees one page per step of its statement, and a prepared
    // statement run through Kysely takes one step: it needs sqlite3_exec, here on the one
    // connection, held so that no transaction of Kysely's is open around it.
    const freePages = () => sqlite.pragma("freelist_count", { simple: true }) as number;
    await this.db.connection().execute(async () => {
      for (let free = freePages(); free > 0; ) {
        sqlite.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`);
        const left = freePages();
        if (left >= free) break;
        free = left;
        // Other queries wait on the connection; a turn of the event loop between steps.
        await new Promise((resolve) => setImmediate(resolve));
      }
      sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    });
  }
}
