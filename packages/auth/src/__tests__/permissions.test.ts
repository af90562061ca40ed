import { runInQueryScope } from '@strata/model';
import { defineState } from '@strata/state/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createSuperuser,
  createUser,
  Group,
  groupRequired,
  loginRequired,
  Permission,
  permissionRequired,
  Session,
  staffRequired,
  superuserRequired,
  syncPermissions,
  User,
  userPassesTest,
} from '../index.js';
import { type Browser, closeDatabase, databases, openDatabase, Product, rawSocket, rawState, startApp, type TestApp } from './harness.js';

const PASSWORD = 'vermilion tugboat orbit';
const DENIED = { code: 'STRATA_AUTH_PERMISSION_DENIED', message: 'You do not have permission to do this.' };

/** A state of guarded handlers; each records its name in `ran` when it runs. */
const Guarded = defineState('guarded', {
  vars: () => ({ ran: [] as string[] }),
  handlers: (h) => ({
    superOnly: h.event({ guard: superuserRequired, run: (s) => void (s.ran = [...s.ran, 'superOnly']) }),
    editors: h.event({ guard: groupRequired('editors', 'admins'), run: (s) => void (s.ran = [...s.ran, 'editors']) }),
    vip: h.event({ guard: userPassesTest(async (user) => user.email.endsWith('@vip.example'), 'Members of the VIP club only.'), run: (s) => void (s.ran = [...s.ran, 'vip']) }),
    edit: h.event({ guard: [loginRequired, permissionRequired('shop.change_product')], run: (s) => void (s.ran = [...s.ran, 'edit']) }),
    purge: h.event({ guard: permissionRequired('shop.delete_product', 'auth.delete_user'), run: (s) => void (s.ran = [...s.ran, 'purge']) }),
  }),
});

// The ModelState case (`defineModelState` with `guards: { delete: staffRequired }`) is left out:
// it needs a serializer, and @strata/serializer is not a dependency of @strata/auth, so it does
// not resolve from packages/auth.

async function signedIn(t: TestApp, login: string): Promise<Browser> {
  const browser = t.browser();
  await browser.open();
  expect(await browser.request('POST', '/auth/login', { login, password: PASSWORD })).toMatchObject({ status: 200 });
  return browser;
}

/** A signed-in socket of `login` on the guarded state. */
const socketOf = async (t: TestApp, login: string) => rawSocket(await signedIn(t, login), { states: ['guarded', 'admin'] });

describe.each(databases)('auth permissions on $name', (db) => {
  beforeAll(() => openDatabase(db));
  afterAll(() => closeDatabase(db));
  beforeEach(async () => {
    await Session.objects.delete();
    await User.objects.delete();
    await Group.objects.delete();
    await Permission.objects.delete();
  });

  describe('guards', () => {
    it('refuses a customer a staff-only handler over a raw socket, and nothing runs; staff pass', async () => {
      const t = await startApp();
      await createUser({ email: 'carl@example.com', password: PASSWORD });
      await createUser({ email: 'sam@example.com', password: PASSWORD, isStaff: true });
      const customer = await rawSocket(await signedIn(t, 'carl@example.com'));
      const answer = await customer.call('admin', 'staffOnly');
      expect(answer).toMatchObject({ t: 'result', error: { code: 'STRATA_AUTH_PERMISSION_DENIED', message: 'Only staff can do this.' } });
      expect(answer.patch).toBeUndefined();
      expect((await rawState(customer, 'admin')).touched).toBe(0);
      const staff = await rawSocket(await signedIn(t, 'sam@example.com'));
      expect((await staff.call('admin', 'staffOnly')).error).toBeUndefined();
      expect((await rawState(staff, 'admin')).touched).toBe(1);
    });

    it('passes superuserRequired for a superuser only (not staff)', async () => {
      const t = await startApp({ states: [Guarded] });
      await createUser({ email: 'sam@example.com', password: PASSWORD, isStaff: true });
      await createSuperuser({ email: 'root@example.com', password: PASSWORD });
      const staff = await socketOf(t, 'sam@example.com');
      expect((await staff.call('guarded', 'superOnly')).error).toEqual({ code: 'STRATA_AUTH_PERMISSION_DENIED', message: 'Only a superuser can do this.' });
      const root = await socketOf(t, 'root@example.com');
      expect((await root.call('guarded', 'superOnly')).error).toBeUndefined();
      expect((await rawState(staff, 'guarded')).ran).toEqual([]);
      expect((await rawState(root, 'guarded')).ran).toEqual(['superOnly']);
    });

    it('passes groupRequired for a member of one of the groups, and refuses once the membership is removed', async () => {
      const t = await startApp({ states: [Guarded] });
      const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
      const admins = await Group.objects.create({ name: 'admins' });
      await Group.objects.create({ name: 'buyers' });
      const socket = await socketOf(t, 'alice@example.com');
      expect((await socket.call('guarded', 'editors')).error).toEqual(DENIED);
      await User.objects.related(alice, 'groups').add(admins);
      expect((await socket.call('guarded', 'editors')).error).toBeUndefined();
      await User.objects.related(alice, 'groups').remove(admins);
      expect((await socket.call('guarded', 'editors')).error).toEqual(DENIED);
      expect((await rawState(socket, 'guarded')).ran).toEqual(['editors']);
    });

    it('passes userPassesTest when the test answers true, else refuses with its message', async () => {
      const t = await startApp({ states: [Guarded] });
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      await createUser({ email: 'vera@vip.example', password: PASSWORD });
      const plain = await socketOf(t, 'alice@example.com');
      expect((await plain.call('guarded', 'vip')).error).toEqual({ code: 'STRATA_AUTH_PERMISSION_DENIED', message: 'Members of the VIP club only.' });
      const vip = await socketOf(t, 'vera@vip.example');
      expect((await vip.call('guarded', 'vip')).error).toBeUndefined();
      expect((await rawState(plain, 'guarded')).ran).toEqual([]);
    });

    it('refuses an anonymous visitor the first guard of a list with STRATA_AUTH_LOGIN_REQUIRED', async () => {
      const t = await startApp({ states: [Guarded] });
      const browser = t.browser();
      await browser.open();
      const socket = await rawSocket(browser, { states: ['guarded'] });
      for (const handler of ['edit', 'superOnly', 'editors', 'vip', 'purge']) {
        expect((await socket.call('guarded', handler)).error).toEqual({ code: 'STRATA_AUTH_LOGIN_REQUIRED', message: 'Sign in to do this.' });
      }
      expect((await rawState(socket, 'guarded')).ran).toEqual([]);
    });

    it('passes permissionRequired through a group’s permission or the user’s own, and refuses the next event once revoked', async () => {
      const t = await startApp({ states: [Guarded] });
      await syncPermissions([Product]);
      const change = await Permission.objects.get({ codename: 'shop.change_product' });
      const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
      const editors = await Group.objects.create({ name: 'editors' });
      const socket = await socketOf(t, 'alice@example.com');
      const edit = async () => (await socket.call('guarded', 'edit')).error;

      expect(await edit()).toEqual(DENIED);
      await Group.objects.related(editors, 'permissions').add(change);
      expect(await edit()).toEqual(DENIED);
      await User.objects.related(alice, 'groups').add(editors);
      expect(await edit()).toBeUndefined();
      await Group.objects.related(editors, 'permissions').remove(change);
      expect(await edit()).toEqual(DENIED);
      await User.objects.related(alice, 'permissions').add(change);
      expect(await edit()).toBeUndefined();
      await User.objects.related(alice, 'permissions').remove(change);
      expect(await edit()).toEqual(DENIED);
      expect((await rawState(socket, 'guarded')).ran).toEqual(['edit', 'edit']);
    });

    it('needs every permission named; a superuser has them all without a single row', async () => {
      const t = await startApp({ states: [Guarded] });
      await syncPermissions([Product]);
      const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
      await User.objects.related(alice, 'permissions').add(await Permission.objects.get({ codename: 'shop.delete_product' }));
      const socket = await socketOf(t, 'alice@example.com');
      expect((await socket.call('guarded', 'purge')).error).toEqual(DENIED);
      await Permission.objects.delete();
      await createSuperuser({ email: 'root@example.com', password: PASSWORD });
      const root = await socketOf(t, 'root@example.com');
      for (const handler of ['edit', 'purge', 'superOnly']) expect((await root.call('guarded', handler)).error).toBeUndefined();
      expect((await root.call('admin', 'staffOnly')).error).toBeUndefined();
      expect((await rawState(root, 'guarded')).ran).toEqual(['edit', 'purge', 'superOnly']);
    });
  });

  it('costs one query for the first hasPerm, none for a later event of the session, one again after a permission change', async () => {
    const t = await startApp();
    await syncPermissions([Product]);
    const alice = await createUser({ email: 'alice@example.com', password: PASSWORD });
    const cookie = (await signedIn(t, 'alice@example.com')).cookies.get('strata_session')!;
    const { users } = t.auth.core;
    const { user } = await users.resolve(cookie);
    const event = async () => (await users.resolve(cookie)).user!.hasPerm('shop.change_product');

    expect(await runInQueryScope(() => user!.hasPerm('shop.change_product'))).toMatchObject({ result: false, count: 1 });
    expect(await runInQueryScope(event)).toMatchObject({ result: false, count: 0 });
    await User.objects.related(alice, 'permissions').add(await Permission.objects.get({ codename: 'shop.change_product' }));
    expect(await runInQueryScope(event)).toMatchObject({ result: true, count: 1 });
    expect(await runInQueryScope(event)).toMatchObject({ result: true, count: 0 });
  });

  describe('users and permissions', () => {
    const expected = ['auth.permission', 'auth.group', 'auth.user', 'auth.session', 'shop.product'].flatMap((label) => {
      const [app, model] = label.split('.');
      return ['add', 'change', 'delete', 'view'].map((action) => `${app}.${action}_${model}`);
    });

    it('creates add, change, delete and view for every registered model, returns the count, and makes none the second time', async () => {
      const made = await syncPermissions();
      const codenames = (await Permission.objects.values('codename')).map((row) => row.codename as string);
      expect(made).toBe(codenames.length);
      expect(codenames).toEqual(expect.arrayContaining(expected));
      expect(await Permission.objects.get({ codename: 'shop.change_product' })).toMatchObject({ name: 'Can change product', model: 'shop.Product' });
      expect(await syncPermissions()).toBe(0);
      expect(await Permission.objects.count()).toBe(made);
    });

    it('makes no permissions for the automatic many-to-many join tables (regression: auth.add_user_groups and the like)', async () => {
      const made = await syncPermissions();
      expect((await Permission.objects.values('codename')).map((row) => row.codename).sort()).toEqual([...expected].sort());
      expect(made).toBe(expected.length);
    });

    it('creates a superuser who is staff, active and passes staffRequired and superuserRequired', async () => {
      const t = await startApp({ states: [Guarded] });
      const root = await createSuperuser({ email: 'Root@Example.com', password: PASSWORD });
      expect(root).toMatchObject({ email: 'root@example.com', isStaff: true, isSuperuser: true, isActive: true });
      const socket = await socketOf(t, 'root@example.com');
      expect((await socket.call('admin', 'staffOnly')).error).toBeUndefined();
      expect((await socket.call('guarded', 'superOnly')).error).toBeUndefined();
    });

    it('refuses a taken e-mail in another case with STRATA_AUTH_INVALID on email, creating nothing', async () => {
      const t = await startApp();
      await createUser({ email: 'alice@example.com', password: PASSWORD });
      const taken = { code: 'STRATA_AUTH_INVALID', fields: { email: ['An account with this e-mail or username already exists.'] } };
      await expect(createUser({ email: ' ALICE@Example.COM ', password: 'another fine passphrase' })).rejects.toMatchObject(taken);
      const browser = t.browser();
      await browser.open();
      expect(await browser.request('POST', '/auth/register', { email: 'Alice@EXAMPLE.com', password: 'another fine passphrase' })).toMatchObject({ status: 400, body: { error: taken } });
      expect(await User.objects.values('email')).toEqual([{ email: 'alice@example.com' }]);
    });
  });
});
