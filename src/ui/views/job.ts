import { ApiError, getJson, postJson } from "../api.js";
import { LineChart, PALETTE } from "../charts.js";
import { announce, h, setView } from "../dom.js";
import { readEvents } from "../events.js";
import { count, duration, number, percent, shortId, when } from "../format.js";
import {
  type HistoryEntry,
  isFinished,
  type Job,
  type ModelSummary,
  type Progress,
} from "../types.js";
import { progressBar, statusBadge } from "./jobs.js";

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

function stat(label: string, value: HTMLElement | string, name: string): HTMLElement {
  return h("div", { class: "stat" }, h("dt", {}, label), h("dd", { "data-stat": name }, value));
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
  const progressSlot = h("div", { class: "progress-slot" });
  const stats = h("dl", { class: "stats" });
  const header = h("div", { class: "title-row" });
  const note = h("p", { class: "note", role: "status" });

  function render(): void {
    header.replaceChildren(
      h(
        "h1",
        {},
        "Job ",
        h("span", { class: "mono" }, shortId(job.id)),
        " ",
        statusBadge(job.status),
      ),
      h("div", { class: "actions" }, cancel),
    );
    cancel.disabled = isFinished(job.status);
    progressSlot.replaceChildren(progressBar(job));
    const last = [...job.history].reverse().find((e) => e.validationAccuracy !== undefined);
    stats.replaceChildren(
      stat(
        "Model",
        h("a", { href: `#/models/${job.modelId}` }, model?.name ?? shortId(job.modelId)),
        "model",
      ),
      stat(
        "Iteration",
        `${count(job.progress.iteration)} of ${count(job.progress.iterations)}`,
        "iteration",
      ),
      stat("Epoch", job.progress.epoch.toFixed(2), "epoch"),
      stat("Minibatch loss", number(job.loss), "loss"),
      stat("Validation accuracy", percent(last?.validationAccuracy, 2), "validation"),
      stat(
        "Throughput",
        job.samplesPerSecond ? `${count(Math.round(job.samplesPerSecond))} samples/s` : "—",
        "throughput",
      ),
      stat("Running for", duration(job.startedAt, job.finishedAt), "elapsed"),
      stat("Created", when(job.createdAt), "created"),
      stat(
        "Result",
        job.resultModelId
          ? h("a", { href: `#/models/${job.resultModelId}` }, `model ${shortId(job.resultModelId)}`)
          : "—",
        "result",
      ),
    );
    note.textContent = job.error ? `Failed: ${errorText(job.error)}` : "";
  }

  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      job = await postJson<Job>(`/v1/training-jobs/${job.id}/cancel`);
      announce("Cancelling: the job stops at its next iteration and keeps what it learned.");
      render();
    } catch (error) {
      announce(error instanceof Error ? error.message : String(error), "error");
      render();
    }
  });

  render();
  setView(
    `Job ${shortId(job.id)}`,
    h("p", { class: "crumbs" }, h("a", { href: "#/jobs" }, "Jobs"), " / ", shortId(job.id)),
    header,
    progressSlot,
    stats,
    note,
    h("div", { class: "charts" }, loss.element, accuracy.element),
  );
  if (isFinished(job.status)) return;
  void follow(job.id, signal, {
    progress: (p) => {
      job = {
        ...job,
        status: job.status === "queued" ? "running" : job.status,
        progress: p,
        loss: p.loss,
        samplesPerSecond: p.samplesPerSecond || job.samplesPerSecond,
      };
      if (p.loss !== null) loss.add(0, p.iteration, p.loss);
      render();
    },
    evaluation: (e) => {
      job = { ...job, history: [...job.history, e] };
      evaluated(e);
      render();
    },
    status: async () => {
      job = await getJson<Job>(`/v1/training-jobs/${job.id}`, signal);
      render();
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
  const rows = h("tbody");
  const renderRows = () =>
    rows.replaceChildren(
      ...jobs.map((job, i) =>
        h(
          "tr",
          {},
          h(
            "td",
            {},
            h("span", { class: "swatch", "data-color": String(i % PALETTE.length) }),
            h("a", { href: `#/jobs/${job.id}`, class: "mono" }, labels[i]),
          ),
          h("td", {}, statusBadge(job.status)),
          h("td", {}, progressBar(job)),
          h("td", { class: "num" }, number(job.loss)),
          h(
            "td",
            { class: "num" },
            percent(
              [...job.history].reverse().find((e) => e.validationAccuracy !== undefined)
                ?.validationAccuracy,
              2,
            ),
          ),
        ),
      ),
    );
  jobs.forEach((job, i) => {
    for (const e of job.history) {
      loss.add(i, e.iteration, e.loss);
      accuracy.add(i, e.iteration, e.validationAccuracy);
    }
  });
  renderRows();
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
        rows,
      ),
    ),
    h("div", { class: "charts" }, loss.element, accuracy.element),
  );
  jobs.forEach((job, i) => {
    if (isFinished(job.status)) return;
    void follow(job.id, signal, {
      progress: (p) => {
        jobs[i] = { ...jobs[i], status: "running", progress: p, loss: p.loss };
        if (p.loss !== null) loss.add(i, p.iteration, p.loss);
        renderRows();
      },
      evaluation: (e) => {
        jobs[i] = { ...jobs[i], history: [...jobs[i].history, e] };
        accuracy.add(i, e.iteration, e.validationAccuracy);
        renderRows();
      },
      status: async () => {
        jobs[i] = await getJson<Job>(`/v1/training-jobs/${job.id}`, signal);
        renderRows();
      },
    }).catch((error) => announce(String(error), "error"));
  });
}
