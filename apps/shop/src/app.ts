import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CliError, defineApp } from '@strata/cli';
import { devPages, registerPages } from './pages.js';
import { seed } from './seed.js';
import { createShop, models, shopStates } from './server.js';

/**
 * Reset e-mails as files in a mail drop folder (one message per file) for the host's mailer to
 * send: how the shop delivers them in production (SHOP_OUTBOX_DIR). In development, without
 * it, the auth layer prints the link to the log.
 */
function outbox(dir: string) {
  return async (message: { email: string; link: string; userId: number }) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const body = `To: ${message.email}\nSubject: Reset your password\n\nOpen this link to choose a new password (it works once, for an hour):\n${message.link}\n`;
    await writeFile(join(dir, `${Date.now()}-${randomBytes(6).toString('hex')}.eml`), body, { mode: 0o600 });
  };
}

const at = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const clientDir = at('./client');
const ssrEntry = at('./server/entry-server.js');

/**
 * The shop as the `strata` command runs it (this file builds to dist/app.js):
 * `strata build && strata migrate && strata seed && strata start`.
 */
export default defineApp({
  name: 'shop',
  models,
  states: shopStates,
  migrations: at('../migrations'),
  seed: () => seed((line) => console.log(`  ${line}`)),
  clientDir,
  web: { config: at('../web/vite.config.ts'), ssrEntry: at('../web/entry-server.tsx'), serverOutDir: at('./server') },
  server: async (settings, { dev }) => {
    const app = await createShop({
      secret: settings.secretKey,
      siteOrigin: settings.siteOrigin,
      redisUrl: settings.redisUrl,
      production: settings.env === 'production',
      logger: settings.debug,
      allowedHosts: settings.allowedHosts,
      allowedOrigins: settings.allowedOrigins,
      // Served only when one of STRATA_METRICS_TOKEN / STRATA_METRICS_PORT is set.
      metrics: settings.metricsToken !== undefined || settings.metricsPort !== undefined ? { token: settings.metricsToken, port: settings.metricsPort } : undefined,
      ...(process.env.SHOP_OUTBOX_DIR ? { sendPasswordReset: outbox(process.env.SHOP_OUTBOX_DIR) } : {}),
    });
    if (dev) devPages(app, dev.vite as Parameters<typeof devPages>[1]);
    else {
      if (!existsSync(ssrEntry)) throw new CliError('STRATA_CLI_APP', `The shop's pages are not built (${ssrEntry} is missing): run strata build first.`);
      const { render } = (await import(pathToFileURL(ssrEntry).href)) as { render: Parameters<typeof registerPages>[1]['render'] };
      registerPages(app, { clientDir, render });
    }
    return app;
  },
});
