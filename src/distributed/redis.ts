import type { FastifyBaseLogger } from "fastify";
import { Redis, type RedisOptions } from "ioredis";

/** `redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS) as ioredis options. */
export function redisOptions(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, "");
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username && { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password && { password: decodeURIComponent(parsed.password) }),
    ...(db && { db: Number(db) }),
    ...(parsed.protocol === "rediss:" && { tls: {} }),
    // Reconnect for as long as it takes, never more than 2 s apart: an outage ends by itself.
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    connectTimeout: 2_000,
  };
}

/**
 * A connection for commands that must answer now or fail (publishing, rate limits, adding a
 * job): while Redis is down they fail at once instead of piling up in ioredis's offline queue.
 * Logs one line when the connection is lost and one when it is back, not one per retry.
 */
export function commandConnection(url: string, log: FastifyBaseLogger, role: string): Redis {
  const redis = new Redis({
    ...redisOptions(url),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  reportOutages(redis, log, role);
  return redis;
}

/** For SUBSCRIBE: commands wait out an outage, and ioredis subscribes again on reconnect. */
export function subscriberConnection(url: string, log: FastifyBaseLogger, role: string): Redis {
  const redis = new Redis({ ...redisOptions(url), maxRetriesPerRequest: null });
  reportOutages(redis, log, role);
  return redis;
}

/** What emits `error` and `ready` (an ioredis connection, a BullMQ worker). */
interface Connected {
  // biome-ignore lint/suspicious/noExplicitAny: each emitter types its listeners its own way
  on(event: "error" | "ready", listener: (...args: any[]) => void): unknown;
}

export function reportOutages(emitter: Connected, log: FastifyBaseLogger, role: string): void {
  let down = false;
  emitter.on("error", (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err, role }, "lost the connection to Redis; reconnecting");
  });
  emitter.on("ready", () => {
    if (!down) return;
    down = false;
    log.info({ role }, "connected to Redis again");
  });
}

/** Closes a connection without waiting on a Redis that may be down. */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === "ready") {
    await redis.quit().catch(() => redis.disconnect());
  } else {
    redis.disconnect();
  }
}
