import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import type { Store } from "../store/repository.js";
import { openStore } from "../store/sqlite-store.js";

declare module "fastify" {
  interface FastifyInstance {
    store: Store;
  }
}

/** The embedded store in DATA_DIR, opened at start (migrations applied) and closed on close. */
export default fp(
  async function store(app: FastifyInstance, { config }: { config: Config }) {
    const opened = openStore(config.dataDir);
    app.decorate("store", opened);
    app.addHook("onClose", () => opened.close());
  },
  { name: "store" },
);
