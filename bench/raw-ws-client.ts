/**
 * A cheap WebSocket client for the fan-out benchmarks: a plain TCP socket, the upgrade handshake
 * written by hand, and server frames read in place (no message objects, no UTF-8 validation, no
 * copy of a payload). `ws` spends most of the clients process's CPU allocating a Buffer per
 * message and collecting it; on a 2-core machine that CPU is taken from the server under test.
 *
 * It still checks what a client must get: every event frame's `"id":"<offset>"` (the tail of the
 * frame the broadcaster writes) must be the previous one + 1, so a gap or a reordering is counted
 * (`outOfOrder`), not hidden. It answers pings (the broadcaster closes silent clients) and records
 * the close code (1006 when the socket ends without a close frame).
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');
/** True when the payload at `start`–`end` is an event message: `{"type":"eventStream"` (not welcome, chatMessage, error, PONG). */
const EVENT_PREFIX = Buffer.from('{"type":"eventStream"');
export const isEvent = (data: Buffer, start: number, end: number): boolean =>
  end - start > EVENT_PREFIX.length && data[start + 9] === 0x65 && data[start + 10] === 0x76 && data[start + 14] === 0x53 && data[start + 20] === QUOTE;
const QUOTE = 0x22;
const BRACE = 0x7d;

export interface RawClientEvents {
  /** An event frame: its offset, and the payload's bounds in `data` (valid during the call only). */
  onEvent(id: number, data: Buffer, start: number, end: number): void;
  onClose(code: number): void;
}

export class RawWsClient {
  /** Event frames received. */
  received = 0;
  /** Event frames whose id was not the previous id + 1. */
  outOfOrder = 0;
  lastId = 0;
  open = false;
  closeCode?: number;
  private readonly socket: net.Socket;
  private handshake: Buffer | undefined = Buffer.alloc(0);
  /** The start of a frame that did not fit in the last chunk. */
  private partial?: Buffer;

  constructor(
    url: string,
    private readonly events: RawClientEvents,
    onOpen: (error?: Error) => void,
  ) {
    const u = new URL(url);
    this.socket = net.connect({ host: u.hostname, port: Number(u.port) });
    this.socket.setNoDelay(true);
    this.socket.once('connect', () => {
      this.socket.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let opened = false;
    const settle = (error?: Error) => {
      if (opened) return;
      opened = true;
      onOpen(error);
    };
    this.socket.on('data', (chunk: Buffer) => {
      if (this.handshake) {
        const head = Buffer.concat([this.handshake, chunk]);
        const end = head.indexOf(HEADER_END);
        if (end < 0) {
          this.handshake = head;
          return;
        }
        this.handshake = undefined;
        if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          settle(new Error(`upgrade refused: ${head.subarray(0, head.indexOf('\r\n')).toString('latin1')}`));
          this.socket.destroy();
          return;
        }
        this.open = true;
        settle();
        chunk = head.subarray(end + 4);
        if (chunk.length === 0) return;
      }
      this.read(chunk);
    });
    this.socket.on('error', (error) => settle(error));
    this.socket.on('close', () => {
      settle(new Error('closed before the upgrade'));
      this.open = false;
      if (this.closeCode === undefined) this.closed(1006);
    });
  }

  pause(): void {
    if (this.open) this.socket.pause();
  }

  resume(): void {
    if (this.open) this.socket.resume();
  }

  terminate(): void {
    this.socket.destroy();
  }

  private read(chunk: Buffer): void {
    let data = chunk;
    let at = 0;
    if (this.partial) {
      // Complete the split frame from the head of the chunk only (the rest is read in place).
      const joined = Buffer.concat([this.partial, chunk.subarray(0, Math.min(chunk.length, 16))]);
      const length = frameLength(joined, 0);
      if (length === undefined || length > this.partial.length + chunk.length) {
        this.partial = Buffer.concat([this.partial, chunk]);
        return;
      }
      const fromChunk = length - this.partial.length;
      data = Buffer.concat([this.partial, chunk.subarray(0, fromChunk)]);
      this.partial = undefined;
      this.frame(data, 0);
      data = chunk;
      at = fromChunk;
    }
    while (at < data.length) {
      const length = frameLength(data, at);
      if (length === undefined || at + length > data.length) {
        this.partial = Buffer.from(data.subarray(at));
        return;
      }
      this.frame(data, at);
      at += length;
    }
  }

  /** Reported once: when the close frame is read (the socket may take longer to end), or when the socket ends without one. */
  private closed(code: number): void {
    this.closeCode = code;
    this.events.onClose(code);
  }

  /** Handles the whole frame at `at` of `data`. */
  private frame(data: Buffer, at: number): void {
    const opcode = data[at]! & 0x0f;
    const marker = data[at + 1]! & 0x7f;
    const header = marker < 126 ? 2 : marker === 126 ? 4 : 10;
    const start = at + header;
    const end = at + (frameLength(data, at) as number);
    if (opcode === 1) {
      if (!isEvent(data, start, end)) return;
      const id = tailId(data, start, end);
      if (this.lastId !== 0 && id !== this.lastId + 1) this.outOfOrder++;
      this.lastId = id;
      this.received++;
      this.events.onEvent(id, data, start, end);
    } else if (opcode === 8) {
      this.open = false;
      this.closed(end - start >= 2 ? data.readUInt16BE(start) : 1005);
      this.socket.end();
    } else if (opcode === 9) {
      // Pong with the ping's payload; a client frame is masked (a zero mask leaves it as is).
      const payload = data.subarray(start, end);
      this.socket.write(Buffer.concat([Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
    }
  }
}

/** Bytes of the frame starting at `at` (header and payload), or undefined while its header is incomplete. */
export function frameLength(data: Buffer, at: number): number | undefined {
  if (data.length - at < 2) return undefined;
  const marker = data[at + 1]! & 0x7f;
  if (marker < 126) return 2 + marker;
  if (marker === 126) return data.length - at < 4 ? undefined : 4 + data.readUInt16BE(at + 2);
  return data.length - at < 10 ? undefined : 10 + data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6);
}

/** The offset in an event frame's tail `,"id":"<offset>"}`; NaN when the tail is not that. */
export function tailId(data: Buffer, start: number, end: number): number {
  if (data[end - 1] !== BRACE || data[end - 2] !== QUOTE) return NaN;
  let id = 0;
  let scale = 1;
  for (let i = end - 3; i > start; i--) {
    const c = data[i]!;
    if (c === QUOTE) return scale === 1 ? NaN : id;
    const digit = c - 0x30;
    if (digit < 0 || digit > 9) return NaN;
    id += digit * scale;
    scale *= 10;
  }
  return NaN;
}
