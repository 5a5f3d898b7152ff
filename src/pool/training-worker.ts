/**
 * The worker thread entry of a training job: the task in, the run's result out; progress,
 * evaluations and checkpoints travel on the task's port meanwhile.
 */
import { runTraining } from "./training-run.js";
import type { TrainingResult, TrainingTask } from "./training-tasks.js";
import { workerBackend } from "./worker-backend.js";

const { backend, takeFallbacks } = workerBackend();

export default function train(task: TrainingTask): TrainingResult {
  backend.ops.computing(true);
  try {
    return runTraining(task, backend, takeFallbacks);
  } finally {
    backend.ops.computing(false);
    // The last message on the port: the main thread waits for it before the final status.
    task.port.postMessage({ type: "done" });
  }
}
