/**
 * Rules both sides apply to client actions (browser-safe: no imports). The server refuses
 * an unsafe action when the handler emits it; the client checks again before following it.
 */

const SAFE_TARGET = /^(?:\/(?![/\\])|https?:\/\/)/i;

/** A same-origin path (`/…`, not `//…` or `/\…`) or an explicit http(s) URL, with no control characters (`/\t/x` is `//x` to a browser). */
export function isSafeTarget(to: unknown): to is string {
  return typeof to === 'string' && SAFE_TARGET.test(to) && ![...to].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);
}

/** The levels of a toast action. */
export const TOAST_LEVELS: ReadonlySet<string> = new Set(['info', 'success', 'warning', 'error']);
