/**
 * The workers' own event figures, read from `app.strata.metrics()` (the numbers `/metrics`
 * serves): events answered and the handling-time histogram, summed over workers and handlers,
 * and differenced over the measuring window.
 */

/** The part of `StrataMetrics` (@strata/state) the load run reads; `le` arrives as null for +Inf over IPC. */
interface Metrics {
  events: { outcome: string; count: number }[];
  eventSeconds: { buckets: { le: number | null; count: number }[]; sum: number; count: number }[];
}

export interface EventFigures {
  events: number;
  ok: number;
  /** Sum of handling times, seconds. */
  seconds: number;
  /** Cumulative count per upper bound (seconds; Infinity last). */
  buckets: Map<number, number>;
}

/** The workers' figures summed, or undefined when this build of @strata/state has no `metrics()`. */
export function eventFigures(perWorker: readonly unknown[]): EventFigures | undefined {
  if (perWorker.length === 0 || perWorker.some((metrics) => metrics === undefined)) return undefined;
  const figures: EventFigures = { events: 0, ok: 0, seconds: 0, buckets: new Map() };
  for (const metrics of perWorker as Metrics[]) {
    for (const { outcome, count } of metrics.events) {
      figures.events += count;
      if (outcome === 'ok') figures.ok += count;
    }
    for (const series of metrics.eventSeconds) {
      figures.seconds += series.sum;
      for (const { le, count } of series.buckets) figures.buckets.set(le ?? Infinity, (figures.buckets.get(le ?? Infinity) ?? 0) + count);
    }
  }
  return figures;
}

/** What happened between two readings. */
export function between(before: EventFigures, after: EventFigures): EventFigures {
  const buckets = new Map([...after.buckets].map(([le, count]) => [le, count - (before.buckets.get(le) ?? 0)]));
  return { events: after.events - before.events, ok: after.ok - before.ok, seconds: after.seconds - before.seconds, buckets };
}

/** The upper bound (ms) of the histogram bucket holding quantile `q`: the server's handling time is at most this. */
export function bucketQuantile(figures: EventFigures, q: number): number {
  const total = figures.buckets.get(Infinity) ?? 0;
  for (const [le, count] of [...figures.buckets].sort(([a], [b]) => a - b)) {
    if (count >= total * q) return le * 1000;
  }
  return Number.NaN;
}
