import { EventBus } from './event-bus';
import { EventRegistry } from '../events/registry';
import { FakeClock } from '../core/clock';

const err = { severity: 'error' as const, message: 'm', component: 'c' };
test('idle with in-flight', async () => {
  const bus = new EventBus(new EventRegistry(), new FakeClock());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let done = false;
  bus.subscribe('system.error', async () => { await gate; done = true; });
  await bus.publish('system.error', err);
  await Promise.resolve(); await Promise.resolve();
  let idled = false;
  void bus.idle().then(() => (idled = true));
  for (let i = 0; i < 20; i++) await Promise.resolve();
  console.log('idle resolved while handler in flight?', idled, 'done', done);
  release();
  await bus.idle();
});
test('loop', async () => {
  const bus = new EventBus(new EventRegistry(), new FakeClock(), { error_threshold: 0 });
  let calls = 0;
  bus.subscribe('*', () => { calls++; throw new Error('x'); });
  await bus.publish('system.error', err);
  for (let i = 0; i < 2000; i++) await Promise.resolve();
  console.log('calls after 2000 ticks', calls, bus.stats().handler_errors);
});
