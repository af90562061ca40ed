import type { Connection } from './connection.js';

/** Slices of a heartbeat: each tick pings this fraction of the sockets. */
const HEARTBEAT_SLICES = 30;

/**
 * Pings every socket once per `heartbeatMs`, in slices spread over the interval (one sweep over
 * 10,000 sockets, pings and refreshed tokens, held the event loop ~200 ms), and drops a socket
 * whose ping of at least half an interval ago went unanswered. Returns the timer (unref'd).
 */
export function startHeartbeat(connections: ReadonlySet<Connection>, heartbeatMs: number, tokenTtlMs: number): ReturnType<typeof setInterval> {
  let sweep: Connection[] = [];
  let cursor = 0;
  let sweptAt = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    if (cursor >= sweep.length) {
      // The next sweep starts one heartbeat after the last one: a socket has that long to answer its ping.
      if (now - sweptAt < heartbeatMs) return;
      sweep = [...connections];
      cursor = 0;
      sweptAt = now;
    }
    const end = Math.min(sweep.length, cursor + Math.ceil(sweep.length / HEARTBEAT_SLICES));
    for (; cursor < end; cursor++) {
      const connection = sweep[cursor]!;
      if (!connections.has(connection)) continue;
      if (!connection.alive) {
        if (now - connection.pingedAt >= heartbeatMs / 2) connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      connection.pingedAt = now;
      connection.socket.ping();
      connection.refreshToken(tokenTtlMs, now);
    }
  }, heartbeatMs / HEARTBEAT_SLICES);
  timer.unref();
  return timer;
}
