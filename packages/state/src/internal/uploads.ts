import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { StateError } from '../errors.js';

/** A file a tab uploaded, for the handler that takes it. */
export interface UploadedFile {
  /** Where it is on disk: the handler moves or reads it; what no handler takes is deleted after `uploadTtlMs`. */
  path: string;
  filename: string;
  contentType: string;
  size: number;
}

interface Held extends UploadedFile {
  tab: string;
  expires: number;
}

/** Options of the uploads registry. */
export interface UploadLimits {
  dir: string;
  maxBytes: number;
  /** Unclaimed uploads one tab may hold. */
  perTab: number;
  ttlMs: number;
}

/**
 * Files uploaded over HTTP, held for the tab that sent them until a handler takes them by id
 * (`ctx.upload(id)`). The size limit is enforced while the bytes arrive: a file over it is cut
 * off and deleted, never stored whole.
 */
export class Uploads {
  private readonly held = new Map<string, Held>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly limits: UploadLimits) {
    this.timer = setInterval(() => void this.sweep(), Math.min(limits.ttlMs, 60_000));
    this.timer.unref();
  }

  /** Stores `body` for `tab`; throws STRATA_STATE_UPLOAD_TOO_LARGE (nothing kept) or STRATA_STATE_QUEUE_FULL. */
  async receive(tab: string, body: Readable, meta: { filename: string; contentType: string; declaredBytes: number | undefined }): Promise<{ id: string; size: number }> {
    const { maxBytes, perTab, dir, ttlMs } = this.limits;
    const tooLarge = () => new StateError('STRATA_STATE_UPLOAD_TOO_LARGE', `Files may be at most ${maxBytes} bytes.`);
    if (meta.declaredBytes !== undefined && meta.declaredBytes > maxBytes) throw tooLarge();
    let mine = 0;
    for (const file of this.held.values()) if (file.tab === tab) mine++;
    if (mine >= perTab) throw new StateError('STRATA_STATE_QUEUE_FULL', `This tab holds ${perTab} uploads no handler took yet.`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const id = randomBytes(18).toString('base64url');
    const path = join(dir, id);
    let size = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        size += chunk.length;
        done(size > maxBytes ? tooLarge() : null, chunk);
      },
    });
    try {
      await pipeline(body, counter, createWriteStream(path, { mode: 0o600 }));
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
    this.held.set(id, { tab, path, filename: meta.filename, contentType: meta.contentType, size, expires: Date.now() + ttlMs });
    return { id, size };
  }

  /** The upload `id` of `tab`, handed over once; another tab's id, a used or an expired one is STRATA_STATE_UPLOAD_NOT_FOUND. */
  take(tab: string, id: unknown): UploadedFile {
    const file = typeof id === 'string' ? this.held.get(id) : undefined;
    if (!file || file.tab !== tab || file.expires <= Date.now()) throw new StateError('STRATA_STATE_UPLOAD_NOT_FOUND', 'No such upload here (it expired, was used, or belongs to another page); upload the file again.');
    this.held.delete(id as string);
    return { path: file.path, filename: file.filename, contentType: file.contentType, size: file.size };
  }

  private async sweep(now = Date.now()): Promise<void> {
    for (const [id, file] of this.held) {
      if (file.expires > now) continue;
      this.held.delete(id);
      await rm(file.path, { force: true }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sweep(Infinity);
  }
}
