import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Builds `dist/` once per jest run, so tests that spawn built entry points
 * (`node dist/scripts/check-keys.js`, the bot) run what users run. Build mode (`tsc -b`) on
 * tsconfig.build.json emits exactly what `npm run build` does, but returns in a fraction of a
 * second when nothing changed. A failed build stops the run: those tests would fail later, less
 * clearly.
 */
export default function buildDist(): void {
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  try {
    execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  } catch (error) {
    throw new Error('Building dist/ (tsc -b tsconfig.build.json) failed, see the errors above; tests need it.', {
      cause: error,
    });
  }
}
