// The k6 workload of scripts/load.sh: requesters creating, getting, listing and
// withdrawing; admins reading their queue and deciding (one by one and in bulk); one
// WebSocket connection per admin, open for the whole run, recording every event it
// receives. Prints p50/p95/p99 and throughput per call; fails on any unexpected status.
import http from "k6/http";
import ws from "k6/ws";
import exec from "k6/execution";
import { Counter, Trend } from "k6/metrics";

const world = JSON.parse(open(__ENV.RUN_FILE));
const REST = __ENV.REST_URL;
const WS = __ENV.WS_URL;
const SECONDS = Number(__ENV.LOAD_SECONDS || 30);
// How long the admins' connections stay open after the load stops: the stack's
// sweeper delivers whatever a call's own delivery left behind within this time.
const SETTLE_SECONDS = Number(__ENV.SETTLE_SECONDS || 15);

const CALLS = ["create", "get", "list", "withdraw", "queue", "decide", "decide_many"];
const timings = Object.fromEntries(CALLS.map((call) => [call, new Trend(`call_${call}`, true)]));
const unexpected = new Counter("unexpected_statuses");

export const options = {
  scenarios: {
    watchers: { executor: "per-vu-iterations", vus: world.admins.length, iterations: 1, exec: "watch", maxDuration: `${SECONDS + SETTLE_SECONDS + 30}s` },
    requesters: { executor: "constant-vus", vus: 6, duration: `${SECONDS}s`, startTime: "3s", exec: "request" },
    deciders: { executor: "constant-vus", vus: 2, duration: `${SECONDS}s`, startTime: "3s", exec: "decide" },
  },
  thresholds: { unexpected_statuses: ["count==0"] },
  summaryTrendStats: ["med", "p(95)", "p(99)", "count"],
};

const pick = (items) => items[Math.floor(Math.random() * items.length)];
const auth = (token) => ({ headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });

function call(name, method, path, token, body, expected) {
  const response = http.request(method, `${REST}${path}`, body === undefined ? null : JSON.stringify(body), {
    ...auth(token),
    tags: { name },
  });
  timings[name].add(response.timings.duration);
  if (!expected.includes(response.status)) {
    unexpected.add(1);
    console.error(`unexpected ${response.status} for ${name} ${method} ${path}: ${response.body}`);
  }
  return response;
}

export function watch() {
  const admin = world.admins[exec.scenario.iterationInTest];
  const events = [];
  ws.connect(`${WS}/?token=${admin.token}`, {}, (socket) => {
    socket.on("message", (text) => {
      const message = JSON.parse(text);
      events.push([message.event, message.data.request._id]);
    });
    socket.setTimeout(() => socket.close(), (SECONDS + 3 + SETTLE_SECONDS) * 1000);
  });
  console.log(JSON.stringify({ admin: admin.id, events }));
}

export function request() {
  const requester = pick(world.requesters);
  const chat = pick(world.chats);
  const created = call("create", "POST", "/requests", requester.token, { chat, message: "load" }, [201, 409]);
  call("list", "GET", "/requests?limit=10", requester.token, undefined, [200]);
  if (created.status !== 201) return;
  const id = created.json("request._id");
  call("get", "GET", `/requests/${id}`, requester.token, undefined, [200]);
  if (Math.random() < 0.1) call("withdraw", "DELETE", `/requests/${id}`, requester.token, undefined, [200, 409]);
}

export function decide() {
  const admin = pick(world.admins);
  const queue = call("queue", "GET", `/chats/${admin.chat}/requests?status=pending&limit=10`, admin.token, undefined, [200]);
  const pending = queue.status === 200 ? queue.json("requests").map((r) => r._id) : [];
  if (pending.length === 0) return;
  const status = Math.random() < 0.7 ? "accepted" : "rejected";
  if (Math.random() < 0.3) {
    call("decide_many", "POST", `/chats/${admin.chat}/requests/decisions`, admin.token, { status, requests: pending.slice(0, 5) }, [200]);
  } else {
    const body = status === "rejected" ? { status, reason: "load" } : { status };
    // Another admin of the chat, or the requester withdrawing, may have been first.
    call("decide", "PATCH", `/requests/${pending[0]}`, admin.token, body, [200, 409]);
  }
}

export function handleSummary(data) {
  const rows = CALLS.filter((call) => data.metrics[`call_${call}`]).map((call) => {
    const v = data.metrics[`call_${call}`].values;
    return { call, count: v.count, perSecond: v.count / SECONDS, p50: v.med, p95: v["p(95)"], p99: v["p(99)"] };
  });
  const line = (r) =>
    `${r.call.padEnd(12)} ${String(r.count).padStart(6)} ${r.perSecond.toFixed(1).padStart(8)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${r.p99.toFixed(1).padStart(8)}`;
  const table = [
    `load: ${SECONDS} s, ${world.requesters.length} requesters, ${world.admins.length} admins (one WebSocket connection each), ${world.chats.length} chats`,
    `${"call".padEnd(12)} ${"calls".padStart(6)} ${"per s".padStart(8)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"p99 ms".padStart(8)}`,
    ...rows.map(line),
    `unexpected statuses: ${data.metrics.unexpected_statuses ? data.metrics.unexpected_statuses.values.count : 0}`,
  ].join("\n");
  return { stdout: `${table}\n`, [__ENV.SUMMARY_FILE]: JSON.stringify({ seconds: SECONDS, calls: rows }, null, 2) };
}
