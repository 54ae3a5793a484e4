import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';

/** The two builds, as `npm run build` and `npm run build:tools` make them. */
const BUILDS = [
  // The product (bot/, providers/, storage/, scripts/chat.ts, scripts/check-keys.ts) into dist/.
  { config: 'tsconfig.build.json', outDir: 'dist' },
  // The tools (bench/, the demo, the test kit they use) into dist-tools/.
  { config: 'tsconfig.tools.json', outDir: 'dist-tools' },
] as const;

/**
 * What an older layout compiled into dist/ (the benchmarks, the test kit, the demo). Build mode
 * does not delete outputs its config no longer makes, so a dist/ holding any of them is removed
 * once and rebuilt: the tests check the product build as it is made now.
 */
const STALE_IN_DIST = ['tests', 'bench', 'scripts/demo.js', 'scripts/demo-model.js'];

function build(root: string, tsc: string, config: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, '-b', config], { cwd: root, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`tsc -b ${config} ended with ${code ?? signal}`));
    });
  });
}

/**
 * Builds `dist/` and `dist-tools/` once per jest run (side by side), so tests that spawn built
 * entry points (`node dist/scripts/check-keys.js`, the bot, the demo and the benchmarks' bots from
 * dist-tools/) run what users run. Build mode (`tsc -b`) emits exactly what `npm run build` and
 * `npm run build:tools` do, but returns in a fraction of a second when nothing changed. A failed
 * build stops the run: those tests would fail later, less clearly.
 */
export default async function buildDist(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  if (STALE_IN_DIST.some((entry) => existsSync(path.join(root, 'dist', entry)))) {
    rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  }
  const results = await Promise.allSettled(BUILDS.map(({ config }) => build(root, tsc, config)));
  const failed = BUILDS.filter((_, index) => results[index]?.status === 'rejected');
  if (failed.length > 0) {
    const names = failed.map(({ config, outDir }) => `${outDir}/ (tsc -b ${config})`).join(' and ');
    throw new Error(`Building ${names} failed, see the errors above; tests need it.`, {
      cause: results.find((result) => result.status === 'rejected')?.reason,
    });
  }
}
