import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Session, User } from '../models.js';
import { createUser } from '../users.js';
import { closeDatabase, databases, openDatabase, startApp, type TestApp } from './harness.js';

const PASSWORD = 'vermilion tugboat orbit';

describe.each(databases)('auth flows on $name', (db) => {
  let t: TestApp;
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    await Session.objects.delete();
    await User.objects.delete();
    t = await startApp();
  });

  it('registers, signs out and signs in over HTTP with an HttpOnly, SameSite=Lax cookie whose key rotates', async () => {
    const browser = t.browser();
    await browser.open();
    const anonymous = browser.cookies.get('strata_session');
    expect(anonymous).toBeDefined();
    const registered = await browser.request('POST', '/auth/register', { email: ' Alice@Example.com ', password: PASSWORD, name: 'Alice' });
    expect(registered).toMatchObject({ status: 200, body: { user: { email: 'alice@example.com', name: 'Alice', isStaff: false } } });
    const cookie = registered.cookies.find((c) => c.name === 'strata_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
    expect(cookie.secure).toBeFalsy();
    expect(cookie.value).not.toBe(anonymous);
    // The anonymous session ended with the sign-in: its key opens nothing any more.
    expect(await Session.objects.count()).toBe(1);
    expect((await browser.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'alice@example.com' } });

    expect((await browser.request('POST', '/auth/logout')).status).toBe(200);
    expect(browser.cookies.has('strata_session')).toBe(false);
    expect((await browser.request('GET', '/auth/me')).body).toEqual({ user: null });

    await browser.open();
    const signedIn = await browser.request('POST', '/auth/login', { login: 'alice@example.com', password: PASSWORD });
    expect(signedIn).toMatchObject({ status: 200, body: { user: { email: 'alice@example.com' }, csrf: expect.any(String), token: expect.any(String) } });
    expect((await User.objects.get({ email: 'alice@example.com' })).lastLogin).toBeInstanceOf(Date);
  });

  it('resolves the user from the session on every event; a sign-out elsewhere closes the socket and a deactivation takes effect on the next event', async () => {
    await createUser({ email: 'bob@example.com', password: PASSWORD });
    const phone = t.browser();
    await phone.open();
    await phone.request('POST', '/auth/login', { login: 'bob@example.com', password: PASSWORD });
    const socket = await phone.socket();
    await socket.call('admin', 'whoami');
    expect((await socket.state('admin')).who).toBe('bob@example.com');

    // Deactivated through the ORM (an admin screen): the next event is anonymous.
    await User.objects.filter({ email: 'bob@example.com' }).update({ isActive: false });
    expect(await socket.call('admin', 'staffOnly')).toMatchObject({ error: { code: 'STRATA_AUTH_LOGIN_REQUIRED' } });
    await User.objects.filter({ email: 'bob@example.com' }).update({ isActive: true });

    const laptop = t.browser();
    await laptop.open();
    await laptop.request('POST', '/auth/login', { login: 'bob@example.com', password: PASSWORD });
    const other = await laptop.socket();
    await other.call('admin', 'whoami');
    expect((await other.state('admin')).who).toBe('bob@example.com');
    await laptop.request('POST', '/auth/logout');
    expect(await other.closed).toBe(4403);
  });

  it('signs in over the socket through a one-time HTTP exchange, then a new tab of the new session', async () => {
    await createUser({ email: 'carol@example.com', password: PASSWORD });
    const browser = t.browser();
    await browser.open();
    const socket = await browser.socket();
    const answer = await socket.call('auth', 'login', { login: 'carol@example.com', password: PASSWORD });
    const code = (answer.value as { exchange: string }).exchange;
    expect(code).toMatch(/^[\w-]{43}$/);

    // Another browser (another session) cannot use the code.
    const thief = t.browser();
    await thief.open();
    expect(await thief.request('POST', '/auth/exchange', { code })).toMatchObject({ status: 400, body: { error: { code: 'STRATA_AUTH_BAD_TOKEN' } } });

    const exchanged = await browser.request('POST', '/auth/exchange', { code });
    expect(exchanged).toMatchObject({ status: 200, body: { user: { email: 'carol@example.com' }, token: expect.any(String) } });
    expect(exchanged.cookies.find((c) => c.name === 'strata_session')).toMatchObject({ httpOnly: true });
    // Single use.
    expect((await browser.request('POST', '/auth/exchange', { code })).status).toBe(400);
    // The anonymous tab ended with its session; the new tab is joined with the token of the new session.
    expect(await socket.closed).toBe(4403);
    const fresh = await browser.socket(['auth', 'admin'], exchanged.body.token as string);
    await fresh.call('auth', 'refresh');
    expect((await fresh.state('auth')).user).toMatchObject({ email: 'carol@example.com' });
  });

  it('guards handlers: a customer gets a typed refusal over a raw socket and nothing runs', async () => {
    await createUser({ email: 'dave@example.com', password: PASSWORD });
    const browser = t.browser();
    await browser.open();
    const anonymous = await browser.socket();
    expect(await anonymous.call('admin', 'staffOnly')).toMatchObject({ error: { code: 'STRATA_AUTH_LOGIN_REQUIRED', message: expect.any(String) } });
    await browser.request('POST', '/auth/login', { login: 'dave@example.com', password: PASSWORD });
    const customer = await browser.socket();
    expect(await customer.call('admin', 'staffOnly')).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect(await customer.call('admin', 'editProduct', { id: 1 })).toMatchObject({ error: { code: 'STRATA_AUTH_PERMISSION_DENIED' } });
    expect((await customer.state('admin')).touched).toBe(0);
  });

  it('signs out this session over the socket after answering, or every session of the user with everywhere', async () => {
    await createUser({ email: 'erin@example.com', password: PASSWORD });
    const [phone, laptop] = [t.browser(), t.browser()];
    for (const browser of [phone, laptop]) {
      await browser.open();
      await browser.request('POST', '/auth/login', { login: 'erin@example.com', password: PASSWORD });
    }
    const [onPhone, onLaptop, alsoOnLaptop] = [await phone.socket(), await laptop.socket(), await laptop.socket()];
    // Only this session: the laptop stays signed in.
    expect(await onPhone.call('auth', 'logout')).toEqual({ t: 'result', seq: 1 });
    expect(await onPhone.closed).toBe(4403);
    expect((await laptop.request('GET', '/auth/me')).body).toMatchObject({ user: { email: 'erin@example.com' } });
    // Every session of the user, on every tab.
    await phone.open();
    await phone.request('POST', '/auth/login', { login: 'erin@example.com', password: PASSWORD });
    const again = await phone.socket();
    expect((await again.call('auth', 'logout', { everywhere: true })).error).toBeUndefined();
    expect(await Promise.all([again.closed, onLaptop.closed, alsoOnLaptop.closed])).toEqual([4403, 4403, 4403]);
    expect((await laptop.request('GET', '/auth/me')).body).toEqual({ user: null });
    expect(await Session.objects.filter({ userId: { isNull: false } }).count()).toBe(0);
  });
});
