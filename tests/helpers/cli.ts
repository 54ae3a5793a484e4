import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
// The built entry points (tests/global-setup.ts builds dist/ and dist-tools/ once per run).
import { DIST } from './built';

/** An empty working directory, so the developer's real `.env` is never read by a spawned tool. */
export function emptyDirectory(prefix: string): { path: string; remove(): void } {
  const directory = mkdtempSync(path.join(tmpdir(), prefix));
  return { path: directory, remove: () => rmSync(directory, { recursive: true, force: true }) };
}

/**
 * Runs `node <script>` as a user would, with only `env` (and PATH), optional standard input.
 * `script` is relative to dist/ (`scripts/check-keys.js`) or an absolute path (into dist-tools/).
 */
export function runBuiltScript(
  script: string,
  options: { cwd: string; env: Record<string, string>; input?: string; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [path.resolve(DIST, script)],
      { cwd: options.cwd, env: { PATH: process.env.PATH ?? '', ...options.env }, timeout: options.timeoutMs ?? 15_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
