import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isStrataError } from '@strata/model';
import { StateError } from '../errors.js';

/**
 * The state runtime's metrics: counted in place (an event costs one histogram observation and
 * one counter increment, no allocation once its series exists) and formatted as Prometheus
 * text at scrape time. No dependency: the exposition format is small.
 */

/** Where the state plugin serves its metrics (its `metrics` option). */
export interface MetricsOptions {
  /** Serves `GET <path>/metrics` on the app to `Authorization: Bearer <token>` only (401 otherwise). At least 32 characters. */
  token?: string | undefined;
  /** Serves `GET /metrics` without auth on a separate HTTP server on this port (0: any free one), started and closed with the plugin. */
  port?: number | undefined;
  /** The address the separate server binds. Default `127.0.0.1`: only the machine (or its sidecar scraper) reaches it. */
  host?: string | undefined;
}

/** Upper bounds (seconds) of the event latency histogram: 0.1 ms to 5 s, then +Inf. */
export const LATENCY_BUCKETS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The label value of state and handler names that were not declared (clients choose them: never labels). */
export const UNKNOWN = '_unknown';
/** Outcomes kept per handler; further error codes share `_other`, so no client or app can grow the series without bound. */
const MAX_OUTCOMES = 64;

/** The numbers `app.strata.metrics()` returns and `/metrics` exposes, read at the moment of the call. */
export interface StrataMetrics {
  /** Tabs the state manager holds on this worker (with or without a socket). */
  tabs: number;
  /** Tabs with a joined socket on this worker. */
  connectedTabs: number;
  /** WebSockets open on this worker (joined or not). */
  openSockets: number;
  /** Events answered, by state, handler and outcome (`ok` or the error code sent). */
  events: { state: string; handler: string; outcome: string; count: number }[];
  /** Time from an event's arrival to its answer, by state and handler; bucket counts are cumulative, the last `le` is Infinity. */
  eventSeconds: { state: string; handler: string; buckets: { le: number; count: number }[]; sum: number; count: number }[];
  /** Live-update jobs run (a tab re-reading after a commit), by outcome. */
  liveUpdateJobs: { ok: number; failed: number };
  /** Redis failures of the state manager: commands and publishes that failed, and connection errors. */
  redisErrors: { command: number; connection: number };
  /** Events that failed because the database was unreachable or dropped the connection. */
  databaseErrors: number;
  /** CPU time of the process (user + system), seconds. */
  cpuSeconds: number;
  /** V8 heap in use, bytes. */
  heapBytes: number;
}

/** What the runtime cannot count itself; read at scrape time. */
export interface ScrapeGauges {
  tabs: number;
  connectedTabs: number;
  openSockets: number;
  redisErrors: { command: number; connection: number };
}

/** One state and handler: its latency histogram and its outcomes. */
class EventSeries {
  /** Per bucket (not cumulative), the last one above the highest bound. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  /** Outcome `ok`, apart: the common case costs no map lookup. */
  ok = 0;
  /** Error codes. */
  readonly outcomes = new Map<string, number>();

  constructor(
    readonly state: string,
    readonly handler: string,
  ) {}

  observe(seconds: number, outcome: string): void {
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += seconds;
    this.count++;
    if (outcome === 'ok') {
      this.ok++;
      return;
    }
    const seen = this.outcomes.get(outcome);
    if (seen !== undefined) this.outcomes.set(outcome, seen + 1);
    else if (this.outcomes.size < MAX_OUTCOMES) this.outcomes.set(outcome, 1);
    else this.outcomes.set('_other', (this.outcomes.get('_other') ?? 0) + 1);
  }
}

/** The counters of one runtime. Label values are declared names only; anything else is {@link UNKNOWN}. */
export class RuntimeMetrics {
  private readonly series = new Map<string, Map<string, EventSeries>>();
  private readonly unknownState = new EventSeries(UNKNOWN, UNKNOWN);
  liveJobsOk = 0;
  liveJobsFailed = 0;
  databaseErrors = 0;

  /** `declared`: each state's name and its handlers' names. */
  constructor(declared: Iterable<[string, Iterable<string>]>) {
    for (const [state, handlers] of declared) {
      const byHandler = new Map<string, EventSeries>();
      for (const handler of handlers) byHandler.set(handler, new EventSeries(state, handler));
      byHandler.set(UNKNOWN, new EventSeries(state, UNKNOWN));
      this.series.set(state, byHandler);
    }
  }

  /** Counts one answered event; returns the names it was counted under (declared, or {@link UNKNOWN}). */
  event(state: string, handler: string, outcome: string, seconds: number): { readonly state: string; readonly handler: string } {
    const byHandler = this.series.get(state);
    const series = byHandler ? (byHandler.get(handler) ?? byHandler.get(UNKNOWN)!) : this.unknownState;
    series.observe(seconds, outcome);
    return series;
  }

  /** Every number, as a plain object. */
  snapshot(gauges: ScrapeGauges): StrataMetrics {
    const events: StrataMetrics['events'] = [];
    const eventSeconds: StrataMetrics['eventSeconds'] = [];
    for (const series of this.allSeries()) {
      if (series.count === 0) continue;
      if (series.ok) events.push({ state: series.state, handler: series.handler, outcome: 'ok', count: series.ok });
      for (const [outcome, count] of series.outcomes) events.push({ state: series.state, handler: series.handler, outcome, count });
      let cumulative = 0;
      const buckets = Array.from(series.counts, (count, i) => ({ le: LATENCY_BUCKETS[i] ?? Infinity, count: (cumulative += count) }));
      eventSeconds.push({ state: series.state, handler: series.handler, buckets, sum: series.sum, count: series.count });
    }
    const cpu = process.cpuUsage();
    return {
      tabs: gauges.tabs,
      connectedTabs: gauges.connectedTabs,
      openSockets: gauges.openSockets,
      events,
      eventSeconds,
      liveUpdateJobs: { ok: this.liveJobsOk, failed: this.liveJobsFailed },
      redisErrors: { ...gauges.redisErrors },
      databaseErrors: this.databaseErrors,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      heapBytes: process.memoryUsage().heapUsed,
    };
  }

  private *allSeries(): Iterable<EventSeries> {
    for (const byHandler of this.series.values()) yield* byHandler.values();
    yield this.unknownState;
  }
}

type Labels = readonly (readonly [string, string])[];
type Sample = readonly [suffix: string, labels: Labels, value: number];

/** The metrics in the Prometheus text exposition format (version 0.0.4). */
export function formatMetrics(m: StrataMetrics): string {
  const byState = (s: { state: string; handler: string }): Labels => [['state', s.state], ['handler', s.handler]];
  const histogram: Sample[] = [];
  for (const s of m.eventSeconds) {
    for (const bucket of s.buckets) histogram.push(['_bucket', [...byState(s), ['le', formatValue(bucket.le)]], bucket.count]);
    histogram.push(['_sum', byState(s), s.sum], ['_count', byState(s), s.count]);
  }
  return [
    family('strata_tabs', 'gauge', 'Tabs the state manager holds on this worker.', [['', [], m.tabs]]),
    family('strata_connected_tabs', 'gauge', 'Tabs with a joined WebSocket on this worker.', [['', [], m.connectedTabs]]),
    family('strata_open_sockets', 'gauge', 'WebSockets open on this worker.', [['', [], m.openSockets]]),
    family('strata_events_total', 'counter', 'Events answered, by state, handler and outcome (ok or the error code).', m.events.map((e): Sample => ['', [...byState(e), ['outcome', e.outcome]], e.count])),
    family('strata_event_duration_seconds', 'histogram', 'Time from an event frame arriving to its answer being sent.', histogram),
    family('strata_live_update_jobs_total', 'counter', 'Live-update jobs run (a tab re-reading its rows after a commit), by outcome.', [
      ['', [['outcome', 'ok']], m.liveUpdateJobs.ok],
      ['', [['outcome', 'failed']], m.liveUpdateJobs.failed],
    ]),
    family('strata_redis_errors_total', 'counter', 'Redis failures of the state manager: failed commands and publishes, and connection errors.', [
      ['', [['kind', 'command']], m.redisErrors.command],
      ['', [['kind', 'connection']], m.redisErrors.connection],
    ]),
    family('strata_database_errors_total', 'counter', 'Events that failed because the database was unreachable or dropped the connection.', [['', [], m.databaseErrors]]),
    family('process_cpu_seconds_total', 'counter', 'User and system CPU time of the process, seconds.', [['', [], m.cpuSeconds]]),
    family('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, bytes.', [['', [], m.heapBytes]]),
  ].join('');
}

function family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: readonly Sample[]): string {
  let text = `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
  for (const [suffix, labels, value] of samples) text += `${name}${suffix}${formatLabels(labels)} ${formatValue(value)}\n`;
  return text;
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(',')}}`;
}

/** Label values escape backslash, double quote and line feed (the exposition format's three). */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/** True when `error` is the model layer's "the database cannot be reached" (STRATA_MODEL_UNAVAILABLE). */
export function isDatabaseUnavailable(error: unknown): boolean {
  return isStrataError(error, 'STRATA_MODEL_UNAVAILABLE');
}

/** The content type of the text exposition format. */
export const PROMETHEUS_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Refuses a short token, a bad port, and in production a route without a token (STRATA_STATE_DEFINITION). */
export function checkMetricsOptions(metrics: MetricsOptions, production: boolean): void {
  const { token, port } = metrics;
  if (token !== undefined && (typeof token !== 'string' || token.length < 32)) {
    throw new StateError('STRATA_STATE_DEFINITION', 'metrics.token must be a random string of at least 32 characters (STRATA_METRICS_TOKEN).');
  }
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65_535)) throw new StateError('STRATA_STATE_DEFINITION', `metrics.port must be an integer from 0 to 65535, not ${String(port)}.`);
  if (production && token === undefined && port === undefined) {
    throw new StateError('STRATA_STATE_DEFINITION', 'In production the metrics route needs metrics.token (a bearer token), or metrics.port for a separate server bound to a private address.');
  }
}

/** Whether an Authorization header carries the token (no token: every request), compared in constant time. */
export function bearerCheck(token: string | undefined): (header: string | undefined) => boolean {
  if (token === undefined) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (header) => {
    const given = /^Bearer +(\S+) *$/i.exec(header ?? '')?.[1] ?? '';
    // Digests have one length, so the comparison takes the same time whatever was sent.
    return timingSafeEqual(createHash('sha256').update(given).digest(), expected);
  };
}

/** A minimal HTTP server answering `GET /metrics` only. */
export async function listenMetrics(port: number, host: string, text: () => string): Promise<Server> {
  const server = createServer((request, response) => {
    const route = request.url?.split('?')[0];
    if (route !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': PROMETHEUS_TYPE }).end(request.method === 'HEAD' ? undefined : text());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // A scraper's keep-alive connection would otherwise hold the close open.
  server.closeAllConnections();
  await closed;
}

export function serverUrl(address: AddressInfo): string {
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
