import { EventEmitter } from "node:events";
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import type { StoredJobEvent } from "../store/repository.js";
import type { JobEventBus } from "../training/job-event-bus.js";
import { closeConnection, commandConnection, subscriberConnection } from "./redis.js";

const CHANNEL = "backprop:job-events:";
const GAP = Symbol("gap");

/**
 * Job events through Redis pub/sub, one channel per job, subscribed while a stream on this
 * replica follows the job. Pub/sub keeps nothing: what a replica misses while Redis is away is
 * in the store, and `onGap` tells subscribers when to read it back.
 */
export class RedisJobEventBus implements JobEventBus {
  private readonly local = new EventEmitter().setMaxListeners(0);
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly followed = new Map<string, number>();
  private warned = false;
  private closed = false;

  constructor(
    url: string,
    private readonly log: FastifyBaseLogger,
  ) {
    this.publisher = commandConnection(url, log, "job events (publish)");
    this.subscriber = subscriberConnection(url, log, "job events (subscribe)");
    this.subscriber.on("message", (channel: string, message: string) => {
      this.local.emit(channel.slice(CHANNEL.length), JSON.parse(message) as StoredJobEvent);
    });
    let connectedBefore = false;
    this.subscriber.on("ready", () => {
      if (connectedBefore) this.local.emit(GAP);
      connectedBefore = true;
    });
  }

  publish(event: StoredJobEvent): void {
    // The last events of a shutdown are stored; streams elsewhere read them from the store.
    if (this.closed) return;
    this.publisher.publish(CHANNEL + event.jobId, JSON.stringify(event)).then(
      () => {
        this.warned = false;
      },
      (err: Error) => {
        // The event is stored; streams read it back once Redis is here again.
        if (this.warned) return;
        this.warned = true;
        this.log.warn({ err, jobId: event.jobId }, "cannot publish job events to Redis");
      },
    );
  }

  subscribe(jobId: string, listener: (event: StoredJobEvent) => void): () => void {
    this.local.on(jobId, listener);
    const count = this.followed.get(jobId) ?? 0;
    this.followed.set(jobId, count + 1);
    if (count === 0) this.subscriber.subscribe(CHANNEL + jobId).catch(() => {});
    return () => {
      this.local.off(jobId, listener);
      const left = (this.followed.get(jobId) ?? 1) - 1;
      if (left > 0) {
        this.followed.set(jobId, left);
        return;
      }
      this.followed.delete(jobId);
      this.subscriber.unsubscribe(CHANNEL + jobId).catch(() => {});
    };
  }

  onGap(listener: () => void): () => void {
    this.local.on(GAP, listener);
    return () => this.local.off(GAP, listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([closeConnection(this.publisher), closeConnection(this.subscriber)]);
  }
}
