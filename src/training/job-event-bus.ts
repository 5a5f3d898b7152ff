import { EventEmitter } from "node:events";
import type { StoredJobEvent } from "../store/repository.js";

/**
 * Carries a job's stored events to the streams that follow it. Embedded, that is this process;
 * distributed, every replica (see RedisJobEventBus), so a stream on one replica follows a job
 * trained on another. Events carry their store id: a subscriber that missed some reads them back
 * from the store, and one that sees an event twice drops the second.
 */
export interface JobEventBus {
  publish(event: StoredJobEvent): void;
  subscribe(jobId: string, listener: (event: StoredJobEvent) => void): () => void;
  /**
   * Calls `listener` when events may have been missed (the bus lost its connection and has it
   * back): subscribers read the store again from the last id they had.
   */
  onGap(listener: () => void): () => void;
  close(): Promise<void>;
}

export class LocalJobEventBus implements JobEventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(event: StoredJobEvent): void {
    this.emitter.emit(event.jobId, event);
  }

  subscribe(jobId: string, listener: (event: StoredJobEvent) => void): () => void {
    this.emitter.on(jobId, listener);
    return () => this.emitter.off(jobId, listener);
  }

  /** Nothing is ever missed in one process. */
  onGap(): () => void {
    return () => {};
  }

  async close(): Promise<void> {}
}
