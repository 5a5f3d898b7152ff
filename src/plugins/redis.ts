import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { closeConnection, commandConnection } from "../distributed/redis.js";

declare module "fastify" {
  interface FastifyInstance {
    /** Distributed mode's Redis for commands that answer at once (rate limits); null embedded. */
    redis: Redis | null;
  }
}

export default fp(
  async function redis(app: FastifyInstance, { config }: { config: Config }) {
    const url = config.distributed?.redisUrl;
    const connection = url ? commandConnection(url, app.log, "rate limits") : null;
    app.decorate("redis", connection);
    if (connection) app.addHook("onClose", () => closeConnection(connection));
  },
  { name: "redis" },
);
