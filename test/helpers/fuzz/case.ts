/**
 * One request of the HTTP fuzzer, as fast-check generates, shrinks and prints it. URLs and bodies
 * may hold placeholders ({model}, {created}, {finishedJob}, {job}) that name records the run
 * makes; the fuzz test resolves them when it sends the case.
 */
export interface Case {
  method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH" | "HEAD" | "OPTIONS";
  url: string;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** What the property looks at in an answer. */
export interface Answer {
  status: number;
  contentType: string;
  text: string;
}
