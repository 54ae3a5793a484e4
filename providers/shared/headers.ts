/**
 * SDKs hand response headers over in different shapes: a WHATWG `Headers`, a plain record, or
 * nothing at all. `readHeader` reads one by name (case-insensitive) from any of them.
 */
export type HeaderSource = Headers | Readonly<Record<string, unknown>> | undefined | null;

export function readHeader(source: HeaderSource, name: string): string | undefined {
  if (source === undefined || source === null) return undefined;
  if (typeof (source as Headers).get === 'function') return (source as Headers).get(name) ?? undefined;
  const record = source as Readonly<Record<string, unknown>>;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) {
    if (key.toLowerCase() !== lower) continue;
    if (typeof value === 'string') return value;
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  }
  return undefined;
}
