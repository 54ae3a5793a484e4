import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

/**
 * Every pointer from the code to a document must resolve inside the repository: someone who clones
 * it has `docs/`, not the reference notes the first sessions worked from.
 */
const ROOT = path.resolve(__dirname, '../..');
const TEXT_FILE = /\.(ts|js|cjs|mjs|json|md|yml|yaml|example)$|^\.ci\/run$/;
/** Documents outside the repository that comments once pointed to (spelled apart so this file does not match itself). */
const OUTSIDE_DOCUMENTS = new RegExp(`\\b(${['PROVIDERS', 'DESIGN', 'STYLE'].join('|')})\\.md\\b|/work/${'shared'}\\b`);
/** A repository path under docs/, not the tail of a web address that happens to contain one. */
const DOC_REFERENCE = /(?<![\w./-])docs\/[\w./-]*[\w-]\.md\b/g;
const THIS_FILE = 'tests/unit/doc-references.test.ts';

function trackedTextFiles(): string[] {
  const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  return listed
    .split('\n')
    .filter((file) => file !== '' && TEXT_FILE.test(file) && existsSync(path.join(ROOT, file)))
    .filter((file) => !file.startsWith('node_modules/') && file !== 'package-lock.json' && file !== THIS_FILE);
}

function offences(files: readonly string[], check: (line: string) => string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    lines.forEach((line, index) => {
      for (const problem of check(line)) found.push(`${file}:${index + 1}: ${problem}`);
    });
  }
  return found;
}

const missingDocuments = (line: string): string[] =>
  [...line.matchAll(DOC_REFERENCE)]
    .map((match) => match[0])
    .filter((reference) => !existsSync(path.join(ROOT, reference)))
    .map((reference) => `${reference} does not exist`);

const outsideDocuments = (line: string): string[] =>
  OUTSIDE_DOCUMENTS.test(line) ? [`points outside the repository: ${line.trim()}`] : [];

describe('documents the code points to', () => {
  const files = trackedTextFiles();

  it('are all in the repository', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(offences(files, missingDocuments)).toEqual([]);
    expect(existsSync(path.join(ROOT, 'docs/architecture.md'))).toBe(true);
    expect(existsSync(path.join(ROOT, 'docs/providers.md'))).toBe(true);
  });

  it('never point to the reference notes outside the repository', () => {
    expect(offences(files, outsideDocuments)).toEqual([]);
  });

  it('flags a broken pointer and an outside one (the checks can fail)', () => {
    // Built, so that this file itself holds no pointer to a missing document.
    const missing = `docs/${['no-such-file', 'md'].join('.')}`;
    expect(missingDocuments(`// see ${missing}`)).toEqual([`${missing} does not exist`]);
    expect(missingDocuments(`// see https://example.org/${missing}`)).toEqual([]);
    expect(missingDocuments('// see docs/providers.md')).toEqual([]);
    expect(outsideDocuments(`// as ${'PROVIDERS'}.md says`)).toHaveLength(1);
  });
});
