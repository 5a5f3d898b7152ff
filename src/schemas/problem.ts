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

/** Error answers a route gives, by status, for the documentation: `...problems(400, 404)`. */
export function problems<S extends number>(...statuses: S[]): Record<S, typeof ProblemSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ProblemSchema])) as Record<
    S,
    typeof ProblemSchema
  >;
}

/** What a computation in the pool may answer besides its 200: bad input, overload, deadline. */
export const computeProblems = problems(400, 413, 415, 422, 503, 504);
