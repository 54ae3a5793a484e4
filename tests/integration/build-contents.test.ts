import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { DIST, PROJECT_ROOT } from '../helpers/built';

/**
 * `npm run build` (tsconfig.build.json, what `npm start` and PM2 run) holds the product only: the
 * bot, the core, storage and the product scripts (chat, check-keys). The benchmarks, the demo and
 * the test kit they use are built apart, into dist-tools/ (`npm run build:tools`). The dist/
 * checked here is the one tests/global-setup.ts builds with the production tsconfig.
 */

/** Folders the product build may hold (at dist/'s top level), and the product scripts. */
const PRODUCT_FOLDERS = ['bot', 'providers', 'storage', 'scripts'];
const PRODUCT_SCRIPTS = ['chat.js', 'check-keys.js'];
const TEST_OR_TOOL = /(^|\/)(tests|bench)\/|(^|\/)(demo|demo-model)\.js$/;

interface PackageJson {
  readonly main: string;
  readonly scripts: Record<string, string>;
  readonly dependencies: Record<string, string>;
}

const packageJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as PackageJson;

/** Every file under dist/, as a path relative to it with `/`; tsc's incremental state left out. */
function distFiles(): string[] {
  return readdirSync(DIST, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.tsbuildinfo'))
    .map((entry) => path.relative(DIST, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}

/** The module specifiers an emitted CommonJS file requires (static and dynamic imports alike). */
function requiredSpecifiers(file: string): string[] {
  const source = readFileSync(path.join(DIST, file), 'utf8');
  return [...source.matchAll(/\brequire\(\s*(["'])([^"']+)\1\s*\)/g)].map((match) => match[2] ?? '');
}

/** `grammy/types` → `grammy`, `@grammyjs/runner/x` → `@grammyjs/runner`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

describe('the production build (dist/)', () => {
  it('holds the bot, the core, storage and the product scripts, and nothing of tests/, bench/ or the demo', () => {
    const files = distFiles();
    expect(files).toContain('bot/main.js');
    for (const script of PRODUCT_SCRIPTS) expect(files).toContain(`scripts/${script}`);

    expect(existsSync(path.join(DIST, 'tests'))).toBe(false);
    expect(existsSync(path.join(DIST, 'bench'))).toBe(false);
    expect(files.filter((file) => TEST_OR_TOOL.test(file))).toEqual([]);
    expect(files.filter((file) => !PRODUCT_FOLDERS.includes(file.split('/')[0] ?? ''))).toEqual([]);
    const scripts = files.filter((file) => file.startsWith('scripts/') && file.endsWith('.js'));
    expect(scripts).toEqual(PRODUCT_SCRIPTS.map((script) => `scripts/${script}`));
  });

  it('no emitted file requires a path under tests/ or bench/, the demo, a file outside dist/ or a dev dependency', () => {
    const dependencies = new Set(Object.keys(packageJson.dependencies));
    const builtins = new Set(builtinModules);
    const problems: string[] = [];
    const javascript = distFiles().filter((file) => file.endsWith('.js'));
    expect(javascript.length).toBeGreaterThan(50);
    for (const file of javascript) {
      for (const specifier of requiredSpecifiers(file)) {
        if (specifier.startsWith('.')) {
          const target = path.resolve(path.dirname(path.join(DIST, file)), specifier);
          const relative = path.relative(DIST, target).split(path.sep).join('/');
          const exists = [`${target}.js`, target, path.join(target, 'index.js')].some((candidate) =>
            existsSync(candidate),
          );
          if (relative.startsWith('../') || TEST_OR_TOOL.test(`${relative}.js`) || TEST_OR_TOOL.test(relative)) {
            problems.push(`${file} requires ${specifier} (${relative})`);
          } else if (!exists) {
            problems.push(`${file} requires ${specifier}, which the build does not hold`);
          }
        } else if (/(^|\/)(tests|bench)\//.test(specifier)) {
          problems.push(`${file} requires ${specifier}`);
        } else if (!specifier.startsWith('node:') && !builtins.has(specifier)) {
          // What `npm ci --omit=dev` installs: a production install must be able to run the build.
          if (!dependencies.has(packageName(specifier)))
            problems.push(`${file} requires ${specifier}: not a dependency`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('tsconfig.build.json compiles no file of tests/, bench/ or the demo (whatever an old dist/ still holds)', () => {
    const tsc = require.resolve('typescript/bin/tsc', { paths: [PROJECT_ROOT] });
    const listed = execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--listFilesOnly'], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
    });
    const ours = listed
      .split('\n')
      .map((file) => file.trim())
      .filter((file) => file !== '' && !file.includes('/node_modules/'))
      .map((file) => path.relative(PROJECT_ROOT, file).split(path.sep).join('/'));
    expect(ours).toContain('bot/main.ts');
    expect(ours.filter((file) => /^(tests|bench)\/|^scripts\/demo/.test(file))).toEqual([]);
    expect(
      ours.filter((file) => !/^(bot|providers|storage)\//.test(file) && !/^scripts\/(chat|check-keys)\.ts$/.test(file)),
    ).toEqual([]);
  }, 60_000);

  it('npm start and PM2 run the built bot, dist/bot/main.js', () => {
    expect(packageJson.main).toBe('dist/bot/main.js');
    expect(packageJson.scripts.start).toMatch(/^npm run build --silent && node .* dist\/bot\/main\.js$/);
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    const ecosystem = require(path.join(PROJECT_ROOT, 'ecosystem.config.cjs')) as { apps: { script: string }[] };
    expect(ecosystem.apps.length).toBeGreaterThan(0);
    for (const app of ecosystem.apps) expect(app.script).toBe('dist/bot/main.js');
    expect(existsSync(path.join(DIST, 'bot/main.js'))).toBe(true);
  });
});
