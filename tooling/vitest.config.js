import { strataVitest } from './src/vitest.js';

export default strataVitest({ include: ['__tests__/**/*.test.js'] });
