import { readFileSync } from 'node:fs';
import { isStrataError, StrataError } from '@strata/model';
import { describe, expect, it } from 'vitest';
import * as entry from '..';
import { CliError, cliErrorCodes, describeSettings } from '..';

describe('@strata/cli exports', () => {
  it('lists its runtime exports (a change here is an API change: review it)', () => {
    expect(Object.keys(entry).sort()).toMatchInlineSnapshot(`
      [
        "CliError",
        "DEV_SECRET_KEY",
        "SECRET_KEY_MIN_DISTINCT",
        "SECRET_KEY_MIN_LENGTH",
        "assertSafeToStart",
        "cliErrorCodes",
        "defineApp",
        "describeSettings",
        "isStrataApp",
        "loadApp",
        "loadSettings",
        "main",
        "runChecks",
      ]
    `);
  });
});

describe('CliError', () => {
  it('is a branded StrataError with its code, frozen problems and cause', () => {
    const cause = new Error('low level');
    const error = new CliError('STRATA_CLI_CHECK', '2 of 13 checks failed.', { problems: ['debug: on', 'workers: no Redis'], cause });
    expect(error).toBeInstanceOf(StrataError);
    expect(isStrataError(error, 'STRATA_CLI_CHECK')).toBe(true);
    expect(error.name).toBe('CliError');
    expect(error.problems).toEqual(['debug: on', 'workers: no Redis']);
    expect(Object.isFrozen(error.problems)).toBe(true);
    expect(error.cause).toBe(cause);
    expect(Object.keys(cliErrorCodes)).toEqual(['STRATA_CLI_SETTINGS', 'STRATA_CLI_UNSAFE', 'STRATA_CLI_USAGE', 'STRATA_CLI_APP', 'STRATA_CLI_CHECK', 'STRATA_CLI_MIGRATIONS_PENDING']);
  });
});

describe('README', () => {
  it('documents every setting and every deploy check', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const setting of describeSettings()) expect(readme).toContain(`| \`${setting.name}\` | \`${setting.field}\` |`);
    for (const id of ['production', 'debug', 'secret-key', 'allowed-hosts', 'allowed-origins', 'secure-cookies', 'site-origin', 'client-assets', 'migrations', 'handlers', 'workers']) {
      expect(readme).toContain(`| \`${id}\` |`);
    }
  });
});
