import { createConnection, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP relay in front of Redis that can freeze a worker at an exact point: `holdAt(marker)`
 * stops forwarding a connection's commands from the first one whose bytes contain `marker`
 * (a Lua script's text, say), so the worker hangs there, as a process does just before it dies.
 */
export interface RedisGate {
  readonly url: string;
  /** Holds the next command containing `marker` (and everything after it on that connection); resolves when one is held. */
  holdAt(marker: string): Promise<void>;
  close(): Promise<void>;
}

export async function startRedisGate(redisUrl: string): Promise<RedisGate> {
  const upstream = new URL(redisUrl);
  const sockets = new Set<Socket>();
  let armed: { marker: string; held: () => void } | undefined;
  const server = createServer((client) => {
    const redis = createConnection({ host: upstream.hostname, port: Number(upstream.port || 6379) });
    sockets.add(client).add(redis);
    let holding = false;
    let tail = '';
    client.on('data', (chunk: Buffer) => {
      if (holding) return;
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-256);
      if (armed && text.includes(armed.marker)) {
        holding = true;
        armed.held();
        armed = undefined;
        return;
      }
      redis.write(chunk);
    });
    redis.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      redis.destroy();
    };
    client.on('close', end).on('error', end);
    redis.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}${upstream.pathname}`,
    holdAt(marker) {
      return new Promise((resolve) => {
        armed = { marker, held: resolve };
      });
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
