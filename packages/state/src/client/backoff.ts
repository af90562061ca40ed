/** How long to wait between reconnect attempts. */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter (ms). Default 250. */
  initialMs?: number;
  /** Longest delay, before jitter (ms). Default 30 000. */
  maxMs?: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry):
 * `min(maxMs, initialMs × 2^attempt) × (0.5 + random × 0.5)`. The jitter keeps a server
 * restart from bringing every tab back in the same instant.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const { initialMs = 250, maxMs = 30_000 } = options;
  return Math.min(maxMs, initialMs * 2 ** attempt) * (0.5 + random() * 0.5);
}
