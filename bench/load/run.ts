/**
 * The load benchmark (issue 10): thousands of connected tabs on one worker process, each
 * sending one event every 10 s, against a raw fastify + @fastify/websocket baseline doing the
 * same counter work in the same run; then a ModelState page event; then two workers sharing
 * tabs through Redis. Prints a table and writes it to bench/load/results.md.
 *
 * Env: LOAD_TABS (10000), LOAD_SECONDS (60), LOAD_PERIOD_MS (10000), LOAD_RAMP (tabs opened
 * per second, 500), LOAD_PER_GENERATOR (2500), LOAD_BURST_SECONDS (5), LOAD_BURST_TABS (per
 * generator, 100), LOAD_WORKLOADS (raw,counter,products,products-growth,redis2), STRATA_BENCH_REDIS_URL (the
 * Redis workload is skipped without it), LOAD_TIMEOUT_SECONDS (watchdog), LOAD_OUT (results file), LOAD_REPEAT (runs per workload; the median p95's run is shown),
 * STRATA_BENCH_PROF (a directory: each worker writes a CPU profile there), LOAD_HEARTBEAT_MS (diagnostic:
 * the Strata workers' heartbeatMs), LOAD_WORKER_FLAGS (diagnostic: extra Node flags for the workers), LOAD_HEAP_SAMPLE (diagnostic: a directory;
 * each worker writes there a sampled profile of the allocations that reached the old generation in the window).
 */
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Command, Target, Workload } from './generator.js';
import { type Child, guard, hasTaskset, killAll, startProcess } from './processes.js';
import { callsBetween, commandCalls, deletePrefix, TOP_LEVEL } from './redisInfo.js';
import { between, bucketQuantile, eventFigures } from './serverMetrics.js';
import { describeMachine, formatTable, GOALS, quantile, type Row } from './report.js';
import type { ServerMode } from './server.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const TABS = env('LOAD_TABS', 10_000);
const SECONDS = env('LOAD_SECONDS', 60);
const PERIOD_MS = env('LOAD_PERIOD_MS', 10_000);
const RAMP = env('LOAD_RAMP', 500);
const PER_GENERATOR = env('LOAD_PER_GENERATOR', 2_500);
const BURST_SECONDS = env('LOAD_BURST_SECONDS', 5);
const BURST_TABS = env('LOAD_BURST_TABS', 100);
/** Runs of each workload; the table shows the run with the median p95 (a 60 s window holds few full collections). */
const REPEAT = env('LOAD_REPEAT', 1);
const REDIS_URL = process.env.STRATA_BENCH_REDIS_URL;
const WORKLOADS = (process.env.LOAD_WORKLOADS ?? 'raw,counter,products,products-growth,redis2').split(',');
const OUT = process.env.LOAD_OUT ?? fileURLToPath(new URL('../../load/results.md', import.meta.url));
/** With STRATA_BENCH_PROF=dir, each worker writes a CPU profile there (as the other benchmarks do). */
const PROFILE = process.env.STRATA_BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STRATA_BENCH_PROF}`] : [];
/** LOAD_WORKER_FLAGS: extra Node/V8 flags for the workers (diagnostic, e.g. `--trace-gc`). */
const WORKER_FLAGS = (process.env.LOAD_WORKER_FLAGS ?? '').split(' ').filter(Boolean);
/** Time to wait for every tab to settle in before the idle heap is read. */
const SETTLE_MS = 2_000;

interface Plan {
  key: string;
  label: string;
  workload: Workload;
  servers: { mode: ServerMode; cpus?: string }[];
  generatorCpus?: string;
  /** Node flags of the workers besides --expose-gc. */
  flags?: string[];
}

/** What `strata start` sets with STRATA_HEAP_GROWTH=100: V8's old generation grows 100 % between full collections. */
const HEAP_GROWTH_FLAGS = ['--heap-growing-percent=100'];

const PINNED = hasTaskset() && cpus().length >= 2;
/** Pinned to core `n` when the machine has taskset and a second core; else left to the scheduler. */
const on = (n: string) => (PINNED ? { cpus: n } : {});
const PLANS: Plan[] = [
  { key: 'raw', label: 'raw fastify ws counter (baseline)', workload: 'counter', servers: [{ mode: 'raw', ...on('0') }], ...(PINNED ? { generatorCpus: '1' } : {}) },
  { key: 'counter', label: 'strata counter, 1 worker, memory', workload: 'counter', servers: [{ mode: 'counter', ...on('0') }], ...(PINNED ? { generatorCpus: '1' } : {}) },
  { key: 'products', label: 'strata ModelState page, 1 worker, V8 defaults', workload: 'products', servers: [{ mode: 'products', ...on('0') }], ...(PINNED ? { generatorCpus: '1' } : {}) },
  {
    key: 'products-growth',
    label: 'strata ModelState page, 1 worker, heap growth 100 %',
    workload: 'products',
    servers: [{ mode: 'products', ...on('0') }],
    flags: HEAP_GROWTH_FLAGS,
    ...(PINNED ? { generatorCpus: '1' } : {}),
  },
  // Two workers take both cores, so the generators are left to the scheduler.
  { key: 'redis2', label: 'strata counter, 2 workers + Redis', workload: 'counter', servers: [{ mode: 'counter-redis', ...on('0') }, { mode: 'counter-redis', ...on('1') }] },
];

type Memory = { heapUsed: number; rss: number };
type Cpu = { user: number; system: number; at: number };
type Stalls = { loopP99Ms: number; loopMaxMs: number; gc: { count: number; totalMs: number; maxMs: number } };
type Stats = { redisRoundTrips: number; metrics?: unknown; stalls: Stalls };

async function sum<T extends Record<string, unknown>>(servers: Child[], type: string): Promise<T[]> {
  return Promise.all(servers.map((server) => server.request<T>(type)));
}

/** Asks a child to end with `message`; kills its group if it has not exited within 5 s. */
async function end(child: Child, message: Command | { type: 'stop' }): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = once(child.process, 'exit');
  child.process.send(message);
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function startServers(plan: Plan, prefix: string): Promise<{ servers: Child[]; targets: Target[] }> {
  const servers = await Promise.all(
    plan.servers.map(({ mode, cpus: pinned }) =>
      startProcess('./server.js', [mode], { execArgv: ['--expose-gc', ...(plan.flags ?? []), ...PROFILE, ...WORKER_FLAGS], ...(pinned ? { cpus: pinned } : {}), env: { STRATA_LOAD_REDIS_URL: REDIS_URL, STRATA_LOAD_REDIS_PREFIX: prefix } }),
    ),
  );
  return { servers, targets: servers.map((server, i) => ({ address: server.ready.address as string, raw: plan.servers[i]!.mode === 'raw' })) };
}

async function startGenerators(plan: Plan, targets: Target[]): Promise<Child[]> {
  const count = Math.ceil(TABS / PER_GENERATOR);
  const generators = await Promise.all(Array.from({ length: count }, () => startProcess('./generator.js', [], plan.generatorCpus ? { cpus: plan.generatorCpus } : {})));
  await Promise.all(
    generators.map((generator, i) => {
      const tabs = Math.floor(TABS / count) + (i < TABS % count ? 1 : 0);
      return generator.request('prepare', { targets, tabs, workload: plan.workload });
    }),
  );
  return generators;
}

const total = <T>(values: T[], pick: (value: T) => number) => values.reduce((acc, value) => acc + pick(value), 0);

type Measured = { samples: number[]; sent: number; failed: number };
type Readings = {
  open: number;
  before: Memory[];
  idle: Memory[];
  cpu: [Cpu[], Cpu[]];
  stats: [Stats[], Stats[]];
  redis: [Map<string, number> | undefined, Map<string, number> | undefined];
  measured: Measured[];
  bursts: { events: number; failed: number }[];
};

/** Every reading of one workload: memory, then tabs, then the window, then the burst. */
async function drive(plan: Plan, servers: Child[], generators: Child[]): Promise<Readings> {
  const before = await sum<Memory>(servers, 'memory');
  const opened = await Promise.all(generators.map((g) => g.request<{ open: number; failed: number; firstError?: string }>('connect', { perSecond: RAMP / generators.length })));
  const open = total(opened, (o) => o.open);
  const refused = opened.find((o) => o.firstError)?.firstError;
  console.log(`  ${plan.label}: ${open} of ${TABS} tabs connected${refused ? ` (first failure: ${refused})` : ''}`);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const idle = await sum<Memory>(servers, 'memory');
  const read = () => Promise.all([sum<Cpu>(servers, 'cpu'), sum<Stats>(servers, 'stats'), REDIS_URL ? commandCalls(REDIS_URL) : undefined] as const);
  const [cpuBefore, statsBefore, redisBefore] = await read();
  const measured = await Promise.all(generators.map((g) => g.request<Measured>('measure', { seconds: SECONDS, periodMs: PERIOD_MS })));
  const [cpuAfter, statsAfter, redisAfter] = await read();
  const bursts = await Promise.all(generators.map((g) => g.request<{ events: number; failed: number }>('burst', { seconds: BURST_SECONDS, concurrency: BURST_TABS })));
  const burstFailed = total(bursts, (b) => b.failed);
  // A refused event (rate limit: 50/s per tab by default) would make the burst measure the limiter.
  if (burstFailed) console.log(`  burst: ${burstFailed} events refused or unanswered (not counted); raise LOAD_BURST_TABS so each tab stays under the rate limit`);
  return { open, before, idle, cpu: [cpuBefore, cpuAfter], stats: [statsBefore, statsAfter], redis: [redisBefore, redisAfter], measured, bursts };
}

function toRow(plan: Plan, { open, before, idle, cpu, stats, redis, measured, bursts }: Readings): Row {
  const samples = measured.flatMap((m) => m.samples).sort((a, b) => a - b);
  const sent = total(measured, (m) => m.sent);
  const cpuMicros = total(cpu[1], (c) => c.user + c.system) - total(cpu[0], (c) => c.user + c.system);
  const wallMicros = (Math.max(...cpu[1].map((c) => c.at)) - Math.min(...cpu[0].map((c) => c.at))) * 1000;
  const redisTrips = total(stats[1], (s) => s.redisRoundTrips) - total(stats[0], (s) => s.redisRoundTrips);
  const [figuresBefore, figuresAfter] = stats.map((readings) => eventFigures(readings.map((s) => s.metrics)));
  const server = figuresBefore && figuresAfter ? between(figuresBefore, figuresAfter) : undefined;
  if (server) console.log(`  app.strata.metrics() over the window: ${server.events} events answered (${server.ok} ok), mean handling ${((server.seconds / server.events) * 1000).toFixed(2)} ms`);
  for (const { stalls } of stats[1]) {
    console.log(`  worker stalls over the window: event-loop delay p99 ${stalls.loopP99Ms.toFixed(1)} ms, max ${stalls.loopMaxMs.toFixed(1)} ms; ${stalls.gc.count} GC pauses, ${stalls.gc.totalMs.toFixed(0)} ms in all, longest ${stalls.gc.maxMs.toFixed(1)} ms`);
  }
  const usesRedis = plan.servers.some((s) => s.mode === 'counter-redis');
  if (usesRedis && redis[0] && redis[1]) {
    console.log(`  Redis INFO commandstats over the window (whole server, other clients included): ${(callsBetween(redis[0], redis[1], TOP_LEVEL) / sent).toFixed(2)} top-level calls/event`);
  }
  return {
    workload: plan.label,
    tabs: open,
    eventsPerSecond: samples.length / SECONDS,
    p50: quantile(samples, 0.5),
    p95: quantile(samples, 0.95),
    p99: quantile(samples, 0.99),
    failed: sent - samples.length,
    cpuPercent: (cpuMicros / wallMicros) * 100,
    cpuMsPerEvent: cpuMicros / 1000 / (server?.events ?? samples.length),
    heapKbPerTab: (total(idle, (m) => m.heapUsed) - total(before, (m) => m.heapUsed)) / open / 1024,
    rssKbPerTab: (total(idle, (m) => m.rss) - total(before, (m) => m.rss)) / open / 1024,
    burstPerSecond: total(bursts, (b) => b.events) / BURST_SECONDS,
    // Over the workers' own count of events when they expose it: the Redis calls of the window are theirs.
    redisPerEvent: usesRedis ? redisTrips / (server?.events ?? sent) : undefined,
    serverEvents: server?.events,
    serverP95: server ? bucketQuantile(server, 0.95) : undefined,
  };
}

async function runPlan(plan: Plan): Promise<Row> {
  const prefix = `strata-load:${process.pid}:${plan.key}:`;
  const { servers, targets } = await startServers(plan, prefix);
  let generators: Child[] = [];
  try {
    generators = await startGenerators(plan, targets);
    return toRow(plan, await drive(plan, servers, generators));
  } finally {
    await Promise.all(generators.map((g) => end(g, { type: 'close' })));
    await Promise.all(servers.map((s) => end(s, { type: 'stop' })));
    if (REDIS_URL && plan.key === 'redis2') await deletePrefix(REDIS_URL, prefix).catch(() => undefined);
  }
}

/** Runs `plan` REPEAT times; its row is the run with the median p95, and every run's p95 and p99 are printed. */
async function medianRun(plan: Plan): Promise<Row> {
  const runs: Row[] = [];
  for (let i = 0; i < REPEAT; i++) runs.push(await runPlan(plan));
  if (runs.length === 1) return runs[0]!;
  const byP95 = [...runs].sort((a, b) => a.p95 - b.p95);
  spreads.push(`${plan.label}: p95 ${runs.map((run) => run.p95.toFixed(1)).join(', ')} ms; p99 ${runs.map((run) => run.p99.toFixed(1)).join(', ')} ms over ${runs.length} runs (the table shows the median p95's run)`);
  return byP95[Math.floor((byP95.length - 1) / 2)]!;
}
const spreads: string[] = [];

function selectedPlans(): Plan[] {
  const plans = PLANS.filter((plan) => WORKLOADS.includes(plan.key));
  if (!REDIS_URL && plans.some((plan) => plan.key === 'redis2')) {
    console.log('Note: the 2 workers + Redis workload is skipped: set STRATA_BENCH_REDIS_URL (e.g. redis://127.0.0.1:6379) to run it.');
    return plans.filter((plan) => plan.key !== 'redis2');
  }
  return plans;
}

const plans = selectedPlans();
guard(env('LOAD_TIMEOUT_SECONDS', plans.length * REPEAT * (TABS / RAMP + SECONDS + BURST_SECONDS + 150) + 60));
const machine = describeMachine(PINNED);
console.log(`load run: ${TABS} tabs, one event per tab every ${PERIOD_MS / 1000} s for ${SECONDS} s, tabs opened at ${RAMP}/s\n${machine}`);
const rows: Row[] = [];
try {
  for (const plan of plans) rows.push(await medianRun(plan));
} finally {
  killAll();
}
const baseline = rows.find((row) => row.workload === PLANS[0]!.label);
const memoryCounter = rows.find((row) => row.workload === PLANS[1]!.label);
for (const row of rows) {
  if (baseline && row !== baseline) row.timesBaseline = row.p95 / baseline.p95;
  if (memoryCounter && row !== memoryCounter && row !== baseline) row.burstVsMemory = row.burstPerSecond / memoryCounter.burstPerSecond;
}
const title = `Load: ${TABS} tabs, one event per tab every ${PERIOD_MS / 1000} s, ${SECONDS} s window (${new Date().toISOString().slice(0, 16)}Z)`;
const text = [title, machine, '', formatTable(rows), '', ...spreads, ...GOALS].join('\n');
console.log(`\n${text}`);
const markdown = [`# Load benchmark results`, 'Written by `pnpm bench:load` (bench/load/run.ts); overwritten on every run.', `## ${title}`, machine, formatTable(rows), [...spreads, ...GOALS].map((line) => `- ${line}`).join('\n')];
writeFileSync(OUT, `${markdown.join('\n\n')}\n`);
console.log(`\nwritten to ${OUT}`);
