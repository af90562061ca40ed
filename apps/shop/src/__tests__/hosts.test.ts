import { describe, expect, it } from 'vitest';
import { createShop } from '../server.js';

describe('allowed hosts', () => {
  it('answers only the configured host names (port aside) and refuses others before any route runs', async () => {
    const app = await createShop({ secret: 'shop-test-secret-shop-test-secret-0123', siteOrigin: 'https://shop.example', allowedHosts: ['shop.example'], sendPasswordReset: () => undefined });
    try {
      expect((await app.inject({ url: '/auth/me', headers: { host: 'shop.example' } })).statusCode).toBe(200);
      expect((await app.inject({ url: '/auth/me', headers: { host: 'SHOP.example:8443' } })).statusCode).toBe(200);
      const evil = await app.inject({ url: '/auth/me', headers: { host: 'evil.example' } });
      expect([evil.statusCode, evil.json()]).toEqual([400, { error: { code: 'SHOP_BAD_HOST', message: 'This host is not served here.' } }]);
      expect((await app.inject({ method: 'POST', url: '/auth/password/reset', headers: { host: 'evil.example' }, payload: { email: 'a@b.c' } })).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});
