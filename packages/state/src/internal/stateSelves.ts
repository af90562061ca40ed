/** The `self` objects of state instances: never client data, however plain they look. */
export const stateSelves = new WeakSet<object>();
