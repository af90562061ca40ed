import { performance } from 'node:perf_hooks';
import { hash } from '@node-rs/argon2';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AuthError, createAuth, createUser, Session, User } from '../index.js';
import { closeDatabase, databases, openDatabase, rawSocket, requestFrom, SECRET, startApp, type TestApp } from './harness.js';

const PASSWORD = 'vermilion tugboat orbit';
const WRONG = 'not the password at all';
const INVALID_CREDENTIALS = { code: 'STRATA_AUTH_INVALID_CREDENTIALS', message: 'The login or password is wrong.' };
const JSON_HEADERS = { 'content-type': 'application/json' };

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A browser of `t` with a session and its CSRF token. */
async function page(t: TestApp) {
  const browser = t.browser();
  await browser.open();
  return browser;
}

describe.each(databases)('auth security on $name', (db) => {
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    await Session.objects.delete();
    await User.objects.delete();
  });

  describe('credentials', () => {
    it('refuses a wrong password, an unknown user and an inactive user with one answer, over HTTP and over the socket', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      await createUser({ email: 'ivy@example.com', password: PASSWORD });
      await User.objects.filter({ email: 'ivy@example.com' }).update({ isActive: false });
      const attempts = [
        { login: 'alice@example.com', password: WRONG },
        { login: 'nobody@example.com', password: PASSWORD },
        { login: 'ivy@example.com', password: PASSWORD },
        { login: 'ivy@example.com', password: WRONG },
      ];
      const browser = await page(t);
      for (const attempt of attempts) {
        expect(await browser.request('POST', '/auth/login', attempt)).toMatchObject({ status: 401, body: { error: INVALID_CREDENTIALS } });
      }
      const socket = await rawSocket(browser);
      for (const attempt of attempts) expect((await socket.call('auth', 'login', attempt)).error).toEqual(INVALID_CREDENTIALS);
      // Only the page's anonymous session exists; nobody was signed in.
      expect(await Session.objects.filter({ userId: { isNull: false } }).count()).toBe(0);
      expect((await User.objects.get({ email: 'ivy@example.com' })).lastLogin).toBeNull();
      expect(await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD })).toMatchObject({ status: 200 });
    });

    it('signs in with a username or the e-mail, and refuses a username with an @ (regression: such a username was looked up as an e-mail and could never sign in)', async () => {
      const t = await startApp();
      await createUser({ email: 'bob@example.com', username: 'bob', password: PASSWORD });
      expect(await t.auth.authenticate('bob', PASSWORD, '10.0.9.1')).toMatchObject({ email: 'bob@example.com' });
      expect(await t.auth.authenticate('BOB@Example.com', PASSWORD, '10.0.9.2')).toMatchObject({ email: 'bob@example.com' });
      await expect(createUser({ email: 'dora@example.com', username: 'dora@home', password: PASSWORD })).rejects.toMatchObject({ code: 'STRATA_AUTH_INVALID', fields: { username: [expect.any(String)] } });
      expect(await User.objects.count()).toBe(1);
    });

    it('takes as long to refuse an unknown account as a wrong password (median of 7, ratio within 0.5–2)', async () => {
      const t = await startApp({ throttle: { limit: 1000 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const refusal = async (login: string, attempt: number) => {
        const start = performance.now();
        await expect(t.auth.authenticate(login, WRONG, `10.1.0.${attempt}`)).rejects.toMatchObject(INVALID_CREDENTIALS);
        return performance.now() - start;
      };
      // The dummy hash of unknown accounts is made on first use: warm both paths.
      await refusal('nobody@example.com', 0);
      await refusal('alice@example.com', 0);
      const unknown: number[] = [];
      const wrong: number[] = [];
      for (let attempt = 1; attempt <= 7; attempt++) {
        unknown.push(await refusal(`nobody${attempt}@example.com`, attempt));
        wrong.push(await refusal('alice@example.com', attempt));
      }
      const ratio = median(unknown) / median(wrong);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2);
    });

    const garbage: [string, string, string][] = [
      ['a number as login', '{"login":42,"password":"x"}', 'login'],
      ['null as password', '{"login":"alice@example.com","password":null}', 'password'],
      ['an object as login (operator injection)', '{"login":{"$ne":null},"password":"x"}', 'login'],
      ['an array as password', '{"login":"alice@example.com","password":["a","b"]}', 'password'],
      ['a missing password', '{"login":"alice@example.com"}', 'password'],
      ['an extra field', '{"login":"alice@example.com","password":"x","isStaff":true}', 'isStaff'],
      ['a JSON null body', 'null', '__all__'],
      ['a JSON number body', '42', '__all__'],
      ['a JSON string body', '"alice@example.com"', '__all__'],
    ];
    it.each(garbage)('answers 400 STRATA_AUTH_INVALID to a login with %s, naming the field', async (_, payload, field) => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const answer = await (await page(t)).request('POST', '/auth/login', payload, JSON_HEADERS);
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_INVALID' } } });
      expect(Object.keys((answer.body.error as { fields: object }).fields)).toContain(field);
      expect(await Session.objects.filter({ userId: { isNull: false } }).count()).toBe(0);
    });

    it('answers 400 STRATA_AUTH_INVALID, not fastify’s bare parser error, to a body with a __proto__ key, and creates nothing', async () => {
      const t = await startApp();
      const browser = await page(t);
      const payload = `{"email":"eve@example.com","password":"${PASSWORD}","__proto__":{"isStaff":true,"isSuperuser":true}}`;
      const answer = await browser.request('POST', '/auth/register', payload, JSON_HEADERS);
      expect(await User.objects.count()).toBe(0);
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_INVALID' } } });
    });

    it('treats SQL-looking input as plain text: a refused sign-in, an invalid e-mail, nothing created or changed', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      for (const login of ["' OR 1=1 --", "alice@example.com' --", '" OR ""="']) {
        expect(await browser.request('POST', '/auth/login', { login, password: "' OR '1'='1" })).toMatchObject({ status: 401, body: { error: INVALID_CREDENTIALS } });
      }
      const registered = await browser.request('POST', '/auth/register', { email: "x@example.com'; DROP TABLE auth_user; --", password: PASSWORD });
      expect(registered).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_INVALID', fields: { email: ['Enter a valid e-mail address.'] } } } });
      expect(await User.objects.values('email')).toEqual([{ email: 'alice@example.com' }]);
    });

    it('refuses garbage over the socket with typed errors from the handler schema and the frame parser, running nothing', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const socket = await rawSocket(await page(t));
      for (const args of [{ login: 42, password: 'x' }, { login: 'alice@example.com', password: null }, { login: 'alice@example.com' }, null, ['alice@example.com', PASSWORD], { login: 'alice@example.com', password: PASSWORD, isStaff: true }]) {
        expect((await socket.call('auth', 'login', args)).error).toMatchObject({ code: 'STRATA_STATE_BAD_ARGS', message: 'auth.login was called with invalid arguments.' });
      }
      expect((await socket.call('auth', 'register', { email: 'eve@example.com', password: PASSWORD, isSuperuser: true })).error).toMatchObject({ code: 'STRATA_STATE_BAD_ARGS', fields: { isSuperuser: [expect.any(String)] } });
      expect((await socket.call('auth', 'login', { login: "' OR 1=1 --", password: 'x' })).error).toEqual(INVALID_CREDENTIALS);
      socket.send(`{"t":"event","seq":99,"state":"auth","handler":"register","args":{"email":"eve@example.com","password":"${PASSWORD}","__proto__":{"isStaff":true}}}`);
      expect(await socket.next((f) => f.seq === 99)).toMatchObject({ t: 'error', error: { code: 'STRATA_STATE_BAD_FRAME' } });
      expect(await User.objects.values('email')).toEqual([{ email: 'alice@example.com' }]);
      // Still serving this socket.
      expect((await socket.call('auth', 'refresh')).error).toBeUndefined();
    });

    it('refuses a 1 MB password over HTTP before hashing it (400 on password, under 500 ms)', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      const huge = 'x'.repeat(1_000_000);
      for (const [url, body] of [['/auth/login', { login: 'alice@example.com', password: huge }], ['/auth/register', { email: 'eve@example.com', password: huge }]] as const) {
        const start = performance.now();
        const answer = await browser.request('POST', url, body);
        expect(performance.now() - start).toBeLessThan(500);
        expect(answer).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_INVALID', fields: { password: ['At most 1024 characters.'] } } } });
      }
      expect(await User.objects.count()).toBe(1);
    });

    it('refuses an over-long password over the socket: the schema under 64 KB, the frame limit above it, a close above 1 MiB; the server keeps serving', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      const socket = await rawSocket(browser);
      const start = performance.now();
      expect((await socket.call('auth', 'login', { login: 'alice@example.com', password: 'x'.repeat(60_000) })).error).toMatchObject({ code: 'STRATA_STATE_BAD_ARGS', fields: { password: ['At most 1024 characters.'] } });
      expect(performance.now() - start).toBeLessThan(500);
      socket.send({ t: 'event', seq: 50, state: 'auth', handler: 'login', args: { login: 'alice@example.com', password: 'x'.repeat(1_000_000) } });
      expect(await socket.next((f) => f.t === 'error')).toMatchObject({ error: { code: 'STRATA_STATE_FRAME_TOO_LARGE' } });
      expect((await socket.call('admin', 'whoami')).error).toBeUndefined();
      socket.send({ t: 'event', seq: 51, state: 'auth', handler: 'login', args: { login: 'alice@example.com', password: 'x'.repeat(2_000_000) } });
      expect(await socket.closed).toBe(1009);
      const other = await rawSocket(browser);
      expect(await other.call('admin', 'whoami')).toMatchObject({ t: 'result', patch: { admin: expect.anything() } });
    });
  });

  describe('CSRF', () => {
    it('refuses login, logout and password change without the session token, with a wrong one or with another session’s, and nothing happens', async () => {
      const t = await startApp({ throttle: { limit: 100 } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      const other = await page(t);
      const csrf = { code: 'STRATA_AUTH_CSRF', message: 'This form expired or came from another site; reload the page and try again.' };
      const credentials = { login: 'alice@example.com', password: PASSWORD };
      for (const token of ['', 'x'.repeat(43), other.csrf]) {
        expect(await browser.request('POST', '/auth/login', credentials, { 'x-csrf-token': token })).toEqual(expect.objectContaining({ status: 403, body: { error: csrf } }));
      }
      expect((await User.objects.get({ email: 'alice@example.com' })).lastLogin).toBeNull();
      expect((await browser.request('GET', '/auth/me')).body).toEqual({ user: null });

      expect(await browser.request('POST', '/auth/login', credentials)).toMatchObject({ status: 200 });
      const changed = { current: PASSWORD, password: 'a brand new passphrase' };
      for (const token of ['', 'x'.repeat(43), other.csrf]) {
        expect(await browser.request('POST', '/auth/logout', undefined, { 'x-csrf-token': token })).toMatchObject({ status: 403, body: { error: csrf } });
        expect(await browser.request('POST', '/auth/password/change', changed, { 'x-csrf-token': token })).toMatchObject({ status: 403, body: { error: csrf } });
      }
      expect((await browser.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'alice@example.com' } });
      expect(await t.auth.authenticate('alice@example.com', PASSWORD, '10.2.0.1')).toMatchObject({ email: 'alice@example.com' });
    });

    it('needs no token on GET routes, and lets a csrfExempt route through while the others still refuse', async () => {
      const t = await startApp({ csrfExempt: (request) => request.routeOptions.url === '/auth/password/reset' });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const stranger = t.browser();
      expect(await stranger.request('GET', '/auth/me')).toMatchObject({ status: 200, body: { user: null } });
      expect(await stranger.request('GET', '/auth/csrf')).toMatchObject({ status: 200, body: { csrf: expect.any(String) } });
      expect(await stranger.request('POST', '/auth/password/reset', { email: 'alice@example.com' }, { 'x-csrf-token': '' })).toMatchObject({ status: 202 });
      expect(t.mail).toHaveLength(1);
      expect(await stranger.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD }, { 'x-csrf-token': '' })).toMatchObject({ status: 403, body: { error: { code: 'STRATA_AUTH_CSRF' } } });
    });

    // Forms are not parsed by the plugin (application/x-www-form-urlencoded answers 415), so the
    // documented `_csrf` field is sent in a JSON body here.
    it('takes the token from a _csrf body field on logout and on login (regression: the strict login schema refused _csrf)', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD });
      const signedInToken = browser.csrf;
      browser.csrf = '';
      expect(await browser.request('POST', '/auth/logout', { _csrf: 'x'.repeat(43) })).toMatchObject({ status: 403 });
      expect(await browser.request('POST', '/auth/logout', { _csrf: signedInToken })).toMatchObject({ status: 200, body: { user: null } });
      expect((await browser.request('GET', '/auth/me')).body).toEqual({ user: null });

      await browser.open();
      const token = browser.csrf;
      browser.csrf = '';
      const signedIn = await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD, _csrf: token });
      expect(signedIn).toMatchObject({ status: 200, body: { user: { email: 'alice@example.com' } } });
    });
  });

  describe('throttling', () => {
    it('lets exactly 5 of 100 concurrent sign-ins for one account reach the password check; the rest get 429 with retry-after', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      for (const login of ['alice@example.com', 'nobody@example.com']) {
        const browser = await page(t);
        // Each from its own address, so only the account's budget counts.
        const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => requestFrom(browser, `10.3.${i >> 8}.${i & 255}`, 'POST', '/auth/login', { login, password: WRONG })));
        expect(answers.filter((a) => a.status === 401).map((a) => a.body)).toEqual(Array(5).fill({ error: INVALID_CREDENTIALS }));
        const throttled = answers.filter((a) => a.status === 429);
        expect(throttled).toHaveLength(95);
        for (const answer of throttled) {
          expect(answer.body).toMatchObject({ error: { code: 'STRATA_AUTH_THROTTLED', message: expect.stringMatching(/^Too many attempts; try again in \d+ s\.$/) } });
          expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
          expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(60);
        }
      }
      expect(await (await page(t)).request('GET', '/auth/me')).toMatchObject({ status: 200, body: { user: null } });
    });

    it('limits one address across accounts, and not another address', async () => {
      const t = await startApp();
      const browser = await page(t);
      const attempt = (ip: string, n: number) => requestFrom(browser, ip, 'POST', '/auth/login', { login: `user${n}@example.com`, password: WRONG });
      for (let n = 1; n <= 5; n++) expect((await attempt('10.4.0.1', n)).status).toBe(401);
      expect(await attempt('10.4.0.1', 6)).toMatchObject({ status: 429, body: { error: { code: 'STRATA_AUTH_THROTTLED' } } });
      expect((await attempt('10.4.0.2', 6)).status).toBe(401);
    });

    it('fails closed when the throttle store is down: 503 STRATA_AUTH_UNAVAILABLE, the password never checked', async () => {
      const down = async () => {
        throw new Error('redis down');
      };
      const t = await startApp({ throttle: { hit: down, reset: down, close: async () => undefined } });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = await page(t);
      expect(await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD })).toMatchObject({ status: 503, body: { error: { code: 'STRATA_AUTH_UNAVAILABLE' } } });
      expect((await User.objects.get({ email: 'alice@example.com' })).lastLogin).toBeNull();
    });
  });

  it('re-hashes a password stored with older argon2 parameters at sign-in', async () => {
    const t = await startApp();
    await createUser({ email: 'alice@example.com', password: PASSWORD });
    await User.objects.filter({ email: 'alice@example.com' }).update({ password: await hash(PASSWORD, { algorithm: 2, memoryCost: 4096, timeCost: 3 }) });
    expect((await User.objects.get({ email: 'alice@example.com' })).password).toMatch(/^\$argon2id\$v=19\$m=4096,t=3,p=1\$/);
    expect(await (await page(t)).request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD })).toMatchObject({ status: 200 });
    expect((await User.objects.get({ email: 'alice@example.com' })).password).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await t.auth.authenticate('alice@example.com', PASSWORD, '10.5.0.1')).toMatchObject({ email: 'alice@example.com' });
  });

  describe('configuration', () => {
    it('sets a Secure, HttpOnly, SameSite=Lax session cookie in production', async () => {
      const t = await startApp({ production: true });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const browser = t.browser();
      const anonymous = await browser.request('GET', '/auth/csrf');
      const signedIn = await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD });
      for (const answer of [anonymous, signedIn]) {
        expect(answer.cookies.find((c) => c.name === 'strata_session')).toMatchObject({ secure: true, httpOnly: true, sameSite: 'Lax', path: '/' });
      }
    });

    it('refuses unsafe options with STRATA_AUTH_CONFIG', () => {
      const config = expect.objectContaining({ code: 'STRATA_AUTH_CONFIG' });
      const make = (options: Partial<Parameters<typeof createAuth>[0]>) => () => createAuth({ secret: SECRET, siteOrigin: 'https://shop.example', ...options });
      expect(make({ production: true })).toThrow(config);
      expect(make({ secret: 'x'.repeat(31) })).toThrow(config);
      expect(make({ secret: Buffer.alloc(16) })).toThrow(config);
      expect(make({ siteOrigin: 'not a url' })).toThrow(config);
      expect(make({ siteOrigin: 'javascript:alert(1)' })).toThrow(config);
      expect(make({ throttle: { limit: 0 } })).toThrow(config);
      expect(make({ production: true })).toThrow(AuthError);
      // The bounds themselves are accepted.
      expect(make({ secret: 'x'.repeat(32) })).not.toThrow();
      expect(make({ production: true, sendPasswordReset: () => undefined })).not.toThrow();
    });
  });
});
