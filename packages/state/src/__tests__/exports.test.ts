import { describe, expect, it } from 'vitest';
import * as serverEntry from '../server.js';

describe('@strata/state/server exports', () => {
  it('lists its runtime exports (a change here is an API change: review it)', () => {
    expect(Object.keys(serverEntry).sort()).toMatchInlineSnapshot(`
      [
        "CLOSE_CODES",
        "DEFAULT_LIMITS",
        "EventError",
        "PROTOCOL_VERSION",
        "PatchError",
        "StateError",
        "applyPatch",
        "assertClientValue",
        "auditHandlers",
        "createMemoryStateManager",
        "createRedisStateManager",
        "defineModelState",
        "defineState",
        "diff",
        "redisFailFastOptions",
        "stateErrorCodes",
        "strataState",
      ]
    `);
  });
});
