import { type Accessor, createSignal, getOwner, onCleanup } from 'solid-js';
import {
  type AnyStateDef,
  type ClientOptions,
  type ClientState,
  type ClientStatus,
  createClient,
  type DeepReadonly,
  type inferClientState,
  type StateCalls,
  type StateNamed,
  type StrataClient,
} from '@strata/state/client';
import { mirrorState } from './store.js';

/**
 * The Strata of a page rendered on the server (`renderToString`): each state is the value
 * `prepareTab` answered, nothing connects, and calls are refused — the browser's
 * `createStrata({ initial, token })` takes over from the same values.
 */
export function createStaticStrata<TStates extends AnyStateDef = AnyStateDef>(states: Readonly<Record<string, unknown>>): Strata<TStates> {
  const refuse = () => {
    throw new Error('Handlers cannot be called while rendering on the server; call them from the browser.');
  };
  const calls = new Proxy(Object.create(null) as object, { get: () => refuse });
  const state = (name: string): ServerState => ({ name, value: states[name] as never, ready: Promise.resolve(), call: calls as never });
  return {
    get client(): StrataClient<TStates> {
      return refuse();
    },
    state: state as Strata<TStates>['state'],
    status: () => 'connecting',
    toasts: () => [],
    dismissToast: () => undefined,
    restart: () => undefined,
    close: () => undefined,
  };
}

/** A message the server sent with `ctx.toast(...)`, until dismissed. */
export interface Toast {
  id: number;
  message: string;
  level: 'info' | 'success' | 'warning' | 'error';
}

/** Options of {@link createStrata}: the client core's, plus how this app navigates. */
export interface StrataOptions extends Omit<ClientOptions, 'actions'> {
  /** Performs a server `redirect` to a same-origin path (your router's `navigate`); default: a full page load. */
  navigate?: (path: string, options: { replace: boolean }) => void;
  /** How long a toast stays before it dismisses itself (ms; 0: until dismissed). Default 5 s. */
  toastMs?: number;
  /** The states' values the page was rendered with on the server (`prepareTab`): stores start from them, so hydration matches. */
  initial?: Readonly<Record<string, unknown>>;
}

type StateFor<TStates extends AnyStateDef, TName extends TStates['name']> = string extends TStates['name'] ? TStates : StateNamed<TStates, TName>;

/** A server state in Solid: a fine-grained, read-only store of its value, and its typed handlers. */
export interface ServerState<TState extends AnyStateDef = AnyStateDef> {
  readonly name: TState['name'];
  /** The client vars and computed vars (undefined until the first full state); reading a path tracks only that path. */
  readonly value: DeepReadonly<inferClientState<TState>> | undefined;
  /** Resolves when the first full state arrived. */
  readonly ready: Promise<void>;
  /** The state's handlers (`state.call.save({...})`); wrap one in `createAction` for pending and error status. */
  readonly call: StateCalls<TState>;
}

/** The app's connection to its Strata server, for Solid: states, status, toasts. */
export interface Strata<TStates extends AnyStateDef = AnyStateDef> {
  readonly client: StrataClient<TStates>;
  /**
   * The state named `name`. Inside a component it subscribes while the component lives (a
   * count per name: the last one to go unsubscribes); taken outside any component it stays.
   */
  state<TName extends TStates['name']>(name: TName): ServerState<StateFor<TStates, TName>>;
  /** connecting, live, reconnecting, offline, expired or closed. */
  readonly status: Accessor<ClientStatus>;
  /** Toasts the server sent, newest last. */
  readonly toasts: Accessor<readonly Toast[]>;
  dismissToast(id: number): void;
  /** Starts over as a new tab with `token` (after signing in or out). */
  restart(token: string): void;
  close(): void;
}

interface Mirror {
  state: ServerState;
  users: number;
  stop(): void;
  handle: ClientState;
}

/**
 * Connects to the server and wires its client actions to the page: `redirect` through your
 * router, `toast` into `toasts()`, `download` as a file save.
 *
 * @example
 * const strata = createStrata<typeof Products | typeof Cart>({ url: '/strata/ws', token: window.STRATA.token, navigate });
 * function Catalog() {
 *   const products = strata.state('products');
 *   return <For each={products.value?.list}>{(p) => <li>{p.name}: {p.stock}</li>}</For>;
 * }
 */
export function createStrata<TStates extends AnyStateDef = AnyStateDef>(options: StrataOptions): Strata<TStates> {
  const [toasts, setToasts] = createSignal<readonly Toast[]>([]);
  let nextToast = 1;
  const toastMs = options.toastMs ?? 5000;
  const dismissToast = (id: number) => setToasts((list) => list.filter((toast) => toast.id !== id));
  const { navigate, toastMs: _toastMs, initial = {}, ...clientOptions } = options;
  const client = createClient<TStates>({
    ...clientOptions,
    actions: {
      redirect: ({ to, replace = false }) => {
        if (navigate && to.startsWith('/') && !to.startsWith('//')) navigate(to, { replace });
        else if (replace) globalThis.location?.replace(to);
        else globalThis.location?.assign(to);
      },
      toast: ({ message, level = 'info' }) => {
        const id = nextToast++;
        setToasts((list) => [...list, { id, message, level }]);
        if (toastMs > 0) setTimeout(() => dismissToast(id), toastMs);
      },
    },
  });
  const [status, setStatus] = createSignal<ClientStatus>(client.status);
  client.onStatus(setStatus);
  const mirrors = new Map<string, Mirror>();
  // The server-rendered values start the first store of each state only: a state subscribed
  // again later (or after a restart) waits for its current value instead of showing the page's.
  const firstValues = new Map(Object.entries(initial));

  function state(name: string): ServerState {
    let mirror = mirrors.get(name);
    if (!mirror) {
      const handle = client.state(name as TStates['name']) as unknown as ClientState;
      const [store, stop] = mirrorState(handle, firstValues.get(name) as never);
      firstValues.delete(name);
      const view: ServerState = {
        name,
        get value() {
          return store.value as never;
        },
        get ready() {
          return handle.ready;
        },
        call: handle.call as never,
      };
      mirror = { state: view, users: 0, stop, handle };
      mirrors.set(name, mirror);
    }
    const used = mirror;
    used.users++;
    // Outside a component the caller keeps it for good; inside one, until the component goes.
    if (getOwner()) {
      onCleanup(() => {
        if (--used.users > 0 || mirrors.get(name) !== used) return;
        mirrors.delete(name);
        used.stop();
        used.handle.release();
      });
    }
    return mirror.state;
  }

  return {
    client,
    state: state as Strata<TStates>['state'],
    status,
    toasts,
    dismissToast,
    restart: (token) => {
      firstValues.clear();
      client.restart(token);
    },
    close: () => client.close(),
  };
}
