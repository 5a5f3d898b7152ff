import { z } from "zod";

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    code: z.string().meta({ description: "Stable machine-readable error code" }),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .meta({ description: "Each bad field, with a path like `layers[0].W`" }),
    requestId: z.string().optional(),
  })
  .meta({ id: "Problem", description: "RFC 9457 problem details (application/problem+json)" });

/** The error answers every route may give, for the documentation. */
export const problemResponses = {
  400: ProblemSchema,
  413: ProblemSchema,
  415: ProblemSchema,
  422: ProblemSchema,
  503: ProblemSchema,
  504: ProblemSchema,
};
