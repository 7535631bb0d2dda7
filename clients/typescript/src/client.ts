// The REST calls, one typed function each. A call answers a `Result`: the value, or an
// `ApiError` with the contract's `code`. It never throws for an answer the service
// gives; it retries, a bounded number of times, what the service says may succeed
// later (`429`, `503` with `Retry-After`) and, for a change that carries an
// `Idempotency-Key`, a lost answer, always with the same key.

import type { components } from "./generated/openapi.js";

export type Schemas = components["schemas"];
export type Request = Schemas["Request"];
export type PopulatedRequest = Schemas["PopulatedRequest"];
export type Status = Schemas["Status"];
/** The contract's error codes, and `NETWORK` for an answer that never came. */
export type ErrorCode = Schemas["Error"]["code"] | "NETWORK";

export class ApiError extends Error {
  constructor(
    /** The HTTP status; 0 when no answer came. */
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    /** Seconds the service asked to wait (`Retry-After`), if it did. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export type Result<T> =
  | { ok: true; value: T; /** The answer kept for an earlier call with the same key. */ replayed: boolean }
  | { ok: false; error: ApiError };

export interface ClientOptions {
  /** The REST API's base URL, e.g. `http://127.0.0.1:3000` or the stack's `ApiUrl`. */
  baseUrl: string;
  /** The bearer token, or a function that gives the current one. */
  token: string | (() => string);
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** A `Retry-After` longer than this is handed to the caller, not waited for (default 5000). */
  maxRetryWaitMs?: number;
  /** Makes idempotency keys (default `crypto.randomUUID`). */
  newKey?: () => string;
}

export interface PageQuery {
  limit?: number;
  page?: number;
  status?: Status;
}

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

interface Call {
  method: Method;
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** A change made once per logical call: one key, reused on each retry. */
  keyed?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full jitter: uniform in 0..min(cap, base × 2^attempt). */
export function backoffMs(attempt: number, baseMs = 200, capMs = 5000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export class JoinRequestsClient {
  private readonly options: Required<Omit<ClientOptions, "token">> & Pick<ClientOptions, "token">;

  constructor(options: ClientOptions) {
    this.options = {
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      maxRetries: options.maxRetries ?? 3,
      maxRetryWaitMs: options.maxRetryWaitMs ?? 5000,
      newKey: options.newKey ?? (() => globalThis.crypto.randomUUID()),
      ...options,
    };
  }

  /** `GET /requests`: the caller's requests, newest first. */
  listRequests(query: PageQuery = {}): Promise<Result<Schemas["RequestPage"]>> {
    return this.call({ method: "GET", path: "/requests", query: { ...query } });
  }

  /** `GET /requests/{id}`: one of the caller's requests. */
  getRequest(id: string): Promise<Result<Schemas["OneRequest"]>> {
    return this.call({ method: "GET", path: `/requests/${encodeURIComponent(id)}` });
  }

  /** `POST /requests`: ask to join a chat; retried with the same `Idempotency-Key`. */
  createRequest(body: Schemas["NewRequest"]): Promise<Result<{ request: Request }>> {
    return this.call({ method: "POST", path: "/requests", body, keyed: true });
  }

  /** `PATCH /requests/{id}`: an admin accepts or rejects (and may block). */
  decideRequest(id: string, body: Schemas["Decision"]): Promise<Result<Schemas["OneRequest"]>> {
    return this.call({ method: "PATCH", path: `/requests/${encodeURIComponent(id)}`, body, keyed: true });
  }

  /** `DELETE /requests/{id}`: the requester withdraws. */
  withdrawRequest(id: string): Promise<Result<Schemas["OneRequest"]>> {
    return this.call({ method: "DELETE", path: `/requests/${encodeURIComponent(id)}`, keyed: true });
  }

  /** `GET /chats/{id}/requests`: the admins' queue. */
  chatRequests(chat: string, query: PageQuery = {}): Promise<Result<Schemas["QueuePage"]>> {
    return this.call({ method: "GET", path: `/chats/${encodeURIComponent(chat)}/requests`, query: { ...query } });
  }

  /** `POST /chats/{id}/requests/decisions`: up to 100 decisions, each on its own. */
  decideMany(chat: string, body: Schemas["BulkDecision"]): Promise<Result<Schemas["DecisionResults"]>> {
    return this.call({ method: "POST", path: `/chats/${encodeURIComponent(chat)}/requests/decisions`, body });
  }

  /** `GET /events`: the caller's kept events after `after` (a cursor or an event id). */
  events(query: { after?: string; limit?: number } = {}): Promise<Result<Schemas["EventPage"]>> {
    return this.call({ method: "GET", path: "/events", query: { ...query } });
  }

  /** `GET /chats/{id}/questions`. */
  questions(chat: string): Promise<Result<Schemas["Questions"]>> {
    return this.call({ method: "GET", path: `/chats/${encodeURIComponent(chat)}/questions` });
  }

  /** `PUT /chats/{id}/questions`: an admin replaces the chat's questions. */
  setQuestions(chat: string, body: Schemas["NewQuestions"]): Promise<Result<Schemas["Questions"]>> {
    return this.call({ method: "PUT", path: `/chats/${encodeURIComponent(chat)}/questions`, body });
  }

  /** `GET /chats/{id}/blocks`. */
  blocks(chat: string, query: Omit<PageQuery, "status"> = {}): Promise<Result<Schemas["BlockPage"]>> {
    return this.call({ method: "GET", path: `/chats/${encodeURIComponent(chat)}/blocks`, query: { ...query } });
  }

  /** `PUT /chats/{id}/blocks/{user}`: blocking a requester rejects their pending request. */
  block(chat: string, user: string, body: Schemas["NewBlock"] = {}): Promise<Result<Schemas["OneBlock"]>> {
    const path = `/chats/${encodeURIComponent(chat)}/blocks/${encodeURIComponent(user)}`;
    return this.call({ method: "PUT", path, body });
  }

  /** `DELETE /chats/{id}/blocks/{user}`. */
  unblock(chat: string, user: string): Promise<Result<Schemas["OneBlock"]>> {
    const path = `/chats/${encodeURIComponent(chat)}/blocks/${encodeURIComponent(user)}`;
    return this.call({ method: "DELETE", path });
  }

  private async call<T>(call: Call): Promise<Result<T>> {
    const { maxRetries, maxRetryWaitMs } = this.options;
    const key = call.keyed ? this.options.newKey() : undefined;
    // A lost answer to a change is retried only when the key makes the retry the same
    // change; a read can always be made again.
    const retriesLostAnswer = call.method === "GET" || call.method === "PUT" || key !== undefined;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.once<T>(call, key);
      const last = attempt >= maxRetries;
      if (outcome.ok) return outcome;
      const { error } = outcome;
      if (!last && error.code === "NETWORK" && retriesLostAnswer) {
        await sleep(backoffMs(attempt));
        continue;
      }
      const waitMs = error.retryAfter === undefined ? undefined : error.retryAfter * 1000;
      if (!last && (error.status === 429 || error.status === 503) && waitMs !== undefined && waitMs <= maxRetryWaitMs) {
        await sleep(waitMs + backoffMs(0, 50, 250));
        continue;
      }
      return outcome;
    }
  }

  private async once<T>(call: Call, key: string | undefined): Promise<Result<T>> {
    const url = new URL(call.path, this.options.baseUrl);
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const token = typeof this.options.token === "function" ? this.options.token() : this.options.token;
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (call.body !== undefined) headers["Content-Type"] = "application/json";
    if (key !== undefined) headers["Idempotency-Key"] = key;
    let response: Response;
    try {
      response = await this.options.fetch(url, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
      });
    } catch (cause) {
      return { ok: false, error: new ApiError(0, "NETWORK", `no answer: ${String(cause)}`) };
    }
    const retryHeader = response.headers.get("Retry-After");
    const retryAfter = retryHeader === null || Number.isNaN(Number(retryHeader)) ? undefined : Number(retryHeader);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    if (response.ok) {
      return { ok: true, value: body as T, replayed: response.headers.get("Idempotency-Replayed") === "true" };
    }
    const error = (body ?? {}) as { code?: ErrorCode; message?: string };
    const code = error.code ?? "INTERNAL";
    return { ok: false, error: new ApiError(response.status, code, error.message ?? response.statusText, retryAfter) };
  }
}
