import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Redis } from "ioredis";
import type { Config } from "../config.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Distributed mode's Redis for commands that answer at once (rate limits); null embedded. */
    redis: Redis | null;
  }
}

export default fp(
  async function redis(app: FastifyInstance, { config }: { config: Config }) {
    const url = config.distributed?.redisUrl;
    if (!url) {
      app.decorate("redis", null);
      return;
    }
    // Loaded only in distributed mode: ioredis is megabytes of heap every GC would walk.
    const { closeConnection, commandConnection } = await import("../distributed/redis.js");
    const connection = commandConnection(url, app.log, "rate limits");
    app.decorate("redis", connection);
    app.addHook("onClose", () => closeConnection(connection));
  },
  { name: "redis" },
);
