import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRedisStateManager } from '@strata/state/server';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRedisThrottle, createUser, databaseSessionStore, redisSessionStore, Session, type SessionStore, User } from '../index.js';
import { type Browser, closeDatabase, databases, openDatabase, rawSocket, rawState, sameBrowserOn, startApp, type TestApp, within } from './harness.js';

const PASSWORD = 'vermilion tugboat orbit';
const NEW_PASSWORD = 'saffron lighthouse drift';
const BAD_TOKEN = { code: 'STRATA_AUTH_BAD_TOKEN', message: 'This reset link is invalid, expired or already used; ask for a new one.' };
const redisUrl = process.env.STRATA_TEST_REDIS_URL;
if (!redisUrl) console.info('sessions.test: STRATA_TEST_REDIS_URL is not set; the two-worker Redis tests are skipped.');

async function page(t: TestApp): Promise<Browser> {
  const browser = t.browser();
  await browser.open();
  return browser;
}

async function signedIn(t: TestApp, login = 'alice@example.com', password = PASSWORD): Promise<Browser> {
  const browser = await page(t);
  expect(await browser.request('POST', '/auth/login', { login, password })).toMatchObject({ status: 200 });
  return browser;
}

/** The token of the last reset link `t` sent. */
const lastToken = (t: TestApp) => new URL(t.mail.at(-1)!.link).searchParams.get('token')!;

/** The database store, which fails every call while `down` is set. */
function switchableStore() {
  const inner = databaseSessionStore();
  const control = { down: false };
  const check = () => {
    if (control.down) throw new Error('session store unreachable');
  };
  const store: SessionStore = {
    get: async (key) => (check(), inner.get(key)),
    save: async (record) => (check(), inner.save(record)),
    delete: async (key) => (check(), inner.delete(key)),
    take: async (key) => (check(), inner.take(key)),
    deleteForUser: async (userId, except) => (check(), inner.deleteForUser(userId, except)),
  };
  return { store, control };
}

describe.each(databases)('auth sessions on $name', (db) => {
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    await Session.objects.delete();
    await User.objects.delete();
  });

  describe('password reset', () => {
    it('links to the configured site whatever the Host headers say; the token works once', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      const asked = await browser.request('POST', '/auth/password/reset', { email: 'Alice@Example.com' }, { host: 'evil.example', 'x-forwarded-host': 'evil.example' });
      expect(asked).toMatchObject({ status: 202, body: { ok: true } });
      expect(t.mail).toHaveLength(1);
      expect(t.mail[0]!.email).toBe('alice@example.com');
      expect(t.mail[0]!.link.startsWith('https://shop.example/reset-password?token=')).toBe(true);
      const token = lastToken(t);
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token, password: NEW_PASSWORD })).toMatchObject({ status: 200, body: { ok: true } });
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token, password: 'another fine passphrase' })).toMatchObject({ status: 400, body: { error: BAD_TOKEN } });
      expect(await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD })).toMatchObject({ status: 401 });
      expect(await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: NEW_PASSWORD })).toMatchObject({ status: 200 });
    });

    it('refuses an expired token', async () => {
      const t = await startApp({ resetTtlMs: 50 });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      await browser.request('POST', '/auth/password/reset', { email: 'alice@example.com' });
      // Tokens carry their issue time in whole seconds: past a second and 50 ms it has expired.
      await sleep(1_100);
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token: lastToken(t), password: NEW_PASSWORD })).toMatchObject({ status: 400, body: { error: BAD_TOKEN } });
      expect(await t.auth.authenticate('alice@example.com', PASSWORD, '10.6.0.1')).toMatchObject({ email: 'alice@example.com' });
    });

    it('refuses a token of one user presented with another user’s id, and the token still works for its own user', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const bob = await createUser({ email: 'bob@example.com', password: PASSWORD });
      const browser = await page(t);
      await browser.request('POST', '/auth/password/reset', { email: 'alice@example.com' });
      const token = lastToken(t);
      const tampered = token.replace(/^\d+\./, `${bob.id}.`);
      expect(tampered).not.toBe(token);
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token: tampered, password: NEW_PASSWORD })).toMatchObject({ status: 400, body: { error: BAD_TOKEN } });
      expect(await t.auth.authenticate('bob@example.com', PASSWORD, '10.6.0.2')).toMatchObject({ email: 'bob@example.com' });
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token, password: NEW_PASSWORD })).toMatchObject({ status: 200 });
    });

    it('spends a token when its user signs in after it was made', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      await browser.request('POST', '/auth/password/reset', { email: 'alice@example.com' });
      const token = lastToken(t);
      await signedIn(t);
      expect(await browser.request('POST', '/auth/password/reset/confirm', { token, password: NEW_PASSWORD })).toMatchObject({ status: 400, body: { error: BAD_TOKEN } });
    });

    it('ends every session of the user: their socket closes 4403 and their cookie is anonymous', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const phone = await signedIn(t);
      const laptop = await signedIn(t);
      const sockets = [await rawSocket(phone), await rawSocket(laptop)];
      const stranger = await page(t);
      await stranger.request('POST', '/auth/password/reset', { email: 'alice@example.com' });
      expect(await stranger.request('POST', '/auth/password/reset/confirm', { token: lastToken(t), password: NEW_PASSWORD })).toMatchObject({ status: 200 });
      for (const socket of sockets) expect(await within(3_000, socket.closed)).toBe(4403);
      for (const browser of [phone, laptop]) expect((await browser.request('GET', '/auth/me')).body).toEqual({ user: null });
      expect(await Session.objects.filter({ userId: { isNull: false } }).count()).toBe(0);
    });

    it('answers an unknown, inactive or malformed e-mail the same 202 and sends nothing', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'ivy@example.com', password: PASSWORD });
      await User.objects.filter({ email: 'ivy@example.com' }).update({ isActive: false });
      const browser = await page(t);
      for (const email of ['nobody@example.com', 'ivy@example.com', 'not an e-mail']) {
        const answer = await browser.request('POST', '/auth/password/reset', { email });
        expect({ status: answer.status, body: answer.body }).toEqual({ status: 202, body: { ok: true } });
      }
      expect(t.mail).toEqual([]);
    });

    it('ends a pending sign-in exchange of the user too (regression: a code made with the old password survived the reset)', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      // Someone who knows the old password starts a sign-in over the socket...
      const intruder = await page(t);
      const socket = await rawSocket(intruder);
      const code = ((await socket.call('auth', 'login', { login: 'alice@example.com', password: PASSWORD })).value as { exchange: string }).exchange;
      // ...then the owner resets the password, which must end every way into the account.
      const owner = await page(t);
      await owner.request('POST', '/auth/password/reset', { email: 'alice@example.com' });
      expect(await owner.request('POST', '/auth/password/reset/confirm', { token: lastToken(t), password: NEW_PASSWORD })).toMatchObject({ status: 200 });
      const exchanged = await intruder.request('POST', '/auth/exchange', { code });
      expect(exchanged).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_BAD_TOKEN' } } });
      expect((await intruder.request('GET', '/auth/me')).body).toEqual({ user: null });
    });
  });

  describe('cookies and join tokens', () => {
    it('treats a forged, malformed or 10 KB session cookie as anonymous and clears it', async () => {
      const t = await startApp();
      for (const value of [randomBytes(32).toString('base64url'), 'not-a-session!', 'A'.repeat(10_240)]) {
        const browser = t.browser();
        browser.cookies.set('strata_session', value);
        const me = await browser.request('GET', '/auth/me');
        expect(me).toMatchObject({ status: 200, body: { user: null } });
        expect(me.cookies.find((c) => c.name === 'strata_session')).toMatchObject({ value: '' });
        // A fresh page still gets a working session.
        expect(await browser.request('GET', '/auth/csrf')).toMatchObject({ status: 200 });
        expect(browser.cookies.get('strata_session')).toMatch(/^[\w-]{43}$/);
        expect(browser.cookies.get('strata_session')).not.toBe(value);
      }
    });

    it('treats the cookie of a signed-out session as anonymous', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await signedIn(t);
      const cookie = browser.cookies.get('strata_session')!;
      await browser.request('POST', '/auth/logout');
      browser.cookies.set('strata_session', cookie);
      const me = await browser.request('GET', '/auth/me');
      expect(me).toMatchObject({ status: 200, body: { user: null } });
      expect(me.cookies.find((c) => c.name === 'strata_session')).toMatchObject({ value: '' });
    });

    it('runs the events of a socket with a forged cookie as anonymous', async () => {
      const t = await startApp();
      const browser = t.browser();
      const forged = randomBytes(32).toString('base64url');
      browser.cookies.set('strata_session', forged);
      const token = (await browser.request('GET', '/page')).body.token as string;
      // A browser that ignores the cleared cookie keeps sending it.
      browser.cookies.set('strata_session', forged);
      const socket = await rawSocket(browser, { token });
      expect(socket.welcome.t).toBe('welcome');
      expect((await socket.call('admin', 'whoami')).error).toBeUndefined();
      expect((await rawState(socket, 'admin')).who).toBe('anonymous');
      expect((await socket.call('admin', 'staffOnly')).error).toMatchObject({ code: 'STRATA_AUTH_LOGIN_REQUIRED' });
    });

    it('refuses a join token of another session (4401 STRATA_STATE_BAD_TOKEN)', async () => {
      const t = await startApp();
      const a = await page(t);
      const b = await page(t);
      const token = (await a.request('GET', '/page')).body.token as string;
      const stolen = await rawSocket(b, { token });
      expect(stolen.welcome).toEqual({ t: 'closed', code: 4401 });
      expect(stolen.frames).toContainEqual({ t: 'error', error: { code: 'STRATA_STATE_BAD_TOKEN', message: 'The join token belongs to another session; reload the page for a new one.' } });
      expect((await rawSocket(a, { token })).welcome.t).toBe('welcome');
    });

    it('refuses the anonymous session’s join token with the signed-in cookie; the token of the sign-in works', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      const before = (await browser.request('GET', '/page')).body.token as string;
      const login = await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD });
      expect((await rawSocket(browser, { token: before })).welcome).toEqual({ t: 'closed', code: 4401 });
      const socket = await rawSocket(browser, { token: login.body.token as string });
      expect(socket.welcome.t).toBe('welcome');
      await socket.call('admin', 'whoami');
      expect((await rawState(socket, 'admin')).who).toBe('alice@example.com');
    });
  });

  describe('password change', () => {
    it('names the field at fault: a wrong current password, a weak new one', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await signedIn(t);
      expect(await browser.request('POST', '/auth/password/change', { current: 'not my password', password: NEW_PASSWORD })).toMatchObject({
        status: 400,
        body: { error: { code: 'STRATA_AUTH_INVALID', fields: { current: ['Your current password is wrong.'] } } },
      });
      const weak = await browser.request('POST', '/auth/password/change', { current: PASSWORD, password: 'password1' });
      expect(weak).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_INVALID', fields: { password: ['This password is too common.'] } } } });
      expect(await t.auth.authenticate('alice@example.com', PASSWORD, '10.7.0.1')).toMatchObject({ email: 'alice@example.com' });
    });

    it('ends the user’s other sessions and keeps the current one; the old password no longer signs in', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const laptop = await signedIn(t);
      const phone = await signedIn(t);
      const [here, there] = [await rawSocket(laptop), await rawSocket(phone)];
      expect(await laptop.request('POST', '/auth/password/change', { current: PASSWORD, password: NEW_PASSWORD })).toMatchObject({ status: 200, body: { ok: true } });
      expect(await within(3_000, there.closed)).toBe(4403);
      expect((await phone.request('GET', '/auth/me')).body).toEqual({ user: null });
      expect((await laptop.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'alice@example.com' } });
      await here.call('admin', 'whoami');
      expect((await rawState(here, 'admin')).who).toBe('alice@example.com');
      await expect(t.auth.authenticate('alice@example.com', PASSWORD, '10.7.0.2')).rejects.toMatchObject({ code: 'STRATA_AUTH_INVALID_CREDENTIALS' });
      expect(await t.auth.authenticate('alice@example.com', NEW_PASSWORD, '10.7.0.3')).toMatchObject({ email: 'alice@example.com' });
    });

    it('needs a signed-in user over the socket', async () => {
      const t = await startApp();
      const socket = await rawSocket(await page(t));
      expect((await socket.call('auth', 'changePassword', { current: PASSWORD, password: NEW_PASSWORD })).error).toEqual({ code: 'STRATA_AUTH_LOGIN_REQUIRED', message: 'Sign in to do this.' });
    });
  });

  it('fails closed while the session store is down: events refused with STRATA_AUTH_UNAVAILABLE, routes 503; works again after', async () => {
    const { store, control } = switchableStore();
    // No cache, so every event and request reads the store (a cached session is trusted for cacheMs).
    const t = await startApp({ store, cacheMs: 0 });
    await createUser({ email: 'bob@example.com', password: PASSWORD, isStaff: true });
    const browser = await signedIn(t, 'bob@example.com');
    const socket = await rawSocket(browser);
    const unavailable = { code: 'STRATA_AUTH_UNAVAILABLE', message: 'Sign-in is unavailable right now; try again shortly.' };

    control.down = true;
    expect((await socket.call('admin', 'whoami')).error).toEqual(unavailable);
    expect((await socket.call('admin', 'staffOnly')).error).toEqual(unavailable);
    for (const [method, url] of [['GET', '/auth/me'], ['GET', '/auth/csrf'], ['POST', '/auth/logout'], ['POST', '/auth/login']] as const) {
      expect(await browser.request(method, url, method === 'POST' ? { login: 'bob@example.com', password: PASSWORD } : undefined)).toMatchObject({ status: 503, body: { error: unavailable } });
    }

    control.down = false;
    expect((await rawState(socket, 'admin'))).toMatchObject({ who: '', touched: 0 });
    expect((await socket.call('admin', 'staffOnly')).error).toBeUndefined();
    await socket.call('admin', 'whoami');
    expect(await rawState(socket, 'admin')).toMatchObject({ who: 'bob@example.com', touched: 1 });
    expect((await browser.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'bob@example.com' } });
  });

  describe.skipIf(!redisUrl)('two workers sharing Redis', () => {
    const base = `strata-test:${randomBytes(6).toString('hex')}:`;
    let n = 0;
    afterAll(async () => {
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${base}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });

    /** Two apps sharing sessions, throttling and tabs through Redis under a prefix of their own. */
    async function workers(): Promise<[TestApp, TestApp, string]> {
      const prefix = `${base}${++n}:`;
      const worker = () =>
        startApp({
          store: redisSessionStore({ redis: redisUrl!, prefix: `${prefix}session:` }),
          throttle: createRedisThrottle({ redis: redisUrl!, prefix: `${prefix}throttle:` }),
          manager: createRedisStateManager({ redis: redisUrl!, prefix: `${prefix}tab:` }),
        });
      return [await worker(), await worker(), prefix];
    }

    it('signs in on one worker and out on the other: the cookie works on both, and the sign-out closes the sockets of both', async () => {
      const [a, b] = await workers();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const onA = await signedIn(a);
      const onB = sameBrowserOn(onA, b);
      expect((await onB.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'alice@example.com' } });
      const [socketA, socketB] = [await rawSocket(onA), await rawSocket(onB)];
      await socketB.call('admin', 'whoami');
      expect((await rawState(socketB, 'admin')).who).toBe('alice@example.com');
      expect(await onA.request('POST', '/auth/logout')).toMatchObject({ status: 200 });
      expect(await within(3_000, socketA.closed)).toBe(4403);
      expect(await within(3_000, socketB.closed)).toBe(4403);
      expect((await onB.request('GET', '/auth/me')).body).toEqual({ user: null });
    });

    it('ends a user’s sessions from one worker: the socket on the other closes 4403', async () => {
      const [a, b] = await workers();
      const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
      const socket = await rawSocket(sameBrowserOn(await signedIn(a), b));
      await a.auth.endUserSessions(alice.id);
      expect(await within(3_000, socket.closed)).toBe(4403);
    });

    it('shares throttling counts: 3 failures on one worker and 2 on the other, then the 6th is throttled', async () => {
      const [a, b] = await workers();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const onA = await page(a);
      const onB = sameBrowserOn(onA, b);
      const attempt = (browser: Browser) => browser.request('POST', '/auth/login', { login: 'alice@example.com', password: 'not the password at all' });
      for (const browser of [onA, onA, onA, onB, onB]) expect((await attempt(browser)).status).toBe(401);
      expect(await attempt(onB)).toMatchObject({ status: 429, body: { error: { code: 'STRATA_AUTH_THROTTLED' } } });
      expect((await attempt(onA)).status).toBe(429);
    });

    it('drops a cached user at once when a deactivation is made on this worker (regression: with a Redis state manager the drop waited for the Redis round trip)', async () => {
      const [a] = await workers();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const cookie = (await signedIn(a)).cookies.get('strata_session')!;
      // Whatever the sign-in published has arrived; the session is cached.
      await sleep(50);
      expect((await a.auth.core.users.resolve(cookie)).user).toMatchObject({ email: 'alice@example.com' });
      await User.objects.filter({ email: 'alice@example.com' }).update({ isActive: false });
      // The next event's middleware resolves its session exactly so: it must not run as the deactivated user.
      expect((await a.auth.core.users.resolve(cookie)).user).toBeNull();
    });

    it('lets the per-user set of session keys expire with the sessions (regression: PEXPIRE GT never set a TTL on a new set)', async () => {
      const [a, , prefix] = await workers();
      const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
      await signedIn(a);
      const redis = new Redis(redisUrl!);
      try {
        expect(await redis.scard(`${prefix}session:u:${alice.id}`)).toBe(1);
        const ttl = await redis.pttl(`${prefix}session:u:${alice.id}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(a.auth.core.sessionTtlMs);
      } finally {
        redis.disconnect();
      }
    });
  });
});
