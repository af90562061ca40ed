import { ConnectionIndicator, type Strata } from '../../index.js';

/** The fixture page: a count the server holds, a button that changes it, and the connection status. */
export function App(props: { strata: Strata }) {
  const counter = props.strata.state('counter');
  const count = () => (counter.value as { count: number } | undefined)?.count;
  return (
    <main>
      <h1>Counter</h1>
      <output aria-label="count">{count()}</output>
      <button type="button" onClick={() => void counter.call.increment!()}>
        Add
      </button>
      <ConnectionIndicator status={props.strata.status()} />
    </main>
  );
}
