/**
 * @strata/solid — Solid bindings for the Strata client core (browser-safe): a fine-grained
 * store per server state, calls with status, forms bound to serializer schemas, auth,
 * connection status and client actions.
 */
export { type Action, createAction } from './action.js';
export { type AuthSession, createAuthSession, type CurrentUser, RequireUser } from './auth.js';
export { createForm, type FieldProps, type Form, type FormOptions, type FormValidator } from './form.js';
export { createRouter, type LoadCall, loadCalls, type Match, matchRoute, type Route, type Router } from './router.js';
export { ConnectionIndicator, STATUS_TEXT } from './status.js';
export { createStaticStrata, createStrata, type ServerState, type Strata, type StrataOptions, type Toast } from './strata.js';
export { mirrorState } from './store.js';
export { createUpload, type Upload } from './upload.js';
