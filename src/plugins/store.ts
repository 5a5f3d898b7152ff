import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { lockDataDir } from "../store/data-dir-lock.js";
import { openStore } from "../store/open-store.js";
import type { Store } from "../store/repository.js";

declare module "fastify" {
  interface FastifyInstance {
    store: Store;
  }
}

/**
 * The store, opened at start (migrations applied) and closed on close: PostgreSQL when
 * DATABASE_URL is set, else the embedded SQLite file in DATA_DIR.
 */
export default fp(
  async function store(app: FastifyInstance, { config }: { config: Config }) {
    const opened = await openStore(config);
    // Embedded, the process owns DATA_DIR (its in-process queue resumes what the store holds);
    // taken before any job could be resumed, released when the app closes or the process dies.
    let lock: { release(): void } | null = null;
    if (config.databaseUrl === null) {
      try {
        lock = lockDataDir(resolve(config.dataDir));
      } catch (error) {
        await opened.close();
        throw error;
      }
    }
    // After the lock: a second process on this DATA_DIR changes nothing.
    const tenant = config.auth.openRecordsTenant;
    if (tenant !== null) {
      const adopted = await opened.adoptOpenRecords(tenant);
      app.log.info(
        { tenant, ...adopted },
        `gave tenant ${tenant} the ${adopted.models} models and ${adopted.jobs} jobs made while the service ran open`,
      );
    }
    app.decorate("store", opened);
    app.addHook("onClose", async () => {
      await opened.close();
      lock?.release();
    });
  },
  { name: "store" },
);
