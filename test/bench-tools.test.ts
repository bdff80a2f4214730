/**
 * The measuring tools of `npm run bench` that could silently measure the wrong thing: the raw
 * keep-alive HTTP client (bench/http-load.ts) against a real node:http server, the raw WebSocket
 * client of the fan-out scenarios (bench/raw-ws-client.ts) against a real `ws` server, the
 * profile summary (bench/profile-top.ts) and the CPU split (bench/cpu-split.ts, real taskset). No
 * assertion on time.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { buildSync } from 'esbuild';
import { WebSocketServer } from 'ws';
import { closedLoop, IngestConnection, openLoop, percentile, systemErrors } from '../bench/http-load';
import { allowedCpus, cpuSplit, cpuSplitUnavailable, threadCpus } from '../bench/cpu-split';
import { cpuTimeOf, schedOf } from '../bench/process-probe';
import { classifyThreads, threadDelta, threadTimesOf, type ThreadGroup } from '../bench/thread-probe';
import { fileOf, parseSpans, topSelfTime } from '../bench/profile-top';
import { RawWsClient } from '../bench/raw-ws-client';
import { decodeVlq } from '../bench/source-map';
import { waitFor } from '../src/testing';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

async function server(handler: Handler): Promise<{ port: number; bodies: string[]; close(): Promise<void> }> {
  const bodies: string[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as AddressInfo).port,
    bodies,
    close: () => new Promise((resolve) => srv.close(() => resolve())),
  };
}

/** Answers 202 with headers and body in separate writes, so the client must join them. */
const accept: Handler = (_req, res, body) => {
  const count = (JSON.parse(body) as unknown[]).length;
  const payload = JSON.stringify({ accepted: Array.from({ length: count }, (_, index) => ({ index, event_id: `id-${index}` })), rejected: [] });
  res.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
  res.flushHeaders();
  setImmediate(() => res.end(payload));
};

describe('bench HTTP load', () => {
  it('posts the pre-built body on keep-alive connections and counts only 202 answers as events', async () => {
    const s = await server(accept);
    const connections = await Promise.all([IngestConnection.open(s.port), IngestConnection.open(s.port)]);
    try {
      const result = await closedLoop(connections, systemErrors(5), 50, 0);
      expect(result.requests).toBeGreaterThan(0);
      expect(result.gaveUp).toBe(false);
      expect(result.eventsPerSecond).toBeGreaterThan(0);
      const body = JSON.parse(s.bodies[0]!) as { type: string; data: { severity: string } }[];
      expect(body).toHaveLength(5);
      expect(body[0]).toMatchObject({ type: 'system.error', data: { severity: 'error' } });
    } finally {
      for (const c of connections) c.close();
      await s.close();
    }
  });

  it('fails the run on an answer other than 202, naming the status', async () => {
    const s = await server((_req, res) => res.writeHead(400, { 'content-length': '0' }).end());
    const connection = await IngestConnection.open(s.port);
    try {
      await expect(closedLoop([connection], systemErrors(1), 20, 0)).rejects.toThrow('POST /events answered 400, expected 202');
    } finally {
      connection.close();
      await s.close();
    }
  });

  it('gives up on a server that never answers: no events, and the run ends', async () => {
    const s = await server(() => undefined);
    const connection = await IngestConnection.open(s.port);
    try {
      const result = await closedLoop([connection], systemErrors(100), 20, 0, 50);
      expect(result).toMatchObject({ requests: 0, eventsPerSecond: 0, gaveUp: true });
    } finally {
      connection.close();
      await s.close();
    }
  });

  it('sends on schedule without waiting for answers, opening connections when all are busy', async () => {
    const held: http.ServerResponse[] = [];
    const s = await server((_req, res) => held.push(res));
    const pool = [await IngestConnection.open(s.port)];
    try {
      const run = openLoop(s.port, pool, systemErrors(1), 200, 50);
      while (held.length < 10) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(pool.length).toBe(10);
      for (const res of held) res.writeHead(202, { 'content-length': '2' }).end('{}');
      const result = await run;
      expect(result.requests).toBe(10);
      expect(result.latencies).toHaveLength(10);
    } finally {
      for (const c of pool) c.close();
      await s.close();
    }
  });

  it('takes percentiles by rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([], 99)).toBeNaN();
  });
});

describe('bench raw WebSocket client', () => {
  /** The broadcaster's event frame for `id`, with a payload of about `size` bytes. */
  const eventText = (id: number, size: number) => `{"type":"eventStream","payload":{"m":"${'x'.repeat(size)}"},"id":"${id}"}`;

  async function serve(onConnection: (ws: import('ws').WebSocket) => void): Promise<{ url: string; pongs: string[]; close(): Promise<void> }> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const pongs: string[] = [];
    wss.on('connection', (ws) => {
      ws.on('pong', (data: Buffer) => pongs.push(data.toString()));
      onConnection(ws);
    });
    return {
      url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws/events`,
      pongs,
      close: () => new Promise((resolve) => wss.close(() => resolve())),
    };
  }

  function open(url: string, onEvent: (id: number) => void): Promise<{ client: RawWsClient; closed: Promise<number> }> {
    let closed!: (code: number) => void;
    const closedP = new Promise<number>((resolve) => (closed = resolve));
    return new Promise((resolve, reject) => {
      const client: RawWsClient = new RawWsClient(url, { onEvent: (id) => onEvent(id), onClose: closed }, (error) => (error ? reject(error) : resolve({ client, closed: closedP })));
    });
  }

  it('counts every event frame (all three length forms, split across reads), skips other messages, flags a gap, answers a ping, records the close code', async () => {
    const sizes = [10, 300, 70_000, 2];
    const sent = Array.from({ length: 400 }, (_, i) => i + 1).filter((id) => id !== 300);
    const server = await serve((ws) => {
      ws.send(JSON.stringify({ type: 'welcome', payload: { connection_id: 'x' } }));
      for (const id of sent) {
        ws.send(eventText(id, sizes[id % sizes.length]!));
        if (id === 5) ws.send(JSON.stringify({ type: 'error', payload: { message: 'not an event' } }));
      }
      ws.ping('are you there');
      ws.close(1013, 'Slow consumer: outgoing buffer limit exceeded');
    });
    try {
      const ids: number[] = [];
      const { client, closed } = await open(server.url, (id) => ids.push(id));
      expect(await closed).toBe(1013);
      expect(ids).toEqual(sent);
      expect(client.received).toBe(sent.length);
      expect(client.outOfOrder).toBe(1); // 301 after 299
      // The close is reported when its frame is read; the server reads the pong sent before it right after.
      await waitFor(() => server.pongs.length > 0, { what: 'the pong' });
      expect(server.pongs).toEqual(['are you there']);
    } finally {
      await server.close();
    }
  });

  it('reports 1006 when the socket ends without a close frame, and an upgrade refused as an error', async () => {
    const server = await serve((ws) => {
      ws.send(eventText(7, 5));
      setImmediate(() => ws.terminate());
    });
    try {
      const { client, closed } = await open(server.url, () => undefined);
      expect(await closed).toBe(1006);
      expect(client.received).toBe(1);
      const plain = http.createServer((_req, res) => res.writeHead(404).end());
      await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
      try {
        await expect(open(`ws://127.0.0.1:${(plain.address() as AddressInfo).port}/`, () => undefined)).rejects.toThrow(/upgrade refused: HTTP\/1.1 404/);
      } finally {
        await new Promise((resolve) => plain.close(resolve));
      }
    } finally {
      await server.close();
    }
  });
});

describe('bench profile summary', () => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
      { id: 2, callFrame: frame('(idle)') },
      { id: 3, callFrame: frame('broadcast', 'file:///x/dist/plugins/ws.js', 9), children: [4] },
      { id: 4, callFrame: frame('writev') },
      { id: 5, callFrame: frame('parseJson', 'file:///x/dist/src/http/ingest.js', 0) },
    ],
    samples: [2, 4, 4, 4, 5, 4],
    // µs: the last sample comes after a 2 s gap (the process was stopped), not 2 s of writev.
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 2_000_000],
  };

  it('ranks self time as a share of busy time, without idle time or stopped gaps, with the main caller', () => {
    const { busyMs, idleMs, stoppedMs, top } = topSelfTime(profile, 5);
    expect({ busyMs, idleMs, stoppedMs }).toEqual({ busyMs: 4, idleMs: 1, stoppedMs: 2000 });
    expect(top[0]).toEqual({ name: 'writev', where: '', ms: 3, share: 0.75, caller: 'broadcast dist/plugins/ws.js:10' });
    expect(top[1]).toMatchObject({ name: 'parseJson', where: 'dist/src/http/ingest.js:1', ms: 1, share: 0.25, caller: '(root)' });
    expect(top).toHaveLength(2);
  });

  it('counts only the samples within the spans given (µs from the start), and the busy time under a location', () => {
    const timed = { ...profile, startTime: 5000 };
    // Sample times: 6000 (idle), 7000, 8000, 9000 (writev), 10000 (parseJson), 2010000 (stopped).
    const all = topSelfTime(timed, 5, { under: 'plugins/ws.js' });
    expect(all).toMatchObject({ busyMs: 4, underMs: 3 });
    const spans = parseSpans('7500-9000,9500-10000');
    expect(spans).toEqual([{ from: 7500, to: 9000 }, { from: 9500, to: 10000 }]);
    const within = topSelfTime(timed, 5, { spans, under: 'plugins/ws.js' });
    expect(within).toMatchObject({ busyMs: 3, idleMs: 0, stoppedMs: 0, underMs: 2 });
    expect(within.top.map((e) => [e.name, e.ms])).toEqual([['writev', 2], ['parseJson', 1]]);
    expect(() => parseSpans('9-1')).toThrow('--between: "9-1" is not <from µs>-<to µs>');
    expect(() => parseSpans('1-2,x')).toThrow('"x"');
  });

  it('groups locations by file, and dependencies by package', () => {
    expect(fileOf('node_modules/zod/v4/core/schemas.cjs:1243')).toBe('node_modules/zod');
    expect(fileOf('node_modules/@slack/webhook/dist/index.js:3')).toBe('node_modules/@slack/webhook');
    expect(fileOf('dist/src/http/ingest.js:54')).toBe('dist/src/http/ingest.js');
    expect(fileOf('')).toBe('(native, GC, program)');
  });
});

describe('bench profile summary of a bundle', () => {
  it('decodes base64 VLQ as source maps write it', () => {
    expect(decodeVlq('AAgBC')).toEqual([0, 0, 16, 1]);
    expect(decodeVlq('D')).toEqual([-1]);
    expect(decodeVlq('2HwG')).toEqual([123, 104]);
  });

  it("names a function in a bundle by the module it came from, through the bundle's source map", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'praxis-profile-'));
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src/a.js'), "const { fromB } = require('./b');\nmodule.exports = () => fromB();\n");
      writeFileSync(path.join(dir, 'src/b.js'), '// b\n\nexports.fromB = function fromB() {\n  return 42;\n};\n');
      const bundle = path.join(dir, 'dist/out.js');
      buildSync({ entryPoints: [path.join(dir, 'src/a.js')], bundle: true, platform: 'node', format: 'cjs', minifyWhitespace: true, sourcemap: 'linked', outfile: bundle, logLevel: 'silent' });
      const lines = readFileSync(bundle, 'utf8').split('\n');
      const lineNumber = lines.findIndex((l) => l.includes('function fromB'));
      const columnNumber = lines[lineNumber]!.indexOf('function fromB');
      const profile = {
        nodes: [
          { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: 0 }, children: [2] },
          { id: 2, callFrame: { functionName: 'fromB', url: `file://${bundle}`, lineNumber, columnNumber } },
        ],
        samples: [2],
        timeDeltas: [1000],
      };
      expect(topSelfTime(profile, 1).top[0]).toMatchObject({ name: 'fromB', where: 'src/b.js:3' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench process probe: main-thread CPU', () => {
  it('counts the CPU time this thread burns (schedstat, in ms), no more than the whole process used', () => {
    // Burns until the probe says the main thread ran 30 ms, then checks that against the process's
    // own CPU clock (all threads: at least as much). Driving the loop by the process clock instead
    // failed on a loaded CI machine, where the main thread had 15 of the 50 ms.
    const before = schedOf(process.pid).runMs;
    const processBefore = process.cpuUsage();
    const giveUpAt = Date.now() + 20_000;
    let after = before;
    while (after - before < 30 && Date.now() < giveUpAt) {
      for (let i = 0; i < 10_000; i++) Math.sqrt(Math.random());
      after = schedOf(process.pid).runMs;
    }
    const processUsed = process.cpuUsage(processBefore);
    expect(after - before).toBeGreaterThanOrEqual(30);
    // Were the probe's unit wrong (µs or ns read as ms), the process would have used far less.
    expect((processUsed.user + processUsed.system) / 1000).toBeGreaterThanOrEqual(after - before - 1);
    expect(after).toBeLessThanOrEqual(cpuTimeOf(process.pid) + 20);
  });
});

/**
 * A node process with the threads the agent has: it burns CPU on request in the main thread, in a
 * worker_threads isolate, or in libuv's threadpool (pbkdf2), each a fixed amount of work, and
 * answers "done" on stdout. The probe must put that work in the right group.
 */
const THREADS_CHILD = `
const { Worker } = require('node:worker_threads');
const crypto = require('node:crypto');
const burn = (n) => { let h = 'x'; for (let i = 0; i < n; i++) h = crypto.createHash('sha256').update(h).digest('hex'); return h; };
const worker = new Worker(${JSON.stringify(`
  const crypto = require('node:crypto');
  const burn = (n) => { let h = 'x'; for (let i = 0; i < n; i++) h = crypto.createHash('sha256').update(h).digest('hex'); return h; };
  const { parentPort } = require('node:worker_threads');
  parentPort.on('message', (n) => { burn(n); parentPort.postMessage('done'); });
  parentPort.postMessage('up');
`)}, { eval: true });
// Ready once the worker's event loop runs and the threadpool exists (its threads start on first use).
let starting = 2;
const started = () => { if (--starting === 0) process.stdout.write('ready\\n'); };
worker.on('message', (m) => (m === 'up' ? started() : process.stdout.write('done\\n')));
crypto.pbkdf2('warm', 'up', 1, 32, 'sha256', started);
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [where, n] = line.split(' ');
  if (where === 'main') { burn(Number(n)); process.stdout.write('done\\n'); }
  else if (where === 'worker') worker.postMessage(Number(n));
  else { let left = 4; for (let i = 0; i < 4; i++) crypto.pbkdf2('p', 's', Number(n), 32, 'sha256', () => { if (--left === 0) process.stdout.write('done\\n'); }); }
});
`;

describe('bench thread probe', () => {
  it('puts CPU spent in the main thread, a worker_threads isolate and the libuv threadpool in their groups', async () => {
    const child = spawn(process.execPath, ['-e', THREADS_CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout! });
    const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
    try {
      expect(await next()).toBe('ready');
      const pid = child.pid!;
      let groups = classifyThreads(pid);
      const count = (g: ThreadGroup) => [...groups.values()].filter((x) => x === g).length;
      // The worker said it is up just before its event loop waits (epoll): what tells it apart.
      await waitFor(() => count('worker_threads') === 1 || !(groups = classifyThreads(pid)), { what: 'the worker waiting in its event loop' });
      expect(groups.get(pid)).toBe('main');
      expect(count('V8 platform (GC, JIT)')).toBe(5); // the delayed-task scheduler and --v8-pool-size 4
      expect(count('worker_threads')).toBe(1);
      expect(count('libuv threadpool')).toBe(4); // UV_THREADPOOL_SIZE
      const shares: Record<string, string> = {};
      for (const [where, n, group] of [
        ['main', 100_000, 'main'],
        ['worker', 100_000, 'worker_threads'],
        ['pool', 300_000, 'libuv threadpool'],
      ] as const) {
        const before = threadTimesOf(pid);
        child.stdin!.write(`${where} ${n}\n`);
        expect(await next()).toBe('done');
        const used = threadDelta(before, threadTimesOf(pid), groups);
        const all = [...used.values()].reduce((sum, t) => sum + t.runMs, 0);
        // Most of the work lands in its group, whatever else runs on the machine.
        shares[where] = `${group} ${Math.round((used.get(group)!.runMs / all) * 100) >= 80 ? '≥ 80%' : `${Math.round((used.get(group)!.runMs / all) * 100)}%`}`;
        expect(used.get(group)!.userMs + used.get(group)!.systemMs).toBeGreaterThan(0);
      }
      expect(shares).toEqual({ main: 'main ≥ 80%', worker: 'worker_threads ≥ 80%', pool: 'libuv threadpool ≥ 80%' });
    } finally {
      child.kill();
    }
  });
});

describe('bench CPU split', () => {
  const unavailable = cpuSplitUnavailable();
  const withEnv = (value: string | undefined, run: () => void) => {
    const before = process.env.BENCH_CPU_SPLIT;
    if (value === undefined) delete process.env.BENCH_CPU_SPLIT;
    else process.env.BENCH_CPU_SPLIT = value;
    try {
      run();
    } finally {
      if (before === undefined) delete process.env.BENCH_CPU_SPLIT;
      else process.env.BENCH_CPU_SPLIT = before;
    }
  };

  it('refuses a BENCH_CPU_SPLIT other than 0 or 1; 0, or unset where it is not the default, leaves every CPU', () => {
    withEnv('yes', () => expect(() => cpuSplit(true)).toThrow('BENCH_CPU_SPLIT must be 0 or 1, not "yes"'));
    const before = allowedCpus();
    withEnv('0', () => expect(cpuSplit(true)).toBeUndefined());
    withEnv(undefined, () => expect(cpuSplit(false)).toBeUndefined());
    expect(allowedCpus()).toEqual(before);
  });

  (unavailable ? it.skip : it)('pins every thread of a server process to one CPU and the runner to the others, and gives the runner its CPUs back', async () => {
    const before = allowedCpus();
    // Pinned once it runs JavaScript: its helper threads exist by then, and must be pinned too.
    const child = spawn(process.execPath, ['-e', "console.log('up'); setInterval(() => {}, 1000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout.once('data', resolve));
      expect(threadCpus(child.pid!)).toHaveLength(1);
      expect(readdirSync(`/proc/${child.pid}/task`).length).toBeGreaterThan(1);
      withEnv('1', () => {
        const split = cpuSplit(false)!;
        try {
          expect(allowedCpus()).toEqual(before.slice(1));
          split.pinServer(child.pid!);
          expect(allowedCpus(child.pid!)).toEqual([before[0]]);
          expect(threadCpus(child.pid!)).toEqual([String(before[0])]);
        } finally {
          split.restore();
        }
      });
      expect(allowedCpus()).toEqual(before);
    } finally {
      child.kill();
    }
  });
});
