import { getJson } from "../api.js";
import { h, setText, setView } from "../dom.js";
import { count, number, percent, shortId, when } from "../format.js";
import { isFinished, type Job, type Page } from "../types.js";
import { pager } from "./pager.js";

export function statusBadge(status: Job["status"]): HTMLElement {
  const badge = h("span");
  setStatus(badge, status);
  return badge;
}

/** Changes a badge made by `statusBadge` in place. */
export function setStatus(badge: HTMLElement, status: Job["status"]): void {
  if (badge.dataset.status === status) return;
  badge.className = `badge ${status}`;
  badge.dataset.status = status;
  badge.textContent = status;
}

export function progressBar(job: Job): HTMLElement {
  const bar = h(
    "span",
    { class: "progress" },
    h("progress", { max: 1, "aria-label": `job ${shortId(job.id)} progress` }),
    h("span", { class: "progress-text" }),
  );
  setProgress(bar, job);
  return bar;
}

/** Changes a bar made by `progressBar` in place. */
export function setProgress(bar: HTMLElement, job: Job): void {
  const { iteration, iterations, fraction } = job.progress;
  bar.querySelector("progress")!.value = fraction;
  setText(
    bar.querySelector<HTMLElement>(".progress-text")!,
    `${count(iteration)} / ${count(iterations)}`,
  );
}

/** The job's latest validation accuracy, if it has one. */
export const lastValidation = (job: Pick<Job, "history">) =>
  job.history.findLast((e) => e.validationAccuracy !== undefined)?.validationAccuracy;

/** Training jobs, newest first; refreshed while any of them is queued or running. */
export async function jobsView(_params: string[], signal: AbortSignal): Promise<void> {
  const compare = h("button", { type: "button", disabled: true }, "Compare selected");
  const table = h("tbody");
  const paging = pager(async (cursor) => {
    const query = new URLSearchParams({ limit: "20", ...(cursor ? { cursor } : {}) });
    return getJson<Page<Job>>(`/v1/training-jobs?${query}`, signal);
  }, render);
  const selected = new Set<string>();

  /** One row per job, kept across refreshes and changed in place (a checkbox stays checked). */
  const rows = new Map<string, { row: HTMLTableRowElement; update: (job: Job) => void }>();
  function jobRow(job: Job) {
    const badge = statusBadge(job.status);
    const bar = progressBar(job);
    const loss = h("td", { class: "num" });
    const validation = h("td", { class: "num" });
    const throughput = h("td", { class: "num" });
    const row = h(
      "tr",
      { "data-job": job.id },
      h(
        "td",
        {},
        h("input", {
          type: "checkbox",
          "aria-label": `compare job ${shortId(job.id)}`,
          checked: selected.has(job.id),
          onchange: (event: Event) => {
            const box = event.target as HTMLInputElement;
            if (box.checked) selected.add(job.id);
            else selected.delete(job.id);
            compare.disabled = selected.size < 2;
          },
        }),
      ),
      h("td", {}, h("a", { href: `#/jobs/${job.id}`, class: "mono" }, shortId(job.id))),
      h("td", {}, badge),
      h("td", { class: "wide" }, bar),
      loss,
      validation,
      throughput,
      h("td", {}, when(job.createdAt)),
    );
    const update = (job: Job) => {
      row.dataset.status = job.status;
      setStatus(badge, job.status);
      setProgress(bar, job);
      setText(loss, number(job.loss));
      setText(validation, percent(lastValidation(job)));
      setText(throughput, job.samplesPerSecond ? count(Math.round(job.samplesPerSecond)) : "—");
    };
    update(job);
    return { row, update };
  }

  function render(page: Page<Job>): void {
    const shown = page.items.map((job) => {
      const kept = rows.get(job.id) ?? jobRow(job);
      kept.update(job);
      return [job.id, kept] as const;
    });
    rows.clear();
    for (const [id, kept] of shown) rows.set(id, kept);
    const order = shown.map(([, kept]) => kept.row);
    if (
      order.length !== table.children.length ||
      order.some((row, i) => table.children[i] !== row)
    ) {
      table.replaceChildren(...order);
    }
    if (page.items.length === 0) {
      table.append(
        h(
          "tr",
          {},
          h("td", { colspan: 8 }, "No jobs yet. ", h("a", { href: "#/new" }, "Start one.")),
        ),
      );
    }
    clearTimeout(timer);
    if (page.items.some((job) => !isFinished(job.status)) && !signal.aborted) {
      // Progress of the jobs on this page: a cheap list read, while something moves.
      timer = setTimeout(() => void paging.reload(), 1000);
    }
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer));
  compare.addEventListener("click", () => {
    location.hash = `#/compare/${[...selected].join(",")}`;
  });

  setView(
    "Jobs",
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, "Training jobs"),
      h(
        "div",
        { class: "actions" },
        compare,
        h("a", { class: "button primary", href: "#/new" }, "New job"),
      ),
    ),
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
            h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Compare")),
            h("th", { scope: "col" }, "Job"),
            h("th", { scope: "col" }, "Status"),
            h("th", { scope: "col" }, "Progress"),
            h("th", { scope: "col", class: "num" }, "Loss"),
            h("th", { scope: "col", class: "num" }, "Validation"),
            h("th", { scope: "col", class: "num" }, "Samples/s"),
            h("th", { scope: "col" }, "Created"),
          ),
        ),
        table,
      ),
    ),
    paging.element,
  );
  await paging.reload();
}
