// The retry policy alone, over a scripted `fetch` (pure logic: the service's own answers
// are tested against the local stack in client.test.ts).

import { test } from "node:test";
import assert from "node:assert/strict";

import { JoinRequestsClient } from "../src/index.js";

type Scripted = { status: number; body: unknown; retryAfter?: string };

/** A `fetch` that answers `script` in turn, and records each call's headers. */
function scripted(script: Scripted[]) {
  const calls: Headers[] = [];
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    calls.push(new Headers(init?.headers));
    const next = script[Math.min(calls.length - 1, script.length - 1)];
    if (!next) throw new Error("no scripted answer");
    const headers = new Headers({ "Content-Type": "application/json" });
    if (next.retryAfter !== undefined) headers.set("Retry-After", next.retryAfter);
    return new Response(JSON.stringify(next.body), { status: next.status, headers });
  };
  return { fetch, calls };
}

const unavailable = { status: 503, body: { message: "try again", code: "UNAVAILABLE" }, retryAfter: "1" };
const created = { status: 201, body: { request: { _id: "6b07a044aba40f91f43e9187", status: "pending" } } };

test("a 503 with Retry-After is waited for and retried, with the same Idempotency-Key", async () => {
  const { fetch, calls } = scripted([unavailable, unavailable, created]);
  const client = new JoinRequestsClient({ baseUrl: "http://service.test", token: "t", fetch });
  const started = Date.now();
  const result = await client.createRequest({ chat: "65b000000000000000000001" });
  assert.ok(result.ok);
  assert.equal(calls.length, 3);
  assert.ok(Date.now() - started >= 2000, "it waited the seconds the service asked");
  const keys = calls.map((h) => h.get("Idempotency-Key"));
  assert.ok(keys[0] && keys.every((k) => k === keys[0]), `one key for the change: ${keys.join(", ")}`);
});

test("retries are bounded, and a long Retry-After is the caller's to act on", async () => {
  const always = scripted([unavailable]);
  const bounded = new JoinRequestsClient({ baseUrl: "http://service.test", token: "t", fetch: always.fetch, maxRetries: 1 });
  const result = await bounded.listRequests();
  assert.ok(!result.ok && result.error.code === "UNAVAILABLE" && result.error.retryAfter === 1);
  assert.equal(always.calls.length, 2, "the first attempt and one retry");

  const limited = scripted([{ status: 429, body: { message: "later", code: "RATE_LIMITED", retryAfter: 1800 }, retryAfter: "1800" }]);
  const client = new JoinRequestsClient({ baseUrl: "http://service.test", token: "t", fetch: limited.fetch });
  const refused = await client.createRequest({ chat: "65b000000000000000000001" });
  assert.ok(!refused.ok && refused.error.status === 429 && refused.error.code === "RATE_LIMITED");
  assert.equal(refused.error.retryAfter, 1800);
  assert.equal(limited.calls.length, 1, "half an hour is not waited for");
});

test("a change without a key is not sent again after a lost answer; a read is", async () => {
  let calls = 0;
  const losing: typeof fetch = async () => {
    calls++;
    throw new TypeError("network down");
  };
  const client = new JoinRequestsClient({ baseUrl: "http://service.test", token: "t", fetch: losing, maxRetries: 2 });
  const decided = await client.decideMany("65b000000000000000000001", { status: "accepted", requests: ["6b07a044aba40f91f43e9187"] });
  assert.ok(!decided.ok && decided.error.code === "NETWORK");
  assert.equal(calls, 1, "decisions in bulk carry no key: never sent twice blind");
  calls = 0;
  const listed = await client.listRequests();
  assert.ok(!listed.ok && listed.error.code === "NETWORK");
  assert.equal(calls, 3, "a read is tried again");
});
