import type { JSX } from 'solid-js';
import { Dynamic } from 'solid-js/web';
import { createComponent } from 'solid-js';
import type { ClientStatus } from '@strata/state/client';

/** What each status says to a person (and to a screen reader). */
export const STATUS_TEXT: Readonly<Record<ClientStatus, string>> = Object.freeze({
  connecting: 'Connecting…',
  live: 'Connected',
  reconnecting: 'Reconnecting… your changes will be sent when the connection is back.',
  offline: 'Offline — your changes will be sent when you are back online.',
  expired: 'This page expired; reload it.',
  closed: 'Disconnected; reload the page.',
});

/**
 * The connection status, accessible: a live region (`role="status"`, polite) whose text says
 * what is going on and whose `data-status` attribute carries the status for styling.
 *
 * @example
 * <ConnectionIndicator status={strata.status()} />
 */
export function ConnectionIndicator(props: { status: ClientStatus; class?: string; text?: Partial<Record<ClientStatus, string>> }): JSX.Element {
  return createComponent(Dynamic, {
    component: 'span',
    role: 'status',
    'aria-live': 'polite',
    get class() {
      return props.class ?? 'strata-connection';
    },
    get 'data-status'() {
      return props.status;
    },
    get children() {
      return props.text?.[props.status] ?? STATUS_TEXT[props.status];
    },
  });
}
