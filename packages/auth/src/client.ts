/**
 * The browser side of the auth layer: finishing a sign-in made over the socket. Browser-safe
 * (no server imports): it only uses `fetch`.
 */

/** What the exchange answers: the user, the new session's CSRF token, and a join token for a new tab. */
export interface SignedIn {
  user: { id: number; email: string; username: string | null; name: string; isStaff: boolean; isSuperuser: boolean } | null;
  csrf: string;
  token?: string;
}

/** An auth route refused: `code` says why (`STRATA_AUTH_BAD_TOKEN`, …). */
export class AuthRequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly fields?: Record<string, string[]>,
  ) {
    super(message);
    this.name = 'AuthRequestError';
  }
}

/** Fetches the page's session: its CSRF token and a join token (creating an anonymous session when there is none, e.g. after a sign-out). */
export async function fetchSession(options: { prefix?: string; fetch?: typeof fetch } = {}): Promise<{ csrf: string; token?: string }> {
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(`${options.prefix ?? '/auth'}/csrf`, { credentials: 'same-origin' });
  const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string }; csrf?: string; token?: string };
  if (!response.ok || !body.csrf) throw new AuthRequestError(body.error?.code ?? 'STRATA_AUTH_FAILED', body.error?.message ?? `The session could not be loaded (HTTP ${response.status}).`);
  return { csrf: body.csrf, ...(body.token ? { token: body.token } : {}) };
}

/**
 * Turns the `exchange` code a socket sign-in answered into the HttpOnly session cookie
 * (`document.cookie` never sees it). Then restart the client with the answer's `token`:
 *
 * @example
 * const { exchange } = await auth.call.login({ login, password });
 * const { token } = await completeSignIn(exchange);
 * client.restart(token!);
 */
export async function completeSignIn(code: string, options: { prefix?: string; fetch?: typeof fetch } = {}): Promise<SignedIn> {
  const doFetch = options.fetch ?? fetch;
  const response = await doFetch(`${options.prefix ?? '/auth'}/exchange`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  const body = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string; fields?: Record<string, string[]> } } & Partial<SignedIn>;
  if (!response.ok || body.error) throw new AuthRequestError(body.error?.code ?? 'STRATA_AUTH_FAILED', body.error?.message ?? `The sign-in could not be completed (HTTP ${response.status}).`, body.error?.fields);
  return body as SignedIn;
}
