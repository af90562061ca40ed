import { ServerError } from './serverError.js';

/** Progress of an upload: bytes sent so far of the total. */
export interface UploadProgress {
  loaded: number;
  total: number;
}

/** Options of `client.upload`. */
export interface UploadOptions {
  /** Called as bytes go out (with XMLHttpRequest; `fetch` reports only the end). */
  onProgress?(progress: UploadProgress): void;
  /** Aborts the upload. */
  signal?: AbortSignal;
  /** The file's name (default: the File's own, or `upload`). */
  filename?: string;
}

interface Xhr {
  upload: { onprogress: ((event: { loaded: number; total: number }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  onabort: (() => void) | null;
  status: number;
  responseText: string;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
}

/** The upload endpoint next to a socket URL: `wss://host/strata/ws` → `https://host/strata/upload`. */
export function uploadUrl(socketUrl: string): string {
  return socketUrl.replace(/^ws/, 'http').replace(/\/ws(\?.*)?$/, '/upload');
}

/**
 * Sends a file to the server for this tab (its current token authorises it) and resolves
 * with its id, which a handler takes with `ctx.upload(id)`. Rejects with the server's typed
 * error (`STRATA_STATE_UPLOAD_TOO_LARGE`, …) or `STRATA_STATE_CLOSED` when aborted.
 */
export function sendUpload(url: string, token: string, file: Blob, options: UploadOptions = {}): Promise<{ id: string; size: number }> {
  const filename = options.filename ?? (file as Blob & { name?: string }).name ?? 'upload';
  const headers = { 'x-strata-token': token, 'x-strata-filename': encodeURIComponent(filename), 'content-type': file.type || 'application/octet-stream' };
  const answer = (status: number, text: string) => {
    let body: { id?: string; size?: number; error?: { code: string; message: string } } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // not JSON: reported below
    }
    if (status >= 200 && status < 300 && typeof body.id === 'string') return { id: body.id, size: body.size ?? file.size };
    throw new ServerError(body.error?.code ?? 'STRATA_STATE_HANDLER_FAILED', body.error?.message ?? `The upload failed (HTTP ${status}).`);
  };
  const Request = (globalThis as { XMLHttpRequest?: new () => Xhr }).XMLHttpRequest;
  if (!Request) {
    return fetch(url, { method: 'POST', headers, body: file, ...(options.signal ? { signal: options.signal } : {}) }).then(async (response) => {
      const result = answer(response.status, await response.text());
      options.onProgress?.({ loaded: file.size, total: file.size });
      return result;
    });
  }
  return new Promise((resolve, reject) => {
    const xhr = new Request();
    xhr.open('POST', url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => options.onProgress?.({ loaded: event.loaded, total: event.total || file.size });
    xhr.onload = () => {
      try {
        resolve(answer(xhr.status, xhr.responseText));
      } catch (error) {
        reject(error);
      }
    };
    xhr.onerror = () => reject(new ServerError('STRATA_STATE_UNAVAILABLE', 'The upload could not reach the server.'));
    xhr.onabort = () => reject(new ServerError('STRATA_STATE_CLOSED', 'The upload was aborted.'));
    options.signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}
