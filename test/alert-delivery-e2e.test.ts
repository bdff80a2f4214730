import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSmtpPeer, type SmtpPeer } from '../plugins/email/test-smtp';
import { FakeSlack } from '../plugins/slack/test-peer';
import { selfSignedCert } from '../src/testing';
import { AgentProcess, freePort } from './helpers/cli';

/**
 * End to end, as a user runs it: the real agent process with the three built-in sinks, real
 * peers on 127.0.0.1 (an SMTP server, an HTTP server standing in for Slack, an HTTPS server
 * standing in for PagerDuty's Events API), one system.error posted to /events.
 */
describe('one error, three sinks', () => {
  let smtp: SmtpPeer;
  const slack = new FakeSlack();
  const pagerduty = new FakeSlack();
  const cert = selfSignedCert();

  beforeAll(async () => {
    smtp = await startSmtpPeer();
    pagerduty.answer = (_req, res) => void res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"success","message":"Event processed","dedup_key":"x"}');
  });
  afterAll(async () => {
    await Promise.all([smtp.close(), slack.close(), pagerduty.close()]);
  });

  it('arrives as one email, one Slack message and one PagerDuty trigger; its recovery resolves the incident', async () => {
    const slackUrl = await slack.listen();
    const pdUrl = new URL(await pagerduty.listen({ key: cert.key, cert: cert.cert }));
    const dir = mkdtempSync(path.join(tmpdir(), 'alert-e2e-'));
    const file = path.join(dir, 'agent.config.yaml');
    writeFileSync(
      file,
      `agent: { name: edge-1 }
log: { format: json }
http: { host: 127.0.0.1, port: ${await freePort()} }
store: { enabled: true, data_dir: ./data }
plugins:
  - name: mail
    use: email
    delivery: { send_resolved: false }
    config: { smarthost: "127.0.0.1:${smtp.port}", require_tls: false, from: alerts@example.com, to: [ops@example.com] }
  - name: chat
    use: slack
    delivery: { send_resolved: false }
    config: { webhook_url: "${slackUrl}/services/T000/B000/secret" }
  - name: pager
    use: pagerduty
    config: { routing_key: "R0UT1NGKEY0123456789abcdef012345", server: "${pdUrl.host}", tls: { ca_file: ${cert.certFile} } }
alerting:
  rules:
    - { event: system.error, resolve_timeout: 2s }
  route: { receiver: oncall, group_by: [alertname], group_wait: 200ms, group_interval: 500ms }
  receivers:
    - { name: oncall, sinks: [mail, chat, pager] }
`,
    );
    const agent = new AgentProcess(['--config', file]);
    try {
      const url = await agent.ready();
      const posted = await fetch(`${url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'system.error', data: { severity: 'critical', message: 'disk full on db-1', error_code: 'DISK_FULL', component: 'db' } }),
      });
      expect(posted.status).toBe(202);
      const events = (): Array<{ event_action: string; dedup_key: string; payload?: { summary: string; severity: string } }> =>
        pagerduty.requests.map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string });
      for (let i = 0; i < 300 && !events().some((e) => e.event_action === 'resolve'); i++) await new Promise((resolve) => setTimeout(resolve, 50));
      await new Promise((resolve) => setTimeout(resolve, 1000));

      expect(smtp.mails).toHaveLength(1);
      expect(smtp.mails[0].subject).toMatch(/^\[FIRING:1\] DISK_FULL/);
      expect(smtp.mails[0].text).toContain('disk full on db-1');
      expect(slack.requests).toHaveLength(1);
      expect(slack.requests[0].path).toBe('/services/T000/B000/secret');
      expect(slack.requests[0].body).toContain('DISK_FULL');
      expect(events().map((e) => e.event_action)).toEqual(['trigger', 'resolve']);
      expect(events()[0]).toMatchObject({ payload: { severity: 'critical', summary: expect.stringContaining('DISK_FULL') } });
      expect(events()[1].dedup_key).toBe(events()[0].dedup_key);
      // The webhook path and the routing key are secrets: they appear in no log line.
      const log = JSON.stringify(agent.lines);
      expect(log).not.toContain('B000/secret');
      expect(log).not.toContain('R0UT1NGKEY0123456789abcdef012345');
    } finally {
      agent.kill('SIGTERM');
      await agent.exited;
    }
  }, 60_000);
});
