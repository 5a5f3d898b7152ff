import { getJson } from "../api.js";
import { h, setView } from "../dom.js";
import { count, percent, shortId, when } from "../format.js";
import type { ModelSummary, Page } from "../types.js";
import { pager } from "./pager.js";

/** "784-50-10 relu" from the layer shapes and the activation between them. */
export function architectureOf(model: ModelSummary): string {
  const sizes: number[] = [];
  for (const layer of model.layers) {
    if (layer.type !== "affine" || !layer.W) continue;
    if (sizes.length === 0) sizes.push(layer.W.shape[0]);
    sizes.push(layer.W.shape[1]);
  }
  const activation = model.layers.find((l) => l.type === "relu" || l.type === "sigmoid")?.type;
  return `${sizes.join("-") || "—"}${activation ? ` ${activation}` : ""}`;
}

export function originOf(model: ModelSummary): Node {
  const { origin } = model;
  if (origin.kind === "training" && origin.jobId) {
    return h(
      "span",
      {},
      "trained by ",
      h("a", { href: `#/jobs/${origin.jobId}`, class: "mono" }, `job ${shortId(origin.jobId)}`),
    );
  }
  if (origin.kind === "architecture") {
    const init = origin.architecture?.weightInit;
    return document.createTextNode(`initialised (${init ?? "?"}, seed ${origin.seed ?? 0})`);
  }
  return document.createTextNode("explicit layers");
}

/** Models, newest first, a page at a time as the API gives them. */
export async function modelsView(_params: string[], signal: AbortSignal): Promise<void> {
  const rows = h("tbody");
  const paging = pager(
    (cursor) => {
      const query = new URLSearchParams({ limit: "20", ...(cursor ? { cursor } : {}) });
      return getJson<Page<ModelSummary>>(`/v1/models?${query}`, signal);
    },
    (page) => {
      rows.replaceChildren(
        ...page.items.map((m) =>
          h(
            "tr",
            { "data-model": m.id },
            h("td", {}, h("a", { href: `#/models/${m.id}` }, m.name ?? `model ${shortId(m.id)}`)),
            h("td", { class: "mono" }, architectureOf(m)),
            h("td", { class: "num" }, count(m.parameterCount)),
            h("td", {}, m.dtype),
            h("td", {}, originOf(m)),
            h("td", { class: "num" }, percent(m.origin.metrics?.validationAccuracy, 2)),
            h("td", {}, when(m.createdAt)),
          ),
        ),
      );
      if (page.items.length === 0)
        rows.append(h("tr", {}, h("td", { colspan: 7 }, "No models yet.")));
    },
  );
  setView(
    "Models",
    h("div", { class: "title-row" }, h("h1", {}, "Models")),
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
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Architecture"),
            h("th", { scope: "col", class: "num" }, "Parameters"),
            h("th", { scope: "col" }, "dtype"),
            h("th", { scope: "col" }, "Origin"),
            h("th", { scope: "col", class: "num" }, "Validation"),
            h("th", { scope: "col" }, "Created"),
          ),
        ),
        rows,
      ),
    ),
    paging.element,
  );
  await paging.reload();
}
