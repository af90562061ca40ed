import { runQuickstart } from './quickstart.js';

const databaseUrl = process.env.DATABASE_URL ?? 'sqlite:./data/quickstart.sqlite';
console.log(`Strata quickstart on ${databaseUrl.split('://')[0]?.split(':')[0]}`);
for (const line of await runQuickstart(databaseUrl)) console.log(line);
