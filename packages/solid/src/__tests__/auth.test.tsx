// ./server.js comes first: it must run before @strata/state/server loads (see ./nodeWs.ts).
import { createApp, listen, onTestEnd, pageWebSocket, SECRET, type TestServer } from './server.js';
import { closeDatabase, createSchema, setup } from './model.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cleanup, render, screen } from '@solidjs/testing-library';
import { createRoot } from 'solid-js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { authModels, createAuth, createUser } from '@strata/auth';
import { strataState } from '@strata/state/server';
import { type AuthSession, createAuthSession, createStrata, RequireUser } from '..';

const EMAIL = 'ann@example.com';
const PASSWORD = 'lapsang-souchong-1987';
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-solid-auth-'));
  await setup({ databaseUrl: `sqlite:${join(dir, 'auth.sqlite')}`, models: [...authModels] });
  await createSchema();
  await createUser({ email: EMAIL, password: PASSWORD, name: 'Ann' });
});
afterAll(async () => {
  await closeDatabase();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => cleanup());

/** An app wired as the auth README says. */
async function startAuthApp(): Promise<TestServer> {
  const app = createApp();
  const auth = createAuth({ secret: SECRET, siteOrigin: 'https://shop.example', sendPasswordReset: () => undefined });
  await app.register(auth.plugin);
  await app.register(strataState, { states: [auth.AuthState], secret: SECRET, middleware: [auth.middleware], bindToken: auth.bindToken });
  return listen(app);
}

/**
 * What a browser does with cookies, for Node: `fetch` sends the jar and keeps what Set-Cookie
 * answers (relative URLs resolve against the page's origin); the page's sockets send the jar too.
 */
function browser(origin: string) {
  const jar = new Map<string, string>();
  /** Every Set-Cookie answered, with the path of the request that got it. */
  const setCookies: [path: string, line: string][] = [];
  const cookieHeader = () => [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
  const browserFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (jar.size) headers.set('cookie', cookieHeader());
    const response = await fetch(new URL(String(input), origin), { ...init, headers });
    for (const line of response.headers.getSetCookie()) {
      setCookies.push([new URL(String(input), origin).pathname, line]);
      const [pair = '', ...attributes] = line.split(';');
      const name = pair.slice(0, pair.indexOf('=')).trim();
      const value = pair.slice(pair.indexOf('=') + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || (/^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]!) <= Date.now()));
      if (value === '' || expired) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }) as typeof fetch;
  return { jar, setCookies, cookieHeader, fetch: browserFetch };
}

/** A page of the app: loads its session (and join token) over HTTP, then connects. */
async function openPage() {
  const server = await startAuthApp();
  const page = browser(server.origin);
  const { token } = (await (await page.fetch('/auth/csrf')).json()) as { token: string };
  const { WebSocket } = pageWebSocket(server.origin, page.cookieHeader);
  const strata = createStrata({ url: server.wsUrl, token, WebSocket, backoff: { initialMs: 5, maxMs: 20 } });
  onTestEnd(() => strata.close());
  const session = createRoot((dispose) => {
    onTestEnd(dispose);
    return createAuthSession(strata, { fetch: page.fetch });
  });
  return { strata, page, session };
}

const waitForUser = (session: AuthSession, expected: unknown) => vi.waitFor(() => expect(session.user()).toEqual(expected), { interval: 5, timeout: 3_000 });

describe('createAuthSession against @strata/auth', () => {
  it('is undefined until known, then null for an anonymous page', async () => {
    const { session } = await openPage();
    expect(session.user()).toBeUndefined();
    await waitForUser(session, null);
  });

  it('refuses a wrong password with STRATA_AUTH_INVALID_CREDENTIALS and stays anonymous', async () => {
    const { session } = await openPage();
    await waitForUser(session, null);

    expect(await session.login({ login: EMAIL, password: 'not-the-password' })).toBeUndefined();

    expect(session.login.error()?.code).toBe('STRATA_AUTH_INVALID_CREDENTIALS');
    expect(session.login.pending()).toBe(false);
    expect(session.user()).toBeNull();
  });

  it('signs in through the HttpOnly cookie exchange and a restart, guards a view with RequireUser, and signs out', async () => {
    const { session, page } = await openPage();
    render(() => (
      <RequireUser auth={session} fallback={<p>Please sign in</p>}>
        <p>Welcome {session.user()?.name}</p>
      </RequireUser>
    ));
    await waitForUser(session, null);
    expect(screen.getByText('Please sign in')).toBeTruthy();
    const anonymousCookie = page.jar.get('strata_session');
    expect(anonymousCookie).toBeTruthy();

    expect(await session.login({ login: EMAIL, password: PASSWORD })).toBe(true);
    expect(session.login.error()).toBeUndefined();
    await waitForUser(session, expect.objectContaining({ email: EMAIL, name: 'Ann' }));

    // The exchange set a new (rotated) session cookie, HttpOnly.
    const exchangeCookies = page.setCookies.filter(([path, line]) => path === '/auth/exchange' && line.startsWith('strata_session='));
    expect(exchangeCookies).toHaveLength(1);
    expect(exchangeCookies[0]![1]).toMatch(/;\s*HttpOnly/i);
    expect(page.jar.get('strata_session')).not.toBe(anonymousCookie);
    expect(screen.getByText('Welcome Ann')).toBeTruthy();
    expect(screen.queryByText('Please sign in')).toBeNull();

    expect(await session.logout()).toBe(true);
    await waitForUser(session, null);
    expect(screen.getByText('Please sign in')).toBeTruthy();
  });

  it('sends an anonymous visitor to redirectTo through navigate', async () => {
    const { session } = await openPage();
    const navigate = vi.fn();
    render(() => (
      <RequireUser auth={session} redirectTo="/login" navigate={navigate}>
        <p>Orders</p>
      </RequireUser>
    ));
    await waitForUser(session, null);
    expect(navigate.mock.calls).toEqual([['/login', { replace: true }]]);
    expect(screen.queryByText('Orders')).toBeNull();
  });
});
