import { askForKey, getKey } from "./keys.js";

export interface FieldError {
  path: string;
  message: string;
}

/** An API answer that is not 2xx: its problem+json fields, as the API wrote them. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail);
  }
}

export function authHeaders(): Record<string, string> {
  const key = getKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function problemOf(res: Response): Promise<ApiError> {
  try {
    const body = await res.json();
    return new ApiError(
      res.status,
      body.code ?? "ERROR",
      body.detail ?? res.statusText,
      body.errors,
    );
  } catch {
    return new ApiError(res.status, "ERROR", `${res.status} ${res.statusText}`);
  }
}

/**
 * fetch on this origin with the API key; a 401 asks for a key and tries again with it. The
 * answer when it is ok, else an ApiError.
 */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  for (;;) {
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
    const res = await fetch(path, { ...init, headers });
    if (res.ok) return res;
    const error = await problemOf(res);
    if (res.status === 401) {
      const reason = getKey() ? "That key was not accepted." : "This server needs an API key.";
      if (await askForKey(reason)) continue;
    }
    throw error;
  }
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request(path, { signal })).json() as Promise<T>;
}

export async function postJson<T>(path: string, body?: unknown): Promise<T> {
  const res = await request(path, {
    method: "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return res.json() as Promise<T>;
}
