/**
 * Schemas for one variable each, and `parseFields`, which reads a group of them. Every message is
 * written here or next to a group: zod's default messages are never shown, and only non-secret
 * values are quoted.
 *
 * Values are trimmed, and an empty value counts as unset, so `.env` lines like `<P>_MODEL=` mean
 * "use the default".
 */
import { z } from 'zod';
import { maskSecret } from '../../providers';
import type { ConfigIssue, Env } from './types';

/** setTimeout fires at once for longer delays, so no timeout may exceed it. */
const MAX_TIMER_MS = 2_147_483_647;

/** A non-secret value quoted in a message; a long one is masked in case a secret landed there. */
export function quote(value: unknown): string {
  const text = String(value);
  return JSON.stringify(text.length > 32 ? maskSecret(text) : text);
}

export function requiredString(problem = 'required') {
  return z.string({ error: problem });
}

/** Non-empty items of a comma-separated list, trimmed. */
export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  const problem = (input: unknown) => `must be a whole number ≥ ${min}, got ${quote(input)}`;
  return requiredString()
    .regex(/^\d+$/, { error: (issue) => problem(issue.input) })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: (issue) => problem(issue.input) })
        .max(max, { error: (issue) => `must be at most ${max}, got ${quote(issue.input)}` }),
    );
}

/** A share between 0 and 1, written as a decimal (`0.1`) or a percentage (`10%`). */
export function share() {
  const problem = (input: unknown) => `must be a share between 0 and 1 (like 0.1 or 10%), got ${quote(input)}`;
  return requiredString()
    .regex(/^(\d+(\.\d+)?%?|\.\d+)$/, { error: (issue) => problem(issue.input) })
    .transform((value) => (value.endsWith('%') ? Number(value.slice(0, -1)) / 100 : Number(value)))
    .pipe(
      z
        .number()
        .min(0)
        .max(1, { error: (issue) => problem(issue.input) }),
    );
}

export function milliseconds() {
  return wholeNumber(1, MAX_TIMER_MS);
}

export function port() {
  return wholeNumber(1, 65_535);
}

/** An http(s) URL, returned without trailing slashes. URLs are never quoted: they may carry tokens. */
export function httpUrl() {
  return requiredString()
    .refine((value) => URL.canParse(value), { error: 'not a URL', abort: true })
    .refine((value) => ['http:', 'https:'].includes(new URL(value).protocol), {
      error: 'must be an http:// or https:// URL',
    })
    .transform((value) => value.replace(/\/+$/, ''));
}

export function flag() {
  return z.stringbool({
    truthy: ['true', '1', 'yes', 'on'],
    falsy: ['false', '0', 'no', 'off'],
    case: 'insensitive',
    error: (issue) => `must be true or false (or yes/no, 1/0), got ${quote(issue.input)}`,
  });
}

export function oneOf<const Values extends readonly [string, ...string[]]>(values: Values) {
  return requiredString()
    .toLowerCase()
    .pipe(z.enum(values, { error: (issue) => `must be one of ${values.join(', ')}, got ${quote(issue.input)}` }));
}

export function text(maxLength: number) {
  return requiredString().max(maxLength, { error: `must be at most ${maxLength} characters` });
}

// ---------------------------------------------------------------------------------------------
// Variables grouped by what they configure: config field → [variable, schema].

export type FieldSpecs = Record<string, readonly [variable: string, schema: z.ZodType]>;
type Parsed<Specs extends FieldSpecs> = { -readonly [Field in keyof Specs]: z.output<Specs[Field][1]> };

/** A variable's value, trimmed; empty counts as unset. */
export function readVariable(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** Parses each field's variable on its own, so every problem is reported, not only the first. */
export function parseFields<Specs extends FieldSpecs>(
  env: Env,
  fields: Specs,
  issues: ConfigIssue[],
): Parsed<Specs> | undefined {
  const parsed: Record<string, unknown> = {};
  let failed = false;
  for (const [field, [variable, schema]] of Object.entries(fields)) {
    const result = schema.safeParse(readVariable(env, variable));
    if (result.success) {
      parsed[field] = result.data;
    } else {
      failed = true;
      for (const issue of result.error.issues) issues.push({ variable, problem: issue.message });
    }
  }
  return failed ? undefined : (parsed as Parsed<Specs>);
}
