import { createSignal } from 'solid-js';
import { ConnectionIndicator, createUpload, type Strata } from '../../index.js';

/** The fixture page: a count the server holds, a button that changes it, and the connection status. */
export function App(props: { strata: Strata }) {
  const counter = props.strata.state('counter');
  const count = () => (counter.value as { count: number } | undefined)?.count;
  // An upload with progress (only in the browser: the server-rendered page has no client).
  const upload = typeof window === 'undefined' ? undefined : createUpload(props.strata.client);
  const [stored, setStored] = createSignal('');
  const sendFile = async () => {
    const id = await upload!(new Blob([new Uint8Array(300_000).fill(97)], { type: 'text/plain' }), { filename: 'big.txt' });
    if (id) setStored(String(await counter.call.attach!({ id })));
  };
  return (
    <main>
      <h1>Counter</h1>
      <output aria-label="count">{count()}</output>
      <button type="button" onClick={() => void counter.call.increment!()}>
        Add
      </button>
      <ConnectionIndicator status={props.strata.status()} />
      <button type="button" onClick={() => void sendFile()}>
        Upload
      </button>
      <progress aria-label="upload" value={upload?.progress() ?? 0} />
      <p data-testid="stored">{stored()}</p>
    </main>
  );
}
