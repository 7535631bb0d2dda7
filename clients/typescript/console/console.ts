// The local stack's console: pick a demo user, then see their requests and the queues
// of the chats they administer change live. Built on the client package alone, so it
// is also its example; the stack serves it at /console (scripts/stack.sh bundles it).

import {
  JoinRequestsClient,
  LiveConnection,
  LocalStorageCursorStore,
  type ApiError,
  type Schemas,
  type ServiceEvent,
} from "../src/index.js";

/** What the local stack tells the console: its demo users (with their tokens) and chats. */
interface Directory {
  websocket: string;
  users: { _id: string; username: string; name: string; token: string; adminOf: string[] }[];
  chats: { _id: string; name: string; isGroup: boolean; restricted: boolean }[];
}

type Queued = Schemas["QueuedRequest"];

const $ = <T extends HTMLElement>(selector: string, root: ParentNode = document) => {
  const found = root.querySelector<T>(selector);
  if (!found) throw new Error(`${selector} is missing from the page`);
  return found;
};

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

const time = (iso: string) => new Date(iso).toLocaleTimeString();
const describe = (error: ApiError) => `${error.code}${error.status ? ` (${error.status})` : ""}: ${error.message}`;

let directory: Directory;
let session: { user: Directory["users"][number]; api: JoinRequestsClient; live: LiveConnection } | null = null;

async function main() {
  const response = await fetch("/console/directory.json");
  directory = (await response.json()) as Directory;
  const picker = $<HTMLSelectElement>("#user");
  for (const user of directory.users) {
    picker.append(element("option", { value: user._id }, `${user.username} (${user.name})`));
  }
  picker.addEventListener("change", () => signIn(picker.value));
  $<HTMLFormElement>("#ask").addEventListener("submit", (event) => {
    event.preventDefault();
    void ask();
  });
  $<HTMLSelectElement>("#ask-chat").addEventListener("change", () => void showQuestions());
  const chosen = new URLSearchParams(location.search).get("user");
  if (chosen) {
    picker.value = chosen;
    signIn(chosen);
  }
}

function signIn(userId: string) {
  session?.live.stop();
  session = null;
  const user = directory.users.find((u) => u._id === userId);
  $("main").hidden = !user;
  if (!user) return;
  const api = new JoinRequestsClient({ baseUrl: location.origin, token: user.token });
  const live = new LiveConnection({
    client: api,
    url: directory.websocket,
    token: user.token,
    cursor: new LocalStorageCursorStore(`join-requests-console-cursor-${user._id}`),
    onEvent: (event) => onEvent(event),
    onStatus: (status) => ($("#status").textContent = status),
  });
  session = { user, api, live };
  $("#event-log").replaceChildren();
  $("#score").textContent = "";
  const askable = directory.chats.filter((c) => c.isGroup && c.restricted && !user.adminOf.includes(c._id));
  $<HTMLSelectElement>("#ask-chat").replaceChildren(
    ...(askable.length
      ? askable.map((c) => element("option", { value: c._id }, c.name))
      : [element("option", { value: "" }, "no restricted chat to ask: this user administers them all")]),
  );
  $<HTMLButtonElement>("#ask button[type=submit]").disabled = askable.length === 0;
  void showQuestions();
  void showMine();
  void showQueues();
  live.start();
}

function onEvent(event: ServiceEvent) {
  const log = $("#event-log");
  log.prepend(element("li", {}, `${time(new Date().toISOString())} ${event.event} `, element("code", {}, event.id)));
  switch (event.event) {
    case "chat-join-request":
      addToQueue(event.data.request.chat?._id ?? "", {
        ...event.data.request,
        chat: event.data.request.chat?._id ?? "",
      } as Queued);
      break;
    case "chat-join-request-closed":
      removeFromQueue(event.data.request.chat, event.data.request._id);
      break;
    case "score-updated":
      $("#score").textContent = `score ${event.data.score.total}`;
      void showMine();
      break;
    default:
      void showMine();
  }
}

async function showMine() {
  if (!session) return;
  const page = await session.api.listRequests({ limit: 100 });
  const rows = $("#mine tbody");
  if (!page.ok) {
    rows.replaceChildren(element("tr", {}, element("td", { colspan: "4" }, describe(page.error))));
    return;
  }
  rows.replaceChildren(
    ...page.value.requests.map((request) => {
      const withdraw = element("button", { type: "button", class: "secondary" }, "Withdraw");
      withdraw.addEventListener("click", async () => {
        const done = await session?.api.withdrawRequest(request._id);
        if (done && !done.ok) $("#ask-result").textContent = describe(done.error);
        void showMine();
      });
      return element(
        "tr",
        { "data-request": request._id },
        element("td", {}, request.chat?.name ?? "(a deleted chat)"),
        element("td", { class: `status-${request.status}` }, request.status),
        element("td", {}, time(request.createdAt)),
        element("td", {}, ...(request.status === "pending" ? [withdraw] : [])),
      );
    }),
  );
}

async function showQuestions() {
  const box = $("#ask-questions");
  box.replaceChildren();
  const chat = $<HTMLSelectElement>("#ask-chat").value;
  if (!session || !chat) return;
  const questions = await session.api.questions(chat);
  if (!questions.ok) return;
  for (const question of questions.value.questions) {
    const input = element("input", { name: "answer", "data-question": question._id, maxlength: "500" });
    if (question.required) input.required = true;
    box.append(element("label", {}, `${question.text}${question.required ? " (required)" : ""}`, input));
  }
}

async function ask() {
  if (!session) return;
  const result = $("#ask-result");
  const chat = $<HTMLSelectElement>("#ask-chat").value;
  const message = $<HTMLTextAreaElement>("#ask-message").value.trim();
  const answers = [...document.querySelectorAll<HTMLInputElement>("#ask-questions input")]
    .filter((input) => input.value.trim() !== "")
    .map((input) => ({ question: input.dataset.question ?? "", answer: input.value }));
  const created = await session.api.createRequest({ chat, ...(message ? { message } : {}), ...(answers.length ? { answers } : {}) });
  result.textContent = created.ok ? `asked: ${created.value.request.status}` : describe(created.error);
  if (created.ok) $<HTMLTextAreaElement>("#ask-message").value = "";
  void showMine();
}

async function showQueues() {
  const box = $("#queues");
  if (!session || session.user.adminOf.length === 0) {
    box.replaceChildren(element("p", { class: "help" }, "None: this user administers no chat."));
    return;
  }
  box.replaceChildren();
  for (const chatId of session.user.adminOf) {
    const chat = directory.chats.find((c) => c._id === chatId);
    const article = element("article", { "data-chat": chatId, "aria-labelledby": `queue-${chatId}` });
    const heading = element("h3", { id: `queue-${chatId}` }, chat?.name ?? chatId, " ", element("span", { class: "count" }, ""));
    const reason = element("input", { "aria-label": "Reason, for a rejection", placeholder: "reason (optional)", maxlength: "500" });
    const block = element("input", { type: "checkbox" });
    const all = element("input", { type: "checkbox", "aria-label": "Select every request of this queue" });
    const acceptAll = element("button", { type: "button" }, "Accept selected");
    const rejectAll = element("button", { type: "button", class: "secondary" }, "Reject selected");
    const bulk = element("div", { class: "bulk" }, element("label", {}, all, "all"), acceptAll, rejectAll, reason, element("label", {}, block, "and block"));
    const table = element(
      "table",
      {},
      element("caption", { class: "visually-hidden" }, `Pending requests of ${chat?.name ?? chatId}`),
      element("thead", {}, element("tr", {}, ...["", "Who", "Message and answers", "Asked", ""].map((h) => element("th", { scope: "col" }, h)))),
      element("tbody"),
    );
    all.addEventListener("change", () => {
      for (const box of article.querySelectorAll<HTMLInputElement>("tbody input[type=checkbox]")) box.checked = all.checked;
    });
    const decideSelected = async (status: "accepted" | "rejected") => {
      const ids = [...article.querySelectorAll<HTMLInputElement>("tbody input:checked")].map((b) => b.value);
      if (!session || ids.length === 0) return;
      const note = reason.value.trim();
      const body =
        status === "rejected"
          ? { status, requests: ids, ...(note ? { reason: note } : {}), ...(block.checked ? { block: true } : {}) }
          : { status, requests: ids };
      const decided = await session.api.decideMany(chatId, body);
      if (decided.ok) for (const r of decided.value.results) if (r.status === 200) removeFromQueue(chatId, r._id);
      all.checked = false;
    };
    acceptAll.addEventListener("click", () => void decideSelected("accepted"));
    rejectAll.addEventListener("click", () => void decideSelected("rejected"));
    article.append(heading, bulk, table);
    article.dataset.reason = "";
    box.append(article);
    const queue = await session.api.chatRequests(chatId, { status: "pending", limit: 100 });
    if (!queue.ok) {
      heading.append(` (${describe(queue.error)})`);
      continue;
    }
    setCount(chatId, queue.value.count);
    for (const request of [...queue.value.requests].reverse()) addToQueue(chatId, request, false);
  }
}

function setCount(chatId: string, count: number) {
  const counter = document.querySelector<HTMLElement>(`article[data-chat="${chatId}"] .count`);
  if (!counter) return;
  counter.dataset.count = String(count);
  counter.textContent = `${count} pending`;
}

function addToQueue(chatId: string, request: Queued, counted = true) {
  const article = document.querySelector<HTMLElement>(`article[data-chat="${chatId}"]`);
  if (!article || article.querySelector(`tr[data-request="${request._id}"]`)) return;
  const accept = element("button", { type: "button" }, "Accept");
  const reject = element("button", { type: "button", class: "secondary" }, "Reject");
  const decide = async (status: "accepted" | "rejected") => {
    if (!session) return;
    const reason = ($<HTMLInputElement>(".bulk input[placeholder]", article).value ?? "").trim();
    const block = $<HTMLInputElement>(".bulk label:last-child input", article).checked;
    const body = status === "rejected" ? { status, ...(reason ? { reason } : {}), ...(block ? { block: true } : {}) } : { status };
    const decided = await session.api.decideRequest(request._id, body);
    if (decided.ok || decided.error.code === "REQUEST_NOT_PENDING") removeFromQueue(chatId, request._id);
  };
  accept.addEventListener("click", () => void decide("accepted"));
  reject.addEventListener("click", () => void decide("rejected"));
  const answers = (request.answers ?? []).map((a) => element("li", {}, `${a.text ?? a.question}: ${a.answer}`));
  const row = element(
    "tr",
    { "data-request": request._id },
    element("td", {}, element("input", { type: "checkbox", value: request._id, "aria-label": `Select the request of ${request.user.username ?? request.user._id}` })),
    element("td", {}, request.user.username ?? request.user._id),
    element("td", {}, request.message ?? "", ...(answers.length ? [element("ul", { class: "answers" }, ...answers)] : [])),
    element("td", {}, time(request.createdAt)),
    element("td", {}, accept, " ", reject),
  );
  $("tbody", article).prepend(row);
  if (counted) adjustCount(chatId, 1);
}

function removeFromQueue(chatId: string, requestId: string) {
  const row = document.querySelector(`article[data-chat="${chatId}"] tr[data-request="${requestId}"]`);
  if (!row) return;
  row.remove();
  adjustCount(chatId, -1);
}

function adjustCount(chatId: string, by: number) {
  const counter = document.querySelector<HTMLElement>(`article[data-chat="${chatId}"] .count`);
  setCount(chatId, Math.max(0, Number(counter?.dataset.count ?? 0) + by));
}

void main();
