import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { StateError } from '../errors.js';

interface TokenPayload {
  tab: string;
  exp: number;
  bind?: string;
  /** Set on the tokens a joined socket gets for its reconnects: the tab must still exist. */
  re?: 1;
}

/** What a valid token says. */
export interface VerifiedToken {
  tab: string;
  rejoin: boolean;
}

/** Signs and verifies join tokens: `v1.<base64url payload>.<base64url HMAC-SHA256>`. */
export class JoinTokens {
  private readonly key: Buffer;

  constructor(secret: string | Buffer, private readonly ttlMs: number) {
    this.key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
    if (this.key.length < 32) throw new StateError('STRATA_STATE_DEFINITION', 'The state plugin needs a secret of at least 32 bytes (STRATA_SECRET_KEY).');
  }

  /** A token for `tab` (a new random tab id when omitted), valid for the configured time. */
  issue(options: { tab?: string; bind?: string | undefined; rejoin?: boolean } = {}, now = Date.now()): string {
    const payload: TokenPayload = { tab: options.tab ?? randomBytes(12).toString('base64url'), exp: now + this.ttlMs };
    if (options.bind !== undefined) payload.bind = options.bind;
    if (options.rejoin) payload.re = 1;
    const body = `v1.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${body}.${this.sign(body)}`;
  }

  /** What a valid token says; throws STRATA_STATE_BAD_TOKEN otherwise. */
  verify(token: unknown, bind: string | undefined, now = Date.now()): VerifiedToken {
    const bad = (why: string) => new StateError('STRATA_STATE_BAD_TOKEN', `The join token ${why}; reload the page for a new one.`);
    if (typeof token !== 'string' || token === '') throw bad('is missing');
    if (token.length > 1024) throw bad('is not valid');
    const dot = token.lastIndexOf('.');
    const body = token.slice(0, dot);
    // Compared as text, so one token has exactly one spelling (base64url has spare low bits).
    const signature = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.sign(body));
    if (dot < 0 || !body.startsWith('v1.') || signature.length !== expected.length || !timingSafeEqual(signature, expected)) throw bad('is not valid');
    let payload: TokenPayload;
    try {
      payload = JSON.parse(Buffer.from(body.slice(3), 'base64url').toString('utf8')) as TokenPayload;
    } catch {
      throw bad('is not valid');
    }
    if (typeof payload.tab !== 'string' || typeof payload.exp !== 'number') throw bad('is not valid');
    if (payload.exp <= now) throw bad('has expired');
    if (payload.bind !== bind) throw bad('belongs to another session');
    return { tab: payload.tab, rejoin: payload.re === 1 };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
