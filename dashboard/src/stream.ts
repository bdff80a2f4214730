import { token } from './api';

/** An event as the store and the broadcaster send it. */
export interface AgentEvent {
  type: string;
  data: Record<string, unknown>;
  metadata: { id?: string; timestamp?: string; source?: string; tags?: string[]; [key: string]: unknown };
}

export interface StreamEntry {
  offset: number;
  event: AgentEvent;
}

/** What GET /websocket answers (the broadcaster's own port and path, or a public URL). */
export interface WebsocketInfo {
  url?: string;
  port: number;
  path: string;
  tls: boolean;
  token_required: boolean;
  replay: boolean;
}

export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'offline';

export interface StreamHandlers {
  onEvents(entries: StreamEntry[]): void;
  /** The server could not replay from our offset (`recovered: false`): events may be missing. */
  onGap(reason: string): void;
  onState(state: StreamState, detail: string): void;
  /** Connected again after having been connected: the page reloads what it polls. */
  onReconnected(): void;
}

/** The WebSocket URL the page should use: the advertised one, else the broadcaster's port on the page's host. */
export function websocketUrl(info: WebsocketInfo, page: Location = location): string {
  let url: URL;
  if (info.url) {
    url = new URL(info.url, page.href);
    if (url.protocol === 'http:') url.protocol = 'ws:';
    if (url.protocol === 'https:') url.protocol = 'wss:';
  } else {
    url = new URL(page.href);
    url.protocol = info.tls ? 'wss:' : 'ws:';
    url.port = String(info.port);
    url.pathname = info.path;
    url.search = '';
  }
  url.hash = '';
  const t = token();
  // Browsers cannot set headers on a WebSocket: the broadcaster takes ?token= for them.
  if (info.token_required && t) url.searchParams.set('token', t);
  return url.toString();
}

/**
 * The agent's WebSocket protocol with resume: every (re)connection asks, in its URL, for
 * everything since the last offset it has, with the store's epoch, so a reload of the agent's
 * config, an agent restart or a network blip loses and repeats nothing. The agent applies that
 * before sending any event and answers it in `welcome`. The resume point is the last offset
 * that arrived.
 */
export class EventStream {
  private ws?: WebSocket;
  private watermark = -1;
  private epoch?: string;
  private attempts = 0;
  private connectedOnce = false;
  private timer?: number;
  private closed = false;

  constructor(
    private readonly url: () => string,
    private readonly handlers: StreamHandlers,
  ) {}

  /** Starts after `offset` (the last event the page already has from GET /events), or live only. */
  start(offset: number | undefined, epoch: string | undefined): void {
    if (offset !== undefined) this.watermark = offset;
    this.epoch = epoch;
    this.connect();
  }

  /** The last offset that arrived. */
  get offset(): number {
    return this.watermark;
  }

  stop(): void {
    this.closed = true;
    window.clearTimeout(this.timer);
    this.ws?.close(1000, 'page closed');
  }

  private connect(): void {
    this.handlers.onState(this.connectedOnce ? 'reconnecting' : 'connecting', this.attempts > 0 ? `attempt ${this.attempts + 1}` : '');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.resumeUrl());
    } catch (error) {
      this.handlers.onState('offline', String(error));
      return;
    }
    this.ws = ws;
    ws.onmessage = (message) => this.onMessage(String(message.data));
    ws.onclose = (close) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.closed) return;
      // Capped exponential backoff with jitter: a restarting agent is back within a second or two.
      const delay = Math.min(5000, 250 * 2 ** this.attempts) * (0.75 + Math.random() / 2);
      this.attempts++;
      this.handlers.onState('reconnecting', close.reason || `connection closed (${close.code})`);
      this.timer = window.setTimeout(() => this.connect(), delay);
    };
  }

  /** The broadcaster's URL with every event type and, once there is one, the resume point. */
  private resumeUrl(): string {
    const url = new URL(this.url());
    url.searchParams.set('event_types', '*');
    if (this.watermark >= 0) {
      url.searchParams.set('since', String(this.watermark));
      if (this.epoch) url.searchParams.set('epoch', this.epoch);
    }
    return url.toString();
  }

  private onMessage(text: string): void {
    let message: { type?: string; payload?: Record<string, unknown>; id?: string; correlation_id?: string };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const payload = message.payload ?? {};
    if (message.type === 'eventStream') {
      const offset = Number(message.id);
      if (this.accept(offset)) this.handlers.onEvents([{ offset, event: payload as unknown as AgentEvent }]);
      return;
    }
    if (message.type === 'welcome') {
      this.attempts = 0;
      const resumed = this.connectedOnce;
      this.connectedOnce = true;
      if (payload.recovered === false) {
        // Nothing was replayed; a new database numbers its events from the start again.
        this.watermark = -1;
        this.handlers.onGap(String(payload.reason ?? 'the agent could not replay the missed events'));
      }
      this.epoch = typeof payload.epoch === 'string' ? payload.epoch : this.epoch;
      this.handlers.onState('live', '');
      if (resumed) this.handlers.onReconnected();
    }
  }

  /**
   * True the first time an offset arrives. The agent sends a connection's events in offset order,
   * the replay first and without repeating what it sent live, so a later offset is a new event.
   */
  private accept(offset: number): boolean {
    if (!Number.isFinite(offset) || offset <= this.watermark) return false;
    this.watermark = offset;
    return true;
  }
}
