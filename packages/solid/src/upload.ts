import { type Accessor, batch, createSignal } from 'solid-js';
import { isServerError, type ServerError, type StrataClient } from '@strata/state/client';

/** An upload with its progress and status as signals. */
export interface Upload {
  /** Sends `file`; resolves with its id (for a handler's `ctx.upload(id)`), or `undefined` when it failed (see `error()`). */
  (file: Blob, options?: { filename?: string }): Promise<string | undefined>;
  /** Bytes sent over bytes in all, from 0 to 1. */
  readonly progress: Accessor<number>;
  readonly pending: Accessor<boolean>;
  /** Why the last upload failed (`STRATA_STATE_UPLOAD_TOO_LARGE`, …). */
  readonly error: Accessor<ServerError | undefined>;
  /** Stops the upload in flight. */
  abort(): void;
}

/**
 * A file upload for this tab with progress: give the id it answers to a handler, which takes
 * the file with `ctx.upload(id)`. The server enforces the size limit as the bytes arrive.
 *
 * @example
 * const upload = createUpload(strata.client);
 * const id = await upload(input.files![0]!);
 * if (id) await products.call.setImage({ productId, upload: id });
 * <progress value={upload.progress()} />
 */
export function createUpload(client: Pick<StrataClient, 'upload'>): Upload {
  const [progress, setProgress] = createSignal(0);
  const [pending, setPending] = createSignal(false);
  const [error, setError] = createSignal<ServerError | undefined>();
  let controller: AbortController | undefined;
  const run = async (file: Blob, options: { filename?: string } = {}): Promise<string | undefined> => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    batch(() => {
      setProgress(0);
      setPending(true);
      setError(undefined);
    });
    try {
      const { id } = await client.upload(file, {
        signal: mine.signal,
        onProgress: ({ loaded, total }) => controller === mine && setProgress(total > 0 ? Math.min(1, loaded / total) : 0),
        ...(options.filename ? { filename: options.filename } : {}),
      });
      if (controller === mine) setProgress(1);
      return id;
    } catch (caught) {
      if (controller === mine) setError(() => (isServerError(caught) ? caught : undefined));
      if (!isServerError(caught)) throw caught;
      return undefined;
    } finally {
      if (controller === mine) setPending(false);
    }
  };
  return Object.assign(run, { progress, pending, error, abort: () => controller?.abort() });
}
