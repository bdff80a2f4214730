import { api } from './api';
import { ago, byId, h, render } from './dom';
import { badge, levelOfStatus, type Level } from './severity';

type Labels = Record<string, string>;

interface AlertJson {
  alert: { fingerprint: string; labels: Labels; annotations: Labels; state: 'pending' | 'firing' | 'resolved'; startsAt: string; endsAt?: string; occurrences: number };
  receivers: string[];
  silencedBy: string[];
  inhibitedBy: string[];
  acknowledgement?: { by: string; comment: string; at: string; expiresAt?: string };
}

interface AlertGroup {
  labels: Labels;
  receiver: { name: string };
  alerts: { fingerprint: string }[];
}

interface Silence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual?: boolean }[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

interface Delivery {
  id: number;
  receiver: string;
  sink: string;
  state: 'pending' | 'dead' | 'delivered';
  attempts: number;
  updated_at: string;
  next_attempt_at?: string;
  last_reason?: string;
  status: string;
  alerts: { alertname: string }[];
}

const DELIVERIES_SHOWN = 15;
const NAME_KEY = 'praxis-agent.operator';

/**
 * Alerts as the routing groups them (GET /api/v2/alerts/groups for the groups, GET /alerts for
 * every alert with its state and acknowledgement), with acknowledge and silence; active silences
 * with expire; the newest deliveries with their outcome.
 */
export class AlertsView {
  private alerts: AlertJson[] = [];
  private ackTarget?: AlertJson;

  constructor(private readonly onChange: () => void) {
    byId('alerts-body').addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
      const alert = this.alerts.find((a) => a.alert.fingerprint === button?.dataset.fingerprint);
      if (!button || !alert) return;
      if (button.dataset.action === 'ack') this.openAck(alert);
      else this.openSilence(alert);
    });
    byId('silences-body').addEventListener('click', (e) => {
      const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-silence]');
      if (button) void this.expire(button.dataset.silence as string, button);
    });
    byId('silence-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submitSilence();
    });
    byId('ack-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submitAck();
    });
    byId('silence-cancel').addEventListener('click', () => byId<HTMLDialogElement>('silence-dialog').close());
    byId('ack-cancel').addEventListener('click', () => byId<HTMLDialogElement>('ack-dialog').close());
  }

  async refresh(): Promise<void> {
    let groups: AlertGroup[];
    try {
      [this.alerts, groups] = await Promise.all([api<{ alerts: AlertJson[] }>('alerts').then((r) => r.alerts), api<AlertGroup[]>('api/v2/alerts/groups')]);
    } catch (error) {
      if ((error as { status?: number }).status === 404) {
        render(byId('alerts-body'), h('p', { class: 'muted' }, 'Alerting is not configured (alerting: in the agent config).'));
        return;
      }
      throw error;
    }
    this.drawAlerts(groups);
    const [silences, deliveries] = await Promise.all([api<Silence[]>('api/v2/silences'), api<{ deliveries: Delivery[] }>('alerts/deliveries?state=pending,dead,delivered')]);
    this.drawSilences(silences);
    this.drawDeliveries(deliveries.deliveries);
  }

  private drawAlerts(groups: AlertGroup[]): void {
    const byFingerprint = new Map(this.alerts.map((a) => [a.alert.fingerprint, a]));
    const grouped = new Set<string>();
    const sections: HTMLElement[] = [];
    for (const group of groups) {
      const members = group.alerts.flatMap((a) => byFingerprint.get(a.fingerprint) ?? []);
      for (const a of members) grouped.add(a.alert.fingerprint);
      if (members.length === 0) continue;
      const title = Object.entries(group.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '(all)';
      sections.push(h('div', { class: 'group' }, h('h4', {}, `Group ${title} `, h('span', { class: 'muted' }, `→ ${group.receiver.name}`)), h('ul', { class: 'alerts' }, members.map((a) => this.alertItem(a)))));
    }
    for (const state of ['firing', 'pending', 'resolved'] as const) {
      const rest = this.alerts.filter((a) => a.alert.state === state && !grouped.has(a.alert.fingerprint));
      if (rest.length > 0) sections.push(h('div', { class: 'group' }, h('h4', {}, state === 'firing' ? 'Firing, not in a group' : state === 'pending' ? 'Pending (not yet firing)' : 'Resolved'), h('ul', { class: 'alerts' }, rest.map((a) => this.alertItem(a)))));
    }
    const counts = ['firing', 'pending', 'resolved'].map((s) => `${this.alerts.filter((a) => a.alert.state === s).length} ${s}`).join(' · ');
    render(byId('alerts-body'), h('p', { class: 'muted small' }, counts), sections.length > 0 ? sections : h('p', { class: 'muted' }, 'No alerts.'));
  }

  private alertItem(view: AlertJson): HTMLLIElement {
    const { alert } = view;
    const severity = alert.labels.severity;
    const level: Level = alert.state === 'firing' ? (severity === 'critical' ? 'critical' : severity === 'warning' ? 'warning' : severity === 'info' ? 'info' : 'error') : levelOfStatus(alert.state);
    const labels = Object.entries(alert.labels).filter(([k]) => k !== 'alertname');
    const muted = view.silencedBy.length > 0 ? 'silenced' : view.inhibitedBy.length > 0 ? 'inhibited' : undefined;
    return h(
      'li',
      { class: 'alert', 'data-fingerprint': alert.fingerprint, 'data-state': alert.state },
      h('div', { class: 'card-head' }, h('strong', {}, alert.labels.alertname ?? alert.fingerprint), badge(level, alert.state), muted ? h('span', { class: 'tag' }, `⊘ ${muted}`) : null, view.acknowledgement ? h('span', { class: 'tag' }, `✔ acknowledged by ${view.acknowledgement.by}`) : null),
      h('ul', { class: 'labels', 'aria-label': 'labels' }, labels.map(([k, v]) => h('li', {}, `${k}=${v}`))),
      alert.annotations.summary || alert.annotations.description ? h('p', { class: 'why' }, alert.annotations.summary ?? alert.annotations.description) : null,
      h('p', { class: 'muted small' }, `${alert.state === 'resolved' && alert.endsAt ? `resolved ${ago(alert.endsAt)}, started ${ago(alert.startsAt)}` : `since ${ago(alert.startsAt)}`}${alert.occurrences > 1 ? ` · ${alert.occurrences} occurrences` : ''}`),
      alert.state === 'resolved'
        ? null
        : h(
            'div',
            { class: 'actions' },
            alert.state === 'firing' && !view.acknowledgement ? h('button', { type: 'button', 'data-action': 'ack', 'data-fingerprint': alert.fingerprint, 'data-key': `ack-${alert.fingerprint}` }, 'Acknowledge') : null,
            view.silencedBy.length === 0 ? h('button', { type: 'button', 'data-action': 'silence', 'data-fingerprint': alert.fingerprint, 'data-key': `sil-${alert.fingerprint}` }, 'Silence…') : null,
          ),
    );
  }

  private openSilence(view: AlertJson): void {
    const fieldset = byId('silence-matchers');
    fieldset.replaceChildren(
      h('legend', {}, 'Matchers (alerts with all the checked labels)'),
      ...Object.entries(view.alert.labels).map(([name, value], i) =>
        h('label', { class: 'matcher' }, h('input', { type: 'checkbox', checked: true, 'data-name': name, 'data-value': value, id: `matcher-${i}` }), ` ${name}="${value}"`),
      ),
    );
    byId<HTMLInputElement>('silence-by').value = localStorage.getItem(NAME_KEY) ?? '';
    byId<HTMLInputElement>('silence-comment').value = '';
    byId('silence-error').textContent = '';
    byId<HTMLDialogElement>('silence-dialog').showModal();
  }

  private async submitSilence(): Promise<void> {
    const matchers = [...byId('silence-matchers').querySelectorAll<HTMLInputElement>('input[type=checkbox]:checked')].map((box) => ({ name: box.dataset.name as string, value: box.dataset.value as string, isRegex: false, isEqual: true }));
    const error = byId('silence-error');
    if (matchers.length === 0) {
      error.textContent = 'Check at least one label.';
      return;
    }
    const duration = parseDuration(byId<HTMLInputElement>('silence-duration').value);
    if (duration === undefined) {
      error.textContent = 'Duration: e.g. 30m, 2h, 1d.';
      return;
    }
    const by = byId<HTMLInputElement>('silence-by').value.trim();
    localStorage.setItem(NAME_KEY, by);
    const now = Date.now();
    try {
      await api('api/v2/silences', { method: 'POST', body: { matchers, startsAt: new Date(now).toISOString(), endsAt: new Date(now + duration).toISOString(), createdBy: by, comment: byId<HTMLInputElement>('silence-comment').value } });
    } catch (e) {
      error.textContent = `Not silenced: ${(e as Error).message}`;
      return;
    }
    byId<HTMLDialogElement>('silence-dialog').close();
    this.onChange();
  }

  private openAck(view: AlertJson): void {
    this.ackTarget = view;
    byId('ack-alert').textContent = `${view.alert.labels.alertname ?? ''} ${Object.entries(view.alert.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`).join(' ')}`;
    byId<HTMLInputElement>('ack-by').value = localStorage.getItem(NAME_KEY) ?? '';
    byId<HTMLInputElement>('ack-comment').value = '';
    byId('ack-error').textContent = '';
    byId<HTMLDialogElement>('ack-dialog').showModal();
  }

  private async submitAck(): Promise<void> {
    const target = this.ackTarget;
    if (!target) return;
    const by = byId<HTMLInputElement>('ack-by').value.trim();
    localStorage.setItem(NAME_KEY, by);
    const comment = byId<HTMLInputElement>('ack-comment').value;
    try {
      await api(`alerts/${encodeURIComponent(target.alert.fingerprint)}/ack`, { method: 'POST', body: { by, ...(comment ? { comment } : {}) } });
    } catch (e) {
      byId('ack-error').textContent = `Not acknowledged: ${(e as Error).message}`;
      return;
    }
    byId<HTMLDialogElement>('ack-dialog').close();
    this.ackTarget = undefined;
    this.onChange();
  }

  private drawSilences(silences: Silence[]): void {
    const live = silences.filter((s) => s.status.state !== 'expired').sort((a, b) => a.endsAt.localeCompare(b.endsAt));
    render(
      byId('silences-body'),
      live.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : h(
            'ul',
            { class: 'silences' },
            live.map((s) =>
              h(
                'li',
                { class: 'silence', 'data-silence-id': s.id },
                h('span', { class: 'tag' }, `⊘ ${s.status.state}`),
                h('code', {}, s.matchers.map((m) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '=~' : '='}"${m.value}"`).join(', ')),
                h('span', { class: 'muted small' }, ` until ${new Date(s.endsAt).toLocaleString()} · ${s.createdBy}: ${s.comment}`),
                h('button', { type: 'button', 'data-silence': s.id, 'data-key': `exp-${s.id}` }, 'Expire'),
              ),
            ),
          ),
    );
  }

  private async expire(id: string, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await api(`api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
    } catch (e) {
      button.disabled = false;
      button.title = (e as Error).message;
      return;
    }
    this.onChange();
  }

  private drawDeliveries(deliveries: Delivery[]): void {
    const recent = deliveries.sort((a, b) => b.updated_at.localeCompare(a.updated_at)).slice(0, DELIVERIES_SHOWN);
    render(
      byId('deliveries-body'),
      recent.length === 0
        ? h('p', { class: 'muted' }, 'None.')
        : h(
            'table',
            { class: 'table' },
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Outcome'), h('th', { scope: 'col' }, 'Receiver / sink'), h('th', { scope: 'col' }, 'Alerts'), h('th', { scope: 'col' }, 'When'))),
            h(
              'tbody',
              {},
              recent.map((d) => {
                const outcome = d.state === 'dead' ? 'dead-lettered' : d.state === 'pending' ? (d.attempts > 0 ? 'retrying' : 'pending') : 'delivered';
                return h(
                  'tr',
                  {},
                  h('td', {}, badge(d.state === 'dead' ? 'error' : d.state === 'pending' ? 'warning' : 'ok', outcome), d.attempts > 1 ? h('span', { class: 'small muted' }, ` ${d.attempts} attempts`) : null),
                  h('td', {}, `${d.receiver} / ${d.sink}`),
                  h('td', {}, `${d.status}: ${[...new Set(d.alerts.map((a) => a.alertname))].join(', ')}`, d.last_reason ? h('div', { class: 'small muted' }, d.last_reason) : null),
                  h('td', {}, ago(d.updated_at)),
                );
              }),
            ),
          ),
    );
  }
}

/** `30m`, `2h`, `1d`, `1w` in ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit || undefined;
}
