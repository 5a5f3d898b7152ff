/**
 * What the routes' Zod schemas cannot say about the answers, added to the generated OpenAPI
 * document: the problem+json content type of errors, the headers answers carry, the bearer
 * scheme, and the errors every route may give whatever it does (auth, rate limit, draining).
 */
type Json = Record<string, unknown>;

const PROBLEM = "application/problem+json";
/** The Open Inference Protocol's errors: `{"error": "…"}` as exactly application/json. */
const OIP_ERROR = "application/json";

const header = (description: string, schema: Json = { type: "string" }) => ({
  description,
  schema,
});

/** A fresh copy, so that the YAML holds each object in place instead of anchors and aliases. */
const copy = <T>(value: T): T => structuredClone(value);

const HEADERS = {
  "x-request-id": header(
    "The request's id (the caller's x-request-id when plain and at most 128 characters), in every log line about it",
  ),
  "retry-after": header("Seconds to wait before retrying", { type: "integer", minimum: 0 }),
  "www-authenticate": header('The scheme to use: Bearer realm="backprop"'),
  location: header("Where the created resource lives"),
};

const DESCRIPTIONS: Record<string, string> = {
  "200": "OK",
  "201": "Created",
  "202": "Accepted",
  "204": "No content",
  "400":
    "The request is invalid; `errors` names each bad field (VALIDATION_FAILED, SHAPE_MISMATCH, INVALID_JSON, BAD_URL)",
  "401": "No valid API key (UNAUTHORIZED); only when API_KEYS is set",
  "404": "No such resource, or one of another tenant (NOT_FOUND)",
  "409": "The job has already ended (ALREADY_FINISHED)",
  "413": "The body is over BODY_LIMIT_BYTES (PAYLOAD_TOO_LARGE)",
  "414": "A path parameter is longer than the router takes (URI_TOO_LONG)",
  "415": "The body is not application/json (UNSUPPORTED_MEDIA_TYPE)",
  "422": "The computation overflowed; names the layer (NON_FINITE_RESULT)",
  "429": "Over the tenant's rate (RATE_LIMITED) or pending-job cap (TOO_MANY_JOBS)",
  "500":
    "A bug (INTERNAL) or a computation past WORKER_HEAP_MB (WORKER_OUT_OF_MEMORY); carries requestId",
  "503": "The compute pool is saturated (OVERLOADED) or the server is shutting down (DRAINING)",
  "504": "The computation ran past REQUEST_TIMEOUT_MS (DEADLINE_EXCEEDED)",
};

/** Operations that read or write the store, which may also answer 503 STORE_UNAVAILABLE. */
const STORE_PATHS = [/^\/v1\/models/, /^\/v1\/training-jobs/, /^\/v2\/models\//, /^\/readyz$/];
const STORE_UNAVAILABLE_503 =
  "The compute pool is saturated (OVERLOADED), the server is shutting down (DRAINING), the store (PostgreSQL) cannot be reached (STORE_UNAVAILABLE), or, for a new training job, the job queue (Redis) cannot (QUEUE_UNAVAILABLE); retry after Retry-After";

const PROBLEM_HEADERS: Record<string, (keyof typeof HEADERS)[]> = {
  "401": ["www-authenticate"],
  "429": ["retry-after"],
  "503": ["retry-after"],
};

function problemResponse(status: string, oip: boolean, usesStore: boolean): Json {
  const headers: Json = { "x-request-id": copy(HEADERS["x-request-id"]) };
  for (const name of PROBLEM_HEADERS[status] ?? []) headers[name] = copy(HEADERS[name]);
  const content = oip
    ? { [OIP_ERROR]: { schema: { $ref: "#/components/schemas/OipError" } } }
    : { [PROBLEM]: { schema: { $ref: "#/components/schemas/Problem" } } };
  const description =
    status === "503" && usesStore ? STORE_UNAVAILABLE_503 : (DESCRIPTIONS[status] ?? "Error");
  return { description, headers, content };
}

/** Finishes the document @fastify/swagger generated (the `transformObject` step). */
export function finishDocument(document: Json): Json {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Json>>;
  for (const [path, operations] of Object.entries(paths)) {
    const oip = path === "/v2" || path.startsWith("/v2/");
    // Keys guard /v1 and /v2, but for /v2's health (open, as /healthz and /readyz).
    const api = path.startsWith("/v1/") || (oip && !path.startsWith("/v2/health"));
    for (const [method, operation] of Object.entries(operations)) {
      const responses = (operation.responses ?? {}) as Record<string, Json>;
      const statuses = new Set(Object.keys(responses));
      // Every answer may be one of these, whatever the route does.
      statuses.add("500");
      if (path !== "/healthz") statuses.add("503");
      if (api) {
        statuses.add("401").add("429");
        operation.security = [{ bearerAuth: [] }];
      }
      if (path.includes("{")) statuses.add("400").add("414");
      if (operation.requestBody) statuses.add("400").add("413").add("415");
      const finished: Record<string, Json> = {};
      for (const status of [...statuses].sort()) {
        // /v2/health/ready's 503 is its own answer ({ready: false}), not an error.
        if (
          Number(status) >= 400 &&
          !(oip && responses[status] && path.endsWith("/health/ready"))
        ) {
          finished[status] = problemResponse(
            status,
            oip,
            STORE_PATHS.some((p) => p.test(path)),
          );
          continue;
        }
        const response = { ...responses[status] };
        if (response.description === "Default Response" || !response.description) {
          response.description = DESCRIPTIONS[status] ?? "OK";
        }
        const headers: Json = { "x-request-id": copy(HEADERS["x-request-id"]) };
        if ((status === "201" || status === "202") && method === "post") {
          headers.location = copy(HEADERS.location);
        }
        response.headers = headers;
        if (status === "204") delete response.content;
        finished[status] = response;
      }
      operation.responses = finished;
    }
  }
  const components = (document.components ?? {}) as Json;
  components.securitySchemes = {
    bearerAuth: {
      type: "http",
      scheme: "bearer",
      description:
        "An API key of API_KEYS (or API_KEYS_FILE) as `Authorization: Bearer <key>`; needed on every /v1 route once keys are set, and the service runs open without them",
    },
  };
  components.responses = {
    MethodNotAllowed: {
      description:
        "Any path answers a method it has no operation for with 405 METHOD_NOT_ALLOWED and an `Allow` header listing the methods it has",
      headers: { allow: header("The methods the path answers, e.g. `GET, HEAD`") },
      content: { [PROBLEM]: { schema: { $ref: "#/components/schemas/Problem" } } },
    },
  };
  return { ...document, components };
}
