// One worker of the shop in its own process, as `strata start --workers N` runs it: the built
// shop (dist/) on the database and Redis given in argv[2] (JSON), on a loopback port it
// reports to its parent over IPC. Exits when the parent goes away.
import { setup } from '@strata/model';
import { createShop, models } from '../../dist/server.js';

const options = JSON.parse(process.argv[2]);
process.on('disconnect', () => process.exit(0));

await setup({ databaseUrl: options.databaseUrl, ...(options.schema ? { schema: options.schema } : {}), models });
const app = await createShop({
  secret: 'shop-test-secret-shop-test-secret-0123',
  siteOrigin: options.origin,
  allowedOrigins: [options.origin],
  redisUrl: options.redisUrl,
  redisPrefix: options.redisPrefix,
  sendPasswordReset: () => undefined,
});
await app.listen({ port: 0, host: '127.0.0.1' });
process.send({ port: app.server.address().port });
