import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineState, type EventContext, EventError, type Middleware, type ServerFrame, type StrataStateOptions } from '../server.js';
import { call, join, type RawClient, startServer, type TestServer } from './serverHelpers.js';

type Result = Extract<ServerFrame, { t: 'result' }>;
type Done = Extract<ServerFrame, { t: 'done' }>;

let server: TestServer | undefined;

/** The frames received so far, from the result of `seq` on. */
function framesFrom(client: RawClient, seq: number): ServerFrame[] {
  const start = client.frames.findIndex((f) => f.t === 'result' && f.seq === seq);
  return client.frames.slice(start);
}

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Test-controlled handles the tasks below wait on and report to. */
let gate = deferred();
let signals: AbortSignal[] = [];
let notes: Record<string, unknown> = {};
afterEach(() => {
  gate.resolve();
  gate = deferred();
  signals = [];
  notes = {};
});

const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });

const Job = defineState('job', {
  vars: () => ({ progress: 0, note: '', items: [] as number[] }),
  handlers: (h) => ({
    run: h.task({
      run: async (task) => {
        for (let i = 1; i <= 3; i++) {
          await task.update((s) => {
            s.progress = i * 10;
          });
        }
        return 'ok';
      },
    }),
    wait: h.task({
      run: async (task) => {
        signals.push(task.signal);
        await gate.promise;
        await task.update((s) => {
          s.note = 'released';
        });
        return 'released';
      },
    }),
    untilCancelled: h.task({
      run: async (task) => {
        signals.push(task.signal);
        await untilAborted(task.signal);
      },
    }),
    ignoresSignal: h.task({
      run: async (task) => {
        signals.push(task.signal);
        await gate.promise;
        try {
          await task.update((s) => {
            notes.changeRan = true;
            s.note = 'late';
          });
        } catch (error) {
          notes.updateError = (error as { code?: string }).code;
        }
        return 'finished anyway';
      },
    }),
    failingUpdates: h.task({
      run: async (task) => {
        const out: Record<string, unknown> = {};
        try {
          await task.update((s) => {
            s.progress = 99;
            s.items.push(1);
            throw new Error('change failed');
          });
        } catch (error) {
          out.thrown = (error as Error).message;
        }
        try {
          await task.update((s) => {
            s.items.push(new Date(0) as unknown as number);
          });
        } catch (error) {
          out.notJson = (error as { code?: string }).code;
        }
        await task.update((s) => {
          out.progress = s.progress;
          out.items = [...s.items];
          s.note = 'after';
        });
        return out;
      },
    }),
    // Awaits nothing but its own updates for 400 ms (a tight loop of microtasks).
    busy: h.task({
      run: async (task) => {
        const started = performance.now();
        let updates = 0;
        while (performance.now() - started < 400) {
          await task.update((s) => {
            s.progress = Math.floor((performance.now() - started) / 100);
          });
          updates++;
        }
        return updates;
      },
    }),
    returnsDate: h.task({ run: async () => new Date(0) as unknown as string }),
    refuses: h.task({
      run: async () => {
        throw new EventError('JOB_REFUSED', 'No more imports today.');
      },
    }),
    withUser: h.task({
      run: async (task, _args, ctx) => {
        await task.update(() => {});
        task.toast('Import started.');
        await task.update((s) => {
          s.note = 'with toast';
        });
        return { user: (task as unknown as { user?: string }).user ?? null, same: (ctx as unknown as { user?: string }).user ?? null, locals: { ...task.locals } };
      },
    }),
    ping: h.event(() => 'pong'),
    read: h.event((s) => ({ progress: s.progress, note: s.note, items: [...s.items] })),
  }),
});

async function serve(options: Partial<StrataStateOptions> = {}): Promise<TestServer> {
  server = await startServer([Job], options);
  return server;
}

describe('background tasks', () => {
  it('answer result with task: true at once, then patch frames with the progress, then done with the value', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    expect(await call(client, 1, 'job', 'run')).toEqual({ t: 'result', seq: 1, task: true });
    await client.next((f) => f.t === 'done');
    expect(framesFrom(client, 1)).toEqual([
      { t: 'result', seq: 1, task: true },
      { t: 'patch', patch: { job: [{ op: 'set', path: ['progress'], value: 10 }] } },
      { t: 'patch', patch: { job: [{ op: 'set', path: ['progress'], value: 20 }] } },
      { t: 'patch', patch: { job: [{ op: 'set', path: ['progress'], value: 30 }] } },
      { t: 'done', seq: 1, value: 'ok' },
    ]);
    client.socket.close();
  });

  it('run beside the tab’s other events', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    expect(await call(client, 1, 'job', 'wait')).toEqual({ t: 'result', seq: 1, task: true });
    expect(await call(client, 2, 'job', 'ping')).toEqual({ t: 'result', seq: 2, value: 'pong' });
    expect(await call(client, 3, 'job', 'read')).toMatchObject({ value: { note: '' } });
    expect(client.frames.some((f) => f.t === 'done')).toBe(false);
    gate.resolve();
    expect(await client.next((f) => f.t === 'done')).toEqual({ t: 'done', seq: 1, value: 'released' });
    expect(client.frames.filter((f) => f.t === 'patch')).toEqual([{ t: 'patch', patch: { job: [{ op: 'set', path: ['note'], value: 'released' }] } }]);
    client.socket.close();
  });

  it('that only await their own updates still let the event loop turn: other tabs and timers are served meanwhile', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    const { client: other } = await join(s, ['job']);
    expect(await call(client, 1, 'job', 'busy')).toEqual({ t: 'result', seq: 1, task: true });
    const started = performance.now();
    let timerAt: number | undefined;
    setTimeout(() => {
      timerAt = performance.now() - started;
    }, 0);
    const pong = await call(other, 1, 'job', 'ping');
    const pongAt = performance.now() - started;
    const done = (await client.next((f) => f.t === 'done', 5_000)) as Done;
    const doneAt = performance.now() - started;
    expect(pong.value).toBe('pong');
    // Answered while the task still ran (it runs 400 ms), not after it.
    expect(doneAt - pongAt).toBeGreaterThan(200);
    expect(timerAt).toBeLessThan(200);
    // And the task itself kept going at speed.
    expect(done.value).toBeGreaterThan(100);
    client.socket.close();
    other.socket.close();
  });

  it('are cancelled by the client: the signal aborts and done carries STRATA_STATE_CANCELLED', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'untilCancelled');
    expect(signals[0]!.aborted).toBe(false);
    client.send({ t: 'cancel', seq: 1 });
    const done = (await client.next((f) => f.t === 'done')) as Done;
    expect(done).toMatchObject({ t: 'done', seq: 1, error: { code: 'STRATA_STATE_CANCELLED' } });
    expect(done).not.toHaveProperty('value');
    expect(signals[0]!.aborted).toBe(true);
    // The tab goes on.
    expect(await call(client, 2, 'job', 'ping')).toMatchObject({ value: 'pong' });
    client.socket.close();
  });

  it('that ignore the signal still end cancelled, and their later updates are refused', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'ignoresSignal');
    client.send({ t: 'cancel', seq: 1 });
    await vi.waitFor(() => expect(signals[0]!.aborted).toBe(true));
    gate.resolve();
    expect(await client.next((f) => f.t === 'done')).toMatchObject({ t: 'done', seq: 1, error: { code: 'STRATA_STATE_CANCELLED' } });
    expect(notes).toEqual({ updateError: 'STRATA_STATE_CANCELLED' });
    expect((await call(client, 2, 'job', 'read')).value).toMatchObject({ note: '' });
    expect(client.frames.some((f) => f.t === 'patch')).toBe(false);
    client.socket.close();
  });

  it('are cancelled when the socket closes and the tab does not come back within the grace', async () => {
    const s = await serve({ reconnectGraceMs: 50 });
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'untilCancelled');
    client.socket.close();
    await client.closed;
    const closedAt = Date.now();
    expect(signals[0]!.aborted).toBe(false);
    await vi.waitFor(() => expect(signals[0]!.aborted).toBe(true), { timeout: 2000, interval: 5 });
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(40);
    expect(signals[0]!.reason).toMatchObject({ code: 'STRATA_STATE_CANCELLED' });
  });

  it('survive a socket that closes when the tab rejoins within the grace, and finish on the new socket', async () => {
    // A grace long enough that the rejoin below surely lands inside it on a loaded machine.
    const graceMs = 300;
    const s = await serve({ reconnectGraceMs: graceMs });
    const { client, welcome } = await join(s, ['job']);
    await call(client, 1, 'job', 'wait');
    client.socket.close();
    await client.closed;
    const closedAt = Date.now();
    const again = await join(s, ['job'], welcome.token);
    expect(Date.now() - closedAt, 'the rejoin must land within the grace for this test to mean anything').toBeLessThan(graceMs);
    expect(again.welcome.tab).toBe(welcome.tab);
    expect(again.welcome.ack).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, graceMs + 100));
    expect(signals[0]!.aborted).toBe(false);
    gate.resolve();
    expect(await again.client.next((f) => f.t === 'done')).toEqual({ t: 'done', seq: 1, value: 'released' });
    again.client.socket.close();
  });

  it('regression: deliver the done of a task that finished while the socket was away, once the tab rejoins within the grace', async () => {
    const s = await serve({ reconnectGraceMs: 5000 });
    const { client, welcome } = await join(s, ['job']);
    await call(client, 1, 'job', 'wait');
    client.socket.close();
    await client.closed;
    gate.resolve(); // the task ends while no socket is attached
    await vi.waitFor(() => expect(s.app.strata.stats().connections).toBe(0));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await join(s, ['job'], welcome.token);
    expect(again.welcome.states).toEqual({ job: { progress: 0, note: 'released', items: [] } });
    expect(again.welcome.ack).toBe(1);
    // The event's result arrived on the old socket, so the client still waits for its done.
    expect(await again.client.next((f) => f.t === 'done', 1000)).toEqual({ t: 'done', seq: 1, value: 'released' });
    again.client.socket.close();
  });

  it('see an update whose change throws reverted and rejected, and go on', async () => {
    const s = await serve();
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'failingUpdates');
    const done = (await client.next((f) => f.t === 'done')) as Done;
    expect(done).toEqual({ t: 'done', seq: 1, value: { thrown: 'change failed', notJson: 'STRATA_STATE_NOT_JSON', progress: 0, items: [] } });
    // Only the last, good update was sent.
    expect(client.frames.filter((f) => f.t === 'patch')).toEqual([{ t: 'patch', patch: { job: [{ op: 'set', path: ['note'], value: 'after' }] } }]);
    expect((await call(client, 2, 'job', 'read')).value).toEqual({ progress: 0, note: 'after', items: [] });
    client.socket.close();
  });

  it('end with an error done frame when they fail or return something that is not JSON', async () => {
    const s = await serve({ production: true });
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'refuses');
    expect(await client.next((f) => f.t === 'done')).toEqual({ t: 'done', seq: 1, error: { code: 'JOB_REFUSED', message: 'No more imports today.' } });
    await call(client, 2, 'job', 'returnsDate');
    expect(await client.next((f) => f.t === 'done')).toMatchObject({ t: 'done', seq: 2, error: { code: 'STRATA_STATE_NOT_JSON', message: 'The server could not complete this action.' } });
    client.socket.close();
  });

  it('keep what middleware set on the starting event, and send their actions with their patches', async () => {
    const setUser: Middleware = async (ctx, next) => {
      (ctx as EventContext & { user?: string }).user = 'ann';
      ctx.locals.session = 's1';
      await next();
    };
    const s = await serve({ middleware: [setUser] });
    const { client } = await join(s, ['job']);
    await call(client, 1, 'job', 'withUser');
    expect(await client.next((f) => f.t === 'done')).toEqual({ t: 'done', seq: 1, value: { user: 'ann', same: 'ann', locals: { session: 's1' } } });
    expect(client.frames.filter((f) => f.t === 'patch')).toEqual([
      { t: 'patch', patch: { job: [{ op: 'set', path: ['note'], value: 'with toast' }] }, actions: [{ type: 'toast', message: 'Import started.', level: 'info' }] },
    ]);
    client.socket.close();
  });
});
