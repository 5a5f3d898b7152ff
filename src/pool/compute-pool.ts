import { Piscina } from "piscina";
import type { KernelPath } from "../core/backend.js";
import { packBase64 } from "../wire/base64.js";
import { buffersOf } from "../wire/tree.js";
import type * as worker from "./compute-worker.js";
import { workerOptions } from "./worker-backend.js";
import { workerUrl } from "./worker-url.js";

type WorkerApi = typeof worker;
export type TaskName = keyof WorkerApi;

export class QueueFullError extends Error {
  override name = "QueueFullError";
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

/** The bounded Piscina pool behind every stateless computation; typed by the worker's exports. */
export class ComputePool {
  readonly piscina: Piscina;

  constructor(options: PoolOptions) {
    const { threads, maxQueue, heapMb } = options;
    this.piscina = new Piscina({
      filename: workerUrl("compute-worker").href,
      minThreads: threads,
      maxThreads: threads,
      maxQueue,
      idleTimeout: 60_000,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
      workerData: workerOptions(options),
    });
  }

  /**
   * Runs a worker export; the task's typed arrays are transferred, so the caller gives them up,
   * and so are the buffers of the `base64Bytes` its base64 strings are found in.
   */
  async run<K extends TaskName>(
    name: K,
    task: Parameters<WorkerApi[K]>[0],
    signal?: AbortSignal,
    base64Bytes?: Map<string, Uint8Array> | null,
  ): Promise<ReturnType<WorkerApi[K]>> {
    if (this.piscina.queueSize >= this.piscina.options.maxQueue && this.piscina.idleThreads === 0) {
      throw new QueueFullError("the compute queue is full");
    }
    try {
      const sent = packBase64(task, base64Bytes);
      return await this.piscina.run(sent, { name, signal, transferList: buffersOf(sent) });
    } catch (error) {
      if (error instanceof Error && error.message === "Task queue is at limit") {
        throw new QueueFullError("the compute queue is full");
      }
      throw error;
    }
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  /** Threads with no task right now. */
  get idleThreads(): number {
    return this.piscina.queueSize > 0 ? 0 : this.piscina.idleThreads;
  }

  get utilization(): number {
    return this.piscina.utilization;
  }

  close(): Promise<void> {
    return this.piscina.close();
  }
}
