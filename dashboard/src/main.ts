import { AlertsView } from './alerts-view';
import { api, ApiError, setToken, token, Unauthorized } from './api';
import { ConfigView } from './config-view';
import { byId } from './dom';
import { EventsView } from './events-view';
import { ServicesView, type HealthView } from './services-view';
import { drawStats } from './stats-view';
import { EventStream, websocketUrl, type StreamEntry, type StreamState, type WebsocketInfo } from './stream';

interface EventsPage {
  epoch: string;
  head: number;
  tail: number;
  next_offset: number;
  events: StreamEntry[];
}

const RECENT = 300;
/** How far back service latency and config changes are read at start, in stream offsets. */
const HISTORY_WINDOW = 5000;
const POLL_MS = 5000;

const events = new EventsView();
const services = new ServicesView();
const config = new ConfigView();
const alerts = new AlertsView(() => void refreshAlerts());
let stream: EventStream | undefined;
let alertsTimer: number | undefined;

function showState(state: StreamState, detail: string): void {
  const el = byId('connection');
  const text = { connecting: '◌ connecting', live: '● live', reconnecting: '◌ reconnecting', offline: '○ offline' }[state];
  el.textContent = detail ? `${text} (${detail})` : text;
  el.dataset.state = state;
}

function askToken(message = ''): void {
  byId('token-error').textContent = message;
  byId('token-button').hidden = false;
  const dialog = byId<HTMLDialogElement>('token-dialog');
  if (!dialog.open) dialog.showModal();
}

byId('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  setToken(byId<HTMLInputElement>('token-input').value.trim());
  // Start over with the token: the views are filled once per page load.
  location.reload();
});
byId('token-button').addEventListener('click', () => askToken());

/** What the last API call that failed said, until one succeeds again (the stream's state is apart). */
function problem(message: string | undefined): void {
  const el = byId('problem');
  el.hidden = message === undefined;
  el.textContent = message === undefined ? '' : `✖ API: ${message}`;
}

/** A failed background call: a missing token asks for it, the rest shows beside the stream's state. */
function failed(error: unknown): void {
  if (error instanceof Unauthorized) return askToken(token() ? 'That token was refused.' : '');
  problem((error as Error).message);
}

async function refreshAlerts(): Promise<void> {
  window.clearTimeout(alertsTimer);
  alertsTimer = undefined;
  await alerts.refresh().catch(failed);
}

/** Alert and silence events change what GET /alerts shows: refresh soon, once per burst. */
function alertsSoon(): void {
  if (alertsTimer === undefined) alertsTimer = window.setTimeout(() => void refreshAlerts(), 300);
}

async function refreshPolled(): Promise<void> {
  let ok = true;
  await Promise.all([
    api<Record<string, never>>('stats').then(drawStats),
    api<HealthView>('health').then((v) => services.setHealth(v), (error: unknown) => {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
    }),
    alerts.refresh(),
  ]).catch((error: unknown) => {
    ok = false;
    failed(error);
  });
  if (ok) problem(undefined);
}

function deliver(entries: StreamEntry[]): void {
  events.add(entries);
  services.add(entries);
  config.add(entries);
  if (entries.some((e) => e.event.type.startsWith('alert.') || e.event.type.startsWith('silence.'))) alertsSoon();
}

/** Reads events of `types` after `since` up to `until` from the store, a page at a time. */
async function history(types: string, since: number, until: number): Promise<StreamEntry[]> {
  const out: StreamEntry[] = [];
  for (let page = 0; page < 10 && since < until; page++) {
    const r = await api<EventsPage>(`events?types=${encodeURIComponent(types)}&since=${since}&limit=1000`);
    out.push(...r.events.filter((e) => e.offset <= until));
    if (r.events.length === 0 || r.next_offset - 1 <= since) break;
    since = r.next_offset - 1;
  }
  return out;
}

async function boot(): Promise<void> {
  showState('connecting', '');
  let info: WebsocketInfo | undefined;
  let start: EventsPage | undefined;
  try {
    info = await api<WebsocketInfo>('websocket').catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    });
    // The newest events, and the offset the stream resumes after.
    const probe = await api<EventsPage>('events?since=0&limit=1').catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    });
    if (probe) {
      start = await api<EventsPage>(`events?since=${Math.max(0, probe.head - RECENT)}&limit=${RECENT}`);
      const until = start.next_offset - 1;
      const older = await history('service.status,system.health,config.changed', Math.max(0, until - HISTORY_WINDOW), until);
      services.add(older);
      config.add(older);
      events.add(start.events);
    } else {
      events.gap('the agent has no event store: live events only');
    }
  } catch (error) {
    failed(error);
    return;
  }
  await refreshPolled();
  if (!info) {
    showState('offline', 'no websocket-broadcaster plugin: no live events');
    return;
  }
  const ws = info;
  stream = new EventStream(() => websocketUrl(ws), {
    onEvents: deliver,
    onGap: (reason) => {
      events.gap(reason);
      void refreshPolled();
    },
    onState: showState,
    onReconnected: () => void refreshPolled(),
  });
  stream.start(start ? start.next_offset - 1 : undefined, start?.epoch);
}

window.setInterval(() => {
  if (document.visibilityState === 'visible' && !byId<HTMLDialogElement>('token-dialog').open) void refreshPolled();
}, POLL_MS);
void boot();
