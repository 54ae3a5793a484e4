import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Where the built trees are. This file runs from source under jest (`tests/helpers/`) and, built
 * by tsconfig.tools.json, from `dist-tools/tests/helpers/` (the demo, the benchmarks): the root is
 * the nearest folder above holding package.json (the built trees hold none).
 */
function projectRoot(from: string): string {
  for (let directory = from; ; directory = path.dirname(directory)) {
    if (existsSync(path.join(directory, 'package.json'))) return directory;
    if (path.dirname(directory) === directory) throw new Error(`no package.json above ${from}`);
  }
}

export const PROJECT_ROOT = projectRoot(__dirname);
/** The product build (`npm run build`, tsconfig.build.json): the bot and the product scripts. */
export const DIST = path.join(PROJECT_ROOT, 'dist');
/** The tools build (`npm run build:tools`, tsconfig.tools.json): benchmarks, the demo, the test kit they use. */
export const DIST_TOOLS = path.join(PROJECT_ROOT, 'dist-tools');
