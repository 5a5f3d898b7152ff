import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
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
    app.decorate("store", opened);
    app.addHook("onClose", () => opened.close());
  },
  { name: "store" },
);
