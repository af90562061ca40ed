import { generateHydrationScript, renderToString } from 'solid-js/web';
import { createStaticStrata } from '../../index.js';
import { App } from './app.js';

/** Renders the page from the states `prepareTab` answered. */
export function render(states: Record<string, unknown>): { body: string; hydration: string } {
  return { body: renderToString(() => <App strata={createStaticStrata(states)} />), hydration: generateHydrationScript() };
}
