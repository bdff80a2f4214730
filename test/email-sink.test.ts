import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSmtpPeer, type SmtpPeer } from '../plugins/email/test-smtp';
import { Agent } from '../src/agent/agent';
import { loadConfig } from '../src/config/loader';
import { FakeClock } from '../src/core/clock';
import { silentLogger } from '../src/core/logger';
import type { Event } from '../src/events/types';
import { waitFor } from './helpers/async';

/**
 * The built-in email sink in the agent: the engine's notification goes through the delivery
 * pipeline to a real SMTP server (smtp-server on 127.0.0.1). Time is a FakeClock (group_wait,
 * backoff); the SMTP exchange is real I/O, waited for with waitFor.
 */

let agent: Agent | undefined;
let smtp: SmtpPeer | undefined;
afterEach(async () => {
  await agent?.stop();
  await smtp?.close();
  agent = smtp = undefined;
});

function writeConfig(port: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'email-sink-'));
  const file = path.join(dir, 'agent.config.yaml');
  writeFileSync(
    file,
    `agent: { name: edge-1, shutdown_timeout: 2s }
http: { enabled: false }
plugins:
  - name: mailer
    use: email
    config:
      smarthost: "127.0.0.1:${port}"
      require_tls: false
      from: alerts@example.com
      to: [ops@example.com]
      receivers:
        db-team: { to: [dba@example.com] }
alerting:
  route:
    receiver: ops
    group_by: [alertname]
    group_wait: 1s
    routes:
      - { receiver: db-team, matchers: ['component="db"'] }
  receivers:
    - { name: ops, sinks: [mailer] }
    - { name: db-team, sinks: [mailer] }
`,
  );
  return file;
}

describe('email sink in the agent', () => {
  it('mails a system.error to its receiver\'s recipients with the config change before it, after a 451 is retried', async () => {
    smtp = await startSmtpPeer({ dataReplies: [451] });
    const clock = new FakeClock(Date.UTC(2026, 10, 30, 12));
    agent = new Agent(loadConfig(writeConfig(smtp.port)), { clock, logger: silentLogger() });
    const events: Event[] = [];
    agent.bus.subscribe('*', (e) => void events.push(e), { name: 'test-recorder', capacity: 10_000 });
    await agent.start();
    const deliveries = (): Array<Record<string, unknown>> => events.filter((e) => e.type === 'alert.delivery').map((e) => e.data as Record<string, unknown>);

    await agent.bus.publish('config.changed', { config_path: 'db.yaml#pool.password', old_value: 'old-pw-111', new_value: 'new-pw-222', changed_by: 'alice', change_reason: 'rotate' });
    await agent.bus.publish('system.error', { severity: 'critical', message: 'disk full on <db-1>', error_code: 'DISK_FULL', component: 'db' });
    await agent.bus.idle();
    await clock.advance(1_000);
    await waitFor(() => deliveries().length >= 1, { what: 'the first attempt' });
    expect(deliveries()[0]).toMatchObject({ sink: 'mailer', receiver: 'db-team', attempt: 1, outcome: 'retry', reason: 'SMTP server answered 451 to DATA: 451 Greylisted, try again later' });
    expect(smtp.mails).toHaveLength(0);

    // The pipeline's backoff (about 1 s) on the fake clock, then the second attempt is real SMTP again.
    await clock.advance(2_000);
    await waitFor(() => deliveries().length >= 2, { what: 'the second attempt' });
    expect(deliveries()[1]).toMatchObject({ attempt: 2, outcome: 'delivered' });
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail.envelopeTo).toEqual(['dba@example.com']);
    expect(mail.subject).toBe('[FIRING:1] DISK_FULL');
    expect(mail.text).toContain('disk full on <db-1>');
    expect(mail.html).toContain('disk full on &lt;db-1&gt;');
    expect(mail.text).toMatch(/db\.yaml#pool\.password: \*\*\*[0-9a-f]{8} -> \*\*\*[0-9a-f]{8} \(by alice\) - rotate/);
    expect(mail.raw).not.toMatch(/old-pw-111|new-pw-222/);
  });
});
