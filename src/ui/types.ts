/** The API's shapes this page reads (openapi.yaml has them all). */
export interface LayerSummary {
  type: "relu" | "sigmoid" | "affine" | "softmaxWithLoss";
  W?: { shape: number[] };
  b?: { shape: number[] };
}

export interface HistoryEntry {
  iteration: number;
  loss: number;
  trainLoss?: number;
  validationLoss?: number;
  trainAccuracy?: number;
  validationAccuracy?: number;
}

export interface ModelSummary {
  id: string;
  name: string | null;
  dtype: "float32" | "float64";
  layers: LayerSummary[];
  inputSize: number | null;
  outputSize: number | null;
  parameterCount: number;
  origin: {
    kind: "architecture" | "layers" | "training";
    architecture?: { activation: string; weightInit: string | number };
    seed?: number;
    jobId?: string;
    sourceModelId?: string;
    metrics?: Partial<HistoryEntry>;
  };
  createdAt: string;
  updatedAt: string;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface Progress {
  iteration: number;
  iterations: number;
  epoch: number;
  fraction: number;
}

export interface Job {
  id: string;
  status: JobStatus;
  progress: Progress;
  loss: number | null;
  history: HistoryEntry[];
  modelId: string;
  resultModelId?: string;
  error?: { message?: string } | unknown;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  samplesPerSecond?: number;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export const isFinished = (status: JobStatus) =>
  status === "succeeded" || status === "failed" || status === "cancelled";
