import { waitFor } from './wait';

describe('waitFor', () => {
  it('resolves at once when the condition already holds', async () => {
    let checks = 0;
    await waitFor(() => ++checks > 0, { what: 'true' });
    expect(checks).toBe(1);
  });

  it('resolves once in-process work (event-loop turns) makes the condition true', async () => {
    let done = false;
    setImmediate(() => setImmediate(() => (done = true)));
    await waitFor(() => done, { what: 'two turns' });
    expect(done).toBe(true);
  });

  it('keeps polling on timers for real I/O', async () => {
    let done = false;
    setTimeout(() => (done = true), 50);
    await waitFor(() => done, { what: 'a timer' });
    expect(done).toBe(true);
  });

  it('rejects naming what never happened', async () => {
    await expect(waitFor(() => false, { what: 'the impossible', timeoutMs: 20 })).rejects.toThrow('never happened (within 20 ms): the impossible');
  });
});
