import { hydrate } from 'solid-js/web';
import { createStrata } from '../../index.js';
import { App } from './app.js';

const boot = (window as unknown as { __STRATA__: { token: string; states: Record<string, unknown> } }).__STRATA__;
const strata = createStrata({ url: new URL('/strata/ws', location.href).href.replace(/^http/, 'ws'), token: boot.token, initial: boot.states });
hydrate(() => <App strata={strata} />, document.getElementById('root')!);
