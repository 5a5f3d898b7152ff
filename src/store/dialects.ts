/**
 * Kysely's two dialects, each with the one thing this store needs of it that Kysely leaves out:
 * SQLite's write transactions start IMMEDIATE (a deferred one that reads, then writes, fails with
 * SQLITE_BUSY when another process wrote in between, where busy_timeout cannot help), and
 * PostgreSQL's connection failures become StoreUnavailableError wherever they surface.
 */
import type Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
  type TransactionSettings,
} from "kysely";
import { isConnectionFault } from "./faults.js";
import { StoreUnavailableError } from "./repository.js";

/**
 * better-sqlite3 with its prepared statements kept: Kysely prepares every query anew, and for
 * the small queries of this store preparing costs as much as running. Query texts are Kysely's
 * compiled SQL with parameters apart, so they are few; the cap only guards against a surprise.
 */
function reusingStatements(db: Database.Database, cap = 512): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    prepare(text: string) {
      let statement = statements.get(text);
      if (!statement) {
        if (statements.size >= cap) statements.clear();
        statement = db.prepare(text);
        statements.set(text, statement);
      }
      return statement as unknown as SqliteStatement;
    },
    close: () => db.close(),
  };
}

export class EmbeddedSqliteDialect extends SqliteDialect {
  constructor(database: Database.Database) {
    super({ database: reusingStatements(database) });
  }

  override createDriver(): Driver {
    const inner = super.createDriver();
    return {
      init: () => inner.init(),
      acquireConnection: () => inner.acquireConnection(),
      async beginTransaction(connection, settings) {
        // A read-only snapshot stays deferred: it takes no lock, and WAL keeps it consistent.
        const begin = settings.accessMode === "read only" ? "begin" : "begin immediate";
        await connection.executeQuery(CompiledQuery.raw(begin));
      },
      commitTransaction: (connection) => inner.commitTransaction(connection),
      rollbackTransaction: (connection) => inner.rollbackTransaction(connection),
      releaseConnection: (connection) => inner.releaseConnection(connection),
      destroy: () => inner.destroy(),
    };
  }
}

function translated(error: unknown): unknown {
  return isConnectionFault(error) ? new StoreUnavailableError(error) : error;
}

/**
 * Every call into the pool and its connections, with connection faults rethrown as
 * StoreUnavailableError. The driver gets its own connection objects back (it keeps private
 * state on them), callers see wrappers.
 */
class FaultTranslatingDriver implements Driver {
  private readonly inner = new WeakMap<DatabaseConnection, DatabaseConnection>();

  constructor(private readonly driver: Driver) {}

  private unwrap(connection: DatabaseConnection): DatabaseConnection {
    return this.inner.get(connection) ?? connection;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translated(error);
    }
  }

  init() {
    return this.call(() => this.driver.init());
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.call(() => this.driver.acquireConnection());
    const wrapper: DatabaseConnection = {
      executeQuery: (query) => this.call(() => connection.executeQuery(query)),
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    };
    this.inner.set(wrapper, connection);
    return wrapper;
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    return this.call(() => this.driver.beginTransaction(this.unwrap(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection) {
    return this.call(() => this.driver.commitTransaction(this.unwrap(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection) {
    return this.call(() => this.driver.rollbackTransaction(this.unwrap(connection)));
  }

  releaseConnection(connection: DatabaseConnection) {
    return this.driver.releaseConnection(this.unwrap(connection));
  }

  destroy() {
    return this.driver.destroy();
  }
}

export class ServerPostgresDialect extends PostgresDialect {
  override createDriver(): Driver {
    return new FaultTranslatingDriver(super.createDriver());
  }
}
