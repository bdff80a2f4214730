import { WebSocket, type ClientOptions } from 'ws';

/** A message as the server sends it. */
export interface WireMessage {
  type: string;
  payload: Record<string, unknown>;
  id?: string;
  timestamp?: string;
  correlation_id?: string;
}

/**
 * A small test client: collects every message in order and waits for the ones asked for. Used by
 * this plugin's tests and the end-to-end resume test.
 */
export class TestClient {
  readonly messages: WireMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  private waiters: { match: (m: WireMessage) => boolean; from: number; resolve: (m: WireMessage) => void }[] = [];

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as WireMessage;
      this.messages.push(message);
      const index = this.messages.length - 1;
      this.waiters = this.waiters.filter((w) => {
        if (index < w.from || !w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  static async connect(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const client = new TestClient(new WebSocket(url, options));
    await client.opened;
    await client.next((m) => m.type === 'welcome');
    return client;
  }

  /** The first message (already received or future, at or after index `from`) that matches. */
  next(match: (m: WireMessage) => boolean, from = 0, timeoutMs = 10_000): Promise<WireMessage> {
    const seen = this.messages.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages.slice(-5))}`)), timeoutMs);
      this.waiters.push({ match, from, resolve: (m) => {
        clearTimeout(timer);
        resolve(m);
      } });
    });
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** Sends a PING and waits for its PONG: everything the server sent before it has arrived. */
  async roundTrip(): Promise<void> {
    const id = `ping-${Math.random()}`;
    this.send({ type: 'PING', payload: {}, id });
    await this.next((m) => m.type === 'PONG' && m.correlation_id === id);
  }

  /** Events received (eventStream messages), as [offset, event type]. */
  events(): { id: number; type: string; payload: Record<string, unknown> }[] {
    return this.messages.filter((m) => m.type === 'eventStream').map((m) => ({ id: Number(m.id), type: String(m.payload.type), payload: m.payload }));
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}
