import { strataVitest } from '@strata/tooling/vitest';

export default strataVitest();
