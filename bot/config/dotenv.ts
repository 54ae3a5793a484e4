/**
 * Reading `.env`: the only part of the config that touches the file system.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/**
 * Loads `.env` into `env` (`process.env` by default) when the file exists; variables already set
 * win, as with `process.loadEnvFile`, whose parser (`util.parseEnv`) this uses. Returns whether a
 * file was read. Only entry points call this: everything else takes an `env` argument.
 */
export function loadDotEnv(path = '.env', env: NodeJS.ProcessEnv = process.env): boolean {
  if (!existsSync(path)) return false;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(path, 'utf8')))) {
    if (env[name] === undefined && value !== undefined) env[name] = value;
  }
  return true;
}
