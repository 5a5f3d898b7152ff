import { getJson, request } from "../api.js";
import { announce, h, setView } from "../dom.js";
import { count, percent, shortId, when } from "../format.js";
import type { ModelSummary } from "../types.js";
import { architectureOf, originOf } from "./models.js";

/** Downloads an API answer (fetched with the key) as a file. */
async function download(path: string, filename: string): Promise<void> {
  const blob = await (await request(path)).blob();
  const url = URL.createObjectURL(blob);
  const link = h("a", { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A model: its layers, where it came from, its parameters to download, and a way to try it. */
export async function modelView([id]: string[], signal: AbortSignal): Promise<void> {
  const model = await getJson<ModelSummary>(`/v1/models/${encodeURIComponent(id)}`, signal);
  const name = model.name ?? `model ${shortId(model.id)}`;
  const downloads = (["nested", "flat", "base64"] as const).map((encoding) =>
    h(
      "button",
      {
        type: "button",
        onclick: () =>
          download(
            `/v1/models/${model.id}/parameters?encoding=${encoding}`,
            `${model.name ?? model.id}-parameters-${encoding}.json`,
          ).catch((error) => announce(String(error.message ?? error), "error")),
      },
      `Parameters (${encoding} JSON)`,
    ),
  );
  downloads.push(
    h(
      "button",
      {
        type: "button",
        onclick: () =>
          download(`/v1/models/${model.id}/onnx`, `${model.name ?? model.id}.onnx`).catch((error) =>
            announce(String(error.message ?? error), "error"),
          ),
      },
      "ONNX file",
    ),
  );
  const metrics = model.origin.metrics;
  setView(
    name,
    h("p", { class: "crumbs" }, h("a", { href: "#/models" }, "Models"), " / ", name),
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, name),
      model.inputSize === 784
        ? h(
            "div",
            { class: "actions" },
            h("a", { class: "button primary", href: `#/draw/${model.id}` }, "Draw a digit for it"),
          )
        : null,
    ),
    h(
      "dl",
      { class: "stats" },
      ...(
        [
          ["Id", h("span", { class: "mono" }, model.id)],
          ["Architecture", architectureOf(model)],
          ["Parameters", count(model.parameterCount)],
          ["dtype", model.dtype],
          ["Origin", originOf(model)],
          ["Validation accuracy", percent(metrics?.validationAccuracy, 2)],
          ["Train accuracy", percent(metrics?.trainAccuracy, 2)],
          ["Created", when(model.createdAt)],
        ] as [string, Node | string][]
      ).map(([label, value]) =>
        h("div", { class: "stat" }, h("dt", {}, label), h("dd", {}, value)),
      ),
    ),
    h("h2", {}, "Layers"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h("tr", {}, ...["#", "Type", "W", "b"].map((t) => h("th", { scope: "col" }, t))),
        ),
        h(
          "tbody",
          {},
          ...model.layers.map((layer, i) =>
            h(
              "tr",
              {},
              h("td", { class: "num" }, i),
              h("td", {}, layer.type),
              h("td", { class: "mono" }, layer.W ? layer.W.shape.join(" × ") : ""),
              h("td", { class: "mono" }, layer.b ? layer.b.shape.join(" × ") : ""),
            ),
          ),
        ),
      ),
    ),
    h("h2", {}, "Download"),
    h("p", { class: "hint" }, "Each file is a body POST /v1/models accepts as it is."),
    h("div", { class: "actions" }, ...downloads),
  );
}
