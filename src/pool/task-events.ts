/**
 * What a pool reports about its tasks besides their results: that a worker began one (the
 * worker says so itself, as it starts), and that one was aborted (its thread was ended). Tests
 * synchronise on these instead of guessing how long a computation takes; /metrics counts them.
 */
import { parentPort } from "node:worker_threads";
import { isWorkerThread } from "piscina";

const TASK_STARTED = "backprop:task-started";

export interface PoolEvents<Name extends string = string> {
  /** A worker has begun a task: from now on aborting it ends that thread. */
  taskStarted: [];
  /** A task's signal aborted it (a deadline, a client gone); `reason` is the signal's. */
  taskAborted: [name: Name, reason: unknown];
}

/** In a pool worker, tells the pool a task has begun; a no-op anywhere else. */
export function reportTaskStarted(): void {
  if (isWorkerThread) parentPort?.postMessage({ [TASK_STARTED]: true });
}

/** Whether a worker's message (Piscina's 'message' event) is `reportTaskStarted`'s. */
export function isTaskStarted(message: unknown): boolean {
  return typeof message === "object" && message !== null && TASK_STARTED in message;
}
