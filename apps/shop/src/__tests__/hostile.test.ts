import { createHash, createHmac, randomBytes } from 'node:crypto';
import { Session, User } from '@strata/auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Cart, CartLine, Category, Order, OrderLine, Product } from '../models.js';
import { closeDatabase, databases, openDatabase, SECRET, startShop, Visitor } from './shopHarness.js';

/**
 * A hostile client over a raw WebSocket (no Strata client): every refusal is asserted by its
 * exact code or close code, and afterwards the database, the other tabs and the server's
 * `Object.prototype` are as they were. Each case records what it observed; the table is
 * printed at the end (and copied into docs/security.md).
 */

type Frame = Record<string, unknown> & { t: string; seq?: number; error?: { code: string; message: string; fields?: Record<string, string[]> }; value?: unknown };
type Shop = Awaited<ReturnType<typeof startShop>>;

/** A raw socket: frames as they come, a close code, and nothing of the Strata client. */
class RawTab {
  readonly frames: Frame[] = [];
  readonly closed: Promise<number>;
  closeCode: number | undefined;
  private readonly waiting: [(f: Frame) => boolean, (f: Frame) => void][] = [];
  private seq = 0;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      const i = this.waiting.findIndex(([match]) => match(frame));
      if (i >= 0) this.waiting.splice(i, 1)[0]![1](frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', (code) => {
        this.closeCode = code;
        resolve(code);
      }),
    );
  }

  /** Opens the socket; an upgrade the server refuses rejects with its HTTP status and body. */
  static open(shop: Shop, headers: Record<string, string>): Promise<RawTab> {
    const socket = new WebSocket(`${shop.url.replace('http', 'ws')}/strata/ws`, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new RawTab(socket)));
      socket.once('unexpected-response', (request, response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => {
          request.destroy();
          reject(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode, body: JSON.parse(body || '{}') }));
        });
      });
      socket.once('error', reject);
    });
  }

  /** Opens a socket as `visitor`'s browser (its cookies, the page's origin). */
  static as(shop: Shop, visitor: Visitor): Promise<RawTab> {
    return RawTab.open(shop, { origin: shop.url, cookie: visitor.cookieHeader });
  }

  next(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const i = this.frames.findIndex(match);
    if (i >= 0) return Promise.resolve(this.frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const entry: [(f: Frame) => boolean, (f: Frame) => void] = [
        match,
        (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      ];
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new Error(`no matching frame within ${timeoutMs} ms (close ${this.closeCode ?? 'none'})`));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }

  /** Sends a frame: an object as JSON text, a string as is. */
  send(frame: object | string): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a join and answers the server's welcome or error frame. */
  join(token: string, states: string[] = ['products', 'cart', 'orders']): Promise<Frame> {
    this.send({ t: 'join', v: 1, token, states });
    return this.next((f) => f.t === 'welcome' || f.t === 'error');
  }

  /** Sends an event with the next seq (or `seq`) and answers its result (or error) frame. */
  call(state: string, handler: string, args?: unknown, seq = ++this.seq): Promise<Frame> {
    this.seq = Math.max(this.seq, typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : 0);
    this.send({ t: 'event', seq, state, handler, ...(args === undefined ? {} : { args }) });
    return this.answer(seq);
  }

  /** The result or error frame of `seq`. */
  answer(seq: number): Promise<Frame> {
    return this.next((f) => (f.t === 'result' || f.t === 'error') && f.seq === seq);
  }

  close(): void {
    this.socket.close();
  }
}

/** What a frame (or a close) says, in the table's words: `result STRATA_…`, `error STRATA_…`, `result ok`. */
function outcome(frame: Frame): string {
  if (frame.t === 'welcome') return 'welcome';
  if (frame.error) return `${frame.t} ${frame.error.code}`;
  const value = frame.value as { ok?: boolean; fieldErrors?: Record<string, string[]> } | undefined;
  if (value && value.ok === false && value.fieldErrors) return `result fieldErrors ${Object.keys(value.fieldErrors).sort().join(',')}`;
  return `${frame.t} ok`;
}

/** Outcomes that are all the same as `outcome ×n`, else each of them. */
function times(observed: readonly string[]): string {
  return new Set(observed).size === 1 ? `${observed[0]} ×${observed.length}` : observed.join('; ');
}

/** Re-signs a token's payload after `change` (with the app's secret unless `key` is given). */
function resign(token: string, change: (payload: Record<string, unknown>) => void, key = SECRET): string {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  change(payload);
  const body = `v1.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** Every row a hostile client might reach, as text: compared before and after each case. */
async function databaseText(): Promise<string> {
  const rows = await Promise.all([
    Category.objects.orderBy('id'),
    Product.objects.orderBy('id'),
    Cart.objects.orderBy('id'),
    CartLine.objects.orderBy('id'),
    Order.objects.orderBy('id'),
    OrderLine.objects.orderBy('id'),
    User.objects.orderBy('id').values('id', 'email', 'isStaff', 'isSuperuser', 'isActive', 'password'),
  ]);
  return JSON.stringify(rows);
}

const prototypeNames = () => Reflect.ownKeys(Object.prototype).map(String).sort().join(',');
const cleanPrototype = prototypeNames();

describe.each(databases)('a hostile client on $name', (db) => {
  const table: { case: string; expected: string; observed: string }[] = [];
  let shop: Shop;
  let sencha: { id: number };
  let matcha: { id: number };
  let aliceOrder: { id: number };
  /** Alice's own tab, with the catalog and her cart loaded: no hostile frame may reach it. */
  let bystander: RawTab;
  let alice: Visitor;
  /** The reconnect token Alice's tab was welcomed with. */
  let aliceReconnect: string;
  /** The hostile customer, and a member of staff (both signed in). */
  let mallory: Visitor;
  let staff: Visitor;
  let baseline: string;

  /** Records a case's observed outcome for the table, then asserts it. */
  function record(name: string, expected: string, observed: string): void {
    table.push({ case: name, expected, observed });
    expect(observed).toBe(expected);
  }

  /** A signed-in customer (or staff) made directly: sign-ins would spend the time in argon2. */
  async function signedIn(email: string, isStaff = false): Promise<Visitor> {
    const user = await User.objects.create({ email, password: '!unusable', isStaff });
    const value = randomBytes(32).toString('base64url');
    await Session.objects.create({ key: createHash('sha256').update(value).digest('hex'), userId: user.id, data: {}, expiresAt: new Date(Date.now() + 3600_000) });
    const visitor = new Visitor(shop);
    visitor.useSession(value);
    await visitor.open();
    return visitor;
  }

  /** A joined raw tab of `visitor` (a fresh page: its own join token). */
  async function tabOf(visitor: Visitor, states?: string[]): Promise<RawTab> {
    await visitor.open();
    const tab = await RawTab.as(shop, visitor);
    expect((await tab.join(visitor.joinToken, states)).t).toBe('welcome');
    return tab;
  }

  /** Nothing changed: the rows, Alice's tab (no frame reached it, it still answers), the server's prototypes. */
  async function expectUntouched(rows = baseline): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(bystander.frames).toEqual([]);
    expect(outcome(await bystander.call('cart', 'load'))).toBe('result ok');
    expect(await databaseText()).toBe(rows);
    expect(({} as Record<string, unknown>).isStaff).toBeUndefined();
    expect(prototypeNames()).toBe(cleanPrototype);
  }

  beforeAll(() => openDatabase(db));
  afterAll(async () => {
    await closeDatabase(db);
    const width = (key: 'case' | 'expected' | 'observed') => Math.max(key.length, ...table.map((row) => row[key].length));
    const line = (row: { case: string; expected: string; observed: string }) => `| ${row.case.padEnd(width('case'))} | ${row.expected.padEnd(width('expected'))} | ${row.observed.padEnd(width('observed'))} |`;
    const header = { case: 'case', expected: 'expected', observed: 'observed' };
    const rule = `|${'-'.repeat(width('case') + 2)}|${'-'.repeat(width('expected') + 2)}|${'-'.repeat(width('observed') + 2)}|`;
    console.log(`\nhostile client on ${db.name}\n${[line(header), rule, ...table.map(line)].join('\n')}\n`);
  });
  beforeEach(async () => {
    for (const model of [OrderLine, Order, CartLine, Cart, Product, Category, Session]) await model.objects.delete();
    await User.objects.delete();
    const tea = await Category.objects.create({ name: 'Tea' });
    sencha = await Product.objects.create({ name: 'Sencha', description: 'A green tea. Wholesale price 4.10', price: '12.50', stock: 3, categoryId: tea.id });
    matcha = await Product.objects.create({ name: 'Matcha', price: '20.00', stock: 10, categoryId: tea.id });
    shop = await startShop();
    alice = await signedIn('alice@example.com');
    const cart = await Cart.objects.create({ ownerId: (await User.objects.get({ email: 'alice@example.com' })).id });
    await CartLine.objects.create({ cartId: cart.id, productId: sencha.id, quantity: 2 });
    aliceOrder = await Order.objects.create({ customerId: cart.ownerId!, total: '20.00' });
    await OrderLine.objects.create({ orderId: aliceOrder.id, productId: matcha.id, name: 'Matcha', price: '20.00', quantity: 1 });
    mallory = await signedIn('mallory@example.com');
    staff = await signedIn('staff@example.com', true);
    bystander = await RawTab.as(shop, alice);
    const welcome = await bystander.join(alice.joinToken);
    expect(welcome.t).toBe('welcome');
    aliceReconnect = welcome.token as string;
    await bystander.call('products', 'load');
    await bystander.call('cart', 'load');
    await bystander.call('orders', 'load');
    bystander.frames.length = 0;
    baseline = await databaseText();
  });

  // 1. The upgrade.
  it('refuses a foreign, a look-alike, a null or a missing Origin with HTTP 403 before any socket exists', async () => {
    const observed: string[] = [];
    for (const origin of ['https://evil.example', shop.url.replace('http:', 'https:'), 'null', undefined]) {
      const refused = await RawTab.open(shop, origin === undefined ? {} : { origin }).then(
        () => 'opened',
        (error: { status?: number; body?: { error?: { code?: string } } }) => `${error.status} ${error.body?.error?.code}`,
      );
      observed.push(refused);
    }
    record('foreign / look-alike / null / missing Origin', '403 STRATA_STATE_BAD_ORIGIN ×4', times(observed));
    await expectUntouched();
  });

  // 2. Join tokens.
  it('refuses a forged token (a changed tab id, a signature under another key) with BAD_TOKEN and close 4401', async () => {
    const observed: string[] = [];
    const [version, payload, signature] = mallory.joinToken.split('.');
    const changedTab = resign(mallory.joinToken, (p) => void (p.tab = 'stolen-tab-id'));
    const forgeries = [
      `${changedTab.split('.').slice(0, 2).join('.')}.${signature}`,
      resign(mallory.joinToken, () => undefined, 'not-the-secret-not-the-secret-not-the-secret'),
      `${version}.${payload}.${signature!.slice(0, -2)}AA`,
      `${version}.${payload}`,
      '',
    ];
    for (const token of forgeries) {
      const tab = await RawTab.as(shop, mallory);
      observed.push(`${outcome(await tab.join(token))} close ${await tab.closed}`);
    }
    record('forged join token (5 spellings)', 'error STRATA_STATE_BAD_TOKEN close 4401 ×5', times(observed));
    await expectUntouched();
  });

  it('refuses an expired token (re-signed with a past expiry) while the same token re-signed with a future one joins', async () => {
    // The control: the crafting is right, so only the expiry can refuse the other one.
    const fresh = await RawTab.as(shop, mallory);
    expect((await fresh.join(resign(mallory.joinToken, (p) => void (p.exp = Date.now() + 60_000)))).t).toBe('welcome');
    fresh.close();
    await mallory.open();
    const tab = await RawTab.as(shop, mallory);
    const answer = await tab.join(resign(mallory.joinToken, (p) => void (p.exp = Date.now() - 1000)));
    record('expired join token', 'error STRATA_STATE_BAD_TOKEN close 4401', `${outcome(answer)} close ${await tab.closed}`);
    expect(answer.error?.message).toContain('expired');
    await expectUntouched();
  });

  it("refuses Alice's join and reconnect tokens with Mallory's cookie or none (bound to her session), and Alice's tab is not taken over", async () => {
    // The very tokens Alice's open tab joined with and was welcomed with: accepted, either would take her tab over.
    const observed: string[] = [];
    for (const token of [alice.joinToken, aliceReconnect]) {
      for (const headers of [{ origin: shop.url, cookie: mallory.cookieHeader }, { origin: shop.url }]) {
        const tab = await RawTab.open(shop, headers);
        observed.push(`${outcome(await tab.join(token))} close ${await tab.closed}`);
      }
    }
    record("another session's join / reconnect token, with Mallory's cookie / none", 'error STRATA_STATE_BAD_TOKEN close 4401 ×4', times(observed));
    expect(bystander.closeCode).toBeUndefined();
    await expectUntouched();
  });

  it('lets a second socket with the same token take the tab over: the older one is closed with 4409', async () => {
    const first = await RawTab.as(shop, mallory);
    expect((await first.join(mallory.joinToken)).t).toBe('welcome');
    const second = await RawTab.as(shop, mallory);
    const welcome = await second.join(mallory.joinToken);
    const code = await first.closed;
    record('token reused by a second socket', 'welcome; old socket close 4409', `${outcome(welcome)}; old socket close ${code}`);
    expect(outcome(await second.call('cart', 'load'))).toBe('result ok');
    await expectUntouched();
  });

  it("refuses an upload with a foreign Origin (403) or into another session's tab (401), keeping nothing", async () => {
    const upload = (visitor: Visitor, headers: Record<string, string>) =>
      shop.app.inject({
        method: 'POST',
        url: '/strata/upload',
        headers: { host: new URL(shop.url).host, origin: shop.url, cookie: visitor.cookieHeader, 'x-csrf-token': visitor.csrfToken, 'content-type': 'text/plain', 'x-strata-filename': 'evil.txt', ...headers },
        payload: 'x'.repeat(100),
      });
    const foreign = await upload(alice, { origin: 'https://evil.example', 'x-strata-token': alice.joinToken });
    const crossSession = await upload(mallory, { 'x-strata-token': alice.joinToken });
    // The control: Alice's own upload is taken.
    expect((await upload(alice, { 'x-strata-token': alice.joinToken })).statusCode).toBe(200);
    const said = (response: typeof foreign) => `${response.statusCode} ${(response.json() as { error?: { code?: string } }).error?.code}`;
    record("upload: foreign Origin / another session's token", '403 STRATA_STATE_BAD_ORIGIN; 401 STRATA_STATE_BAD_TOKEN', `${said(foreign)}; ${said(crossSession)}`);
    await expectUntouched();
  });

  // Regression: the auth layer's CSRF hook refused the state runtime's upload route (403 STRATA_AUTH_CSRF)
  // for the Strata client's upload (x-strata-token only); the route now declares config.csrfExempt.
  it('accepts an upload as the Strata client sends it (x-strata-token, no CSRF header) in an app with auth', async () => {
    const response = await shop.app.inject({
      method: 'POST',
      url: '/strata/upload',
      headers: { host: new URL(shop.url).host, origin: shop.url, cookie: alice.cookieHeader, 'content-type': 'text/plain', 'x-strata-token': alice.joinToken, 'x-strata-filename': 'a.txt' },
      payload: 'hello',
    });
    expect(response.statusCode).toBe(200);
  });

  // 3. Names.
  it('refuses unknown, inherited, private and backend handler names with UNKNOWN_HANDLER, running nothing', async () => {
    const tab = await tabOf(mallory, ['products', 'cart', 'product']);
    const names: [string, string][] = [
      ['cart', 'nope'],
      ['cart', 'constructor'],
      ['cart', '__proto__'],
      ['cart', 'toString'],
      ['cart', 'hasOwnProperty'],
      ['cart', 'prototype'],
      ['cart', 'then'],
      ['cart', 'lines'], // a client var
      ['cart', 'refresh'], // a module function of states.ts
      ['product', 'id'], // a backend var
      ['product', 'show'],
      ['products', 'hasLoaded'], // the ModelState's backend var
      ['products', 'reload'], // the ModelState's internal function
      ['products', 'list'],
    ];
    const observed = new Set<string>();
    for (const [state, handler] of names) observed.add(outcome(await tab.call(state, handler, {})));
    record('unknown / inherited / backend / private handler names (14)', 'result STRATA_STATE_UNKNOWN_HANDLER', [...observed].join('; '));
    await expectUntouched();
  });

  it('refuses unknown state names in events and subs (UNKNOWN_STATE) and in a join (close 1008)', async () => {
    const tab = await tabOf(mallory);
    const observed = new Set<string>();
    for (const state of ['nope', '__proto__', 'constructor', 'Products', 'toString']) observed.add(outcome(await tab.call(state, 'load')));
    tab.send({ t: 'sub', states: ['__proto__'] });
    observed.add(outcome(await tab.next((f) => f.t === 'error')));
    record('unknown state in event / sub', 'result STRATA_STATE_UNKNOWN_STATE; error STRATA_STATE_UNKNOWN_STATE', [...observed].join('; '));

    await mallory.open();
    const joining = await RawTab.as(shop, mallory);
    const refused = await joining.join(mallory.joinToken, ['cart', 'admin']);
    record('unknown state in join', 'error STRATA_STATE_UNKNOWN_STATE close 1008', `${outcome(refused)} close ${await joining.closed}`);
    await expectUntouched();
  });

  // 4. Prototype pollution.
  it('keeps cookies named __proto__ or constructor as plain cookies: the socket joins as its session, the prototype stays clean', async () => {
    const tab = await RawTab.open(shop, { origin: shop.url, cookie: `__proto__=polluted; constructor=x; toString=y; ${mallory.cookieHeader}` });
    const joined = outcome(await tab.join(mallory.joinToken, ['cart']));
    const loaded = outcome(await tab.call('cart', 'load'));
    record('cookies named __proto__ / constructor / toString on the upgrade', 'welcome; result ok', `${joined}; ${loaded}`);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    await expectUntouched();
  });


  it('refuses __proto__ keys anywhere in a frame (plain, escaped, nested, top level) with BAD_FRAME, and the prototype stays clean', async () => {
    const tab = await tabOf(mallory);
    const frames = [
      `{"t":"event","seq":1,"state":"cart","handler":"add","args":{"__proto__":{"isStaff":true},"productId":${sencha.id}}}`,
      `{"t":"event","seq":2,"state":"cart","handler":"add","args":{"\\u005f\\u005fproto\\u005f\\u005f":{"isStaff":true},"productId":${sencha.id}}}`,
      `{"t":"event","seq":3,"state":"products","handler":"save","args":{"id":${sencha.id},"data":{"price":"0.01","__proto__":{"isStaff":true}}}}`,
      `{"t":"event","seq":4,"state":"products","handler":"load","args":{"filters":{"categoryId":1},"ordering":[{"__proto__":{"isStaff":true}}]}}`,
      `{"t":"event","seq":5,"state":"auth","handler":"refresh","__proto__":{"isStaff":true}}`,
      `{"t":"sub","states":["cart"],"__proto__":{"isStaff":true}}`,
    ];
    const observed = new Set<string>();
    for (const [i, text] of frames.entries()) {
      tab.send(text);
      observed.add(outcome(await (i < 5 ? tab.answer(i + 1) : tab.next((f) => f.t === 'error'))));
    }
    record('__proto__ key in args / frame (6 frames)', 'error STRATA_STATE_BAD_FRAME', [...observed].join('; '));
    // Still a customer: no staff power leaked in.
    expect(outcome(await tab.call('products', 'save', { id: sencha.id, data: { price: '0.01' }, version: 1 }, 10))).toBe('result STRATA_AUTH_PERMISSION_DENIED');
    expect(outcome(await tab.call('auth', 'refresh', undefined, 11))).toBe('result ok');
    tab.send({ t: 'sub', states: ['auth'] });
    const auth = ((await tab.next((f) => f.t === 'state')).states as { auth: { user: { email: string; isStaff: boolean } } }).auth;
    expect(auth.user).toMatchObject({ email: 'mallory@example.com', isStaff: false });
    await expectUntouched();
  });

  it('refuses constructor.prototype payloads through the strict schemas (BAD_ARGS), and the prototype stays clean', async () => {
    const tab = await tabOf(mallory);
    const poison = { constructor: { prototype: { isStaff: true } } };
    const observed = new Set<string>();
    observed.add(outcome(await tab.call('products', 'load', { filters: poison })));
    observed.add(outcome(await tab.call('products', 'load', poison)));
    observed.add(outcome(await tab.call('auth', 'logout', poison)));
    observed.add(outcome(await tab.call('products', 'dispatch', { action: 'load', ...poison })));
    record('constructor.prototype payload in args', 'result STRATA_STATE_BAD_ARGS', [...observed].join('; '));
    // A lenient schema drops the key; the handler runs as if it were not there.
    expect(outcome(await tab.call('cart', 'setQuantity', { productId: sencha.id, quantity: 0, ...poison }))).toBe('result ok');
    expect(outcome(await tab.call('products', 'delete', { id: sencha.id }))).toBe('result STRATA_AUTH_PERMISSION_DENIED');
    await expectUntouched();
  });

  // 5. Frames.
  it('refuses a frame above maxFrameBytes with FRAME_TOO_LARGE and keeps serving; closes with 1009 above the hard limit', async () => {
    const tab = await tabOf(mallory);
    tab.send({ t: 'event', seq: 1, state: 'cart', handler: 'add', args: { productId: sencha.id, note: 'x'.repeat(70 * 1024) } });
    const refused = await tab.next((f) => f.t === 'error');
    const after = await tab.call('cart', 'load', undefined, 2);
    record('frame above maxFrameBytes (70 KB)', 'error STRATA_STATE_FRAME_TOO_LARGE; then result ok', `${outcome(refused)}; then ${outcome(after)}`);

    tab.send({ t: 'event', seq: 3, state: 'cart', handler: 'load', args: 'x'.repeat(1024 * 1024 + 16) });
    record('frame above hardFrameBytes (1 MB)', 'close 1009', `close ${await tab.closed}`);
    await expectUntouched();
  });

  it('answers a flood past the frame budget with RATE_LIMITED, then serves again once the budget refills', async () => {
    const tab = await tabOf(mallory);
    // Cheap frames with no answer of their own: only the refused ones are answered. 40 over the
    // burst (each refusal a strike, so fewer than the 50 that close the socket).
    for (let i = 0; i < 140; i++) tab.send({ t: 'unsub', states: ['orders'] });
    await tab.call('cart', 'load', undefined, 1).catch(() => undefined);
    const limited = tab.frames.filter((f) => f.error?.code === 'STRATA_STATE_RATE_LIMITED').length;
    expect(limited).toBeGreaterThanOrEqual(10);
    expect(tab.frames.every((f) => f.error?.code === 'STRATA_STATE_RATE_LIMITED')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const after = await tab.call('cart', 'load', undefined, 2);
    record('flood of 140 frames (budget: bursts of 100, 50/s)', 'error STRATA_STATE_RATE_LIMITED; then result ok', `error ${tab.frames[0]?.error?.code}; then ${outcome(after)}`);
    expect(tab.closeCode).toBeUndefined();
    await expectUntouched();
  });

  it("answers a handler's own rate limit (cart.add: 30 per 10 s) with RATE_LIMITED", async () => {
    const tab = await tabOf(mallory);
    const answers: string[] = [];
    // A product that does not exist: each call is an answer (SHOP_NO_PRODUCT) and writes nothing.
    for (let i = 0; i < 31; i++) answers.push(outcome(await tab.call('cart', 'add', { productId: 999_999 })));
    expect(answers.slice(0, 30)).toEqual(Array(30).fill('result SHOP_NO_PRODUCT'));
    record('31 cart.add calls in 10 s (rateLimit 30)', 'result STRATA_STATE_RATE_LIMITED', answers[30]!);
    expect(outcome(await tab.call('cart', 'load'))).toBe('result ok');
    await expectUntouched();
  });

  it('refuses binary frames and malformed JSON with BAD_FRAME, keeping the connection', async () => {
    const tab = await tabOf(mallory);
    tab.socket.send(Buffer.from(JSON.stringify({ t: 'event', seq: 1, state: 'cart', handler: 'load' })), { binary: true });
    const binary = outcome(await tab.next((f) => f.t === 'error'));
    const malformed = ['{"t":"event",', '[]', 'null', '"event"', '{"t":"admin"}', '{"t":"event","seq":1,"state":"cart","handler":"load","user":1}', '{"t":"event","seq":1,"state":["cart"],"handler":"load"}'];
    const observed = new Set<string>();
    for (const text of malformed) {
      tab.send(text);
      observed.add(outcome(await tab.next((f) => f.t === 'error')));
    }
    const after = await tab.call('cart', 'load', undefined, 1);
    record('binary frame', 'error STRATA_STATE_BAD_FRAME', binary);
    record('malformed JSON / wrong shapes (7)', 'error STRATA_STATE_BAD_FRAME; then result ok', `${[...observed].join('; ')}; then ${outcome(after)}`);
    await expectUntouched();
  });

  it('closes with 1008 after 50 refused frames in a row, but not when a handled event breaks the run', async () => {
    const tab = await tabOf(mallory);
    const refuse = async (count: number) => {
      for (let i = 0; i < count; i++) tab.send('{not json');
    };
    await refuse(49);
    expect(outcome(await tab.call('cart', 'load', undefined, 1))).toBe('result ok');
    await refuse(49);
    expect(outcome(await tab.call('cart', 'load', undefined, 2))).toBe('result ok');
    tab.frames.length = 0;
    await refuse(50);
    const code = await tab.closed;
    record('50 refused frames in a row (49 + event + 49 kept open)', 'close 1008 after 49 BAD_FRAME', `close ${code} after ${tab.frames.filter((f) => f.error?.code === 'STRATA_STATE_BAD_FRAME').length} BAD_FRAME`);
    await expectUntouched();
  });

  // 6. ModelState saves.
  it('refuses writes to read-only fields (version, id) and unknown fields through a staff save, writing nothing', async () => {
    const tab = await tabOf(staff, ['products']);
    const attempts = [
      { id: sencha.id, data: { price: '1.00', version: 99 }, version: 1 },
      { id: sencha.id, data: { price: '1.00', id: matcha.id }, version: 1 },
      { id: sencha.id, data: { price: '1.00', isStaff: true, category__name: 'x' }, version: 1 },
      { data: { name: 'Pirate', price: '1.00', categoryId: 1, id: 5000 } },
    ];
    const observed: string[] = [];
    for (const args of attempts) observed.push(outcome(await tab.call('products', 'save', args)));
    // Each save answers a value naming the refused fields (a form shows them), not a failed result.
    const fields = observed.map((o) => (o.startsWith('result fieldErrors ') ? o.slice('result fieldErrors '.length) : `(${o})`));
    record('staff save with read-only version / id, unknown fields, create with id', 'result fieldErrors: version; id; category__name,isStaff; id', `result fieldErrors: ${fields.join('; ')}`);
    await expectUntouched();
    // The control: the same save without them writes, and Alice's tab sees it (so the checks above can fail).
    expect((await tab.call('products', 'save', { id: sencha.id, data: { price: '11.00' }, version: 1 })).value).toMatchObject({ ok: true, row: { version: 2 } });
    expect(JSON.stringify(await bystander.next((f) => f.t === 'patch'))).toContain('11.00');
  });

  // 7. Other people's things.
  it("refuses a customer's staff actions (save, create, delete, through dispatch too) with PERMISSION_DENIED", async () => {
    const tab = await tabOf(mallory, ['products']);
    const observed = new Set<string>();
    observed.add(outcome(await tab.call('products', 'save', { id: sencha.id, data: { price: '0.01' }, version: 1 })));
    observed.add(outcome(await tab.call('products', 'save', { data: { name: 'Free tea', price: '0.00', categoryId: 1 } })));
    observed.add(outcome(await tab.call('products', 'delete', { id: sencha.id })));
    observed.add(outcome(await tab.call('products', 'dispatch', { action: 'save', payload: { id: sencha.id, data: { price: '0.01' }, version: 1 } })));
    observed.add(outcome(await tab.call('products', 'dispatch', { action: 'delete', payload: { id: sencha.id } })));
    record('customer: products save / create / delete / dispatch', 'result STRATA_AUTH_PERMISSION_DENIED', [...observed].join('; '));
    const anonymous = new Visitor(shop);
    const stranger = await tabOf(anonymous, ['products']);
    record('anonymous: products save', 'result STRATA_AUTH_LOGIN_REQUIRED', outcome(await stranger.call('products', 'save', { id: sencha.id, data: { price: '0.01' }, version: 1 })));
    await expectUntouched();
  });

  it("never shows or touches another customer's order: not found by id, refused to change, no customer filter", async () => {
    const tab = await tabOf(mallory, ['orders']);
    const startEdit = outcome(await tab.call('orders', 'startEdit', { id: aliceOrder.id }));
    const dispatched = outcome(await tab.call('orders', 'dispatch', { action: 'startEdit', payload: { id: aliceOrder.id } }));
    const changes = new Set([
      outcome(await tab.call('orders', 'delete', { id: aliceOrder.id })),
      outcome(await tab.call('orders', 'save', { id: aliceOrder.id, data: { total: '0.00' } })),
    ]);
    const filtered = new Set([
      outcome(await tab.call('orders', 'load', { filters: { customerId: (await User.objects.get({ email: 'alice@example.com' })).id } })),
      outcome(await tab.call('orders', 'load', { filters: { customer__password: '!' } })),
    ]);
    // Sorting by a hidden field would leak it one comparison at a time.
    filtered.add(outcome(await tab.call('orders', 'load', { ordering: ['customer__password'] })));
    const listed = await tab.call('orders', 'load');
    record("another customer's order: startEdit (and via dispatch)", 'result STRATA_MODEL_NOT_FOUND ×2', times([startEdit, dispatched]));
    record("another customer's order: delete / save", 'result STRATA_AUTH_PERMISSION_DENIED', [...changes].join('; '));
    record("orders: filter customerId, customer__password; order customer__password", 'result STRATA_STATE_BAD_ARGS', [...filtered].join('; '));
    expect(JSON.stringify(listed.patch ?? {})).not.toContain('Matcha');
    const state = await (async () => {
      tab.send({ t: 'sub', states: ['orders'] });
      return ((await tab.next((f) => f.t === 'state')).states as Record<string, { total: number; list: unknown[] }>).orders!;
    })();
    expect(state).toMatchObject({ total: 0, list: [] });
    await expectUntouched();
  });

  it("changes only the caller's own cart line when setQuantity names another cart's product", async () => {
    const tab = await tabOf(mallory, ['cart']);
    // Without a cart of her own: nothing to change, and Alice's line (Sencha × 2) stays.
    const observed = [outcome(await tab.call('cart', 'setQuantity', { productId: sencha.id, quantity: 0 })), outcome(await tab.call('cart', 'setQuantity', { productId: sencha.id, quantity: 99 }))];
    await expectUntouched();
    // With a cart holding the same product: only her own line changes.
    expect(outcome(await tab.call('cart', 'add', { productId: sencha.id }))).toBe('result ok');
    expect(outcome(await tab.call('cart', 'setQuantity', { productId: sencha.id, quantity: 3 }))).toBe('result ok');
    expect(outcome(await tab.call('cart', 'setQuantity', { productId: matcha.id, quantity: 0 }))).toBe('result ok');
    const alice = await User.objects.get({ email: 'alice@example.com' });
    const lines = await CartLine.objects.filter({ cart: { ownerId: alice.id } });
    record("setQuantity of a product in another customer's cart", 'result ok ×2; her lines: Sencha × 2', `${times(observed)}; her lines: ${lines.map((l) => `${l.productId === sencha.id ? 'Sencha' : l.productId} × ${l.quantity}`).join(', ')}`);
    const mine = await CartLine.objects.filter({ cart: { owner: { email: 'mallory@example.com' } } });
    expect(mine.map((l) => [l.productId, l.quantity])).toEqual([[sencha.id, 3]]);
  });

  // 8. ModelState list arguments.
  it('refuses orderings, filters and page sizes outside the allow-lists with BAD_ARGS', async () => {
    const tab = await tabOf(mallory, ['products']);
    const refused: Record<string, unknown>[] = [
      { ordering: ['description'] },
      { ordering: ['-description'] },
      { ordering: ['category__name'] },
      { ordering: ['__proto__'] },
      { ordering: ['constructor'] },
      { ordering: ['name', 'price', 'stock', '-name', 'id'] },
      { filters: { name: 'Sencha' } },
      { filters: { description__icontains: 'wholesale' } },
      { filters: { category__name: 'Tea' } },
      { filters: { categoryId: { gt: 0 } } },
      { filters: { category: { products: { description: 'x' } } } },
      { pageSize: 49 },
      { pageSize: 1e9 },
      { pageSize: 0 },
      { page: -1 },
      { search: 'x'.repeat(201) },
      { where: 'true' },
    ];
    const observed = new Set<string>();
    for (const args of refused) observed.add(outcome(await tab.call('products', 'load', args)));
    record('products.load: 17 orderings / filters / page sizes outside the allow-lists', 'result STRATA_STATE_BAD_ARGS', [...observed].join('; '));
    // The control: the largest allowed page, an allowed ordering and filter answer.
    expect(outcome(await tab.call('products', 'load', { pageSize: 48, ordering: ['-price'], filters: { categoryId: 1 } }))).toBe('result ok');
    await expectUntouched();
  });

  it('treats LIKE wildcards in a search as text, not as patterns', async () => {
    const tab = await tabOf(mallory, ['products']);
    const totals: string[] = [];
    for (const search of ['%', '_', 'Sen%a', '\\']) {
      await tab.call('products', 'load', { search });
      tab.send({ t: 'sub', states: ['products'] });
      totals.push(`${search}:${((await tab.next((f) => f.t === 'state')).states as { products: { total: number } }).products.total}`);
    }
    record('search with LIKE wildcards (%, _, Sen%a, a backslash)', 'total 0 each', totals.every((t) => t.endsWith(':0')) ? 'total 0 each' : totals.join(' '));
    await expectUntouched();
  });

  // 9. Sequence numbers.
  it('refuses a replayed or lower seq with REPLAYED and runs it no second time', async () => {
    const tab = await tabOf(mallory, ['cart']);
    expect(outcome(await tab.call('cart', 'add', { productId: matcha.id }, 5))).toBe('result ok');
    const after = await databaseText();
    const same = outcome(await tab.call('cart', 'add', { productId: matcha.id }, 5));
    const lower = outcome(await tab.call('cart', 'add', { productId: matcha.id }, 3));
    record('same seq twice / a lower seq', 'result STRATA_STATE_REPLAYED ×2', times([same, lower]));
    const line = await CartLine.objects.filter({ cart: { owner: { email: 'mallory@example.com' } } }).first();
    expect(line?.quantity).toBe(1);
    bystander.frames.length = 0;
    await expectUntouched(after);
  });

  it('refuses a seq that is not a positive safe integer with BAD_FRAME; a huge one only ends its own tab’s events', async () => {
    const tab = await tabOf(mallory, ['cart']);
    const observed = new Set<string>();
    for (const seq of ['1.5', '-1', '0', '"7"', 'null', '9007199254740993', '1e308', '[1]']) {
      tab.send(`{"t":"event","seq":${seq},"state":"cart","handler":"load"}`);
      const frame = await tab.next((f) => f.t === 'error');
      observed.add(`${outcome(frame)}${frame.seq === undefined ? '' : ` seq ${frame.seq}`}`);
    }
    record('seq 1.5 / -1 / 0 / "7" / null / 2^53+1 / 1e308 / [1]', 'error STRATA_STATE_BAD_FRAME', [...observed].join('; '));
    const max = outcome(await tab.call('cart', 'load', undefined, Number.MAX_SAFE_INTEGER));
    const later = outcome(await tab.call('cart', 'load', undefined, Number.MAX_SAFE_INTEGER));
    record('seq MAX_SAFE_INTEGER, then again', 'result ok; then result STRATA_STATE_REPLAYED', `${max}; then ${later}`);
    await expectUntouched();
  });

  it('refuses events before the join (NOT_JOINED) and a join of another protocol version (BAD_FRAME, close 1008)', async () => {
    const early = await RawTab.as(shop, mallory);
    early.send({ t: 'event', seq: 1, state: 'cart', handler: 'load' });
    const notJoined = outcome(await early.answer(1));
    early.close();
    const versioned = await RawTab.as(shop, mallory);
    versioned.send({ t: 'join', v: 2, token: mallory.joinToken, states: ['cart'] });
    const refused = outcome(await versioned.next((f) => f.t === 'error'));
    record('event before join', 'error STRATA_STATE_NOT_JOINED', notJoined);
    record('join with protocol v2', 'error STRATA_STATE_BAD_FRAME close 1008', `${refused} close ${await versioned.closed}`);
    await expectUntouched();
  });
});
