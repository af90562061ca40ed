/**
 * @strata/state/server — the server side of the state runtime.
 * For now: computing path-level patches and checking that client vars hold JSON data.
 */
export { applyPatch, diff, PatchError } from './patch.js';
export type { ItemKey, JsonValue, Patch, PatchOp, Path, PathSegment } from './patch.js';
export { assertClientValue, StateError } from './clientValue.js';
