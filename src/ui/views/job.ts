import { ApiError, getJson, postJson } from "../api.js";
import { LineChart, PALETTE } from "../charts.js";
import { announce, h, perFrame, setText, setView } from "../dom.js";
import { readEvents } from "../events.js";
import { count, duration, number, percent, shortId, when } from "../format.js";
import {
  type HistoryEntry,
  isFinished,
  type Job,
  type ModelSummary,
  type Progress,
} from "../types.js";
import { lastValidation, progressBar, setProgress, setStatus, statusBadge } from "./jobs.js";

type ProgressEvent = Progress & { loss: number | null; samplesPerSecond: number };

/**
 * Follows a job's event stream until it ends, reconnecting (from the last event id) when the
 * connection drops while the job still runs.
 */
async function follow(
  id: string,
  signal: AbortSignal,
  on: {
    progress: (p: ProgressEvent) => void;
    evaluation: (e: HistoryEntry) => void;
    status: (s: { status: Job["status"]; resultModelId: string | null; error: unknown }) => void;
  },
): Promise<void> {
  let lastId: string | undefined;
  let finished = false;
  while (!signal.aborted && !finished) {
    try {
      await readEvents(
        `/v1/training-jobs/${id}/events`,
        (event) => {
          lastId = event.id ?? lastId;
          if (event.event === "progress") on.progress(event.data as ProgressEvent);
          else if (event.event === "evaluation") on.evaluation(event.data as HistoryEntry);
          else if (event.event === "status") {
            const data = event.data as Parameters<typeof on.status>[0];
            on.status(data);
            finished = isFinished(data.status);
          }
        },
        signal,
        lastId,
      );
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status < 500) throw error;
    }
    if (!finished && !signal.aborted) {
      // The server went away (a restart, a drain): try again shortly.
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

const errorText = (error: unknown) =>
  typeof error === "object" && error !== null && "message" in error
    ? String((error as { message: unknown }).message)
    : JSON.stringify(error);

/** One job: progress, throughput, live loss and accuracy charts, cancel. */
export async function jobView([id]: string[], signal: AbortSignal): Promise<void> {
  let job = await getJson<Job>(`/v1/training-jobs/${encodeURIComponent(id)}`, signal);
  const model = await getJson<ModelSummary>(`/v1/models/${job.modelId}`, signal).catch(() => null);

  const loss = new LineChart("Loss", "loss", [
    { label: "minibatch", color: PALETTE[0] },
    { label: "train set", color: PALETTE[2], points: true },
    { label: "validation", color: PALETTE[1], points: true },
  ]);
  loss.element.id = "loss-chart";
  const accuracy = new LineChart(
    "Accuracy",
    "accuracy",
    [
      { label: "train", color: PALETTE[2], points: true },
      { label: "validation", color: PALETTE[1], points: true },
    ],
    [null, 1],
  );
  accuracy.element.id = "accuracy-chart";
  signal.addEventListener("abort", () => {
    loss.destroy();
    accuracy.destroy();
  });
  const evaluated = (e: HistoryEntry) => {
    loss.add(1, e.iteration, e.trainLoss);
    loss.add(2, e.iteration, e.validationLoss);
    accuracy.add(0, e.iteration, e.trainAccuracy);
    accuracy.add(1, e.iteration, e.validationAccuracy);
  };
  for (const entry of job.history) {
    loss.add(0, entry.iteration, entry.loss);
    evaluated(entry);
  }

  const cancel = h("button", { type: "button", class: "danger" }, "Cancel job");
  const badge = statusBadge(job.status);
  const bar = progressBar(job);
  const note = h("p", { class: "note", role: "status" });
  const values = {
    iteration: h("dd", { "data-stat": "iteration" }),
    epoch: h("dd", { "data-stat": "epoch" }),
    loss: h("dd", { "data-stat": "loss" }),
    validation: h("dd", { "data-stat": "validation" }),
    throughput: h("dd", { "data-stat": "throughput" }),
    elapsed: h("dd", { "data-stat": "elapsed" }),
    result: h("dd", { "data-stat": "result" }, "—"),
  };
  const stat = (label: string, value: HTMLElement) =>
    h("div", { class: "stat" }, h("dt", {}, label), value);
  const modelLink = h(
    "a",
    { href: `#/models/${job.modelId}` },
    model?.name ?? shortId(job.modelId),
  );
  let latestValidation = lastValidation(job);

  /** Changes the page in place: the elements a user points at stay where they are. */
  function draw(): void {
    setStatus(badge, job.status);
    cancel.disabled = cancelling || isFinished(job.status);
    setProgress(bar, job);
    const { iteration, iterations, epoch } = job.progress;
    setText(values.iteration, `${count(iteration)} of ${count(iterations)}`);
    setText(values.epoch, epoch.toFixed(2));
    setText(values.loss, number(job.loss));
    setText(values.validation, percent(latestValidation, 2));
    setText(
      values.throughput,
      job.samplesPerSecond ? `${count(Math.round(job.samplesPerSecond))} samples/s` : "—",
    );
    setText(values.elapsed, duration(job.startedAt, job.finishedAt));
    if (job.resultModelId && !values.result.firstElementChild) {
      values.result.replaceChildren(
        h("a", { href: `#/models/${job.resultModelId}` }, `model ${shortId(job.resultModelId)}`),
      );
    }
    setText(note, job.error ? `Failed: ${errorText(job.error)}` : "");
  }
  const frame = perFrame(draw);
  signal.addEventListener("abort", frame.cancel);

  let cancelling = false;
  cancel.addEventListener("click", async () => {
    cancelling = true;
    cancel.disabled = true;
    try {
      job = {
        ...(await postJson<Job>(`/v1/training-jobs/${job.id}/cancel`)),
        history: job.history,
      };
      announce("Cancelling: the job stops at its next iteration and keeps what it learned.");
    } catch (error) {
      announce(error instanceof Error ? error.message : String(error), "error");
    }
    cancelling = false;
    draw();
  });

  draw();
  setView(
    `Job ${shortId(job.id)}`,
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", shortId(job.id)),
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, "Job ", h("span", { class: "mono" }, shortId(job.id)), " ", badge),
      h("div", { class: "actions" }, cancel),
    ),
    h("div", { class: "progress-slot" }, bar),
    h(
      "dl",
      { class: "stats" },
      stat("Model", h("dd", { "data-stat": "model" }, modelLink)),
      stat("Iteration", values.iteration),
      stat("Epoch", values.epoch),
      stat("Minibatch loss", values.loss),
      stat("Validation accuracy", values.validation),
      stat("Throughput", values.throughput),
      stat("Running for", values.elapsed),
      stat("Created", h("dd", { "data-stat": "created" }, when(job.createdAt))),
      stat("Result", values.result),
    ),
    note,
    h("div", { class: "charts" }, loss.element, accuracy.element),
  );
  if (isFinished(job.status)) return;
  void follow(job.id, signal, {
    progress: (p) => {
      if (job.status === "queued") job.status = "running";
      job.progress = p;
      job.loss = p.loss;
      job.samplesPerSecond = p.samplesPerSecond || job.samplesPerSecond;
      if (p.loss !== null) loss.add(0, p.iteration, p.loss);
      frame.schedule();
    },
    evaluation: (e) => {
      job.history.push(e);
      latestValidation = e.validationAccuracy ?? latestValidation;
      evaluated(e);
      frame.schedule();
    },
    status: async () => {
      job = await getJson<Job>(`/v1/training-jobs/${job.id}`, signal);
      draw();
    },
  }).catch((error) => announce(String(error), "error"));
}

/** Several jobs on the same axes: minibatch loss and validation accuracy, live while they run. */
export async function compareView([ids]: string[], signal: AbortSignal): Promise<void> {
  const jobs = await Promise.all(
    ids.split(",").map((id) => getJson<Job>(`/v1/training-jobs/${encodeURIComponent(id)}`, signal)),
  );
  const models = await Promise.all(
    jobs.map((job) => getJson<ModelSummary>(`/v1/models/${job.modelId}`, signal).catch(() => null)),
  );
  const labels = jobs.map(
    (job, i) => `${shortId(job.id)}${models[i]?.name ? ` · ${models[i]!.name}` : ""}`,
  );
  const series = (dash?: number[]) =>
    labels.map((label, i) => ({ label, color: PALETTE[i % PALETTE.length], dash }));
  const loss = new LineChart("Minibatch loss", "loss", series());
  loss.element.id = "compare-loss";
  const accuracy = new LineChart(
    "Validation accuracy",
    "accuracy",
    series().map((s) => ({ ...s, points: true })),
    [null, 1],
  );
  accuracy.element.id = "compare-accuracy";
  signal.addEventListener("abort", () => {
    loss.destroy();
    accuracy.destroy();
  });
  /** A row per job, changed in place at most once a frame. */
  const rows = jobs.map((job, i) => {
    const badge = statusBadge(job.status);
    const bar = progressBar(job);
    const lossCell = h("td", { class: "num" });
    const validation = h("td", { class: "num" });
    let latestValidation = lastValidation(job);
    const row = h(
      "tr",
      {},
      h(
        "td",
        {},
        h("span", { class: "swatch", "data-color": String(i % PALETTE.length) }),
        h("a", { href: `#/jobs/${job.id}`, class: "mono" }, labels[i]),
      ),
      h("td", {}, badge),
      h("td", {}, bar),
      lossCell,
      validation,
    );
    const draw = () => {
      setStatus(badge, jobs[i].status);
      setProgress(bar, jobs[i]);
      setText(lossCell, number(jobs[i].loss));
      setText(validation, percent(latestValidation, 2));
    };
    draw();
    const frame = perFrame(draw);
    signal.addEventListener("abort", frame.cancel);
    const evaluated = (e: HistoryEntry) => {
      latestValidation = e.validationAccuracy ?? latestValidation;
    };
    return { row, draw, schedule: frame.schedule, evaluated };
  });
  jobs.forEach((job, i) => {
    for (const e of job.history) {
      loss.add(i, e.iteration, e.loss);
      accuracy.add(i, e.iteration, e.validationAccuracy);
    }
  });
  setView(
    "Compare jobs",
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / compare"),
    h("h1", {}, `Comparing ${jobs.length} jobs`),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Job", "Status", "Progress", "Loss", "Validation"].map((t) =>
              h("th", { scope: "col" }, t),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          rows.map((r) => r.row),
        ),
      ),
    ),
    h("div", { class: "charts" }, loss.element, accuracy.element),
  );
  jobs.forEach((job, i) => {
    if (isFinished(job.status)) return;
    void follow(job.id, signal, {
      progress: (p) => {
        Object.assign(jobs[i], { status: "running", progress: p, loss: p.loss });
        if (p.loss !== null) loss.add(i, p.iteration, p.loss);
        rows[i].schedule();
      },
      evaluation: (e) => {
        rows[i].evaluated(e);
        accuracy.add(i, e.iteration, e.validationAccuracy);
        rows[i].schedule();
      },
      status: async () => {
        jobs[i] = await getJson<Job>(`/v1/training-jobs/${job.id}`, signal);
        rows[i].draw();
      },
    }).catch((error) => announce(String(error), "error"));
  });
}
