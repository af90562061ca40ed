import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * The shop's browser app: `vite build --config web/vite.config.ts` → `dist/client` (with a
 * manifest naming the entry's files), and with `--ssr` → `dist/server/entry-server.js`.
 */
export default defineConfig(({ isSsrBuild }) => ({
  root,
  plugins: [solid({ ssr: true })],
  build: isSsrBuild
    ? { outDir: '../dist/server', emptyOutDir: true, ssr: 'entry-server.tsx', rollupOptions: { input: 'entry-server.tsx' } }
    : { outDir: '../dist/client', emptyOutDir: true, manifest: true, rollupOptions: { input: 'entry-client.tsx' } },
}));
