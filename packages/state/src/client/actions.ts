import { isSafeTarget, TOAST_LEVELS } from '../safeTarget.js';
import type { JsonValue } from '../patch.js';
import type { ClientAction } from '../protocol.js';

/** A `redirect` action. */
export type RedirectAction = Extract<ClientAction, { type: 'redirect' }>;
/** A `toast` action. */
export type ToastAction = Extract<ClientAction, { type: 'toast' }>;
/** A `download` action. */
export type DownloadAction = Extract<ClientAction, { type: 'download' }>;

/**
 * How the page performs client actions. Defaults: `redirect` → `location.assign` (or
 * `location.replace`); `toast` → `console.info`; `download` → a temporary `<a download>`
 * link, or a console warning where there is no `document`. A redirect to anything but a
 * same-origin path (`/…`) or an http(s) URL is refused before any handler sees it.
 */
export interface ClientActionHandlers {
  redirect?(action: RedirectAction): void;
  toast?(action: ToastAction): void;
  download?(action: DownloadAction): void;
}

/** A page function a `call` action may run, with the action's JSON arguments. */
export type ClientFunction = (...args: JsonValue[]) => void;

interface Browser {
  location?: { assign(url: string): void; replace(url: string): void };
  document?: { createElement(tag: 'a'): { href: string; download: string; click(): void } };
  URL: { createObjectURL?(blob: Blob): string; revokeObjectURL?(url: string): void };
}

/**
 * Performs actions in order. Each action is isolated: one that is malformed (reported
 * through `report`), refused or throws does not stop the next. Never evaluates code:
 * `call` only runs functions found by name in `functions`.
 */
export function createActionRunner(
  handlers: ClientActionHandlers,
  functions: ReadonlyMap<string, ClientFunction>,
  report: (problem: string) => void,
): (actions: readonly unknown[]) => void {
  const perform = (action: ClientAction): void => {
    if (action.type === 'call') return callFunction(functions, action);
    if (action.type === 'redirect') return isSafeTarget(action.to) ? (handlers.redirect ?? redirect)(action) : refuse(action.to);
    if (action.type === 'toast') return (handlers.toast ?? toast)(action);
    if (action.url !== undefined && !isSafeTarget(action.url)) return refuse(action.url);
    return (handlers.download ?? download)(action);
  };
  return (actions) => {
    for (const action of actions) {
      if (!isAction(action)) {
        report(`An action is not one of redirect, toast, download or call: ${JSON.stringify(action)}.`);
        continue;
      }
      try {
        perform(action);
      } catch (error) {
        console.error(`[strata] The ${action.type} action failed.`, error);
      }
    }
  };
}

function callFunction(functions: ReadonlyMap<string, ClientFunction>, action: Extract<ClientAction, { type: 'call' }>): void {
  const fn = functions.get(action.name);
  if (fn) fn(...action.args);
  else console.warn(`[strata] The server called the client function "${action.name}", which the page did not register; ignored.`);
}

function refuse(to: string): void {
  console.warn(`[strata] Refused to navigate to ${JSON.stringify(to)}: only same-origin paths (/…) and http(s) URLs are followed.`);
}

function redirect(action: RedirectAction): void {
  const { location } = globalThis as unknown as Browser;
  if (!location) return console.warn(`[strata] No location to redirect to ${action.to}.`);
  if (action.replace) location.replace(action.to);
  else location.assign(action.to);
}

function toast(action: ToastAction): void {
  console.info(`[strata] ${action.level}: ${action.message}`);
}

function download(action: DownloadAction): void {
  const { document, URL } = globalThis as unknown as Browser;
  if (!document) return console.warn(`[strata] No document to download ${action.filename} into.`);
  const blobUrl = action.url === undefined ? URL.createObjectURL?.(new Blob([action.content ?? ''], { type: action.contentType ?? 'application/octet-stream' })) : undefined;
  const link = document.createElement('a');
  link.href = action.url ?? blobUrl ?? '';
  link.download = action.filename;
  link.click();
  // The browser reads the blob when the click is handled, after this task.
  if (blobUrl) setTimeout(() => URL.revokeObjectURL?.(blobUrl), 0);
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isOptional = (value: unknown, check: (value: unknown) => boolean): boolean => value === undefined || check(value);

function isAction(value: unknown): value is ClientAction {
  if (typeof value !== 'object' || value === null) return false;
  const a = value as Record<string, unknown>;
  switch (a.type) {
    case 'redirect':
      return isString(a.to) && isOptional(a.replace, (r) => typeof r === 'boolean');
    case 'toast':
      return isString(a.message) && TOAST_LEVELS.has(a.level as string);
    case 'download':
      return isString(a.filename) && isOptional(a.url, isString) && isOptional(a.content, isString) && isOptional(a.contentType, isString);
    case 'call':
      return isString(a.name) && Array.isArray(a.args);
    default:
      return false;
  }
}
