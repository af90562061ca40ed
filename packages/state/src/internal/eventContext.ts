import { assertClientValue } from '../clientValue.js';
import type { ConnectionInfo } from '../context.js';
import type { HandlerContext } from '../defineState.js';
import { StateError } from '../errors.js';
import type { JsonValue } from '../patch.js';
import type { ClientAction } from '../protocol.js';
import { isSafeTarget, TOAST_LEVELS } from '../safeTarget.js';
import type { UploadedFile, Uploads } from './uploads.js';


/**
 * The context of one event, made fresh for every event from the connection's server-held
 * facts. Client actions a handler emits are collected here and sent with its result.
 */
export class EventContextImpl implements HandlerContext {
  readonly tab: string;
  readonly cookies: Readonly<Record<string, string>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly ip: string;
  readonly origin: string;
  readonly locals: Record<string, unknown> = {};
  actions: ClientAction[] | undefined;

  constructor(
    info: ConnectionInfo,
    readonly state: string,
    readonly handler: string,
    private readonly uploads?: Uploads,
  ) {
    this.tab = info.tab;
    this.cookies = info.cookies;
    this.headers = info.headers;
    this.ip = info.ip;
    this.origin = info.origin;
  }

  /** Takes the collected actions (for the frame being sent). */
  takeActions(): ClientAction[] | undefined {
    const actions = this.actions;
    this.actions = undefined;
    return actions;
  }

  redirect(to: string, options: { replace?: boolean } = {}): void {
    if (!isSafeTarget(to)) throw new StateError('STRATA_STATE_BAD_ACTION', `redirect("${to}") needs a same-origin path ("/…") or an absolute http(s) URL.`);
    this.push(options.replace ? { type: 'redirect', to, replace: true } : { type: 'redirect', to });
  }

  toast(message: string, level: 'info' | 'success' | 'warning' | 'error' = 'info'): void {
    if (typeof message !== 'string' || !TOAST_LEVELS.has(level)) throw new StateError('STRATA_STATE_BAD_ACTION', 'toast(message, level) needs a string and one of info, success, warning, error.');
    this.push({ type: 'toast', message, level });
  }

  download(file: { filename: string; url?: string; content?: string; contentType?: string }): void {
    if (typeof file?.filename !== 'string' || (file.url === undefined) === (file.content === undefined)) {
      throw new StateError('STRATA_STATE_BAD_ACTION', 'download({ filename, url | content }) needs a filename and exactly one of url or content.');
    }
    if (file.url !== undefined && !isSafeTarget(file.url)) throw new StateError('STRATA_STATE_BAD_ACTION', `download url "${file.url}" must be a same-origin path or an http(s) URL.`);
    const action: ClientAction = { type: 'download', filename: file.filename };
    if (file.url !== undefined) action.url = file.url;
    if (file.content !== undefined) action.content = file.content;
    if (file.contentType !== undefined) action.contentType = file.contentType;
    this.push(action);
  }

  upload(id: string): UploadedFile {
    if (!this.uploads) throw new StateError('STRATA_STATE_UPLOAD_NOT_FOUND', 'Uploads are taken by event handlers, not by live updates or tasks.');
    return this.uploads.take(this.tab, id);
  }

  callClient(name: string, ...args: unknown[]): void {
    if (typeof name !== 'string' || !/^[\w.$-]{1,64}$/.test(name)) throw new StateError('STRATA_STATE_BAD_ACTION', `callClient needs the name a page registered; got ${JSON.stringify(name)}.`);
    assertClientValue('callClient', name, args);
    this.push({ type: 'call', name, args: args as JsonValue[] });
  }

  private push(action: ClientAction): void {
    (this.actions ??= []).push(action);
  }
}
