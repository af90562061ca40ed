import { AsyncLocalStorage } from 'node:async_hooks';

/** What a query scope saw: how many queries ran, and how often each SQL shape ran. */
export interface QueryReport {
  count: number;
  /** SQL text (with placeholders) → times run. */
  shapes: Map<string, number>;
}

export interface QueryScopeOptions {
  /** Warn when one SQL shape runs more than this many times in the scope (default 10; 0 disables). */
  nPlusOneThreshold?: number;
  /** Receives N+1 warnings (default: `console.warn`). Only called when the registry runs with `debug`. */
  onWarning?: (message: string) => void;
}

interface Scope extends QueryReport {
  parent: Scope | undefined;
  threshold: number;
  onWarning: (message: string) => void;
  warned: Set<string>;
}

const storage = new AsyncLocalStorage<Scope>();

/**
 * Runs `fn` in a query scope that counts the queries it runs (tests, benchmarks, and one
 * scope per event in the state runtime). Scopes nest; a query counts in every open scope.
 * @example const { result, count } = await runInQueryScope(() => Order.objects.prefetch('items'));
 */
export async function runInQueryScope<T>(fn: () => Promise<T> | T, options: QueryScopeOptions = {}): Promise<QueryReport & { result: T }> {
  const scope: Scope = {
    count: 0,
    shapes: new Map(),
    parent: storage.getStore(),
    threshold: options.nPlusOneThreshold ?? 10,
    onWarning: options.onWarning ?? ((message) => console.warn(message)),
    warned: new Set(),
  };
  // Awaited inside the scope, so that a queryset returned unawaited by `fn` also runs in it.
  const result = await storage.run(scope, async () => await fn());
  return { result, count: scope.count, shapes: scope.shapes };
}

/** @internal Called for every data query; `describe` names the model for N+1 warnings. */
export function recordQuery(sqlText: string, debug: boolean, describe: (sqlText: string) => string): void {
  const innermost = storage.getStore();
  // Outside every scope nothing is counted, so the shape (a regular expression over the SQL) need not be built.
  if (!innermost) return;
  const shape = sqlText.replace(/\((?:\?|\$\d+)(?:, (?:\?|\$\d+))*\)/g, '(…)');
  for (let scope: Scope | undefined = innermost; scope; scope = scope.parent) {
    scope.count += 1;
    const seen = (scope.shapes.get(shape) ?? 0) + 1;
    scope.shapes.set(shape, seen);
    if (debug && scope.threshold > 0 && seen > scope.threshold && !scope.warned.has(shape)) {
      scope.warned.add(shape);
      scope.onWarning(
        `Possible N+1 query: the same query on ${describe(sqlText)} ran ${seen} times in one scope${callSite()}. ` +
          `Load the relation with selectRelated() or prefetch(). Query: ${shape.slice(0, 200)}`,
      );
    }
  }
}

function callSite(): string {
  // The driver and the model layer take a dozen frames before the caller's; the default limit is 10.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 50;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const frames = stack.split('\n').slice(1);
  const site = frames.find(
    (line) => !/node:|node_modules|[\\/]packages[\\/]model[\\/](src[\\/](?!__tests__)|dist)/.test(line),
  );
  return site ? ` (${site.trim().replace(/^at /, 'at ')})` : '';
}
