// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { connectStrata, startServer } from './server.js';
import { cleanup, render, screen } from '@solidjs/testing-library';
import { createEffect } from 'solid-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defineState } from '@strata/state/server';
import { ConnectionIndicator, STATUS_TEXT } from '..';

let runs = 0;
const Tally = defineState('tally', {
  vars: () => ({ n: 0 }),
  handlers: (h) => ({
    bump: h.event((s) => {
      runs++;
      s.n += 1;
      return s.n;
    }),
  }),
});

beforeEach(() => {
  runs = 0;
});
afterEach(() => cleanup());

const fast = { interval: 2, timeout: 3_000 };

describe('createStrata status and ConnectionIndicator', () => {
  it('goes connecting → live, shows it accessibly, and comes back live after the server drops the socket', async () => {
    const server = await startServer([Tally]);
    // A reconnect waits 100–200 ms: long enough to see `reconnecting` on the page.
    const { strata, log } = await connectStrata<typeof Tally>(server, { backoff: { initialMs: 200, maxMs: 200 } });
    const statuses: string[] = [];
    render(() => {
      createEffect(() => statuses.push(strata.status()));
      return <ConnectionIndicator status={strata.status()} />;
    });
    const indicator = screen.getByRole('status');
    expect(indicator.getAttribute('aria-live')).toBe('polite');
    expect([indicator.dataset.status, indicator.textContent]).toEqual(['connecting', STATUS_TEXT.connecting]);

    await vi.waitFor(() => expect(indicator.dataset.status).toBe('live'), fast);
    expect(indicator.textContent).toBe('Connected');
    expect(statuses).toEqual(['connecting', 'live']);

    server.dropSockets();
    await vi.waitFor(() => expect(indicator.dataset.status).toBe('reconnecting'), fast);
    expect(indicator.textContent).toBe(STATUS_TEXT.reconnecting);
    expect(screen.getByRole('status')).toBe(indicator);

    const tally = strata.state('tally');
    const calls = [tally.call.bump(), tally.call.bump(), tally.call.bump()];
    const sentWhileDown = log.sent.filter((frame) => frame.t === 'event').length;

    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(indicator.dataset.status).toBe('live');
    expect(statuses).toEqual(['connecting', 'live', 'reconnecting', 'live']);
    expect(sentWhileDown).toBe(0);
    expect(runs).toBe(3);
    expect(log.sent.filter((frame) => frame.t === 'event').map((frame) => frame.seq)).toEqual([1, 2, 3]);
    expect(tally.value?.n).toBe(3);
  });

  it('says what a custom text says for a status, and takes a class', () => {
    render(() => <ConnectionIndicator status="offline" class="dot" text={{ offline: 'No network' }} />);
    const indicator = screen.getByRole('status');
    expect([indicator.className, indicator.dataset.status, indicator.textContent]).toEqual(['dot', 'offline', 'No network']);
  });
});
