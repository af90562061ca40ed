/** The load run's table: one row per workload, the machine above it, the goals below. */
import { cpus, loadavg, totalmem } from 'node:os';

export interface Row {
  workload: string;
  tabs: number;
  eventsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  failed: number;
  cpuPercent: number;
  /** Worker CPU per answered event (ms): what a core can afford at a given event rate, whatever else shares it. */
  cpuMsPerEvent: number;
  heapKbPerTab: number;
  rssKbPerTab: number;
  burstPerSecond: number;
  redisPerEvent?: number | undefined;
  /** Events the worker(s) counted in the window (`app.strata.metrics()`); undefined for the raw baseline. */
  serverEvents?: number | undefined;
  /** Upper bound (ms) of the workers' handling-time histogram bucket holding the 95th percentile. */
  serverP95?: number | undefined;
  /** p95 against the raw baseline's p95. */
  timesBaseline?: number | undefined;
  /** Burst throughput against the one-worker memory manager's. */
  burstVsMemory?: number | undefined;
}

/** The value at quantile `q` of sorted `values`. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

export function describeMachine(pinned: boolean): string {
  const cores = cpus();
  const memory = `${(totalmem() / 2 ** 30).toFixed(1)} GiB`;
  const placement = pinned ? 'one worker pinned to core 0 and the generators to core 1 (taskset); two workers on cores 0 and 1, generators unpinned' : 'no taskset: processes unpinned';
  return `machine: ${cores[0]?.model.trim() ?? 'unknown CPU'} × ${cores.length} cores, ${memory} RAM, Node ${process.version}, ${process.platform} ${process.arch}; load average ${loadavg()[0]!.toFixed(1)} at the start (other work on the machine skews latency); ${placement}; everything on loopback`;
}

const fixed = (value: number | undefined, digits: number) => (value === undefined || Number.isNaN(value) ? '—' : value.toFixed(digits));

/** An aligned Markdown table. */
export function formatTable(rows: readonly Row[]): string {
  const header = ['workload', 'tabs', 'events/s', 'p50 ms', 'p95 ms', 'p99 ms', 'failed', 'server events', 'server p95 ms', 'server CPU %', 'CPU ms/event', 'heap KB/tab', 'RSS KB/tab', 'Redis RT/event', 'p95 × baseline', 'burst events/s', 'burst × memory'];
  const cells = [
    header,
    ...rows.map((row) => [
      row.workload,
      String(row.tabs),
      fixed(row.eventsPerSecond, 0),
      fixed(row.p50, 2),
      fixed(row.p95, 2),
      fixed(row.p99, 2),
      String(row.failed),
      row.serverEvents === undefined ? '—' : String(row.serverEvents),
      row.serverP95 === undefined ? '—' : `≤ ${row.serverP95}`,
      fixed(row.cpuPercent, 1),
      fixed(row.cpuMsPerEvent, 2),
      fixed(row.heapKbPerTab, 1),
      fixed(row.rssKbPerTab, 1),
      fixed(row.redisPerEvent, 2),
      row.timesBaseline === undefined ? '—' : `${row.timesBaseline.toFixed(2)}×`,
      fixed(row.burstPerSecond, 0),
      row.burstVsMemory === undefined ? '—' : `${row.burstVsMemory.toFixed(2)}×`,
    ]),
  ];
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export const GOALS = [
  'goals (issue 10): p95 < 20 ms for a counter event, < 50 ms for a ModelState page event; ≤ 15 KB heap and ≤ 25 KB RSS per idle tab; ≤ 2 Redis round trips per event.',
  '"V8 defaults": the worker run with plain `node` (as `strata start` runs it by default); "heap growth 100 %": as `strata start` runs it with STRATA_HEAP_GROWTH=100 (rarer full collections; see docs/performance.md).',
  'events/s and latency: every tab sends one event per period at a random phase (open loop); "burst": a closed loop on a few tabs per generator, the most events/s the worker(s) answered.',
  'server events / server p95: the workers\' own figures from app.strata.metrics() over the window (event arrival to answer, so without the socket and the client; p95 is the upper bound of its histogram bucket).',
  'server CPU %: user + system CPU of the worker process(es) over the measuring window, in % of one core; CPU ms/event: that CPU time over the events answered in the window (connection upkeep included). heap/RSS per tab: (after N idle joined tabs − before any tab) / N, after a forced GC.',
];
