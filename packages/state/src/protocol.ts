/**
 * The wire protocol's frames and limits, shared by the server and the browser client.
 * Browser-safe: types and constants only. The prose is docs/protocol.md.
 */
import type { JsonValue, Patch } from './patch.js';

/** The protocol version both sides speak; a join with another version is refused. */
export const PROTOCOL_VERSION = 1;

/**
 * Deepest nesting of objects and arrays an inbound frame may hold (the frame itself is level 1).
 * Deeper frames are refused with STRATA_STATE_BAD_FRAME before any handler sees them: state code
 * (copies, diffs, schemas) recurses over client data, and recursion that deep overflows the stack.
 */
export const MAX_FRAME_DEPTH = 64;

/** Inbound limits of a connection (docs/protocol.md, "Limits"). */
export interface Limits {
  maxFrameBytes: number;
  hardFrameBytes: number;
  eventsPerSecond: number;
  burst: number;
  queueLength: number;
  maxStrikes: number;
  joinTimeoutMs: number;
  uploadBytes: number;
  uploadsPerTab: number;
  sendBufferBytes: number;
}

/** Default limits (the server's options can lower or raise them). */
export const DEFAULT_LIMITS: Readonly<Limits> = {
  /** Largest inbound text frame answered with a typed error instead of being read (bytes). */
  maxFrameBytes: 64 * 1024,
  /** Largest frame the socket accepts at all; above it the connection closes with 1009. */
  hardFrameBytes: 1024 * 1024,
  /** Sustained events per second per connection (token bucket). */
  eventsPerSecond: 50,
  /** Bucket size: events a connection may send at once. */
  burst: 100,
  /** Events of one tab waiting to run; more are refused with STRATA_STATE_QUEUE_FULL. */
  queueLength: 100,
  /** Refused or malformed frames in a row after which the connection is closed (1008). */
  maxStrikes: 50,
  /** Time from the upgrade to the join frame (ms). */
  joinTimeoutMs: 10_000,
  /** Largest upload (bytes); the body is cut off past it. */
  uploadBytes: 10 * 1024 * 1024,
  /** Uploads one tab may hold before a handler takes them. */
  uploadsPerTab: 8,
  /** Outbound data a client has not read (bytes); past it the socket is closed (1008) and cut off a second later. */
  sendBufferBytes: 4 * 1024 * 1024,
};

/** WebSocket close codes the server uses. */
export const CLOSE_CODES = {
  /** Policy violation: foreign Origin (refused at the upgrade), too many bad frames, no join in time. */
  policy: 1008,
  /** A frame above the hard limit. */
  tooBig: 1009,
  /** The server is shutting down or full; try again later. */
  tryAgain: 1013,
  /** The join token is missing, forged or expired: reload the page for a new one. */
  badToken: 4401,
  /** The session ended (logout, deactivation, password change elsewhere): the tab is gone; load the page again. */
  signedOut: 4403,
  /** Another connection joined as this tab (the newest one wins). */
  replaced: 4409,
  /** The tab's state expired on the server. */
  expired: 4410,
} as const;

/** A typed error as it crosses the wire: a stable code, a message fit for users, per-field details. */
export interface WireError {
  code: string;
  message: string;
  /** Per-field messages for validation errors (`__all__`: the whole input). */
  fields?: Record<string, string[]>;
}

/** An instruction for the browser, emitted by a handler. The client never evaluates code. */
export type ClientAction =
  | { type: 'redirect'; to: string; replace?: boolean }
  | { type: 'toast'; message: string; level: 'info' | 'success' | 'warning' | 'error' }
  | { type: 'download'; filename: string; url?: string; content?: string; contentType?: string }
  | { type: 'call'; name: string; args: JsonValue[] };

/** Per-state patches, keyed by state name. */
export type StatePatches = Record<string, Patch>;

/** Frames the browser sends. */
export type ClientFrame =
  | { t: 'join'; v: number; token: string; states: string[] }
  | { t: 'sub'; states: string[] }
  | { t: 'unsub'; states: string[] }
  | { t: 'event'; seq: number; state: string; handler: string; args?: JsonValue }
  | { t: 'cancel'; seq: number };

/** Frames the server sends. */
export type ServerFrame =
  | { t: 'welcome'; v: number; tab: string; token: string; ack: number; states: Record<string, JsonValue> }
  | { t: 'state'; states: Record<string, JsonValue> }
  | { t: 'result'; seq: number; value?: JsonValue; error?: WireError; patch?: StatePatches; actions?: ClientAction[]; task?: true }
  | { t: 'done'; seq: number; value?: JsonValue; error?: WireError }
  | { t: 'patch'; patch: StatePatches; actions?: ClientAction[] }
  | { t: 'token'; token: string }
  | { t: 'error'; error: WireError; seq?: number };
