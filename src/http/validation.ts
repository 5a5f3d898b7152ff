import type { FastifySchemaCompiler } from "fastify";
import type { z } from "zod";
import { type FieldError, formatPath, validationFailed } from "./problem.js";

export function fieldErrors(issues: readonly z.core.$ZodIssue[]): FieldError[] {
  return issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
}

/**
 * Zod validation for every part of a request, failing with one problem that lists each bad field
 * as `layers[0].W` rather than the JSON-pointer `/layers/0/W` of the generic type provider.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema }) =>
  (data) => {
    const result = schema.safeParse(data);
    return result.success
      ? { value: result.data }
      : { error: validationFailed(fieldErrors(result.error.issues)) };
  };

const PART_PREFIX: Record<string, string> = { querystring: "query", params: "params" };

/**
 * `validatorCompiler` with each path prefixed by the part of the request it names
 * (`query.limit`, `params.name`), so a query field never reads as a body field.
 */
export const partValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) => {
  const prefix = PART_PREFIX[route.httpPart ?? ""];
  if (!prefix) return validatorCompiler(route);
  return (data) => {
    const result = route.schema.safeParse(data);
    if (result.success) return { value: result.data };
    const errors = fieldErrors(result.error.issues).map(({ path, message }) => ({
      path: path ? `${prefix}.${path}` : prefix,
      message,
    }));
    return { error: validationFailed(errors) };
  };
};
