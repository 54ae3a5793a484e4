import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PROVIDERS } from '../../providers/registry';

/**
 * One provider list: the registry (`providers/registry.ts`). Adding a provider touches its adapter
 * folder, one line there, its fake's files, `.env.example` and the README — nothing else. So no
 * other file names a provider: every other list of providers (tests, benchmarks, fakes, scripts)
 * is derived from the registry. This test reads every file of the repository and names each line
 * that names a provider outside the places allowed to.
 *
 * A provider is named by its registry name or its env prefix, in any case, as a word or a part of
 * an identifier (`name`, `NAME_API_KEY`, `nameErrors`, `readNameLimits`), but not inside a longer
 * word (a name that starts "coherent" is not one).
 */

const ROOT = path.resolve(__dirname, '../..');

/**
 * Where a provider may be named, and which ones: `'all'`, or the one provider the place belongs
 * to. Everything not listed here must name none.
 */
function allowedIn(file: string): 'all' | string | undefined {
  // The registry: the one list of providers.
  if (file === 'providers/registry.ts') return 'all';
  // Documentation, the README's provider table, the configuration template with each provider's
  // variables, and the SDK dependencies (package names).
  if (file.startsWith('docs/') || ['README.md', '.env.example', 'package.json', 'package-lock.json'].includes(file)) {
    return 'all';
  }
  // A provider's adapter folder, for that provider.
  const adapter = /^providers\/([^/]+)\//.exec(file)?.[1];
  if (adapter !== undefined && isProvider(adapter)) return adapter;
  // Its own adapter tests, `tests/integration/providers/<name>.test.ts`.
  const adapterTest = /^tests\/integration\/providers\/([^/]+)\.test\.ts$/.exec(file)?.[1];
  if (adapterTest !== undefined && isProvider(adapterTest)) return adapterTest;
  // Its files of the fake provider server, named after it: `dialects/<name>.ts` (its error bodies
  // and rate-limit headers), `errors-<name>.ts`, `<name>.ts` (a wire format of its own).
  if (file.startsWith('tests/fakes/provider-server/')) {
    const words = path
      .basename(file)
      .replace(/\.[^.]+$/, '')
      .split(/[^A-Za-z0-9]+/);
    const owner = words.find(isProvider);
    if (owner !== undefined) return owner;
  }
  return undefined;
}

function isProvider(word: string): boolean {
  return PROVIDERS.some((descriptor) => descriptor.name === word);
}

interface Term {
  /** The provider the term names. */
  readonly provider: string;
  /** Lower case. */
  readonly text: string;
}

const TERMS: readonly Term[] = PROVIDERS.flatMap((descriptor) =>
  [...new Set([descriptor.name.toLowerCase(), descriptor.envPrefix.toLowerCase()])].map((text) => ({
    provider: descriptor.name,
    text,
  })),
);

const isLetter = (char: string | undefined): boolean => char !== undefined && /[A-Za-z]/.test(char);
const isLower = (char: string | undefined): boolean => char !== undefined && /[a-z]/.test(char);
const isUpper = (char: string | undefined): boolean => char !== undefined && /[A-Z]/.test(char);

/**
 * Whether `line[start, end)` stands on its own: not inside a longer word, though it may be a part
 * of a camelCase, snake_case or kebab-case identifier.
 */
function standsAlone(line: string, start: number, end: number): boolean {
  const before = line[start - 1];
  const first = line[start];
  const last = line[end - 1];
  const after = line[end];
  const startsWord = !isLetter(before) || (isLower(before) && isUpper(first));
  const endsWord = !isLetter(after) || (isLower(last) && isUpper(after));
  return startsWord && endsWord;
}

interface Offence {
  readonly file: string;
  readonly line: number;
  readonly provider: string;
  readonly text: string;
}

/** Every line of `content` that names a provider `file` may not name. */
function offencesIn(file: string, content: string): Offence[] {
  const allowed = allowedIn(file);
  if (allowed === 'all') return [];
  const offences: Offence[] = [];
  content.split('\n').forEach((text, index) => {
    const lower = text.toLowerCase();
    const named = new Set<string>();
    for (const term of TERMS) {
      if (term.provider === allowed || named.has(term.provider)) continue;
      for (let at = lower.indexOf(term.text); at !== -1; at = lower.indexOf(term.text, at + 1)) {
        if (standsAlone(text, at, at + term.text.length)) {
          named.add(term.provider);
          break;
        }
      }
    }
    for (const provider of named) offences.push({ file, line: index + 1, provider, text: text.trim() });
  });
  return offences;
}

/** The repository's files: tracked and new ones (not ignored), or, without git, a walk. */
function repositoryFiles(): string[] {
  try {
    const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    // Regular files only: a link to a folder (node_modules shared between checkouts) is not code.
    return [...new Set(listed.split('\0'))].filter(
      (file) => file !== '' && existsSync(path.join(ROOT, file)) && statSync(path.join(ROOT, file)).isFile(),
    );
  } catch {
    return walk('');
  }
}

const SKIPPED = new Set(['.git', 'node_modules', 'dist', 'coverage']);

function walk(directory: string): string[] {
  return readdirSync(path.join(ROOT, directory)).flatMap((entry) => {
    if (SKIPPED.has(entry)) return [];
    const file = directory === '' ? entry : `${directory}/${entry}`;
    return statSync(path.join(ROOT, file)).isDirectory() ? walk(file) : [file];
  });
}

function scanRepository(): { scanned: string[]; offences: Offence[] } {
  const scanned: string[] = [];
  const offences: Offence[] = [];
  for (const file of repositoryFiles()) {
    const content = readFileSync(path.join(ROOT, file));
    if (content.includes(0)) continue; // binary
    scanned.push(file);
    offences.push(...offencesIn(file, content.toString('utf8')));
  }
  return { scanned, offences };
}

describe('one provider list', () => {
  it('no file outside the allowed places names a provider', () => {
    const { offences } = scanRepository();
    const report = offences.map(
      (offence) => `${offence.file}:${offence.line}: names ${offence.provider}: ${offence.text}`,
    );
    expect(report).toEqual([]);
  });

  it('reads the code of every layer, the tests, fakes and benchmarks included', () => {
    const { scanned } = scanRepository();
    for (const layer of ['bench/', 'bot/', 'providers/', 'scripts/', 'storage/', 'tests/']) {
      expect(scanned.filter((file) => file.startsWith(layer) && allowedIn(file) === undefined).length).toBeGreaterThan(
        0,
      );
    }
    expect(scanned).toContain('providers/router/router.ts');
    expect(scanned).toContain('tests/unit/provider-names.test.ts');
  });

  describe('the scanner itself', () => {
    const [one, other] = PROVIDERS;
    if (one === undefined || other === undefined) throw new Error('these checks need two providers in the registry');
    const capitalized = one.name.charAt(0).toUpperCase() + one.name.slice(1);

    it('flags a name, an env variable and identifiers made of a name, with file and line', () => {
      const content = [
        'const fine = 1;',
        `const key = process.env.${one.envPrefix}_API_KEY;`,
        `import { ${one.name}Errors } from './x';`,
        `const limits = read${capitalized}RateLimits(headers);`,
        `// ${capitalized} answers first`,
      ].join('\n');
      expect(
        offencesIn('bench/synthetic.ts', content).map(({ file, line, provider }) => [file, line, provider]),
      ).toEqual([
        ['bench/synthetic.ts', 2, one.name],
        ['bench/synthetic.ts', 3, one.name],
        ['bench/synthetic.ts', 4, one.name],
        ['bench/synthetic.ts', 5, one.name],
      ]);
    });

    it('does not flag a name inside a longer word', () => {
      expect(offencesIn('bot/synthetic.ts', `const x${one.name} = '${one.name}xyz';`)).toEqual([]);
    });

    it("lets a provider's own places name it, and only it", () => {
      const line = `export const ${one.name} = '${one.envPrefix}';`;
      expect(offencesIn(`providers/${one.name}/index.ts`, line)).toEqual([]);
      expect(offencesIn(`tests/fakes/provider-server/dialects/${one.name}.ts`, line)).toEqual([]);
      expect(offencesIn(`tests/integration/providers/${one.name}.test.ts`, line)).toEqual([]);
      expect(offencesIn(`providers/${other.name}/index.ts`, line)).toHaveLength(1);
      expect(offencesIn(`tests/fakes/provider-server/dialects/${other.name}.ts`, line)).toHaveLength(1);
      expect(offencesIn('providers/router/router.ts', line)).toHaveLength(1);
      expect(offencesIn('tests/fakes/provider-server/index.ts', line)).toHaveLength(1);
      expect(offencesIn('providers/registry.ts', line)).toEqual([]);
      expect(offencesIn('docs/providers.md', line)).toEqual([]);
    });
  });
});
