/**
 * Errors as RFC 9457 problem details (`application/problem+json`), with a stable `code` callers
 * can switch on and, for bad fields, `errors: [{path, message}]`.
 */
export interface FieldError {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
  requestId?: string;
}

/** The content type every problem leaves with. */
export const PROBLEM_JSON = "application/problem+json; charset=utf-8";

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = "ProblemError";
  }

  toProblem(): Problem {
    return problem(this.status, this.code, this.message, this.errors);
  }
}

export function problem(
  status: number,
  code: string,
  detail: string,
  errors?: FieldError[],
): Problem {
  return {
    type: `urn:backprop:problem:${code.toLowerCase().replaceAll("_", "-")}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

/** `["layers", 0, "W"]` → `layers[0].W` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

export const validationFailed = (errors: FieldError[]) =>
  new ProblemError(
    400,
    "VALIDATION_FAILED",
    errors.length === 1
      ? `${errors[0].path || "body"}: ${errors[0].message}`
      : `${errors.length} fields are invalid`,
    errors,
  );

export const notFound = (what: string, id: string) =>
  new ProblemError(404, "NOT_FOUND", `${what} ${id} does not exist`);
