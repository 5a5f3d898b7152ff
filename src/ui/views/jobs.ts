import { getJson } from "../api.js";
import { h, setView } from "../dom.js";
import { count, number, percent, shortId, when } from "../format.js";
import { isFinished, type Job, type Page } from "../types.js";
import { pager } from "./pager.js";

export function statusBadge(status: Job["status"]): HTMLElement {
  return h("span", { class: `badge ${status}`, "data-status": status }, status);
}

export function progressBar(job: Job): HTMLElement {
  const { iteration, iterations, fraction } = job.progress;
  return h(
    "span",
    { class: "progress" },
    h("progress", {
      max: 1,
      value: fraction,
      "aria-label": `job ${shortId(job.id)} progress`,
    }),
    h("span", { class: "progress-text" }, `${count(iteration)} / ${count(iterations)}`),
  );
}

const lastValidation = (job: Job) =>
  [...job.history].reverse().find((e) => e.validationAccuracy !== undefined)?.validationAccuracy;

/** Training jobs, newest first; refreshed while any of them is queued or running. */
export async function jobsView(_params: string[], signal: AbortSignal): Promise<void> {
  const compare = h("button", { type: "button", disabled: true }, "Compare selected");
  const table = h("tbody");
  const paging = pager(async (cursor) => {
    const query = new URLSearchParams({ limit: "20", ...(cursor ? { cursor } : {}) });
    return getJson<Page<Job>>(`/v1/training-jobs?${query}`, signal);
  }, render);
  const selected = new Set<string>();

  function render(page: Page<Job>): void {
    table.replaceChildren(
      ...page.items.map((job) =>
        h(
          "tr",
          { "data-job": job.id, "data-status": job.status },
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
          h("td", {}, statusBadge(job.status)),
          h("td", { class: "wide" }, progressBar(job)),
          h("td", { class: "num" }, number(job.loss)),
          h("td", { class: "num" }, percent(lastValidation(job))),
          h(
            "td",
            { class: "num" },
            job.samplesPerSecond ? count(Math.round(job.samplesPerSecond)) : "—",
          ),
          h("td", {}, when(job.createdAt)),
        ),
      ),
    );
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
