// The client against the local stack (real HTTP, real WebSockets): scripts/client-test.sh
// starts a stack of its own and passes its URLs and the demo users' tokens.

import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

import {
  JoinRequestsClient,
  LiveConnection,
  MemoryCursorStore,
  type ServiceEvent,
  type SocketLike,
} from "../src/index.js";

const REST = required("STACK_REST_URL");
const WS = required("STACK_WS_URL");
const TOKENS = JSON.parse(required("STACK_TOKENS")) as Record<string, string>;

const RUST = "65b000000000000000000001";
const HIKE = "65b000000000000000000002";
const SAM = "65a000000000000000000007";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run scripts/client-test.sh`);
  return value;
}

function as(user: string, options: Partial<ConstructorParameters<typeof JoinRequestsClient>[0]> = {}) {
  const token = TOKENS[user];
  assert.ok(token, `a token for ${user}`);
  return new JoinRequestsClient({ baseUrl: REST, token, ...options });
}

function value<T>(result: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!result.ok) assert.fail(`expected an answer, got ${result.error.name}: ${JSON.stringify(result.error)}`);
  return result.value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000) {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

test("every call is typed and answered, and an error is a value with the contract's code", async () => {
  const [lea, amy, ben, sam] = ["lea.left", "amy.admin", "ben.admin", "sam.stranger"].map((u) => as(u));
  assert.deepEqual(value(await ben.setQuestions(RUST, { questions: [] })), { questions: [] });
  assert.deepEqual(value(await sam.questions(RUST)).questions, []);

  const created = value(await lea.createRequest({ chat: RUST, message: "Hello from the client" })).request;
  assert.equal(created.status, "pending");
  assert.equal(value(await lea.getRequest(created._id)).request.chat?.name, "Rustaceans (restricted)");
  assert.ok(value(await lea.listRequests({ status: "pending" })).requests.some((r) => r._id === created._id));
  const queue = value(await amy.chatRequests(RUST, { status: "pending" }));
  assert.ok(queue.requests.some((r) => r._id === created._id && r.user.username === "lea.left"));
  const rejected = value(await amy.decideRequest(created._id, { status: "rejected", reason: "Not now" }));
  assert.equal(rejected.request.reason, "Not now");

  const again = value(await lea.createRequest({ chat: RUST })).request;
  assert.equal(value(await lea.withdrawRequest(again._id)).request.status, "cancelled");
  const third = value(await lea.createRequest({ chat: RUST })).request;
  const results = value(await amy.decideMany(RUST, { status: "accepted", requests: [third._id] })).results;
  assert.equal(results[0]?.status, 200);
  assert.ok(value(await lea.events({ limit: 100 })).events.some((e) => e.event === "chat-request-accepted"));

  const blocked = value(await ben.block(RUST, SAM, { reason: "Testing" })).block;
  assert.equal(blocked.user, SAM);
  assert.ok(value(await amy.blocks(RUST)).blocks.some((b) => b.user === SAM));
  const refused = await sam.createRequest({ chat: RUST });
  assert.ok(!refused.ok && refused.error.status === 403 && refused.error.code === "REQUEST_BLOCKED");
  assert.equal(value(await ben.unblock(RUST, SAM)).block.reason, "Testing");

  const bad = await sam.getRequest("not-an-id");
  assert.ok(!bad.ok && bad.error.code === "INVALID_ID" && bad.error.status === 400);
  const unauthorized = await new JoinRequestsClient({ baseUrl: REST, token: "nope" }).listRequests();
  assert.ok(!unauthorized.ok && unauthorized.error.code === "UNAUTHORIZED");
  const unreachable = await new JoinRequestsClient({ baseUrl: "http://127.0.0.1:9", token: "t", maxRetries: 0 }).listRequests();
  assert.ok(!unreachable.ok && unreachable.error.code === "NETWORK" && unreachable.error.status === 0);
});

test("a retried create after a lost answer carries the same key and ends with one request", async () => {
  const keys: string[] = [];
  let dropped = 0;
  const losingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (init?.method === "POST") {
      keys.push(new Headers(init.headers).get("Idempotency-Key") ?? "");
      // The service made the change; its answer is lost on the way, once.
      if (dropped++ === 0) throw new TypeError("network connection lost");
    }
    return response;
  };
  const sam = as("sam.stranger", { fetch: losingFetch });
  const created = await sam.createRequest({ chat: HIKE, message: "Once" });
  assert.ok(created.ok, JSON.stringify(created));
  assert.equal(created.replayed, true, "the retry got the kept answer");
  assert.equal(keys.length, 2);
  assert.equal(keys[0], keys[1], "one key for the logical change");
  assert.match(keys[0] ?? "", /^[!-~]{1,255}$/);
  const mine = value(await as("sam.stranger").listRequests({ status: "pending" })).requests;
  assert.deepEqual(
    mine.filter((r) => r.chat?._id === HIKE).map((r) => r._id),
    [created.value.request._id],
    "one request",
  );
});

test("events keep coming while the socket drops: each reaches the application once, in order", async () => {
  const amy = as("amy.admin");
  const sam = as("sam.stranger");
  // Start from now: page to the end of what is kept, as a client that was up to date.
  const cursor = new MemoryCursorStore();
  for (;;) {
    const page = value(await amy.events({ after: cursor.load() ?? undefined, limit: 100 }));
    cursor.save(page.cursor);
    if (!page.more) break;
  }
  const received: ServiceEvent[] = [];
  const sockets: WebSocket[] = [];
  let status = "";
  const live = new LiveConnection({
    client: amy,
    url: WS,
    token: TOKENS["amy.admin"] ?? "",
    cursor,
    backoff: { baseMs: 50, maxMs: 400 },
    socket: (url) => {
      const socket = new WebSocket(url);
      sockets.push(socket);
      return socket as unknown as SocketLike;
    },
    onEvent: (event) => received.push(event),
    onStatus: (now) => (status = now),
  });
  live.start();
  await until("the first connection", () => sockets[0]?.readyState === WebSocket.OPEN);

  const ours = new Set<string>();
  for (let round = 0; round < 8; round++) {
    const request = value(await sam.createRequest({ chat: RUST })).request;
    ours.add(request._id);
    if (round % 3 === 1) sockets.at(-1)?.terminate();
    value(await sam.withdrawRequest(request._id));
  }
  // Each round is a chat-join-request and a chat-join-request-closed to amy.
  const mine = <E extends { id: string; event: string; data: unknown }>(events: E[]) =>
    events.filter((e) => ours.has(((e.data as { request?: { _id?: string } }).request?._id) ?? ""));
  await until("every event of the rounds", () => mine(received).length >= 16 && status === "live", 20_000);
  await sleep(300);
  live.stop();

  assert.ok(sockets.length >= 3, `the socket was reopened (${sockets.length} sockets)`);
  const ids = mine(received).map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  assert.equal(ids.length, 16, "none missing");
  // The order the service kept them in, read back from the start of the test.
  const listed: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = value(await amy.events({ after, limit: 100 }));
    listed.push(...mine(page.events).map((e) => e.id));
    after = page.cursor;
    if (!page.more) break;
  }
  assert.deepEqual(ids, [...new Set(listed)], "in order");
  for (const round of [...ours]) {
    const names = mine(received)
      .filter((e) => (e.data as { request: { _id: string } }).request._id === round)
      .map((e) => e.event);
    assert.deepEqual(names, ["chat-join-request", "chat-join-request-closed"]);
  }
});
