/**
 * @strata/state/server — the server side of the state runtime: state definitions, the event
 * pipeline, the state manager and the fastify plugin. Browser code imports only types from here.
 */
export { auditHandlers, defineState } from './defineState.js';
export type {
  AnyServerStateDef,
  EventHandler,
  HandlerBuilder,
  LiveOptions,
  ModelChange,
  HandlerContext,
  RateLimit,
  StateDef,
  StateDefinition,
  StateSelf,
  TaskContext,
  TaskHandler,
} from './defineState.js';
export type { BaseContext, ConnectionInfo, ContextExtensions, EventContext, Guard, Middleware } from './context.js';
export type { UploadedFile } from './internal/uploads.js';
export { defineModelState } from './modelState.js';
export type { ModelAction, ModelActionBuilder, ModelStateAction, ModelStateOptions, ModelStateTools, ModelStateVars, SaveOutcome } from './modelState.js';
export { strataState } from './plugin.js';
export type { StrataStateOptions, StrataStateServer } from './plugin.js';
export type { MetricsOptions, StrataMetrics } from './internal/metrics.js';
export { createMemoryStateManager } from './stateManager.js';
export { createRedisStateManager, failFast as redisFailFastOptions } from './redisStateManager.js';
export type { RedisErrorCounts, RedisStateManagerOptions, StoredTab } from './redisStateManager.js';
export type { ChangeBus, ManagedTab, MemoryStateManagerOptions, Signal, SignalBus, StateManager } from './stateManager.js';
export { EventError, StateError, stateErrorCodes } from './errors.js';
export type { StateErrorCode } from './errors.js';
export { assertClientValue } from './clientValue.js';
export { applyPatch, diff, PatchError } from './patch.js';
export type { DiffOptions, ItemKey, JsonValue, Patch, PatchOp, Path, PathSegment } from './patch.js';
export { CLOSE_CODES, DEFAULT_LIMITS, PROTOCOL_VERSION } from './protocol.js';
export type { ClientAction, ClientFrame, Limits, ServerFrame, StatePatches, WireError } from './protocol.js';
export type { AnyStateDef, DeepReadonly, HandlerTypes, inferArgs, inferClientState, inferHandlers, inferResult, StateTypes } from './types.js';
