import type { Event } from '../events/types';
import type { OverflowPolicy } from './bus';
import type { Matcher } from './pattern';

export type HandlerState = 'active' | 'quarantined' | 'unsubscribed';

/** Callbacks from a queue to the bus that owns it (counting and reporting live in one place). */
export interface QueueOwner {
  onProcessed(queue: HandlerQueue, event: Event): void;
  onDropped(queue: HandlerQueue, event: Event): void;
  onHandlerError(queue: HandlerQueue, event: Event, error: unknown): void;
}

export interface HandlerStats {
  id: string;
  owner: string;
  pattern: string;
  state: HandlerState;
  queue_depth: number;
  capacity: number;
  overflow: OverflowPolicy;
  processed: number;
  dropped: number;
  errors: number;
}

interface BlockedPublisher {
  event: Event;
  resolve: () => void;
}

/** Slots a queue's ring starts with (it grows to the queue's capacity as events queue up). */
const INITIAL_RING = 16;

/**
 * One handler's bounded FIFO plus its delivery loop. Events are delivered one at a time in the
 * order they were offered; the loop starts on a microtask when the first event arrives and stops
 * when the queue is empty, so an idle handler costs nothing.
 */
export class HandlerQueue {
  state: HandlerState = 'active';
  processed = 0;
  dropped = 0;
  errors = 0;

  // Ring buffer: a plain array with a moving head avoids Array#shift's O(n) copies. It starts
  // small and doubles as events queue up, to at most `capacity`: allocated at full capacity, the
  // store's queue alone (65,536) held 512 KiB of an idle agent's memory.
  private ring: (Event | undefined)[];
  private head = 0;
  private size = 0;
  private running = false;
  /** Set while the owning plugin restarts (hot reload): events queue up but are not delivered. */
  private paused = false;
  /** After a hand-over from a predecessor still inside its handler: delivery starts once it returns. */
  private gate?: Promise<void>;
  private readonly blocked: BlockedPublisher[] = [];
  private idleWaiters: (() => void)[] = [];

  constructor(
    readonly id: string,
    readonly owner: string,
    readonly matcher: Matcher,
    private readonly handler: (event: Event) => void | Promise<void>,
    readonly capacity: number,
    readonly overflow: OverflowPolicy,
    readonly errorThreshold: number,
    private readonly bus: QueueOwner,
  ) {
    this.ring = new Array<Event | undefined>(Math.min(capacity, INITIAL_RING));
  }

  get depth(): number {
    return this.size + this.blocked.length;
  }

  /** True while events are queued or the handler is still running one. */
  get busy(): boolean {
    return this.running || (this.depth > 0 && !this.paused);
  }

  /**
   * Queues `event`, applying the overflow policy when full. Returns a promise only when the
   * publisher must wait (`block` policy on a full queue); otherwise undefined, so the common path
   * allocates nothing.
   */
  offer(event: Event): Promise<void> | undefined {
    if (this.state !== 'active') return undefined;
    if (this.size < this.capacity && this.blocked.length === 0) {
      this.push(event);
    } else if (this.overflow === 'drop_newest') {
      this.drop(event);
    } else if (this.overflow === 'drop_oldest') {
      this.drop(this.shift());
      this.push(event);
    } else {
      return new Promise<void>((resolve) => this.blocked.push({ event, resolve }));
    }
    if (!this.running && !this.paused) {
      this.running = true;
      queueMicrotask(() => void this.run());
    }
    return undefined;
  }

  /**
   * Stops delivering after the event in hand (hot reload of the owning plugin). Events keep
   * queueing under the overflow policy; `whenIdle()` resolves once the handler in flight returns.
   */
  pause(): void {
    this.paused = true;
  }

  /**
   * Moves everything queued here (in order, blocked publishers included) to `successor`, the same
   * subscription of the restarted plugin, and retires this queue. Nothing is dropped or counted
   * twice; `successor` applies its own overflow policy.
   */
  handOver(successor: HandlerQueue): void {
    if (this.state !== 'active') return;
    this.state = 'unsubscribed';
    // The old handler may still be running (it overran the restart's wait): one event at a time
    // per subscription holds across the two instances too.
    if (this.running) successor.gate = this.whenIdle();
    while (this.size > 0) void successor.offer(this.shift());
    for (const waiter of this.blocked.splice(0)) {
      const wait = successor.offer(waiter.event);
      if (wait) void wait.then(waiter.resolve);
      else waiter.resolve();
    }
    if (!this.running) this.notifyIdle();
  }

  /** Resolves when nothing is queued or being handled. */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops delivery for good; what is still queued is counted as dropped and blocked publishers are released. */
  close(state: Exclude<HandlerState, 'active'>): void {
    if (this.state !== 'active') return;
    this.state = state;
    while (this.size > 0) this.drop(this.shift());
    for (const waiter of this.blocked.splice(0)) {
      this.drop(waiter.event);
      waiter.resolve();
    }
    if (!this.running) this.notifyIdle();
  }

  stats(): HandlerStats {
    return {
      id: this.id,
      owner: this.owner,
      pattern: this.matcher.pattern,
      state: this.state,
      queue_depth: this.depth,
      capacity: this.capacity,
      overflow: this.overflow,
      processed: this.processed,
      dropped: this.dropped,
      errors: this.errors,
    };
  }

  private async run(): Promise<void> {
    if (this.gate) {
      const gate = this.gate;
      this.gate = undefined;
      await gate;
    }
    while (this.size > 0 && this.state === 'active' && !this.paused) {
      const event = this.shift();
      this.admitBlocked();
      try {
        const result = this.handler(event);
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') await result;
        this.processed++;
        this.bus.onProcessed(this, event);
      } catch (error) {
        this.errors++;
        this.bus.onHandlerError(this, event, error);
      }
    }
    this.running = false;
    this.notifyIdle();
  }

  private admitBlocked(): void {
    const waiter = this.blocked.shift();
    if (!waiter) return;
    this.push(waiter.event);
    waiter.resolve();
  }

  private push(event: Event): void {
    if (this.size === this.ring.length) this.grow();
    this.ring[(this.head + this.size) % this.ring.length] = event;
    this.size++;
  }

  private shift(): Event {
    const event = this.ring[this.head] as Event;
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) % this.ring.length;
    this.size--;
    return event;
  }

  /** Doubles the ring (at most to `capacity`), its events unwrapped to start at index 0. */
  private grow(): void {
    const ring = new Array<Event | undefined>(Math.min(this.capacity, this.ring.length * 2));
    for (let i = 0; i < this.size; i++) ring[i] = this.ring[(this.head + i) % this.ring.length];
    this.ring = ring;
    this.head = 0;
  }

  private drop(event: Event): void {
    this.dropped++;
    this.bus.onDropped(this, event);
  }

  private notifyIdle(): void {
    if (this.busy) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
