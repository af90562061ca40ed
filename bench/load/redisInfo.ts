/**
 * Two Redis commands the runner needs, over a plain socket (RESP): the server's command
 * counters (`INFO commandstats`) and deleting a run's keys. No client library: the bench does
 * not depend on one, and these answers are single bulk strings or integers.
 */
import { connect } from 'node:net';

function command(url: string, words: string[]): Promise<string> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port || 6379), hostname || '127.0.0.1');
  socket.write(`*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`);
  return new Promise((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString();
      const bulk = /^\$(\d+)\r\n/.exec(text);
      const complete = bulk ? Buffer.byteLength(text) >= bulk[0].length + Number(bulk[1]) + 2 : text.endsWith('\r\n');
      if (!complete) return;
      socket.end();
      resolve(bulk ? text.slice(bulk[0].length, -2) : text.trim());
    });
    socket.once('error', reject);
  });
}

/**
 * Calls of every command so far (`cmdstat_<name>: calls=N`). Redis counts the commands a Lua
 * script runs too, so round trips are the top-level commands only (see {@link TOP_LEVEL}).
 */
export async function commandCalls(url: string): Promise<Map<string, number>> {
  const info = await command(url, ['INFO', 'commandstats']);
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1]!, Number(match[2]));
  return calls;
}

/**
 * Commands the Redis state manager sends itself (its scripts' inner HGET/HSET/DEL are not round
 * trips). The counters are the whole server's: another client of the same Redis adds to them.
 */
export const TOP_LEVEL = ['eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'exists', 'publish', 'ping'] as const;

/** Total calls of `names` between two `commandCalls` readings. */
export function callsBetween(before: Map<string, number>, after: Map<string, number>, names: readonly string[]): number {
  return names.reduce((sum, name) => sum + (after.get(name) ?? 0) - (before.get(name) ?? 0), 0);
}

/** Deletes every key under `prefix` (one server-side script, so one round trip). */
export async function deletePrefix(url: string, prefix: string): Promise<void> {
  const script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) n = n + 1 end return n";
  await command(url, ['EVAL', script, '0', `${prefix}*`]);
}
