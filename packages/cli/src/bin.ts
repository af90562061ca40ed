#!/usr/bin/env node
// The `strata` executable: all the work is in main(), which tests call in-process.
import { main } from './cli.js';

process.exitCode = await main(process.argv.slice(2));
