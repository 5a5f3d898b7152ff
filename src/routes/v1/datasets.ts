import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { listDatasets } from "../../datasets/catalog.js";

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
  app.withTypeProvider<ZodTypeProvider>().get(
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
}
