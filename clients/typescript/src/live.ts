// A user's live events: the WebSocket, kept open (reopened with backoff and jitter), and
// on every (re)open a catch-up through `GET /events` from the stored cursor, so that
// the application gets each event once, in order, whatever the network did.
//
// Delivery is at least once on both paths, so every event goes through one filter of
// the ids already handed over. Events pushed while a catch-up runs wait until it is
// done: the catch-up lists older events first, and the pushes come after them.

import type { EventData } from "./generated/events.js";
import { backoffMs, type JoinRequestsClient } from "./client.js";

export type EventName = keyof EventData;
/** One real-time event, typed by its name. */
export type ServiceEvent = { [K in EventName]: { id: string; event: K; data: EventData[K] } }[EventName];

/** Where the catch-up cursor is kept between connections (and, in a browser, reloads). */
export interface CursorStore {
  load(): string | null;
  save(cursor: string): void;
  clear(): void;
}

export class MemoryCursorStore implements CursorStore {
  private cursor: string | null = null;
  load() {
    return this.cursor;
  }
  save(cursor: string) {
    this.cursor = cursor;
  }
  clear() {
    this.cursor = null;
  }
}

/** A browser's `localStorage`, under one key per user. */
export class LocalStorageCursorStore implements CursorStore {
  constructor(
    private readonly key: string,
    private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> = globalThis.localStorage,
  ) {}
  load() {
    return this.storage.getItem(this.key);
  }
  save(cursor: string) {
    this.storage.setItem(this.key, cursor);
  }
  clear() {
    this.storage.removeItem(this.key);
  }
}

/** The part of the WebSocket API this uses: the browser's, or `ws` in Node. */
export interface SocketLike {
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: unknown) => void) | null;
  onerror: ((event: unknown) => void) | null;
  close(): void;
}
export type SocketFactory = (url: string) => SocketLike;

export type LiveStatus = "connecting" | "catching-up" | "live" | "reconnecting" | "stopped";

export interface LiveOptions {
  client: JoinRequestsClient;
  /** The WebSocket API's URL, e.g. `ws://127.0.0.1:3001` or the stack's `WebSocketUrl`. */
  url: string;
  token: string | (() => string);
  onEvent: (event: ServiceEvent) => void;
  onStatus?: (status: LiveStatus) => void;
  /** Defaults to the global `WebSocket` (browsers, Node 22). */
  socket?: SocketFactory;
  cursor?: CursorStore;
  /** Reopening waits a uniform 0..min(max, base × 2^attempt) ms. */
  backoff?: { baseMs: number; maxMs: number };
  /** How many ids are remembered to drop repeats (default 2000). */
  remember?: number;
}

export class LiveConnection {
  private socket: SocketLike | null = null;
  private stopped = true;
  private attempt = 0;
  private catchingUp = false;
  private pushedMeanwhile: ServiceEvent[] = [];
  private readonly seen = new Set<string>();
  private readonly cursor: CursorStore;
  private reopenTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly options: LiveOptions) {
    this.cursor = options.cursor ?? new MemoryCursorStore();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.socket?.close();
    this.socket = null;
    this.options.onStatus?.("stopped");
  }

  private open(): void {
    this.options.onStatus?.(this.attempt === 0 ? "connecting" : "reconnecting");
    const token = typeof this.options.token === "function" ? this.options.token() : this.options.token;
    const url = `${this.options.url.replace(/\/$/, "")}/?token=${encodeURIComponent(token)}`;
    const factory: SocketFactory =
      this.options.socket ?? ((target) => new (globalThis.WebSocket as unknown as new (u: string) => SocketLike)(target));
    const socket = factory(url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      void this.catchUp(socket);
    };
    socket.onmessage = (message) => {
      const event = parse(message.data);
      if (!event) return;
      if (this.catchingUp) this.pushedMeanwhile.push(event);
      else this.hand(event);
    };
    socket.onclose = () => this.reopenLater(socket);
    socket.onerror = () => socket.close();
  }

  private reopenLater(socket: SocketLike): void {
    if (this.stopped || socket !== this.socket) return;
    this.socket = null;
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 250, maxMs: 10_000 };
    const wait = backoffMs(this.attempt++, baseMs, maxMs);
    this.reopenTimer = setTimeout(() => this.open(), wait);
  }

  /** Every event kept since the cursor, following `more`; a cursor the service no
   * longer knows (7 days old, or another user's) starts again from the beginning. */
  private async catchUp(socket: SocketLike): Promise<void> {
    this.catchingUp = true;
    this.options.onStatus?.("catching-up");
    try {
      for (;;) {
        const after = this.cursor.load() ?? undefined;
        const page = await this.options.client.events({ after, limit: 100 });
        if (!page.ok) {
          if (page.error.code === "EVENT_NOT_FOUND" && after !== undefined) {
            this.cursor.clear();
            continue;
          }
          // The socket stays open; the next reopen catches up again.
          socket.close();
          return;
        }
        for (const kept of page.value.events) {
          this.hand({ id: kept.id, event: kept.event, data: kept.data } as ServiceEvent);
        }
        this.cursor.save(page.value.cursor);
        if (!page.value.more) break;
      }
    } finally {
      this.catchingUp = false;
      const waiting = this.pushedMeanwhile;
      this.pushedMeanwhile = [];
      for (const event of waiting) this.hand(event);
    }
    if (socket === this.socket) this.options.onStatus?.("live");
  }

  private hand(event: ServiceEvent): void {
    if (this.seen.has(event.id)) return;
    this.seen.add(event.id);
    const remember = this.options.remember ?? 2000;
    if (this.seen.size > remember) {
      const oldest = this.seen.values().next().value;
      if (oldest !== undefined) this.seen.delete(oldest);
    }
    this.options.onEvent(event);
  }
}

function parse(data: unknown): ServiceEvent | null {
  try {
    const text = typeof data === "string" ? data : String(data);
    const event = JSON.parse(text) as ServiceEvent;
    return typeof event?.id === "string" && typeof event?.event === "string" ? event : null;
  } catch {
    return null;
  }
}
