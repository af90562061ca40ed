// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { connectStrata, type Frame, startServer } from './server.js';
import { cleanup, render } from '@solidjs/testing-library';
import { createSignal, Show } from 'solid-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineState } from '@strata/state/server';
import type { Strata } from '..';

const Notes = defineState('notes', { vars: () => ({ count: 0 }) });
/** Changes `notes` from another state: the server patches `notes` only for a tab that lists it. */
const Board = defineState('board', {
  vars: () => ({ title: 'Board' }),
  uses: { notes: Notes },
  handlers: (h) => ({
    touch: h.event((s) => {
      s.notes.count++;
      return s.notes.count;
    }),
  }),
});
type States = typeof Notes | typeof Board;

afterEach(() => cleanup());

function NoteCount(props: { strata: Strata<States>; testid: string }) {
  const notes = props.strata.state('notes');
  return <p data-testid={props.testid}>{notes.value?.count}</p>;
}

const subscriptionFrames = (frames: Frame[]) => frames.filter((frame) => frame.t === 'sub' || frame.t === 'unsub').map((frame) => [frame.t, frame.states]);
/** The states the server patched in its answer to call `seq`. */
const patchedBy = (frames: Frame[], seq: number) => Object.keys((frames.find((frame) => frame.t === 'result' && frame.seq === seq)?.patch as object | undefined) ?? {});

describe('strata.state inside components', () => {
  it('shares one subscription between components and unsubscribes when the last one unmounts', async () => {
    const { strata, log } = await connectStrata<States>(await startServer([Board, Notes]));
    const board = strata.state('board');
    await board.ready;
    const [second, setSecond] = createSignal(true);

    const view = render(() => (
      <>
        <NoteCount strata={strata} testid="first" />
        <Show when={second()}>
          <NoteCount strata={strata} testid="second" />
        </Show>
      </>
    ));
    await vi.waitFor(() => expect(view.getByTestId('first').textContent).toBe('0'));
    expect(subscriptionFrames(log.sent)).toEqual([['sub', ['notes']]]);

    const touched = board.call.touch();
    expect(await touched).toBe(1);
    expect(patchedBy(log.received, touched.seq)).toEqual(['notes']);
    expect([view.getByTestId('first').textContent, view.getByTestId('second').textContent]).toEqual(['1', '1']);

    setSecond(false);
    expect(subscriptionFrames(log.sent)).toEqual([['sub', ['notes']]]);
    const stillListed = board.call.touch();
    await stillListed;
    expect(patchedBy(log.received, stillListed.seq)).toEqual(['notes']);
    expect(view.getByTestId('first').textContent).toBe('2');

    view.unmount();
    expect(subscriptionFrames(log.sent)).toEqual([
      ['sub', ['notes']],
      ['unsub', ['notes']],
    ]);
    // Server side: the tab no longer lists `notes`, so a change to it is not sent.
    const afterUnsub = board.call.touch();
    expect(await afterUnsub).toBe(3);
    expect(patchedBy(log.received, afterUnsub.seq)).toEqual([]);

    // Mounting again subscribes again and shows the server's current value.
    const again = render(() => <NoteCount strata={strata} testid="again" />);
    await vi.waitFor(() => expect(again.getByTestId('again').textContent).toBe('3'));
    expect(subscriptionFrames(log.sent).at(-1)).toEqual(['sub', ['notes']]);
  });

  it('keeps a state taken outside any component subscribed after components using it unmount', async () => {
    const { strata, log } = await connectStrata<States>(await startServer([Board, Notes]));
    const notes = strata.state('notes');
    await notes.ready;
    const view = render(() => <NoteCount strata={strata} testid="inside" />);
    expect(view.getByTestId('inside').textContent).toBe('0');

    view.unmount();

    expect(subscriptionFrames(log.sent)).toEqual([]);
    await strata.state('board').call.touch();
    expect(notes.value?.count).toBe(1);
  });

  it('starts from the server-rendered values once, not again when a state is subscribed anew', async () => {
    const { strata } = await connectStrata<States>(await startServer([Board, Notes]), { initial: { notes: { count: 0 } } });
    const board = strata.state('board');
    const first = render(() => <NoteCount strata={strata} testid="first" />);
    expect(first.getByTestId('first').textContent).toBe('0');
    await board.ready;
    await board.call.touch();
    await board.call.touch();
    expect(first.getByTestId('first').textContent).toBe('2');
    first.unmount();

    const again = render(() => <NoteCount strata={strata} testid="again" />);

    // Nothing yet, or the last value seen — never the page's first render, two changes old.
    expect(['', '2']).toContain(again.getByTestId('again').textContent);
    await vi.waitFor(() => expect(again.getByTestId('again').textContent).toBe('2'));
  });
});
