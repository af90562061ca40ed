/**
 * @strata/auth benchmark: (a) the round trip of one counter event with the auth middleware
 * (session → user) and a permission guard, against the same handler without them, and the
 * database queries per event while the session is cached; (b) sign-in latency — the HTTP
 * login, the bare argon2id verify, and a login naming an unknown account. SQLite file seeded
 * here; each server in its own process, clients here, on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { authModels, createUser, Group, hashPassword, PASSWORD_HASH_PARAMS, Permission, User, verifyPassword } from '@strata/auth';
import { close, setup } from '@strata/model';
import { createSchema } from '@strata/model/migrations';
import { WebSocket } from 'ws';
import { type ChildServer, startChild } from './child.js';
import { median, printTable, time } from './table.js';

type Mode = 'plain' | 'auth';
const ROUNDS = 3;
const WARMUP = 500;
const ROUND_TRIPS = 3000;
const LOGINS = 30;
const EMAIL = 'bench@example.com';
const PASSWORD = 'vermilion tugboat orbit';
/** Granted through a group, so the guard's permission lookup is the real (one-query) path. */
const PERMISSION = 'bench.change_counter';

/** Creates the auth tables and a user holding PERMISSION through a group. */
async function seed(databaseUrl: string): Promise<void> {
  await setup({ databaseUrl, models: authModels, debug: false });
  await createSchema();
  const user = await createUser({ email: EMAIL, password: PASSWORD, name: 'Bench' });
  const permission = await Permission.objects.create({ codename: PERMISSION, name: 'Can change counter' });
  const group = await Group.objects.create({ name: 'counter editors' });
  await Group.objects.related(group, 'permissions').add(permission);
  await User.objects.related(user, 'groups').add(group);
  await close();
}

/** A browser over fetch: keeps the cookies Set-Cookie sends and the latest CSRF token. */
class Browser {
  private readonly cookies = new Map<string, string>();
  private csrf = '';
  constructor(readonly address: string) {}

  get cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = this.cookieHeader;
    if (method === 'POST') Object.assign(headers, { 'content-type': 'application/json', 'x-csrf-token': this.csrf });
    const response = await fetch(`${this.address}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const [name, value] = [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
      if (value === '' || attributes.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const json = (await response.json()) as Record<string, unknown>;
    if (typeof json.csrf === 'string') this.csrf = json.csrf;
    return { status: response.status, json };
  }

  login(login: string, password: string) {
    return this.request('POST', '/auth/login', { login, password });
  }

  /** Loads a page (a session and its CSRF token), then signs in. */
  async signIn(): Promise<void> {
    await this.request('GET', '/auth/csrf');
    const { status, json } = await this.login(EMAIL, PASSWORD);
    if (status !== 200) throw new Error(`sign-in failed (${status}): ${JSON.stringify(json)}`);
  }
}

/** A tab joined with the page's token, over a socket carrying the browser's cookies; `call` sends one increment. */
async function openTab(browser: Browser): Promise<{ socket: WebSocket; call(seq: number): Promise<void> }> {
  const { token } = (await browser.request('GET', '/page')).json as { token: string };
  const socket = new WebSocket(`${browser.address.replace('http', 'ws')}/strata/ws`, { headers: { origin: browser.address, cookie: browser.cookieHeader } });
  const waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let welcomed: (() => void) | undefined;
  socket.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString()) as { t: string; seq?: number; error?: { code: string } };
    if (frame.t === 'welcome') welcomed?.();
    if (frame.t !== 'result' || frame.seq === undefined) return;
    const waiter = waiting.get(frame.seq);
    waiting.delete(frame.seq);
    // A refused event would time the refusal, not the handler.
    if (frame.error) waiter?.reject(new Error(`event ${frame.seq} failed: ${frame.error.code}`));
    else waiter?.resolve();
  });
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  await new Promise<void>((resolve) => {
    welcomed = resolve;
    socket.send(JSON.stringify({ t: 'join', v: 1, token, states: ['counter'] }));
  });
  return {
    socket,
    call: (seq) =>
      new Promise<void>((resolve, reject) => {
        waiting.set(seq, { resolve, reject });
        socket.send(JSON.stringify({ t: 'event', seq, state: 'counter', handler: 'increment', args: { by: 1 } }));
      }),
  };
}

/** p50 and p95 of samples in milliseconds. */
function percentiles(samples: number[]): { p50: number; p95: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: median(sorted), p95: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]! };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const queriesOf = async (server: ChildServer, last: number) => (await server.request<{ counts: number[] }>('queries', { last })).counts;

/** (a) One round: sign in (auth), join, warm up, then ROUND_TRIPS sequential increments. */
async function roundTrips(mode: Mode, databaseUrl: string): Promise<{ p50: number; p95: number; perEvent: number; first: number }> {
  const server = await startChild('./authServer.js', [mode, databaseUrl]);
  const browser = new Browser(server.address);
  if (mode === 'auth') await browser.signIn();
  const tab = await openTab(browser);
  let seq = 0;
  await tab.call(++seq);
  const [first = 0] = await queriesOf(server, 1);
  for (let i = 1; i < WARMUP; i++) await tab.call(++seq);
  const samples: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) samples.push(await timed(() => tab.call(++seq)));
  const counts = await queriesOf(server, ROUND_TRIPS);
  tab.socket.close();
  await server.stop();
  return { ...percentiles(samples), perEvent: counts.reduce((sum, n) => sum + n, 0) / counts.length, first };
}

/** (b) Sign-in latency over HTTP: LOGINS sign-ins in a row (each rotates the session), then LOGINS refused ones of each kind. */
async function logins(databaseUrl: string): Promise<Record<'login' | 'wrong' | 'unknown', { p50: number; p95: number }>> {
  const server = await startChild('./authServer.js', ['auth', databaseUrl]);
  const browser = new Browser(server.address);
  await browser.signIn();
  const series = async (login: string, password: string, status: number) => {
    const samples: number[] = [];
    for (let i = 0; i < LOGINS + 3; i++) {
      let got = 0;
      const ms = await timed(async () => void ({ status: got } = await browser.login(login, password)));
      if (got !== status) throw new Error(`login as ${login} answered ${got}, expected ${status}`);
      if (i >= 3) samples.push(ms);
    }
    return percentiles(samples);
  };
  const login = await series(EMAIL, PASSWORD, 200);
  const wrong = await series(EMAIL, 'not the password', 401);
  const unknown = await series('nobody@example.com', PASSWORD, 401);
  await server.stop();
  return { login, wrong, unknown };
}

const dir = mkdtempSync(join(tmpdir(), 'strata-bench-auth-'));
const databaseUrl = `sqlite:${join(dir, 'bench.sqlite')}`;
try {
  await seed(databaseUrl);
  // Alternating plain and auth over several rounds (medians reported): a busy machine skews one run, not the ratio.
  const rounds = new Map<Mode, Awaited<ReturnType<typeof roundTrips>>[]>([['plain', []], ['auth', []]]);
  for (let round = 0; round < ROUNDS; round++) for (const mode of ['plain', 'auth'] as const) rounds.get(mode)!.push(await roundTrips(mode, databaseUrl));
  const [plain, auth] = (['plain', 'auth'] as const).map((mode) => {
    const runs = rounds.get(mode)!;
    return { p50: median(runs.map((r) => r.p50)), p95: median(runs.map((r) => r.p95)), perEvent: Math.max(...runs.map((r) => r.perEvent)), first: Math.max(...runs.map((r) => r.first)) };
  }) as [Awaited<ReturnType<typeof roundTrips>>, Awaited<ReturnType<typeof roundTrips>>];
  const http = await logins(databaseUrl);
  const hash = await hashPassword(PASSWORD);
  const verify = await time(() => verifyPassword(hash, PASSWORD), LOGINS, 3);

  console.log(`\nmachine: ${cpus()[0]?.model ?? 'unknown cpu'} × ${cpus().length}, Node ${process.version}; SQLite file, database sessions; each server in its own process, clients on loopback`);
  printTable(
    `@strata/auth: counter increment over a WebSocket, auth middleware (session → user) + permissionRequired vs the same handler without (${ROUND_TRIPS} round trips after ${WARMUP} warm-up, median of ${ROUNDS} alternating rounds)`,
    ['server', 'p50 ms', 'p95 ms', 'queries/event (cached session)', 'queries, first event'],
    [
      ['plain strata', plain.p50.toFixed(3), plain.p95.toFixed(3), plain.perEvent.toFixed(2), plain.first],
      ['strata + auth', auth.p50.toFixed(3), auth.p95.toFixed(3), auth.perEvent.toFixed(2), auth.first],
      ['auth ÷ plain', `${(auth.p50 / plain.p50).toFixed(2)}×`, `${(auth.p95 / plain.p95).toFixed(2)}×`, `+${(auth.perEvent - plain.perEvent).toFixed(2)}`, ''],
    ],
  );
  const { memoryCost, timeCost, parallelism } = PASSWORD_HASH_PARAMS;
  printTable(
    `@strata/auth: sign-in latency, argon2id m=${memoryCost} KiB t=${timeCost} p=${parallelism} (${LOGINS} sequential logins; throttle limit raised to 1e6 for the timing)`,
    ['measurement', 'p50 ms', 'p95 ms'],
    [
      ['HTTP login (POST /auth/login, session rotated)', http.login.p50.toFixed(2), http.login.p95.toFixed(2)],
      ['argon2id verifyPassword in process (median)', verify.toFixed(2), ''],
      ['HTTP login, wrong password (refused)', http.wrong.p50.toFixed(2), http.wrong.p95.toFixed(2)],
      ['HTTP login, unknown account (refused)', http.unknown.p50.toFixed(2), http.unknown.p95.toFixed(2)],
    ],
  );
  console.log('goal: ≤ 1.15× round trip, 0 queries per event while the session is cached');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
