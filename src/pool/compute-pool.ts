import { EventEmitter } from "node:events";
import { Piscina } from "piscina";
import type { KernelPath } from "../core/backend.js";
import { packBase64 } from "../wire/base64.js";
import { buffersOf } from "../wire/tree.js";
import type * as worker from "./compute-worker.js";
import { isTaskStarted, type PoolEvents } from "./task-events.js";
import { workerOptions } from "./worker-backend.js";
import { workerUrl } from "./worker-url.js";

type WorkerApi = typeof worker;
export type TaskName = keyof WorkerApi;

export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/** The task waited `queueTimeoutMs` for a thread without getting one. */
export class QueueTimeoutError extends Error {
  override name = "QueueTimeoutError";
}

export interface PoolOptions {
  threads: number;
  maxQueue: number;
  /** Old-generation heap of each worker; a worker past it dies and is replaced. */
  heapMb: number;
  kernels: KernelPath;
  arenaMb: number;
  /** The library the openblas path opens. */
  openblasLibrary: string;
}

export interface RunOptions {
  /** Aborts the task, waiting or running (a running one ends its thread). */
  signal?: AbortSignal;
  /** Longest wait for a thread; past it the task is refused with QueueTimeoutError. */
  queueTimeoutMs?: number;
  /** Called when the task gets its thread: the wait is over and the work begins. */
  onStart?: () => void;
}

interface Waiter {
  admit: () => void;
  refuse: (error: unknown) => void;
}

/**
 * The bounded Piscina pool behind every stateless computation; typed by the worker's exports.
 * Tasks wait here, not in Piscina, for one of the `threads`: so a task is known to start when it
 * leaves this queue, its deadline can count from then, and one that cannot start in time is
 * refused at once instead of timing out late.
 */
export class ComputePool {
  readonly piscina: Piscina;
  /** `taskStarted` and `taskAborted` (task-events.ts), for metrics and tests. */
  readonly events = new EventEmitter<PoolEvents<TaskName>>();
  readonly threads: number;
  readonly maxQueue: number;
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Thread-milliseconds of finished tasks, and the start times of running ones. */
  private busyMs = 0;
  private readonly startedAt = new Set<{ at: number }>();

  constructor(options: PoolOptions) {
    const { threads, maxQueue, heapMb } = options;
    this.threads = threads;
    this.maxQueue = maxQueue;
    this.piscina = new Piscina({
      filename: workerUrl("compute-worker").href,
      minThreads: threads,
      maxThreads: threads,
      // At most `threads` tasks reach Piscina; a replaced (crashed) worker's may wait there.
      maxQueue: threads,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
      workerData: workerOptions(options),
    });
    this.piscina.on("message", (message) => {
      if (isTaskStarted(message)) this.events.emit("taskStarted");
    });
  }

  /**
   * Runs a worker export; the task's typed arrays are transferred, so the caller gives them up:
   * base64 text held as bytes included (see packBase64), with the whole buffer each lies in.
   */
  async run<K extends TaskName>(
    name: K,
    task: Parameters<WorkerApi[K]>[0],
    options: RunOptions = {},
  ): Promise<ReturnType<WorkerApi[K]>> {
    await this.admit(options);
    const started = { at: performance.now() };
    this.startedAt.add(started);
    try {
      options.onStart?.();
      const sent = packBase64(task);
      return await this.piscina.run(sent, {
        name,
        signal: options.signal,
        transferList: buffersOf(sent),
      });
    } catch (error) {
      if (options.signal?.aborted) this.events.emit("taskAborted", name, options.signal.reason);
      throw error;
    } finally {
      this.startedAt.delete(started);
      this.busyMs += performance.now() - started.at;
      this.running--;
      this.next();
    }
  }

  /** Resolves when the task has a thread; refuses it when the queue is full or it waited too long. */
  private admit({ signal, queueTimeoutMs }: RunOptions): Promise<void> {
    signal?.throwIfAborted();
    if (this.running < this.threads && this.waiting.length === 0) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.reject(new QueueFullError("the compute queue is full"));
    }
    return new Promise<void>((resolve, reject) => {
      const leave = (error: unknown) => {
        const at = this.waiting.indexOf(waiter);
        if (at !== -1) this.waiting.splice(at, 1);
        clear();
        reject(error);
      };
      const onAbort = () => leave(signal?.reason);
      const timer =
        queueTimeoutMs === undefined
          ? undefined
          : setTimeout(
              () => leave(new QueueTimeoutError(`no compute thread within ${queueTimeoutMs} ms`)),
              queueTimeoutMs,
            );
      const clear = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        admit: () => {
          clear();
          resolve();
        },
        refuse: leave,
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private next(): void {
    while (this.running < this.threads && this.waiting.length > 0) {
      this.running++;
      this.waiting.shift()!.admit();
    }
  }

  /** Tasks waiting for a thread. */
  get queueSize(): number {
    return this.waiting.length;
  }

  /** Tasks running on a thread now. */
  get busyThreads(): number {
    return this.running;
  }

  /** Threads with no task right now. */
  get idleThreads(): number {
    return this.waiting.length > 0 ? 0 : this.threads - this.running;
  }

  /** True when a new task would be refused at once: every thread busy and the queue full. */
  get saturated(): boolean {
    return this.running >= this.threads && this.waiting.length >= this.maxQueue;
  }

  /** Thread-seconds spent running tasks since the pool started (running ones included). */
  get busySeconds(): number {
    const now = performance.now();
    let ms = this.busyMs;
    for (const s of this.startedAt) ms += now - s.at;
    return ms / 1000;
  }

  close(): Promise<void> {
    for (const waiter of this.waiting.splice(0)) {
      waiter.refuse(new QueueFullError("the compute pool is closing"));
    }
    return this.piscina.close();
  }
}
