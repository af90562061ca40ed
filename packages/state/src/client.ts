/**
 * @strata/state/client — the browser-safe client core (no framework, no server code).
 * For now: applying path-level patches (see docs/protocol.md, "Patches").
 */
export { applyPatch, PatchError } from './patch.js';
export type { ItemKey, JsonValue, Patch, PatchOp, Path, PathSegment } from './patch.js';
