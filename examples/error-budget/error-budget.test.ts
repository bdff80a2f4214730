import { FakeClock, createPluginHarness, runPluginConformance } from 'praxis-agent/testing';
import errorBudget from './index';

runPluginConformance(errorBudget);

describe('error-budget example plugin', () => {
  it('degrades a component over budget, ignores mild severities, and forgets old errors', async () => {
    const clock = new FakeClock();
    const h = createPluginHarness(errorBudget, { clock, config: { budget: 2, window_ms: 1000 } });
    await h.start();
    const error = (severity: 'error' | 'info') => h.bus.publish('system.error', { severity, message: 'boom', component: 'db' });

    await error('error');
    await error('info');
    await error('error');
    await h.bus.idle();
    expect(h.eventsOf('service.status')).toEqual([]);

    await error('error');
    await h.bus.idle();
    expect(h.eventsOf('service.status').map((e) => [e.data.service_name, e.data.status])).toEqual([['db', 'degraded']]);

    await clock.advance(5000);
    await error('error');
    await h.bus.idle();
    expect(h.eventsOf('service.status').map((e) => e.data.status)).toEqual(['degraded', 'healthy']);
    expect(h.eventsOf('service.status')[1].data.metrics).toMatchObject({ errors_in_window: 1 });
    await h.stop();
  });
});
