import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { listDatasets, loadDataset } from "../../datasets/catalog.js";
import { ProblemError, validationFailed } from "../../http/problem.js";
import { SamplesParams, SamplesQuery, SamplesResponse } from "../../schemas/datasets.js";
import { ProblemSchema } from "../../schemas/problem.js";
import { encodeTensor } from "../../wire/tensor-codec.js";

const DatasetList = z.object({
  items: z.array(
    z.object({
      name: z.string(),
      inputSize: z.int(),
      classes: z.int(),
      splits: z.record(z.string(), z.int()),
      description: z.string(),
    }),
  ),
});

export default async function datasetRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    "/v1/datasets",
    {
      schema: {
        summary: "The built-in datasets",
        operationId: "listDatasets",
        tags: ["datasets"],
        response: { 200: DatasetList },
      },
    },
    async () => ({ items: listDatasets() }),
  );

  routes.get(
    "/v1/datasets/:name/samples",
    {
      schema: {
        summary: "Real samples of a built-in dataset: inputs in any tensor encoding, and labels",
        operationId: "datasetSamples",
        tags: ["datasets"],
        params: SamplesParams,
        querystring: SamplesQuery,
        response: { 200: SamplesResponse, 400: ProblemSchema, 404: ProblemSchema },
      },
    },
    async (request) => {
      const { name } = request.params;
      const { split, offset, limit, encoding } = request.query;
      const info = listDatasets().find((d) => d.name === name);
      if (!info) {
        const known = listDatasets().map((d) => d.name);
        throw new ProblemError(
          404,
          "NOT_FOUND",
          `dataset ${name} does not exist; known: ${known.join(", ")}`,
        );
      }
      const total = info.splits[split];
      // Past the end is the caller's mistake, said so rather than answered with fewer samples.
      if (offset >= total) {
        throw validationFailed([
          { path: "query.offset", message: `must be below ${total}, the size of ${name} ${split}` },
        ]);
      }
      if (offset + limit > total) {
        throw validationFailed([
          {
            path: "query.limit",
            message: `offset ${offset} + limit ${limit} runs past the ${total} samples of ${name} ${split}; at most ${total - offset} from there`,
          },
        ]);
      }
      const data = await loadDataset(name, split, limit, offset);
      return {
        dataset: name,
        split,
        offset,
        count: data.count,
        total,
        x: encodeTensor({ shape: [data.count, data.inputSize], data: data.x }, encoding),
        labels: Array.from(data.labels),
      };
    },
  );
}
