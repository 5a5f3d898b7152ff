import type { FastifySchemaCompiler } from "fastify";
import type { z } from "zod";
import { type FieldError, formatPath, validationFailed } from "./problem.js";

type Issue = z.core.$ZodIssue;

/** The value at `path` in the request part, or undefined. */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/**
 * How far a union's branch is from what the caller sent (`input`, the union's value): keys it
 * does not know, keys it needs and misses, or a value of another type altogether. Mistakes inside
 * the fields the caller did send do not count, so `{architecture: {activation: "tanh"}}` is an
 * architecture with a bad activation, not a body that is neither form.
 */
function distance(issues: readonly Issue[], input: unknown): number {
  let far = 0;
  for (const issue of issues) {
    if (issue.path.length === 0) far++;
    else if (issue.path.length === 1 && valueAt(input, issue.path) === undefined) far++;
  }
  return far;
}

/** The branch the caller plainly meant (the only one that fits its shape), or null. */
function meantBranch(branches: readonly (readonly Issue[])[], input: unknown) {
  let best: readonly Issue[] | null = null;
  let tie = false;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const branch of branches) {
    const d = distance(branch, input);
    if (d < bestDistance) {
      best = branch;
      bestDistance = d;
      tie = false;
    } else if (d === bestDistance) tie = true;
  }
  return best && !tie && bestDistance === 0 ? best : null;
}

function flatten(issue: Issue, at: readonly PropertyKey[], data: unknown, out: FieldError[]) {
  const path = [...at, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const branch = meantBranch(issue.errors, valueAt(data, path));
    if (branch) {
      for (const inner of branch) flatten(inner, path, data, out);
      return;
    }
  }
  out.push({ path: formatPath(path), message: issue.message });
}

/**
 * One entry per mistake, at the path of the field the caller sent (`architecture.activation`);
 * inside a union, the mistakes of the branch the caller meant. `data` is what was validated.
 */
export function fieldErrors(issues: readonly Issue[], data: unknown, prefix: PropertyKey[] = []) {
  const out: FieldError[] = [];
  for (const issue of issues) flatten(issue, [], data, out);
  return prefix.length === 0
    ? out
    : out.map((e) => ({
        ...e,
        path: formatPath(prefix) + (e.path === "" || e.path.startsWith("[") ? "" : ".") + e.path,
      }));
}

/** Where a part of the request sits in an error's path: the body's fields are bare. */
const PREFIX: Record<string, PropertyKey[]> = {
  body: [],
  querystring: ["query"],
  params: ["params"],
  headers: ["headers"],
};

/**
 * Zod validation for every part of a request, failing with one problem that lists each bad field
 * as `layers[0].W` or `query.limit` rather than the JSON-pointer `/layers/0/W` of the generic type
 * provider.
 */
export const validatorCompiler: FastifySchemaCompiler<z.ZodType> =
  ({ schema, httpPart }) =>
  (data) => {
    const result = schema.safeParse(data);
    return result.success
      ? { value: result.data }
      : {
          error: validationFailed(
            fieldErrors(result.error.issues, data, PREFIX[httpPart ?? "body"] ?? [httpPart ?? ""]),
          ),
        };
  };
