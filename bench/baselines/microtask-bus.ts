/**
 * The bus baseline from issue 6: a minimal ordered async bus. One array queue per listener,
 * drained on a microtask; each listener sees its events in publish order, listeners are
 * independent. No validation, no metadata, no bounds, no error isolation: what the agent's bus
 * adds on top of this is what the ratio measures.
 */
type Listener = (event: MicroEvent) => void;

export interface MicroEvent {
  type: string;
  data: unknown;
}

class ListenerQueue {
  private readonly queue: MicroEvent[] = [];
  private scheduled = false;

  constructor(private readonly fn: Listener) {}

  push(event: MicroEvent): void {
    this.queue.push(event);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    const queue = this.queue;
    for (let i = 0; i < queue.length; i++) this.fn(queue[i] as MicroEvent);
    queue.length = 0;
    this.scheduled = false;
  };
}

export class MicrotaskBus {
  private readonly listeners = new Map<string, ListenerQueue[]>();

  subscribe(type: string, fn: Listener): void {
    let list = this.listeners.get(type);
    if (!list) this.listeners.set(type, (list = []));
    list.push(new ListenerQueue(fn));
  }

  publish(type: string, data: unknown): void {
    const list = this.listeners.get(type);
    if (!list) return;
    const event: MicroEvent = { type, data };
    for (let i = 0; i < list.length; i++) (list[i] as ListenerQueue).push(event);
  }
}
