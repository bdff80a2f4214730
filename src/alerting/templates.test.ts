import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Notification } from './notification';
import { compileTemplate, goTime, templateData, templateSchema, TemplateError, type TemplateData } from './templates';

/**
 * Every supported form is rendered twice: by compileTemplate and by the real Alertmanager
 * (`amtool template render`, Go's text/template with Alertmanager's functions and
 * `missingkey=zero`) on the same data, and both must equal the hand-checked expectation.
 */

const notification: Notification = {
  receiver: 'db.oncall',
  groupKey: '{}/{team="db"}:{alertname="DiskFull"}',
  groupLabels: { alertname: 'DiskFull' },
  commonLabels: { alertname: 'DiskFull', team: 'db' },
  commonAnnotations: { runbook: 'https://runbooks/disk' },
  status: 'firing',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'DiskFull', instance: 'db-1', severity: 'critical', team: 'db' },
      annotations: { summary: 'disk 95% full', runbook: 'https://runbooks/disk' },
      startsAt: '2026-11-30T10:00:00.250Z',
      fingerprint: '1a2b3c4d5e6f7a8b',
      generatorURL: 'http://prometheus/graph?g0.expr=disk',
    },
    {
      status: 'resolved',
      labels: { alertname: 'DiskFull', instance: 'db-2', team: 'db' },
      annotations: { runbook: 'https://runbooks/disk' },
      startsAt: '2026-11-30T09:00:00Z',
      endsAt: '2026-11-30T12:30:00+02:00',
      fingerprint: 'ffeeddccbbaa9988',
    },
  ],
  truncatedAlerts: 3,
  reminder: false,
  reason: 'new_alerts_in_group',
  timestamp: '2026-11-30T10:01:00Z',
};

const data = templateData(notification, 'http://agent:8080');

/** Alertmanager's template.Data as JSON (its json tags), for `--template.data`. */
function goJson(d: TemplateData): unknown {
  return {
    receiver: d.Receiver,
    status: d.Status,
    alerts: d.Alerts.map((a) => ({
      status: a.Status,
      labels: a.Labels,
      annotations: a.Annotations,
      startsAt: a.StartsAt,
      endsAt: a.EndsAt,
      generatorURL: a.GeneratorURL,
      fingerprint: a.Fingerprint,
    })),
    groupLabels: d.GroupLabels,
    commonLabels: d.CommonLabels,
    commonAnnotations: d.CommonAnnotations,
    externalURL: d.ExternalURL,
  };
}

let dir: string;
let dataFile: string;
let firingOnlyFile: string;
const firingOnly: TemplateData = { ...data, Alerts: data.Alerts.filter((a) => a.Status === 'firing') };

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'praxis-templates-'));
  dataFile = path.join(dir, 'data.json');
  firingOnlyFile = path.join(dir, 'firing.json');
  writeFileSync(dataFile, JSON.stringify(goJson(data)));
  writeFileSync(firingOnlyFile, JSON.stringify(goJson(firingOnly)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function alertmanager(template: string, file = dataFile): string {
  return execFileSync('amtool', ['template', 'render', '--template.glob=/dev/null', `--template.data=${file}`, `--template.text=${template}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('compileTemplate renders as Alertmanager does', () => {
  const cases: Array<[string, string, string]> = [
    ['status', '{{ .Status }}', 'firing'],
    ['receiver (Alertmanager quotes it as a regexp)', '{{ .Receiver }}', 'db\\.oncall'],
    ['external URL', '{{ .ExternalURL }}', 'http://agent:8080'],
    ['common labels, annotations, group labels', '{{ .CommonLabels.team }} {{ .CommonAnnotations.runbook }} {{ .GroupLabels.alertname }}', 'db https://runbooks/disk DiskFull'],
    ['a missing label is empty (missingkey=zero on a map of strings)', '[{{ .CommonLabels.nope }}][{{ index .CommonLabels "nope" }}]', '[][]'],
    [
      'range over alerts with every alert field (times as Go prints them)',
      '{{ range .Alerts }}{{ .Status }} {{ .Labels.instance }} {{ .Annotations.summary }} {{ .StartsAt }} | {{ .EndsAt }} {{ .Fingerprint }} {{ .GeneratorURL }};{{ end }}',
      'firing db-1 disk 95% full 2026-11-30 10:00:00.25 +0000 UTC | 0001-01-01 00:00:00 +0000 UTC 1a2b3c4d5e6f7a8b http://prometheus/graph?g0.expr=disk;' +
        'resolved db-2  2026-11-30 09:00:00 +0000 UTC | 2026-11-30 12:30:00 +0200 +0200 ffeeddccbbaa9988 ;',
    ],
    ['range over .Alerts.Firing and .Alerts.Resolved', '{{ range .Alerts.Firing }}F:{{ .Labels.instance }} {{ end }}{{ range .Alerts.Resolved }}R:{{ .Labels.instance }}{{ end }}', 'F:db-1 R:db-2'],
    ['len', '{{ len .Alerts }} {{ len .Alerts.Firing }} {{ .Alerts.Resolved | len }} {{ len .CommonLabels }} {{ len "héllo" }}', '2 1 1 2 6'],
    ['if on a field, else', '{{ if .CommonLabels.team }}team {{ .CommonLabels.team }}{{ else }}no team{{ end }} {{ if .CommonLabels.nope }}yes{{ else }}no{{ end }}', 'team db no'],
    ['if eq .Status', '{{ if eq .Status "firing" }}FIRING{{ else }}OK{{ end }}', 'FIRING'],
    ['else if', '{{ if eq .Status "x" }}1{{ else if .Alerts.Resolved }}2{{ else }}3{{ end }}{{ if .CommonLabels.nope }}1{{ else if .CommonLabels.nope }}2{{ else }}3{{ end }}', '23'],
    ['toUpper, toLower, title in pipes and calls', '{{ .Status | toUpper }} {{ toLower "MiXeD" }} {{ "FIRING x-y don\'t node_exporter" | title }}', "FIRING mixed Firing X-Y Don't Node_exporter"],
    [
      'title on word boundaries as Go finds them',
      '{{ "hello.world foo:bar a1b c-d e_f 3am x.1 1.5x élan ÉCOLE don’t o\'neil a\' db.oncall-v2 HTTP/2 k8s.io" | title }}',
      "Hello.world Foo:bar A1b C-D E_f 3Am X.1 1.5X Élan École Don’t O'neil A' Db.oncall-V2 Http/2 K8s.io",
    ],
    ['actions without spaces', '{{.Status}}{{if .Alerts}}+{{len .Alerts}}{{end}}{{.CommonLabels.team|toUpper}}', 'firing+2DB'],
    ['comparisons on len and strings', '{{ if gt (len .Alerts.Firing) 1 }}many{{ else }}one{{ end }} {{ lt 1 2 }} {{ le 2 2 }} {{ ge 1 2 }} {{ ne .Status "resolved" }} {{ lt "a" "b" }} {{ eq .Status "x" "firing" }}', 'one true true false true true true'],
    ['not, and, or (Go returns the deciding argument)', '{{ not .CommonLabels.nope }} {{ or .CommonLabels.nope "fallback" }} {{ and .CommonLabels.team .CommonLabels.alertname }} {{ if and .Alerts.Firing .Alerts.Resolved }}both{{ end }}', 'true fallback DiskFull both'],
    ['a label map prints as Go prints a map', '{{ .CommonLabels }}', 'map[alertname:DiskFull team:db]'],
    ['SortedPairs: alertname first, then sorted', '{{ range .Alerts }}{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}|{{ end }}', 'alertname=DiskFull instance=db-1 severity=critical team=db |alertname=DiskFull instance=db-2 team=db |'],
    ['range over a label map gives its values by sorted name', '{{ range .CommonLabels }}{{ . }},{{ end }}', 'DiskFull,db,'],
    ['trim markers', 'a  {{- .Status -}}  \n  b {{- /* c */ -}}\n c {{-  .Status  }} d', 'afiringbcfiring d'],
    ['comments', 'x{{/* a comment\nover lines */}}y{{/* */ -}}   z', 'xyz'],
    ['strings and literals', '{{ "tab\\there" }}|{{ `raw\\n` }}|{{ "\\u00e9" }}|{{ true }}|{{ -3 }}|{{ (len .Alerts) }}', 'tab\there|raw\\n|é|true|-3|2'],
    ['text with newlines and actions across lines', 'Alerts:\n{{ range .Alerts -}}\n- {{ .Labels.instance }}\n{{ end -}}\n{{\n  len .Alerts\n}} total', 'Alerts:\n- db-1\n- db-2\n2 total'],
    [
      'a realistic Alertmanager title and text',
      '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.alertname }}\n{{ range .Alerts }}*{{ .Labels.instance }}*: {{ if .Annotations.summary }}{{ .Annotations.summary }}{{ else }}(no summary){{ end }}\n{{ end }}',
      '[FIRING:1] DiskFull\n*db-1*: disk 95% full\n*db-2*: (no summary)\n',
    ],
  ];

  it.each(cases)('%s', (_name, template, expected) => {
    expect(compileTemplate(template).render(data)).toBe(expected);
    expect(alertmanager(template)).toBe(expected);
  });

  it('renders the empty branches on other data (a group with no resolved alert)', () => {
    const template = '{{ range .Alerts.Resolved }}r{{ else }}no resolved{{ end }} {{ if .Alerts.Resolved }}some{{ else }}none{{ end }} {{ len .Alerts }}';
    expect(compileTemplate(template).render(firingOnly)).toBe('no resolved none 1');
    expect(alertmanager(template, firingOnlyFile)).toBe('no resolved none 1');
  });

  it('offers the agent’s own .GroupKey and .TruncatedAlerts (not in Alertmanager’s template data)', () => {
    expect(compileTemplate('{{ .GroupKey }} +{{ .TruncatedAlerts }}{{ if .TruncatedAlerts }} more{{ end }}').render(data)).toBe('{}/{team="db"}:{alertname="DiskFull"} +3 more');
  });

  it('keeps its source and renders again with other data', () => {
    const template = compileTemplate('{{ .Status }}');
    expect(template.source).toBe('{{ .Status }}');
    expect(template.render({ ...data, Status: 'resolved' })).toBe('resolved');
  });
});

describe('templateData', () => {
  it('is Alertmanager’s template data of the notification', () => {
    expect(data).toEqual({
      Receiver: 'db\\.oncall',
      Status: 'firing',
      Alerts: [
        {
          Status: 'firing',
          Labels: { alertname: 'DiskFull', instance: 'db-1', severity: 'critical', team: 'db' },
          Annotations: { summary: 'disk 95% full', runbook: 'https://runbooks/disk' },
          StartsAt: '2026-11-30T10:00:00.250Z',
          EndsAt: '0001-01-01T00:00:00Z',
          GeneratorURL: 'http://prometheus/graph?g0.expr=disk',
          Fingerprint: '1a2b3c4d5e6f7a8b',
        },
        {
          Status: 'resolved',
          Labels: { alertname: 'DiskFull', instance: 'db-2', team: 'db' },
          Annotations: { runbook: 'https://runbooks/disk' },
          StartsAt: '2026-11-30T09:00:00Z',
          EndsAt: '2026-11-30T12:30:00+02:00',
          GeneratorURL: '',
          Fingerprint: 'ffeeddccbbaa9988',
        },
      ],
      GroupLabels: { alertname: 'DiskFull' },
      CommonLabels: { alertname: 'DiskFull', team: 'db' },
      CommonAnnotations: { runbook: 'https://runbooks/disk' },
      ExternalURL: 'http://agent:8080',
      GroupKey: '{}/{team="db"}:{alertname="DiskFull"}',
      TruncatedAlerts: 3,
    });
    expect(templateData(notification).ExternalURL).toBe('');
  });

  it('copies the label maps (rendering cannot change the notification)', () => {
    const d = templateData(notification);
    d.CommonLabels.team = 'x';
    d.Alerts[0].Labels.team = 'x';
    expect(notification.commonLabels.team).toBe('db');
    expect(notification.alerts[0].labels.team).toBe('db');
  });

  it('prints times as Go’s time.Time.String()', () => {
    expect(goTime('2026-11-30T10:00:00Z')).toBe('2026-11-30 10:00:00 +0000 UTC');
    expect(goTime('2026-11-30T10:00:00.123456789Z')).toBe('2026-11-30 10:00:00.123456789 +0000 UTC');
    expect(goTime('2026-11-30T10:00:00.100-05:30')).toBe('2026-11-30 10:00:00.1 -0530 -0530');
  });
});

describe('compileTemplate rejects what it does not support, at line:column', () => {
  const rejections: Array<[string, string, number, number, RegExp]> = [
    ['another function', '{{ printf "%s" .Status }}', 1, 4, /function "printf" is not supported/],
    ['a function in a pipe', 'x {{ .Status | printf }}', 1, 16, /function "printf" is not supported/],
    ['template', '{{ template "slack.title" . }}', 1, 4, /"template" is not supported/],
    ['define', '{{ define "x" }}y{{ end }}', 1, 4, /"define" is not supported/],
    ['with', '{{ with .Alerts }}{{ end }}', 1, 4, /"with" is not supported/],
    ['a variable', '{{ $x := .Status }}', 1, 4, /variables are not supported \("\$x"\)/],
    ['the root variable', '{{ range .Alerts }}{{ $.Status }}{{ end }}', 1, 23, /variables are not supported \("\$"\)/],
    ['an unknown field, on a later line', 'Hello\n  {{ range .Alerts }}\n{{ .Labels.x }} {{ .Label }}{{ end }}', 3, 20, /unknown field \.Label: an alert has no field Label; an alert has \.Status \.Labels/],
    ['a field of a string', '{{ .Status.Foo }}', 1, 11, /unknown field \.Foo: a string has no field Foo/],
    ['a KV method Alertmanager shadows labels with', '{{ .CommonLabels.Values }}', 1, 17, /\.Values is not supported/],
    ['printing a list', '{{ .Alerts.Firing }}', 1, 4, /cannot print a list of alerts/],
    ['printing an alert', '{{ range .Alerts }}{{ . }}{{ end }}', 1, 23, /cannot print an alert/],
    ['comparing a string with a number', '{{ if eq .Status 1 }}x{{ end }}', 1, 7, /eq: cannot compare a string with an integer/],
    ['len of a string field with two arguments', '{{ len .Status .Status }}', 1, 4, /len takes 1 argument, got 2/],
    ['toUpper of a list', '{{ .Alerts | toUpper }}', 1, 14, /toUpper: its argument must be a string, not a list of alerts/],
    ['range over a string', '{{ range .Status }}{{ end }}', 1, 4, /range over a string/],
    ['a non-function stage', '{{ .Status | .Receiver }}', 1, 14, /stage after "\|" must be a function/],
    ['an argument to a field', '{{ .Status "x" }}', 1, 12, /unexpected argument: "\.Status" is not a function/],
    ['a float', '{{ if gt (len .Alerts) 1.5 }}{{ end }}', 1, 24, /unsupported number "1\.5"/],
    ['if without end', 'a\n{{ if .Status }}b', 2, 4, /\{\{ if \}\} without \{\{ end \}\}/],
    ['a function newer than Alertmanager 0.25', '{{ .Status | trimSpace }}', 1, 14, /function "trimSpace" is not supported/],
    ['a stray end', '{{ end }}', 1, 4, /\{\{ end \}\} without/],
    ['a stray else', '{{ else }}', 1, 4, /\{\{ else \}\} outside/],
    ['two elses', '{{ if .Status }}{{ else }}{{ else }}{{ end }}', 1, 30, /\{\{ else \}\} after \{\{ else \}\}/],
    ['else if in range', '{{ range .Alerts }}{{ else if .Status }}{{ end }}', 1, 28, /only \{\{ else \}\}, and \{\{ else if/],
    ['an unclosed action', 'a {{ .Status', 1, 3, /unclosed action/],
    ['an unterminated string', '{{ eq .Status "firing }}', 1, 15, /unterminated string/],
    ['an unknown escape', '{{ "a\\qb" }}', 1, 6, /unsupported escape "\\q"/],
    ['a comment not closing the action', '{{/* c */ }}', 1, 10, /comment ends before the action does/],
    ['an empty action', 'x{{ }}', 1, 2, /empty action/],
    ['an unclosed parenthesis', '{{ (len .Alerts }}', 1, 9, /unclosed "\("/],
  ];

  it.each(rejections)('%s', (_name, source, line, column, message) => {
    let error: unknown;
    try {
      compileTemplate(source);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TemplateError);
    const te = error as TemplateError;
    expect([te.line, te.column]).toEqual([line, column]);
    expect(te.message.startsWith(`${line}:${column}: `)).toBe(true);
    expect(te.message).toMatch(message);
  });

  it('lists what is supported when it rejects a construct', () => {
    expect(() => compileTemplate('{{ printf "%s" .Status }}')).toThrow(/supported: fields \.Receiver .*functions len eq ne .* toUpper toLower title;/);
  });

  it('rejects at compile time what Alertmanager would only fail at send time', () => {
    expect(() => alertmanager('{{ .Foo }}')).toThrow(/can't evaluate field Foo/);
    expect(() => compileTemplate('{{ .Foo }}')).toThrow(TemplateError);
  });
});

describe('templateSchema', () => {
  const schema = z.object({ title: templateSchema });

  it('accepts a supported template', () => {
    expect(schema.parse({ title: '[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }}' })).toEqual({ title: '[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }}' });
  });

  it('rejects an unsupported one with the template’s line:column in the issue message', () => {
    const result = schema.safeParse({ title: 'ok\n{{ .Status | printf }}' });
    expect(result.success).toBe(false);
    const issue = result.error?.issues[0];
    expect(issue?.path).toEqual(['title']);
    expect(issue?.message).toMatch(/^template 2:14: function "printf" is not supported \(supported: /);
  });

  it('rejects a non-string', () => {
    expect(schema.safeParse({ title: 3 }).success).toBe(false);
  });
});
