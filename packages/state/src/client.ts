/**
 * @strata/state/client — the browser-safe client core (no framework, no server code):
 * `createClient` joins a Strata server over one WebSocket per tab and keeps each state's
 * value current with the server's patches (see docs/protocol.md).
 */
export { createClient } from './client/createClient.js';
export type { ClientOptions, ClientStatus, StrataClient } from './client/createClient.js';
export type { CallArgs, ClientState, StateCalls } from './client/clientState.js';
export type { Call } from './client/call.js';
export type { ClientActionHandlers, ClientFunction, DownloadAction, RedirectAction, ToastAction } from './client/actions.js';
export type { BackoffOptions } from './client/backoff.js';
export type { UploadOptions, UploadProgress } from './client/upload.js';
export type { WebSocketConstructorLike, WebSocketLike } from './client/connection.js';
export { isServerError, ServerError } from './client/serverError.js';
export { applyPatch, PatchError } from './patch.js';
export type { ItemKey, JsonValue, Patch, PatchOp, Path, PathSegment } from './patch.js';
export { CLOSE_CODES, PROTOCOL_VERSION } from './protocol.js';
export type { ClientAction, ClientFrame, ServerFrame, WireError } from './protocol.js';
export type { AnyStateDef, DeepReadonly, inferArgs, inferClientState, inferHandlers, inferResult, StateNamed } from './types.js';
